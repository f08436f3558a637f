"""A shortcut to the hottest routes: entry reads and writes.

Starlette serves every request through its exception middleware, its router (each route's
regex tried in turn) and a per-route wrapper that installs exception handlers again. For
``GET`` and ``PUT /v1/namespaces/{ns}/entries/{key}`` — most of a busy server's requests —
:class:`FastEntries` matches the path with one regex and calls the very same endpoints
(:func:`hivemem.server.routes.entries.get_entry` / ``put_entry``: same authentication, same
checks, same answers), turning a :class:`~hivemem.errors.HivememError` into its JSON error as
the app's handler would. Anything else goes down the regular stack, unchanged; an unexpected
exception propagates to the server error middleware as it would from the router.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from starlette._utils import get_route_path
from starlette.requests import Request

from hivemem.errors import HivememError
from hivemem.server._http import error_response

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.responses import Response
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["FastEntries"]

#: The path of ``/v1/namespaces/{ns}/entries/{key:path}`` (Starlette's ``str`` and ``path``).
_ENTRY_PATH = re.compile(r"/v1/namespaces/([^/]+)/entries/(.*)")


class FastEntries:
    """ASGI middleware serving entry ``GET``/``PUT`` without the router's layers."""

    def __init__(self, app: ASGIApp) -> None:
        from hivemem.server.routes.entries import get_entry, put_entry

        self.app = app
        self.handlers: dict[str, Callable[[Request], Awaitable[Response]]] = {
            "GET": get_entry,
            "PUT": put_entry,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve an entry read or write, or pass the request on."""
        if scope["type"] == "http":
            handler = self.handlers.get(scope["method"])
            if handler is not None:
                match = _ENTRY_PATH.fullmatch(get_route_path(scope))
                if match is not None:
                    scope["path_params"] = {"ns": match[1], "key": match[2]}
                    try:
                        response = await handler(Request(scope, receive, send))
                    except HivememError as exc:
                        response = error_response(exc)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
