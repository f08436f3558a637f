"""CPU time per request of the server's own code: the ASGI app called directly, no socket.

    PYTHONPATH=. .venv/bin/python benchmarks/asgi_cost.py --requests 20000 --json out.json

Builds the app of ``hivemem serve`` over a fresh SQLite file (``durability=normal``, so the
figure is the server's code rather than fsync; auth on, an agent token), then sends entry
``GET``s and ``PUT``s (the fast path) and ``GET .../entries?limit=10`` (a routed endpoint)
straight to ``app(scope, receive, send)`` from one task, and prints the CPU time
(``time.process_time``, all the process's threads) per request, the minimum of ``--repeat``
timed loops. Without the network and the load generator the figure moves far less with the
machine's load than requests/s over HTTP. To compare two commits, run it alternately with
``PYTHONPATH`` set to each tree (docs/benchmarks.md, "Metrics cost (issue 18)").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from hivemem._connect import _open
from hivemem.server import ServerConfig, create_app


def _scope(method: str, path: str, token: str, query: bytes = b"", body: bool = False) -> dict:
    headers = [(b"authorization", f"Bearer {token}".encode()), (b"host", b"127.0.0.1")]
    if body:
        headers.append((b"content-type", b"application/json"))
        headers.append((b"content-length", b"12"))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 7700),
    }


async def _drive(app: Any, token: str, kind: str, n: int) -> float:
    """CPU seconds for ``n`` requests of ``kind``."""
    body = b'{"value": 1}'
    status: list[int] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    start = time.process_time()
    for i in range(n):
        key = f"k{i % 1000}"
        if kind == "get":
            scope = _scope("GET", f"/v1/namespaces/ns/entries/{key}", token)
        elif kind == "put":
            scope = _scope("PUT", f"/v1/namespaces/ns/entries/{key}", token, body=True)
        else:
            scope = _scope("GET", "/v1/namespaces/ns/entries", token, b"limit=10")
        await app(scope, receive, send)
    spent = time.process_time() - start
    assert set(status) == {200}, set(status)
    return spent


def main() -> int:
    """Run the measurement and print (or write) the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=20_000, help="requests per timed loop")
    p.add_argument("--repeat", type=int, default=5, help="timed loops per kind (min is kept)")
    p.add_argument("--json", type=Path, help="write the figures here")
    cfg = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        core = _open(
            f"sqlite:///{tmp}/b.db",
            None,
            None,
            {"cleanup_interval": 0, "durability": "normal", "embedder": "none"},
        )
        app = create_app(core, ServerConfig(rate_limit=0))
        token, _ = app.state.hub.tokens.create("bench", "agent")
        for i in range(1000):
            core.backend.execute(
                core.put("ns", f"k{i}", orjson.loads(b"1"), "bench", None, None, None)
            )
        out: dict[str, float] = {}

        async def run() -> None:
            for kind in ("get", "put", "list"):
                await _drive(app, token, kind, 2000)  # warm-up
                best = min(
                    [await _drive(app, token, kind, cfg.requests) for _ in range(cfg.repeat)]
                )
                out[f"{kind}_us"] = best / cfg.requests * 1e6

        asyncio.run(run())
        core.close()
    print(" ".join(f"{k}={v:.2f}" for k, v in out.items()))
    if cfg.json:
        cfg.json.write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
