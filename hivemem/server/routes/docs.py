"""``GET /openapi.json`` and ``GET /docs``: the API described, no token needed.

``/docs`` is Swagger UI over ``openapi.json``, served by this server with its files
(:mod:`hivemem.server.swagger`; no CDN: servers often run without network access).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from starlette.responses import Response

from hivemem.server import swagger
from hivemem.server.app import hub_of

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["HANDLERS"]


async def openapi(request: Request) -> Response:
    """The OpenAPI document (built once per app)."""
    state = request.app.state
    body: bytes | None = getattr(state, "openapi", None)
    if body is None:
        from hivemem.server.openapi import build_openapi

        resolvers = list(hub_of(request).core.settings.resolvers)
        body = state.openapi = orjson.dumps(build_openapi(resolvers))
    return Response(body, media_type="application/json")


#: The handler of each route of the table served here, by route name.
HANDLERS = {"openapi": openapi, "docs": swagger.page}
