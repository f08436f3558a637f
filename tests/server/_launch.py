"""Run one hivemem server process for the server fault tests.

``python _launch.py STORE_URL PORT [--no-auth] [--event-retention N] [--heartbeat S]``

Opens the store, serves :func:`hivemem.server.create_app` with uvicorn on 127.0.0.1:PORT and
prints ``READY <port>`` on stdout (flushed) once the socket accepts connections. SIGTERM and
SIGINT stop it gracefully (open event streams get one second); SIGKILL is the crash case.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any

import uvicorn

from hivemem._connect import _open
from hivemem.server import ServerConfig, create_app


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("store")
    parser.add_argument("port", type=int)
    parser.add_argument("--no-auth", action="store_true")
    parser.add_argument("--event-retention", type=int, default=None)
    parser.add_argument("--heartbeat", type=float, default=1.0)
    args = parser.parse_args(argv)
    options: dict[str, Any] = {"cleanup_interval": 0}
    if args.event_retention is not None:
        options["event_retention"] = args.event_retention
    core = _open(args.store, None, None, options)
    app = create_app(core, ServerConfig(auth=not args.no_auth, heartbeat=args.heartbeat))
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=args.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
    )

    def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.005)
        sys.stdout.write(f"READY {args.port}\n")
        sys.stdout.flush()

    threading.Thread(target=announce, name="announce", daemon=True).start()
    try:
        server.run()  # the main thread: uvicorn installs its SIGTERM/SIGINT handlers
    finally:
        core.close()


if __name__ == "__main__":
    main(sys.argv[1:])
