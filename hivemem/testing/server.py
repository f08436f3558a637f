"""A real hivemem server on a free loopback port, in a background thread, for tests.

:class:`ServerThread` runs uvicorn (a real socket, real HTTP, real SSE: in-process
transports buffer event streams) over a dispatcher that mounts one app per store under
``/s<n>``, so a test can open as many fresh stores as it likes on one server::

    with ServerThread() as server:
        url = server.mount(create_app(core, ServerConfig(auth=False)))
        mem = hivemem.connect(url)
"""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["Dispatcher", "ServerThread", "free_port"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Dispatcher:
    """An ASGI app routing ``/s<n>/...`` to the n-th mounted app (prefix stripped)."""

    def __init__(self) -> None:
        self.apps: dict[str, ASGIApp] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        path: str = scope["path"]
        prefix, _, rest = path[1:].partition("/")
        app = self.apps.get(prefix)
        if app is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"no such store"})
            return
        scope = dict(scope)
        scope["path"] = "/" + rest
        raw = scope.get("raw_path")
        if raw is not None:
            scope["raw_path"] = raw[len(prefix) + 1 :]
        await app(scope, receive, send)


class ServerThread:
    """uvicorn serving a :class:`Dispatcher` on a free port, in a daemon thread."""

    def __init__(self, host: str = "127.0.0.1", **uvicorn_options: Any) -> None:
        self.host = host
        self.port = free_port()
        self.dispatcher = Dispatcher()
        self._count = 0
        self._lock = threading.Lock()
        config = uvicorn.Config(
            self.dispatcher,
            host=host,
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,
            **uvicorn_options,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, name="hivemem-test-server", daemon=True
        )

    @property
    def base(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        """Start serving; return once the socket accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def mount(self, app: ASGIApp) -> str:
        """Serve ``app`` under a new prefix; return its base URL."""
        with self._lock:
            self._count += 1
            name = f"s{self._count}"
        self.dispatcher.apps[name] = app
        return f"{self.base}/{name}"

    def unmount(self, url: str) -> None:
        """Stop serving the app mounted at ``url``."""
        self.dispatcher.apps.pop(url.rsplit("/", 1)[1], None)

    def stop(self) -> None:
        """Stop the server and wait for its thread."""
        self.server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
