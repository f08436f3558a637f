"""Lease, presence and lock routes (SPEC §19).

The ops of :mod:`hivemem.engine.leases` and :mod:`hivemem.engine.locks` over HTTP:
``POST /v1/leases``, ``/v1/leases/keepalive``, ``/v1/leases/revoke``;
``POST|GET .../presence``; ``GET .../locks`` (a page of them), ``GET .../locks/{name}``,
``GET .../lock-turn/{name}``,
``POST .../lock-acquire/{name}`` and ``.../lock-release/{name}``.
Waiting for a lock is the client's loop (:mod:`hivemem._lockhold`), so a lock held through
``http://`` behaves as an embedded one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hivemem.errors import InvalidArgument
from hivemem.server._http import json_response, query_int, query_str
from hivemem.server.routes._common import body_of, endpoint, fields, integral, page_response
from hivemem.types import Lock
from hivemem.wire.table import BY_NAME

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from hivemem.server.app import Hub
    from hivemem.server.auth import Caller

__all__ = ["HANDLERS"]


async def _body(request: Request, hub: Hub, route: str) -> dict[str, Any]:
    body = await body_of(request, hub)
    spec = BY_NAME[route]
    fields(body, spec.fields, spec.required)
    return body


def _maybe_lock(lock: Lock | None) -> Response:
    return json_response({"lock": None if lock is None else lock.to_dict()})


@endpoint
async def grant_lease(request: Request, hub: Hub, caller: Caller) -> Response:
    body = await _body(request, hub, "grant_lease")
    op = hub.core.grant_lease(body["ttl"], body.get("namespace"), caller.agent)
    return json_response((await hub.run(caller, op)).to_dict())


@endpoint
async def keep_alive(request: Request, hub: Hub, caller: Caller) -> Response:
    body = await _body(request, hub, "keep_alive")
    op = hub.core.keep_alive(body["lease_id"], caller.agent)
    return json_response((await hub.run(caller, op)).to_dict())


@endpoint
async def revoke_lease(request: Request, hub: Hub, caller: Caller) -> Response:
    body = await _body(request, hub, "revoke_lease")
    await hub.run(caller, hub.core.revoke_lease(body["lease_id"], caller.agent))
    return json_response({"revoked": True})


@endpoint
async def join(request: Request, hub: Hub, caller: Caller) -> Response:
    body = await _body(request, hub, "join")
    op = hub.core.join(request.path_params["ns"], body["lease_id"], body.get("info"), caller.agent)
    return json_response((await hub.run(caller, op)).to_dict())


@endpoint
async def presence(request: Request, hub: Hub, caller: Caller) -> Response:
    op = hub.core.presence(request.path_params["ns"], caller.agent)
    return json_response({"items": [p.to_dict() for p in await hub.run(caller, op)]})


@endpoint
async def lock_info(request: Request, hub: Hub, caller: Caller) -> Response:
    p = request.path_params
    return _maybe_lock(await hub.run(caller, hub.core.lock_info(p["ns"], p["key"], caller.agent)))


@endpoint
async def list_locks(request: Request, hub: Hub, caller: Caller) -> Response:
    op = hub.core.list_locks(
        request.path_params["ns"],
        caller.agent,
        query_int(request, "limit", 100),
        query_str(request, "cursor"),
    )
    page = await hub.run(caller, op)
    return page_response(page)


@endpoint
async def lock_turn(request: Request, hub: Hub, caller: Caller) -> Response:
    p = request.path_params
    op = hub.core.lock_turn(p["ns"], p["key"], query_str(request, "ticket") or "", caller.agent)
    return json_response({"turn": await hub.run(caller, op)})


@endpoint
async def try_lock(request: Request, hub: Hub, caller: Caller) -> Response:
    body = await _body(request, hub, "try_lock")
    p = request.path_params
    op = hub.core.try_lock(
        p["ns"], p["key"], body["ttl"], caller.agent, body.get("ticket"),
        body.get("ticket_ttl", 2.0),
    )  # fmt: skip
    return _maybe_lock(await hub.run(caller, op))


@endpoint
async def unlock(request: Request, hub: Hub, caller: Caller) -> Response:
    body = await _body(request, hub, "unlock")
    integral(body, "token")
    token = body["token"]
    if isinstance(token, bool) or not isinstance(token, int) or token < 0:
        raise InvalidArgument("token must be an integer >= 0 (a Lock's token)")
    p = request.path_params
    lock = Lock(p["key"], caller.agent, token, "", p["ns"])
    released = await hub.run(caller, hub.core.unlock(lock, caller.agent))
    return json_response({"released": released})


HANDLERS = {
    "grant_lease": grant_lease,
    "keep_alive": keep_alive,
    "revoke_lease": revoke_lease,
    "join": join,
    "presence": presence,
    "lock_info": lock_info,
    "list_locks": list_locks,
    "lock_turn": lock_turn,
    "try_lock": try_lock,
    "unlock": unlock,
}
