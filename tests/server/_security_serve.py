"""Serve a SQLite store with auth on: ``python _serve.py DB PORT`` (a test server process).

The security tests start two of these over one file to check that what one process does
to tokens and permissions holds on the other at once.
"""

from __future__ import annotations

import sys

import uvicorn

from hivemem._connect import _open
from hivemem.server import ServerConfig, create_app


def main() -> None:
    db, port = sys.argv[1], int(sys.argv[2])
    # No memories here: no model to load at start (/readyz would wait for it).
    core = _open(f"sqlite:///{db}", None, None, {"cleanup_interval": 0, "embedder": "none"})
    try:
        app = create_app(core, ServerConfig(auth=True))
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
    finally:
        core.close()


if __name__ == "__main__":
    main()
