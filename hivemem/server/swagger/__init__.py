"""Interactive API docs at ``/docs``: Swagger UI, served from this server, offline.

Swagger UI's files (5.x: OpenAPI 3.1) come from the ``swagger-ui-py`` package (installed
with the ``server`` extra; only its static files are read, its code is never imported): a
server often runs without network access, and a page that loads scripts from a CDN would
run someone else's code next to an admin's token. The page, its initializer and the bundle
are served here under a strict Content-Security-Policy (scripts and styles from this origin
only, no inline script); the document it renders is ``/openapi.json``.
"""

from __future__ import annotations

import hashlib
import importlib.util
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.routing import Route

from hivemem.errors import NotFound

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["ASSETS", "ASSET_ROUTES", "CSP", "page"]

#: The policy of the docs page and its files (as the web UI's, plus Swagger's data: images).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

#: The files served under ``/docs/assets/`` and their media types; ``None``: ours.
ASSETS: dict[str, tuple[str, bool]] = {
    "swagger-ui.css": ("text/css; charset=utf-8", True),
    "swagger-ui-bundle.js": ("text/javascript; charset=utf-8", True),
    "favicon-32x32.png": ("image/png", True),
    "init.js": ("text/javascript; charset=utf-8", False),
}

_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
_cache: dict[str, tuple[bytes, str]] = {}


def _read(name: str, vendored: bool) -> bytes:
    if not vendored:
        return resources.files(__name__).joinpath(name).read_bytes()
    spec = importlib.util.find_spec("swagger_ui")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - server extra
        raise NotFound("the API docs need swagger-ui-py: pip install 'hivemem[server]'")
    return Path(spec.submodule_search_locations[0], "static", name).read_bytes()


def _load(name: str, vendored: bool) -> tuple[bytes, str]:
    found = _cache.get(name)
    if found is None:
        body = _read(name, vendored)
        found = _cache[name] = (body, '"' + hashlib.sha256(body).hexdigest()[:20] + '"')
    return found


def _serve(request: Request, name: str, media_type: str, vendored: bool) -> Response:
    body, etag = _load(name, vendored)
    headers = {**_HEADERS, "ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


async def page(request: Request) -> Response:
    """The interactive docs page."""
    return _serve(request, "index.html", "text/html; charset=utf-8", False)


async def asset(request: Request) -> Response:
    """One of the page's files."""
    name = str(request.path_params["name"])
    if name not in ASSETS:
        raise NotFound(f"no docs file {name!r}")
    media_type, vendored = ASSETS[name]
    return _serve(request, name, media_type, vendored)


#: The page's files (the page itself is the route table's ``docs``).
ASSET_ROUTES = [Route("/docs/assets/{name}", asset, methods=["GET"])]
