"""Seed 000's registry routes over namespace ``default``.

``GET /shared-memory`` answers ``{key: {value, timestamp, owner}}`` for every live entry;
``POST /shared-memory`` takes ``{key, value, owner}`` and writes it. The owner recorded is
always the authenticated agent, whatever the body says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Route

from hivemem.engine.apply import DEFAULT_NAMESPACE
from hivemem.server._http import json_response
from hivemem.server.routes._common import body_of, endpoint, fields

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from hivemem.server.app import Hub
    from hivemem.server.auth import Caller

__all__ = ["ROUTES"]


@endpoint
async def get_shared_memory(request: Request, hub: Hub, caller: Caller) -> Response:
    op = hub.core.list_entries(DEFAULT_NAMESPACE, caller.agent, "", None, None)
    page = await hub.run(caller, op)
    return json_response(
        {e.key: {"value": e.value, "timestamp": e.updated_at, "owner": e.owner} for e in page}
    )


@endpoint
async def post_shared_memory(request: Request, hub: Hub, caller: Caller) -> Response:
    body = await body_of(request, hub)
    fields(body, {"key", "value", "owner"}, ("key", "value"))
    op = hub.core.put(DEFAULT_NAMESPACE, body["key"], body["value"], caller.agent, None, None, None)
    entry = await hub.run(caller, op)
    return json_response(
        {
            "status": "success",
            "key": entry.key,
            "entry": {"value": entry.value, "timestamp": entry.updated_at, "owner": entry.owner},
        }
    )


ROUTES = [
    Route("/shared-memory", get_shared_memory, methods=["GET"]),
    Route("/shared-memory", post_shared_memory, methods=["POST"]),
]
