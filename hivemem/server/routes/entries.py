"""Entry routes: list, get, put, delete, batch, broadcast."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import TYPE_CHECKING, Any

import orjson

from hivemem.engine import ops as o
from hivemem.errors import HivememError, InvalidArgument
from hivemem.server._http import json_response, query_float, query_int, query_str, raw_json
from hivemem.server.routes._common import body_of, endpoint, fields, integral, page_response
from hivemem.types import Lock
from hivemem.wire.schemas import MAX_BATCH
from hivemem.wire.table import BY_NAME

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from hivemem.server.app import Hub
    from hivemem.server.auth import Caller
    from hivemem.types import Entry

__all__ = ["HANDLERS", "MAX_BATCH", "entry_json", "read_entry", "write_entry"]

_PUT = BY_NAME["put_entry"]
_BATCH = BY_NAME["batch"]
_BROADCAST = BY_NAME["broadcast"]


def entry_json(entry: Entry | None) -> dict[str, Any] | None:
    """An entry as JSON (``None`` stays ``None``)."""
    return None if entry is None else entry.to_dict()


def _idem(request: Request) -> str | None:
    """The request's ``Idempotency-Key``, scoped to its method and path.

    The store remembers keys per agent; scoping them per route keeps a key reused on another
    route (a PUT's key on a DELETE or a batch) from answering that route with the first
    route's outcome, in a shape it does not have.
    """
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= 200:
        raise InvalidArgument("Idempotency-Key must be a string of 1-200 characters")
    scoped = f"{request.method} {request.url.path}\x00{key}"
    return hashlib.sha256(scoped.encode("utf-8", "surrogateescape")).hexdigest()


@endpoint
async def list_entries(request: Request, hub: Hub, caller: Caller) -> Response:
    op = hub.core.list_entries(
        request.path_params["ns"],
        caller.agent,
        query_str(request, "prefix") or "",
        query_int(request, "limit", 100),
        query_str(request, "cursor"),
    )
    page = await hub.run(caller, op)
    return page_response(page)


#: The body of a read of an absent (or expired) key.
_NO_KEY = orjson.dumps({"error": {"code": "not_found", "message": "no such key (or it expired)"}})


async def read_entry(request: Request, hub: Hub, caller: Caller) -> tuple[int, bytes]:
    """``GET .../entries/{key}``: the status and JSON body (shared with the fast path)."""
    op = hub.core.get(request.path_params["ns"], request.path_params["key"], caller.agent)
    entry = await hub.run(caller, op)
    if entry is None:
        return 404, _NO_KEY
    return 200, orjson.dumps(entry.to_dict())


async def write_entry(request: Request, hub: Hub, caller: Caller) -> tuple[int, bytes]:
    """``PUT .../entries/{key}``: the status and JSON body (shared with the fast path)."""
    body = await body_of(request, hub)
    fields(body, _PUT.fields, _PUT.required)
    integral(body, "expected_version")
    op: o.Put = hub.core.put(
        request.path_params["ns"],
        request.path_params["key"],
        body["value"],
        caller.agent,
        body.get("ttl"),
        body.get("expected_version"),
        _idem(request),
        body.get("lease"),
        _fence(body.get("fence")),
    )
    resolved = body.get("resolved", False)
    if not isinstance(resolved, bool):
        raise InvalidArgument("resolved must be true or false")
    if resolved:
        op = dataclasses.replace(op, resolved=True)
    return 200, orjson.dumps((await hub.run(caller, op)).to_dict())


def _fence(fence: Any) -> Lock | None:
    """The ``fence`` of a put's body (``{namespace, name, token}``) as a :class:`Lock`."""
    if fence is None:
        return None
    if not isinstance(fence, dict) or set(fence) != {"namespace", "name", "token"}:
        raise InvalidArgument("fence must be an object with namespace, name and token")
    integral(fence, "token")
    token = fence["token"]
    if isinstance(token, bool) or not isinstance(token, int) or token < 0:
        raise InvalidArgument("fence.token must be an integer >= 0")
    if not isinstance(fence["namespace"], str) or not isinstance(fence["name"], str):
        raise InvalidArgument("fence.namespace and fence.name must be strings")
    return Lock(fence["name"], "", token, "", fence["namespace"])


@endpoint
async def get_entry(request: Request, hub: Hub, caller: Caller) -> Response:
    return raw_json(*await read_entry(request, hub, caller))


@endpoint
async def exists(request: Request, hub: Hub, caller: Caller) -> Response:
    op = hub.core.exists(request.path_params["ns"], request.path_params["key"], caller.agent)
    return json_response({"exists": await hub.run(caller, op)})


def _as_of(request: Request) -> int | float:
    revision = query_int(request, "revision")
    at = query_float(request, "at")
    if (revision is None) == (at is None):
        raise InvalidArgument("give exactly one of revision= (an integer) and at= (Unix seconds)")
    return float(at) if at is not None else int(revision or 0)


@endpoint
async def history(request: Request, hub: Hub, caller: Caller) -> Response:
    op = hub.core.history(
        request.path_params["ns"],
        request.path_params["key"],
        caller.agent,
        query_int(request, "limit", 50),
        query_int(request, "before"),
    )
    return json_response({"versions": [v.to_dict() for v in await hub.run(caller, op)]})


@endpoint
async def read_as_of(request: Request, hub: Hub, caller: Caller) -> Response:
    op = hub.core.read_as_of(
        request.path_params["ns"], request.path_params["key"], caller.agent, _as_of(request)
    )
    entry = await hub.run(caller, op)
    return json_response({"entry": None if entry is None else entry.to_dict()})


@endpoint
async def list_as_of(request: Request, hub: Hub, caller: Caller) -> Response:
    op = hub.core.list_as_of(
        request.path_params["ns"],
        caller.agent,
        _as_of(request),
        query_str(request, "prefix") or "",
        query_int(request, "limit", 100),
        query_str(request, "cursor"),
    )
    page = await hub.run(caller, op)
    return page_response(page)


@endpoint
async def put_entry(request: Request, hub: Hub, caller: Caller) -> Response:
    return raw_json(*await write_entry(request, hub, caller))


@endpoint
async def delete_entry(request: Request, hub: Hub, caller: Caller) -> Response:
    op = hub.core.delete(
        request.path_params["ns"],
        request.path_params["key"],
        caller.agent,
        query_int(request, "expected_version"),
        _idem(request),
    )
    return json_response({"deleted": await hub.run(caller, op)})


@endpoint
async def batch(request: Request, hub: Hub, caller: Caller) -> Response:
    body = await body_of(request, hub)
    fields(body, _BATCH.fields, _BATCH.required)
    items = body["ops"]
    if not isinstance(items, list):
        raise InvalidArgument("ops must be a list")
    if len(items) > MAX_BATCH:
        raise InvalidArgument(f"a batch carries at most {MAX_BATCH} ops, got {len(items)}")
    atomic = body.get("atomic", False)
    if not isinstance(atomic, bool):
        raise InvalidArgument("atomic must be true or false")
    ns = request.path_params["ns"]
    for item in items:
        if not isinstance(item, dict) or item.get("op") not in ("get", "put", "delete"):
            raise InvalidArgument("each op is an object with op: get, put or delete")
        fields(item, {"op", "key", "value", "ttl", "expected_version"}, ("key",))
        if not isinstance(item["key"], str):
            raise InvalidArgument(f"each op's key is a string, got {item['key']!r}")
        integral(item, "expected_version")
    kinds = {item["op"] for item in items} or {"put"}
    if atomic:
        return await _atomic(request, hub, caller, ns, items, kinds, body.get("ttl"))
    if "ttl" in body:
        raise InvalidArgument("a batch-wide ttl needs atomic: true; give ttl per op instead")
    # Each op of a non-atomic batch is its own atomic step: a repeated request (same
    # Idempotency-Key) applies each of them once, through a key per position.
    idem = _idem(request)
    ops = [
        _op(hub, caller, ns, item, None if idem is None else f"{idem}:{i}")
        for i, item in enumerate(items)
    ]
    results: list[dict[str, Any]] = []
    for op in ops:
        try:
            value = await hub.run(caller, op)
        except HivememError as exc:
            results.append({"ok": False, **exc.to_dict()})
            continue
        results.append(_result(op, value))
    return json_response({"results": results})


async def _atomic(
    request: Request,
    hub: Hub,
    caller: Caller,
    ns: str,
    items: list[dict[str, Any]],
    kinds: set[str],
    ttl: Any,
) -> Response:
    if kinds == {"put"}:
        if any("ttl" in i or "expected_version" in i for i in items):
            raise InvalidArgument("an atomic batch of puts takes one batch-wide ttl, no versions")
        values: dict[str, Any] = {}
        for item in items:
            if "value" not in item:
                raise InvalidArgument("a put needs a value")
            values[item["key"]] = item["value"]
        if len(values) != len(items):
            raise InvalidArgument("an atomic batch names each key once")
        op: o.Op[Any] = hub.core.put_many(ns, values, caller.agent, ttl, _idem(request))
        entries = await hub.run(caller, op)
        return json_response({"results": [{"ok": True, "entry": e.to_dict()} for e in entries]})
    if kinds == {"get"}:
        if ttl is not None:
            raise InvalidArgument("ttl applies to puts only")
        op = hub.core.get_many(ns, [i["key"] for i in items], caller.agent)
        found = await hub.run(caller, op)
        return json_response(
            {"results": [{"ok": True, "entry": entry_json(found.get(i["key"]))} for i in items]}
        )
    raise InvalidArgument("an atomic batch is all puts (write_many) or all gets (read_many)")


def _op(hub: Hub, caller: Caller, ns: str, item: dict[str, Any], idem: str | None) -> o.Op[Any]:
    kind = item["op"]
    if kind == "get":
        if set(item) - {"op", "key"}:
            raise InvalidArgument("a get takes only a key")
        return hub.core.get(ns, item["key"], caller.agent)
    if kind == "put":
        if "value" not in item:
            raise InvalidArgument("a put needs a value")
        return hub.core.put(
            ns,
            item["key"],
            item["value"],
            caller.agent,
            item.get("ttl"),
            item.get("expected_version"),
            idem,
        )
    if "value" in item or "ttl" in item:
        raise InvalidArgument("a delete takes a key and an optional expected_version")
    return hub.core.delete(ns, item["key"], caller.agent, item.get("expected_version"), idem)


def _result(op: o.Op[Any], value: Any) -> dict[str, Any]:
    if isinstance(op, o.Delete):
        return {"ok": True, "deleted": value}
    return {"ok": True, "entry": entry_json(value)}


@endpoint
async def broadcast(request: Request, hub: Hub, caller: Caller) -> Response:
    body = await body_of(request, hub)
    fields(body, _BROADCAST.fields, _BROADCAST.required)
    op = hub.core.broadcast(
        request.path_params["ns"], body["message"], caller.agent, _idem(request)
    )
    return json_response((await hub.run(caller, op)).to_dict())


#: The handler of each route of the table served here, by route name.
HANDLERS = {
    "list_entries": list_entries,
    "get_entry": get_entry,
    "exists": exists,
    "history": history,
    "read_as_of": read_as_of,
    "list_as_of": list_as_of,
    "put_entry": put_entry,
    "delete_entry": delete_entry,
    "batch": batch,
    "broadcast": broadcast,
}
