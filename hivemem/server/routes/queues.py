"""Task queue routes (SPEC §19): put, claim, ack, nack, extend, stats, dead letters, list.

``list_queues`` answers a namespace's queues with their counts, a page at a time.

Each route builds one op of :mod:`hivemem.engine.queues`, which checks every argument (a
bad visibility, delay, priority or task id is ``422 invalid_argument``, nothing changed).
``claim``'s ``wait`` is the client's loop and has no field here.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from hivemem import _codec
from hivemem.engine import ops as o
from hivemem.engine import queues as q
from hivemem.server._http import json_response, query_int, query_str
from hivemem.server.routes._common import body_of, endpoint, fields, integral, page_response
from hivemem.wire.table import BY_NAME

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from hivemem.server.app import Hub
    from hivemem.server.auth import Caller

__all__ = ["HANDLERS"]

_FIELDS = {
    name: (BY_NAME[name].fields, BY_NAME[name].required)
    for name in ("queue_put", "queue_claim", "queue_ack", "queue_nack", "queue_extend")
}


def _target(request: Request, hub: Hub) -> tuple[str, str]:
    return hub.core.ns(request.path_params["ns"]), q.check_queue(request.path_params["queue"])


async def _body(request: Request, hub: Hub, name: str) -> dict[str, Any]:
    body = await body_of(request, hub)
    fields(body, *_FIELDS[name])
    integral(body, "priority", "token", "max_attempts")
    return body


@endpoint
async def put(request: Request, hub: Hub, caller: Caller) -> Response:
    ns, name = _target(request, hub)
    body = await _body(request, hub, "queue_put")
    op = o.QueuePut(
        agent=caller.agent,
        ns=ns,
        queue=name,
        task_id=uuid.uuid4().hex,
        value_json=_codec.encode_value(body["task"], hub.core.settings.max_value_bytes),
        priority=q.check_priority(body.get("priority", 0)),
        delay=q.check_delay(body.get("delay", 0.0)),
        dedupe=q.check_dedupe(body.get("idempotency_key")),
    )
    task = await hub.run(caller, op)
    return json_response(task.to_dict(), 201)


@endpoint
async def claim(request: Request, hub: Hub, caller: Caller) -> Response:
    ns, name = _target(request, hub)
    body = await _body(request, hub, "queue_claim")
    op = o.QueueClaim(
        agent=caller.agent,
        ns=ns,
        queue=name,
        worker=q.check_worker(body.get("worker")),
        visibility=q.check_visibility(body.get("visibility", 30.0)),
        max_attempts=q.check_max_attempts(body.get("max_attempts", 5)),
    )
    task = await hub.run(caller, op)
    return json_response({"task": task.to_dict() if task is not None else None})


def _task_id(request: Request) -> str:
    return q.check_task_id(request.path_params["task_id"])


@endpoint
async def ack(request: Request, hub: Hub, caller: Caller) -> Response:
    ns, name = _target(request, hub)
    body = await _body(request, hub, "queue_ack")
    op = o.QueueAck(
        agent=caller.agent,
        ns=ns,
        queue=name,
        task_id=_task_id(request),
        token=q.check_token(body["token"]),
    )
    await hub.run(caller, op)
    return json_response({"acked": True})


@endpoint
async def nack(request: Request, hub: Hub, caller: Caller) -> Response:
    ns, name = _target(request, hub)
    body = await _body(request, hub, "queue_nack")
    op = o.QueueNack(
        agent=caller.agent,
        ns=ns,
        queue=name,
        task_id=_task_id(request),
        token=q.check_token(body["token"]),
        delay=q.check_delay(body.get("delay", 0.0)),
        max_attempts=q.check_max_attempts(body.get("max_attempts", 5)),
    )
    await hub.run(caller, op)
    return json_response({"nacked": True})


@endpoint
async def extend(request: Request, hub: Hub, caller: Caller) -> Response:
    ns, name = _target(request, hub)
    body = await _body(request, hub, "queue_extend")
    op = o.QueueExtend(
        agent=caller.agent,
        ns=ns,
        queue=name,
        task_id=_task_id(request),
        token=q.check_token(body["token"]),
        visibility=q.check_visibility(body["visibility"]),
    )
    task = await hub.run(caller, op)
    return json_response(task.to_dict())


@endpoint
async def stats(request: Request, hub: Hub, caller: Caller) -> Response:
    ns, name = _target(request, hub)
    op = o.QueueStats(agent=caller.agent, ns=ns, queue=name)
    return json_response(await hub.run(caller, op))


@endpoint
async def dead_letters(request: Request, hub: Hub, caller: Caller) -> Response:
    ns, name = _target(request, hub)
    limit = query_int(request, "limit", 100)
    op = o.QueueDeadLetters(agent=caller.agent, ns=ns, queue=name, limit=limit or 0)
    tasks = await hub.run(caller, op)
    return json_response({"items": [t.to_dict() for t in tasks]})


@endpoint
async def list_queues(request: Request, hub: Hub, caller: Caller) -> Response:
    op = hub.core.list_queues(
        request.path_params["ns"],
        caller.agent,
        query_int(request, "limit", 100),
        query_str(request, "cursor"),
    )
    page = await hub.run(caller, op)
    return page_response(page)


#: The handler of each route of the table served here, by route name.
HANDLERS = {
    "queue_put": put,
    "queue_claim": claim,
    "queue_ack": ack,
    "queue_nack": nack,
    "queue_extend": extend,
    "queue_stats": stats,
    "queue_dead_letters": dead_letters,
    "list_queues": list_queues,
}
