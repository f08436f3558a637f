"""The web UI (SPEC §13): ``GET /`` and its static files under ``/ui/``.

The UI is plain HTML, CSS and ES modules shipped in ``hivemem/server/ui`` (no build step);
it talks to the JSON API of the same server with the token the user logs in with, kept in
the browser's ``sessionStorage`` and sent only in the ``Authorization`` header (the event
stream too: it is read with ``fetch()``, not ``EventSource``, so the token never goes into
a URL). The pages themselves need no token: they hold no data.

Every answer carries a strict Content-Security-Policy (scripts, styles and connections from
this origin only, no inline script or style, no framing), so a value that slipped past the
UI's escaping still could not run.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.routing import Route

from hivemem.errors import NotFound

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["CSP", "FILES", "ROUTES"]

#: The policy of every UI answer.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

#: The files the UI serves, with their media types (nothing else in the folder is served).
FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "dom.js": "text/javascript; charset=utf-8",
    "stream.js": "text/javascript; charset=utf-8",
    "views.js": "text/javascript; charset=utf-8",
    "coordination.js": "text/javascript; charset=utf-8",
    "history.js": "text/javascript; charset=utf-8",
    "webhooks.js": "text/javascript; charset=utf-8",
    "memories.js": "text/javascript; charset=utf-8",
}

_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

_cache: dict[str, tuple[bytes, str]] = {}


def _load(name: str) -> tuple[bytes, str]:
    """A UI file's bytes and ETag (read once per process)."""
    found = _cache.get(name)
    if found is None:
        body = resources.files("hivemem.server").joinpath("ui", name).read_bytes()
        etag = hashlib.sha256(body).hexdigest()[:20]
        found = _cache[name] = (body, f'"{etag}"')
    return found


def _serve(request: Request, name: str) -> Response:
    body, etag = _load(name)
    headers = {**_HEADERS, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=FILES[name], headers=headers)


async def index(request: Request) -> Response:
    """The UI's page."""
    return _serve(request, "index.html")


async def asset(request: Request) -> Response:
    """One of the UI's scripts or styles."""
    name = str(request.path_params["name"])
    if name not in FILES or name == "index.html":
        raise NotFound(f"no UI file {name!r}")
    return _serve(request, name)


ROUTES = [
    Route("/", index, methods=["GET"]),
    Route("/ui/{name}", asset, methods=["GET"]),
]
