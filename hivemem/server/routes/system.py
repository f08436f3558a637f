"""Service routes: health, readiness, metrics, whoami, audit, stats, sweep, tokens."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.responses import PlainTextResponse

from hivemem._validate import SYSTEM_AGENT
from hivemem.engine import ops as o
from hivemem.errors import BackendUnavailable, HivememError, NotFound, PermissionDenied
from hivemem.server._http import json_response, query_bool, query_float, query_int, query_str
from hivemem.server.app import hub_of
from hivemem.server.routes._common import body_of, endpoint, fields
from hivemem.wire.table import BY_NAME

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from hivemem.server.app import Hub
    from hivemem.server.auth import Caller

__all__ = ["HANDLERS"]

_CREATE_TOKEN = BY_NAME["create_token"]


async def healthz(request: Request) -> Response:
    """Liveness: the process answers (no token needed, nothing revealed)."""
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: the store answers a read and the memories' embedder is loaded.

    503 ``backend_unavailable`` while the store does not answer; 503
    ``embedder_unavailable`` while the embedder loads at start ("embedder loading") or
    after its load failed.
    """
    hub = hub_of(request)
    try:
        await hub.tokens.alookup("hm_readiness-probe")
    except HivememError as exc:
        raise BackendUnavailable(f"the store does not answer: {exc.message}") from None
    hub.embedder.check()
    return json_response(
        {"status": "ready", "backend": hub.core.backend.name, "embedder": hub.embedder.to_dict()}
    )


async def metrics(request: Request) -> Response:
    """Prometheus metrics; who may read them is the server's ``metrics`` setting.

    ``open``: anyone; ``auth``: an admin token (a server without auth: anyone, as every
    route); ``off``: 404.
    """
    hub = hub_of(request)
    access = hub.config.metrics
    if access == "off":
        raise NotFound("metrics are off on this server (hivemem serve --metrics open|auth)")
    if access == "auth" and hub.config.auth:
        caller = await hub.caller(request)
        if not caller.admin:
            raise PermissionDenied(
                "/metrics needs an admin token on this server "
                "(or serve with --metrics open to expose them without one)"
            )
    gauges = {
        "event_streams": float(sum(hub.streams.values())),
        "uptime_seconds": time.time() - hub.started_at,
    }
    # -- load (issue 15): the fan-out cache
    gauges.update(hub.fanout.gauges())
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


#: A stats answer that took at least this many seconds to compute is kept for reuse.
STATS_EXPENSIVE = 0.05
#: An expensive answer is reused for this many times the time it took: one caller looping
#: ``/v1/stats`` keeps a heavy thread busy a tenth of the time at most.
STATS_REUSE = 10
#: Expensive answers kept (one per agent and role; the least recently computed go first).
STATS_KEPT = 16


@dataclass(slots=True)
class _Stats:
    started: float
    task: asyncio.Task[dict[str, Any]]
    done_at: float = 0.0


async def _store_stats(hub: Hub, caller: Caller) -> dict[str, Any]:
    """The Stats op's answer for the caller, computed once for concurrent callers.

    Cheap answers are always fresh. An expensive one (a store with many namespaces) is
    reused for ``STATS_REUSE`` times its computing time, so no caller can keep the store
    busy computing stats. The computation is a task of its own: a caller that goes away
    does not cancel it for the others waiting on it.
    """
    cache: dict[tuple[str, bool], _Stats] = hub.stats_cache
    key = (caller.agent, caller.admin)
    hit = cache.get(key)
    if hit is not None and hit.task.done():
        failed = hit.task.cancelled() or hit.task.exception() is not None
        took = hit.done_at - hit.started
        if failed or not hit.done_at or time.monotonic() >= hit.done_at + STATS_REUSE * took:
            del cache[key]
            hit = None
    if hit is None:
        start = time.monotonic()
        task = asyncio.ensure_future(hub.run(caller, o.Stats(agent=caller.agent)))
        hit = cache[key] = _Stats(start, task)
        task.add_done_callback(lambda _: _stats_done(cache, key, hit))
    return dict(await asyncio.shield(hit.task))


def _stats_done(cache: dict[tuple[str, bool], _Stats], key: tuple[str, bool], hit: _Stats) -> None:
    """Keep an expensive answer (at most ``STATS_KEPT``, the oldest go first), drop others."""
    hit.done_at = time.monotonic()
    if cache.get(key) is not hit:
        return  # replaced meanwhile
    del cache[key]
    if hit.task.cancelled() or hit.task.exception() is not None:
        return
    if hit.done_at - hit.started < STATS_EXPENSIVE:
        return
    cache[key] = hit  # most recent last
    done = [k for k, e in cache.items() if e.task.done()]
    for old in done[: max(0, len(done) - STATS_KEPT)]:
        del cache[old]


@endpoint
async def stats(request: Request, hub: Hub, caller: Caller) -> Response:
    data = await _store_stats(hub, caller)
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
    fields(body, _CREATE_TOKEN.fields, _CREATE_TOKEN.required)
    token, record = hub.tokens.create(
        body["agent"], body.get("role", "agent"), body.get("label", "")
    )
    return json_response({"token": token, **record.to_dict()}, 201)


@endpoint
async def revoke_token(request: Request, hub: Hub, caller: Caller) -> Response:
    _admin(caller, "revoking tokens")
    revoked = hub.tokens.revoke(request.path_params["token_id"])
    return json_response({"revoked": [r.to_dict() for r in revoked]})


#: The handler of each route of the table served here, by route name.
HANDLERS = {
    "healthz": healthz,
    "readyz": readyz,
    "metrics": metrics,
    "whoami": whoami,
    "audit": audit,
    "stats": stats,
    "sweep": sweep,
    "list_tokens": list_tokens,
    "create_token": create_token,
    "revoke_token": revoke_token,
}
