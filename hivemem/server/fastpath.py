"""A shortcut to the hottest routes: entry reads and writes.

Starlette serves every request through its error middleware, the app's middleware (request
metrics), its exception middleware, its router (each route's pattern tried in turn) and a
per-route wrapper; each request also builds a ``Response`` object. For ``GET`` and ``PUT
/v1/namespaces/{ns}/entries/{key}`` — most of a busy server's requests — :class:`App` asks
:class:`FastEntries` first, which matches the path with one pattern, authenticates and runs
the very same code as the routed endpoints (:func:`hivemem.server.routes.entries.read_entry`
/ ``write_entry``: same checks, same answers), sends the two ASGI messages itself and counts
the request in the server's metrics. An error answers the JSON of :mod:`hivemem.errors`, an
unexpected exception the server's 500 JSON (and the log). Anything else — other methods and
paths, requests asking for their events (``X-Hivemem-Events``) — goes down the regular stack.
"""

from __future__ import annotations

import logging
import re
from time import perf_counter
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request

from hivemem.errors import HivememError
from hivemem.server._http import (
    REQUEST_ID_KEY,
    error_body,
    error_response,
    internal_body,
    undecodable,
)
from hivemem.server.metrics import OK
from hivemem.server.routes._common import status_code
from hivemem.server.routes.entries import read_entry, write_entry
from hivemem.wire.table import BY_NAME

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.types import Receive, Scope, Send

    from hivemem.server.app import Hub
    from hivemem.server.auth import Caller
    from hivemem.server.guard import Guard

    Produce = Callable[[Request, Hub, Caller], Awaitable[tuple[int, bytes]]]

__all__ = ["App", "FastEntries"]

log = logging.getLogger("hivemem.server")

#: The routes served here (they are in the route table like every other).
_GET, _PUT = BY_NAME["get_entry"], BY_NAME["put_entry"]
assert _GET.route_path == _PUT.route_path == "/v1/namespaces/{ns}/entries/{key:path}"
#: That path as Starlette matches it (``str``: no ``/``; ``path``: anything).
_ENTRY_PATH = re.compile(r"/v1/namespaces/([^/]+)/entries/(.*)")


def _route_path(scope: Scope) -> str:
    """The request's path below the app's mount point (``root_path``), as routes see it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :]
    return path


_JSON = (b"content-type", b"application/json")


class FastEntries:
    """Serves entry ``GET``/``PUT`` requests of one hub, or declines."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.produce: dict[str, Produce] = {_GET.verb: read_entry, _PUT.verb: write_entry}
        #: The route table's name of each method's operation (the op metrics' label).
        self.names = {_GET.verb: _GET.name, _PUT.verb: _PUT.name}

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer the request if it is an entry read or write; return whether it did."""
        method = scope["method"]
        produce = self.produce.get(method)
        if produce is None:
            return False
        match = _ENTRY_PATH.fullmatch(_route_path(scope))
        if match is None:
            return False
        request = Request(scope, receive, send)
        if request.headers.get("x-hivemem-events") is not None:
            return False  # the routed endpoint wraps the answer with the op's events
        start = perf_counter()
        scope["path_params"] = {"ns": match[1], "key": match[2]}
        hub = self.hub
        code = OK
        try:
            status, body = await produce(request, hub, await hub.caller(request))
            if status >= 400:
                code = status_code(status)
        except HivememError as exc:
            status, body = error_body(exc)
            code = exc.code
        except Exception:
            request_id = scope.get(REQUEST_ID_KEY)
            log.exception(
                "hivemem: unexpected error on %s %s (request %s)", method, scope["path"], request_id
            )
            status, body = 500, internal_body(request_id)
            code = "internal"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-length", b"%d" % len(body)), _JSON],
            }
        )
        await send({"type": "http.response.body", "body": body})
        elapsed = perf_counter() - start
        metrics = hub.metrics
        metrics.op(self.names[method], code, elapsed)
        metrics.observe(method, status, elapsed)
        return True


class App(Starlette):
    """The server's Starlette app: entry reads and writes skip the middleware stack.

    Every HTTP request passes the :class:`~hivemem.server.guard.Guard` first (request id,
    authentication, rate and body limits), the fast path included.
    """

    fast: FastEntries | None = None
    guard: Guard | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve through the guard, then :class:`FastEntries` when it takes the request."""
        guard = self.guard
        if guard is not None and scope["type"] == "http":
            await guard(scope, receive, send, self._serve)
        else:
            await self._serve(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve through :class:`FastEntries` when it takes the request, else as Starlette."""
        if scope["type"] == "http" and (bad := undecodable(scope)) is not None:
            await error_response(bad)(scope, receive, send)
            return
        fast = self.fast
        if fast is not None and scope["type"] == "http" and await fast.serve(scope, receive, send):
            return
        await super().__call__(scope, receive, send)
