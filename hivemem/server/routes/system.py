"""Service routes: health, readiness, metrics, whoami, audit, stats, sweep, tokens."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from starlette.responses import PlainTextResponse
from starlette.routing import Route

from hivemem._validate import SYSTEM_AGENT
from hivemem.engine import ops as o
from hivemem.errors import BackendUnavailable, HivememError, PermissionDenied
from hivemem.server._http import json_response, query_bool, query_float, query_int, query_str
from hivemem.server.app import hub_of
from hivemem.server.routes._common import body_of, endpoint, fields

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from hivemem.server.app import Hub
    from hivemem.server.auth import Caller

__all__ = ["ROUTES"]


async def healthz(request: Request) -> Response:
    """Liveness: the process answers (no token needed, nothing revealed)."""
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: the store answers a read."""
    hub = hub_of(request)
    try:
        await hub.tokens.alookup("hm_readiness-probe")
    except HivememError as exc:
        raise BackendUnavailable(f"the store does not answer: {exc.message}") from None
    return json_response({"status": "ready", "backend": hub.core.backend.name})


@endpoint
async def metrics(request: Request, hub: Hub, caller: Caller) -> Response:
    gauges = {
        "event_streams": float(sum(hub.streams.values())),
        "uptime_seconds": time.time() - hub.started_at,
    }
    return PlainTextResponse(hub.metrics.render(gauges), media_type="text/plain; version=0.0.4")


@endpoint
async def whoami(request: Request, hub: Hub, caller: Caller) -> Response:
    return json_response(
        {
            "agent": caller.agent,
            "role": "admin" if caller.admin else "agent",
            "token_id": caller.token_id,
            "auth": hub.config.auth,
            "backend": hub.core.backend.name,
        }
    )


@endpoint
async def audit(request: Request, hub: Hub, caller: Caller) -> Response:
    limit = query_int(request, "limit", 100)
    op = hub.core.access_log(
        caller.agent,
        query_str(request, "agent_id"),
        query_str(request, "namespace"),
        query_str(request, "action"),
        query_bool(request, "success"),
        query_float(request, "since"),
        100 if limit is None else limit,
    )
    records = await hub.run(caller, op)
    return json_response({"items": [r.to_dict() for r in records]})


@endpoint
async def stats(request: Request, hub: Hub, caller: Caller) -> Response:
    data = await hub.run(caller, o.Stats(agent=caller.agent))
    data["event_streams"] = sum(hub.streams.values()) if caller.admin else None
    data["backend"] = hub.core.backend.name
    return json_response(data)


def _admin(caller: Caller, what: str) -> None:
    if not caller.admin:
        raise PermissionDenied(f"{what} needs an admin token")


@endpoint
async def sweep(request: Request, hub: Hub, caller: Caller) -> Response:
    _admin(caller, "sweeping expired entries")
    total = 0
    while True:
        count = await hub.run(caller, o.Sweep(agent=SYSTEM_AGENT, admin=True))
        total += count
        if count < 1000:
            return json_response({"removed": total})


@endpoint
async def list_tokens(request: Request, hub: Hub, caller: Caller) -> Response:
    _admin(caller, "listing tokens")
    return json_response({"tokens": [r.to_dict() for r in hub.tokens.list()]})


@endpoint
async def create_token(request: Request, hub: Hub, caller: Caller) -> Response:
    _admin(caller, "creating tokens")
    body = await body_of(request, hub)
    fields(body, {"agent", "role", "label"}, ("agent",))
    token, record = hub.tokens.create(
        body["agent"], body.get("role", "agent"), body.get("label", "")
    )
    return json_response({"token": token, **record.to_dict()}, 201)


@endpoint
async def revoke_token(request: Request, hub: Hub, caller: Caller) -> Response:
    _admin(caller, "revoking tokens")
    revoked = hub.tokens.revoke(request.path_params["token_id"])
    return json_response({"revoked": [r.to_dict() for r in revoked]})


ROUTES = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/v1/whoami", whoami, methods=["GET"]),
    Route("/v1/audit", audit, methods=["GET"]),
    Route("/v1/stats", stats, methods=["GET"]),
    Route("/v1/sweep", sweep, methods=["POST"]),
    Route("/v1/tokens", list_tokens, methods=["GET"]),
    Route("/v1/tokens", create_token, methods=["POST"]),
    Route("/v1/tokens/{token_id}", revoke_token, methods=["DELETE"]),
]
