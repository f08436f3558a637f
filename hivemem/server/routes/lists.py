"""List and prefix routes: atomic list operations and whole-prefix expiry or deletion.

These carry the ops of :mod:`hivemem.engine.lists` (conversation lists and messages are
built on them): ``POST .../lists/{key}/push|pop|insert|remove``, ``GET .../lists/{key}/items``,
``POST .../prefix/expire|delete``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hivemem import _codec
from hivemem import _validate as v
from hivemem.engine import ops as o
from hivemem.errors import InvalidArgument
from hivemem.server._http import json_response, query_int
from hivemem.server.routes._common import body_of, endpoint, fields, integral
from hivemem.server.routes.entries import _idem
from hivemem.wire.table import BY_NAME

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from hivemem.server.app import Hub
    from hivemem.server.auth import Caller

__all__ = ["HANDLERS", "MAX_ITEMS"]

#: Most items one push may carry.
MAX_ITEMS = 1000
#: Each body's allowed and required fields, from the route table.
_FIELDS = {
    name: (BY_NAME[name].fields, BY_NAME[name].required)
    for name in (
        "list_push",
        "list_pop",
        "list_insert",
        "list_remove",
        "expire_prefix",
        "delete_prefix",
    )
}


def _target(request: Request, hub: Hub) -> tuple[str, str]:
    ns = hub.core.ns(request.path_params["ns"])
    return ns, v.check_key(request.path_params["key"])


def _index(value: Any, name: str = "index") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > v.MAX_INT:
        raise InvalidArgument(f"{name} must be an integer")
    return value


def _encode(hub: Hub, value: Any) -> str:
    return _codec.encode_value(value, hub.core.settings.max_value_bytes)


@endpoint
async def push(request: Request, hub: Hub, caller: Caller) -> Response:
    ns, key = _target(request, hub)
    body = await body_of(request, hub)
    fields(body, *_FIELDS["list_push"])
    items = body["items"]
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise InvalidArgument(f"items must be a list of 1-{MAX_ITEMS} values")
    op = o.ListPush(
        agent=caller.agent,
        ns=ns,
        key=key,
        items=tuple(_encode(hub, i) for i in items),
        ttl=v.check_ttl(body.get("ttl")),
        idempotency_key=_idem(request),
    )
    return json_response({"length": await hub.run(caller, op)})


@endpoint
async def pop(request: Request, hub: Hub, caller: Caller) -> Response:
    ns, key = _target(request, hub)
    body = await body_of(request, hub)
    fields(body, *_FIELDS["list_pop"])
    integral(body, "index")
    op = o.ListPop(
        agent=caller.agent,
        ns=ns,
        key=key,
        index=_index(body.get("index", -1)),
        idempotency_key=_idem(request),
    )
    return json_response({"value": await hub.run(caller, op)})


@endpoint
async def insert(request: Request, hub: Hub, caller: Caller) -> Response:
    ns, key = _target(request, hub)
    body = await body_of(request, hub)
    fields(body, *_FIELDS["list_insert"])
    integral(body, "index")
    op = o.ListInsert(
        agent=caller.agent,
        ns=ns,
        key=key,
        index=_index(body["index"]),
        item=_encode(hub, body["item"]),
        ttl=v.check_ttl(body.get("ttl")),
        idempotency_key=_idem(request),
    )
    return json_response({"length": await hub.run(caller, op)})


@endpoint
async def remove(request: Request, hub: Hub, caller: Caller) -> Response:
    ns, key = _target(request, hub)
    body = await body_of(request, hub)
    fields(body, *_FIELDS["list_remove"])
    op = o.ListRemove(
        agent=caller.agent,
        ns=ns,
        key=key,
        item=_encode(hub, body["item"]),
        idempotency_key=_idem(request),
    )
    return json_response({"length": await hub.run(caller, op)})


@endpoint
async def get_range(request: Request, hub: Hub, caller: Caller) -> Response:
    ns, key = _target(request, hub)
    start = query_int(request, "start", 0) or 0
    stop = query_int(request, "stop")
    op = o.ListRange(agent=caller.agent, ns=ns, key=key, start=start, stop=stop)
    items, length = await hub.run(caller, op)
    return json_response({"items": items, "length": length})


def _prefix(body: dict[str, Any]) -> str:
    prefix = body["prefix"]
    if not isinstance(prefix, str) or len(prefix.encode("utf-8", "surrogatepass")) > 1024:
        raise InvalidArgument("prefix must be a string of at most 1024 bytes")
    if prefix:
        v.check_key(prefix)
    return prefix


@endpoint
async def expire_prefix(request: Request, hub: Hub, caller: Caller) -> Response:
    ns = hub.core.ns(request.path_params["ns"])
    body = await body_of(request, hub)
    fields(body, *_FIELDS["expire_prefix"])
    op = o.ExpirePrefix(
        agent=caller.agent, ns=ns, prefix=_prefix(body), ttl=v.check_ttl(body["ttl"])
    )
    return json_response({"count": await hub.run(caller, op)})


@endpoint
async def delete_prefix(request: Request, hub: Hub, caller: Caller) -> Response:
    ns = hub.core.ns(request.path_params["ns"])
    body = await body_of(request, hub)
    fields(body, *_FIELDS["delete_prefix"])
    op = o.DeletePrefix(agent=caller.agent, ns=ns, prefix=_prefix(body))
    return json_response({"count": await hub.run(caller, op)})


#: The handler of each route of the table served here, by route name.
HANDLERS = {
    "list_push": push,
    "list_pop": pop,
    "list_insert": insert,
    "list_remove": remove,
    "list_range": get_range,
    "expire_prefix": expire_prefix,
    "delete_prefix": delete_prefix,
}
