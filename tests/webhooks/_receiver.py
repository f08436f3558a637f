"""A webhook receiver for the delivery tests: ``python _receiver.py PORT OUTFILE``.

Answers every POST with 204 and appends one JSON line per request to OUTFILE (flushed
before answering): the three Standard Webhooks headers and the body as text. Prints
``READY`` once listening. Killed with SIGKILL by the tests to cut a stream.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path


class _Handler(BaseHTTPRequestHandler):
    out = None

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        record = {
            "id": self.headers.get("webhook-id"),
            "timestamp": self.headers.get("webhook-timestamp"),
            "signature": self.headers.get("webhook-signature"),
            "host": self.headers.get("host"),
            "body": body.decode(),
        }
        assert self.out is not None
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    port, path = int(sys.argv[1]), sys.argv[2]
    _Handler.out = Path(path).open("a", encoding="utf-8")  # noqa: SIM115
    HTTPServer.allow_reuse_address = True
    server = HTTPServer(("127.0.0.1", port), _Handler)
    print("READY", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
