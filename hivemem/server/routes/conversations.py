"""Conversation, entity, tool-usage and summary routes (SPEC §7, §8).

Each route drives the same plans as the Python API (:mod:`hivemem.conversations`,
:mod:`hivemem.records`): generators of ops, run here with the caller's permissions.
``?namespace=`` picks the conversations' namespace (default ``conversations``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hivemem.conversations import DEFAULT_NAMESPACE, Plan, _ManagerPlans, _Plans
from hivemem.errors import HivememError, InvalidArgument
from hivemem.records import RecordPlans
from hivemem.server._http import json_response, query_int
from hivemem.server.routes._common import body_of, endpoint, fields, integral
from hivemem.wire.table import BY_NAME

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request
    from starlette.responses import Response

    from hivemem.server.app import Hub
    from hivemem.server.auth import Caller

__all__ = ["HANDLERS"]


async def _drive(hub: Hub, caller: Caller, plan: Plan[Any]) -> Any:
    try:
        op = next(plan)
        while True:
            try:
                result = await hub.run(caller, op)
            except HivememError as exc:
                op = plan.throw(exc)
            else:
                op = plan.send(result)
    except StopIteration as stop:
        return stop.value


def _namespace(request: Request, hub: Hub) -> str:
    """The ``?namespace=`` argument (checked), else ``conversations``."""
    if "namespace" not in request.query_params:
        return DEFAULT_NAMESPACE
    return hub.core.ns(request.query_params["namespace"])


def _conv(request: Request, hub: Hub, caller: Caller) -> _Plans:
    ns = _namespace(request, hub)
    clock = hub.core.settings.clock
    return _Plans(request.path_params["cid"], caller.agent, ns, None, clock)


def _records(hub: Hub, caller: Caller) -> RecordPlans:
    s = hub.core.settings
    return RecordPlans(caller.agent, s.clock, s.max_value_bytes)


@endpoint
async def list_conversations(request: Request, hub: Hub, caller: Caller) -> Response:
    plans = _ManagerPlans(caller.agent, _namespace(request, hub), hub.core.settings.clock)
    return json_response({"conversations": await _drive(hub, caller, plans.ids())})


@endpoint
async def show_conversation(request: Request, hub: Hub, caller: Caller) -> Response:
    plans = _conv(request, hub, caller)
    items = await _drive(hub, caller, plans.items())
    size = await _drive(hub, caller, plans.size())
    return json_response({"id": plans.cid, "fields": dict(items), **size})


@endpoint
async def delete_conversation(request: Request, hub: Hub, caller: Caller) -> Response:
    plans = _conv(request, hub, caller)
    manager = _ManagerPlans(caller.agent, plans.ns, hub.core.settings.clock)
    return json_response({"deleted": await _drive(hub, caller, manager.cleanup(plans.cid))})


@endpoint
async def get_field(request: Request, hub: Hub, caller: Caller) -> Response:
    plans = _conv(request, hub, caller)
    missing = object()
    value = await _drive(hub, caller, plans.get(request.path_params["name"], missing))
    if value is missing:
        return json_response({"error": {"code": "not_found", "message": "no such field"}}, 404)
    return json_response({"value": value})


@endpoint
async def put_field(request: Request, hub: Hub, caller: Caller) -> Response:
    plans = _conv(request, hub, caller)
    body = await body_of(request, hub)
    fields(body, *_fields("field_put"))
    await _drive(
        hub, caller, plans.set(request.path_params["name"], body["value"], body.get("ttl"))
    )
    return json_response({"ok": True})


@endpoint
async def delete_field(request: Request, hub: Hub, caller: Caller) -> Response:
    plans = _conv(request, hub, caller)
    return json_response(
        {"deleted": await _drive(hub, caller, plans.delete(request.path_params["name"]))}
    )


@endpoint
async def get_messages(request: Request, hub: Hub, caller: Caller) -> Response:
    plans = _conv(request, hub, caller)
    limit = query_int(request, "limit")
    messages = await _drive(hub, caller, plans.get_messages(limit))
    _, count = await _drive(hub, caller, plans.range(plans.msg_key, 0, 0))
    return json_response({"messages": [m.to_dict() for m in messages], "count": count})


@endpoint
async def add_message(request: Request, hub: Hub, caller: Caller) -> Response:
    plans = _conv(request, hub, caller)
    body = await body_of(request, hub)
    fields(body, *_fields("messages_add"))
    plan = plans.add_message(body["role"], body["content"], body.get("metadata"))
    return json_response((await _drive(hub, caller, plan)).to_dict(), 201)


#: The verbs of ``POST /v1/conversations/{cid}/lists/{name}/<verb>``.
_LIST_VERBS = ("append", "extend", "pop", "insert", "remove")


def _fields(name: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """The allowed and required body fields of a route, from the route table."""
    return BY_NAME[name].fields, BY_NAME[name].required


def _list_handler(verb: str) -> Callable[[Request], Awaitable[Response]]:
    async def handler(request: Request, hub: Hub, caller: Caller) -> Response:
        return await _list_op(request, hub, caller, verb)

    handler.__name__ = f"list_{verb}"
    return endpoint(handler)


async def _list_op(request: Request, hub: Hub, caller: Caller, verb: str) -> Response:
    plans = _conv(request, hub, caller)
    name = request.path_params["name"]
    body = await body_of(request, hub)
    integral(body, "index")
    if verb in _LIST_VERBS:
        fields(body, *_fields(f"conversation_list_{verb}"))
    if verb == "append":
        plan: Plan[Any] = plans.push(plans.list_key(name), [body["item"]])
    elif verb == "extend":
        if not isinstance(body["items"], list) or not 1 <= len(body["items"]) <= 1000:
            raise InvalidArgument("items must be a list of 1-1000 values")
        plan = plans.push(plans.list_key(name), body["items"])
    elif verb == "pop":
        plan = plans.pop(name, _index(body.get("index", -1)))
        return json_response({"value": await _drive(hub, caller, plan)})
    elif verb == "insert":
        plan = plans.insert(name, _index(body["index"]), body["item"])
    elif verb == "remove":
        plan = plans.remove(name, body["item"])
    else:
        raise InvalidArgument("use append, extend, pop, insert or remove")
    return json_response({"length": await _drive(hub, caller, plan)})


def _index(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 1 << 63:
        raise InvalidArgument("index must be an integer")
    return value


@endpoint
async def get_list(request: Request, hub: Hub, caller: Caller) -> Response:
    plans = _conv(request, hub, caller)
    items, length = await _drive(
        hub, caller, plans.range(plans.list_key(request.path_params["name"]), 0, None)
    )
    return json_response({"items": items, "length": length})


@endpoint
async def set_ttl(request: Request, hub: Hub, caller: Caller) -> Response:
    plans = _conv(request, hub, caller)
    body = await body_of(request, hub)
    fields(body, *_fields("conversation_ttl"))
    return json_response({"updated": await _drive(hub, caller, plans.set_ttl(body["seconds"]))})


# ---------------------------------------------------------------- entities, tools, summary


@endpoint
async def list_entities(request: Request, hub: Hub, caller: Caller) -> Response:
    plan = _records(hub, caller).list_entities(request.path_params["type"])
    return json_response({"entities": await _drive(hub, caller, plan)})


@endpoint
async def get_entity(request: Request, hub: Hub, caller: Caller) -> Response:
    p = request.path_params
    data = await _drive(hub, caller, _records(hub, caller).load_entity(p["type"], p["id"]))
    if data is None:
        return json_response({"error": {"code": "not_found", "message": "no such entity"}}, 404)
    return json_response({"data": data})


@endpoint
async def put_entity(request: Request, hub: Hub, caller: Caller) -> Response:
    p = request.path_params
    body = await body_of(request, hub)
    fields(body, *_fields("entity_put"))
    await _drive(hub, caller, _records(hub, caller).save_entity(p["type"], p["id"], body["data"]))
    return json_response({"ok": True})


@endpoint
async def delete_entity(request: Request, hub: Hub, caller: Caller) -> Response:
    p = request.path_params
    plan = _records(hub, caller).delete_entity(p["type"], p["id"])
    return json_response({"deleted": await _drive(hub, caller, plan)})


@endpoint
async def get_tool_usage(request: Request, hub: Hub, caller: Caller) -> Response:
    limit = query_int(request, "limit", 100)
    assert limit is not None
    tool = request.query_params.get("tool")  # present but empty is refused, not ignored
    plan = _records(hub, caller).get_tool_usage(tool, limit)
    return json_response({"items": await _drive(hub, caller, plan)})


@endpoint
async def save_tool_usage(request: Request, hub: Hub, caller: Caller) -> Response:
    body = await body_of(request, hub)
    fields(body, *_fields("tool_usage_save"))
    cid = body.get("conversation_id")
    if cid is not None and not isinstance(cid, str):
        raise InvalidArgument("conversation_id must be a string")
    plan = _records(hub, caller).save_tool_usage(
        body["tool"], body.get("args"), body.get("result"), cid, body.get("duration_ms")
    )
    return json_response(await _drive(hub, caller, plan), 201)


@endpoint
async def summary(request: Request, hub: Hub, caller: Caller) -> Response:
    return json_response(await _drive(hub, caller, _records(hub, caller).summary()))


#: The handler of each route of the table served here, by route name.
HANDLERS = {
    "conversations_list": list_conversations,
    "conversation_show": show_conversation,
    "conversation_delete": delete_conversation,
    "field_get": get_field,
    "field_put": put_field,
    "field_delete": delete_field,
    "messages_get": get_messages,
    "messages_add": add_message,
    "conversation_list_get": get_list,
    **{f"conversation_list_{verb}": _list_handler(verb) for verb in _LIST_VERBS},
    "conversation_ttl": set_ttl,
    "entities_list": list_entities,
    "entity_get": get_entity,
    "entity_put": put_entity,
    "entity_delete": delete_entity,
    "tool_usage_get": get_tool_usage,
    "tool_usage_save": save_tool_usage,
    "summary": summary,
}
