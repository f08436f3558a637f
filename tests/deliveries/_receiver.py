"""A webhook receiver for the delivery tests: ``python _receiver.py PORT OUTFILE [--threaded]``.

Answers every POST with 204 and appends one JSON line per request to OUTFILE (flushed
before answering): the three Standard Webhooks headers, the body as text, and when the
request started and ended (``--threaded``: requests are served at once, each held 5 ms, so
two deliveries in flight together would overlap). Killed with SIGKILL by the tests to cut a
stream.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from pathlib import Path

THREADED = "--threaded" in sys.argv
LOCK = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    out = None

    def do_POST(self) -> None:
        started = time.time()
        if THREADED:
            time.sleep(0.005)
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        record = {
            "id": self.headers.get("webhook-id"),
            "timestamp": self.headers.get("webhook-timestamp"),
            "signature": self.headers.get("webhook-signature"),
            "host": self.headers.get("host"),
            "body": body.decode(),
            "started": started,
        }
        assert self.out is not None
        with LOCK:
            record["ended"] = time.time()
            self.out.write(json.dumps(record) + "\n")
            self.out.flush()
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    port, path = int(sys.argv[1]), sys.argv[2]
    _Handler.out = Path(path).open("a", encoding="utf-8")  # noqa: SIM115
    kind = ThreadingHTTPServer if THREADED else HTTPServer
    kind.allow_reuse_address = True
    server = kind(("127.0.0.1", port), _Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
