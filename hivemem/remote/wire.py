"""How each op travels over HTTP: its route, arguments and body, and how to read the answer.

One function per op type turns the op into a :class:`Call`; the call's ``decode`` turns the
JSON answer back into what the embedded engine returns for that op (entries, pages,
namespace infos...), so ``Memory`` over ``http://`` gives the same values.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from hivemem.engine import ops as o
from hivemem.types import AccessLogEntry, Entry, Event, NamespaceInfo, Page

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Call", "call_for"]


@dataclass(slots=True)
class Call:
    """One HTTP request an op becomes.

    Attributes:
        method: HTTP method.
        path: Path below the server's base URL.
        params: Query arguments.
        body: The JSON body (already encoded), or ``None``.
        retry_safe: Whether resending after a lost answer cannot apply the op twice (reads,
            and mutations carrying an idempotency key).
        decode: Turns the JSON answer into the op's value.
        not_found: The value to return for a plain 404 ``not_found`` (missing key).
        headers: Extra headers (``Idempotency-Key``).
    """

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    body: bytes | None = None
    retry_safe: bool = True
    decode: Callable[[Any], Any] = lambda data: data
    not_found: Any = None
    missing_ok: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def _seg(text: str) -> str:
    # Dots too: a key "." or ".." must not read as a path's dot segment.
    return quote(text, safe="").replace(".", "%2E")


def _ns(ns: str) -> str:
    return f"/v1/namespaces/{_seg(ns)}"


def _key(ns: str, key: str) -> str:
    return f"{_ns(ns)}/entries/{_seg(key)}"


def _json(data: Any) -> bytes:
    return orjson.dumps(data)


def _idem(op: Any) -> dict[str, str]:
    return {"Idempotency-Key": op.idempotency_key or uuid.uuid4().hex}


def _info(data: Any) -> NamespaceInfo:
    return NamespaceInfo.from_dict(data)


def _raw(value_json: str) -> Any:
    return orjson.Fragment(value_json)


def _create(op: o.CreateNamespace) -> Call:
    body: dict[str, Any] = {
        "name": op.ns,
        "default_permission": op.default_permission,
        "conflict_strategy": op.conflict_strategy,
        "resolver": op.resolver,
        "ttl": op.ttl,
        "max_entries": op.max_entries,
        "description": op.description,
        "exist_ok": op.exist_ok,
    }
    if op.permissions is not None:
        body["permissions"] = op.permissions
    return Call("POST", "/v1/namespaces", body=_json(body), retry_safe=False, decode=_info)


def _get_ns(op: o.GetNamespace) -> Call:
    return Call("GET", _ns(op.ns), decode=_info)


def _list_ns(op: o.ListNamespaces) -> Call:
    return Call("GET", "/v1/namespaces", decode=lambda d: [_info(i) for i in d["namespaces"]])


def _update_ns(op: o.UpdateNamespace) -> Call:
    return Call("PATCH", _ns(op.ns), body=_json(op.changes), decode=_info)


def _update_perms(op: o.UpdatePermissions) -> Call:
    body = _json({"permissions": op.permissions})
    return Call("PUT", f"{_ns(op.ns)}/permissions", body=body, decode=_info)


def _clear(op: o.ClearNamespace) -> Call:
    return Call("POST", f"{_ns(op.ns)}/clear", retry_safe=False, decode=lambda d: d["cleared"])


def _delete_ns(op: o.DeleteNamespace) -> Call:
    return Call("DELETE", _ns(op.ns), retry_safe=False, decode=lambda d: None)


def _entry(data: Any) -> Entry | None:
    return None if data is None else Entry.from_dict(data)


def _get(op: o.Get) -> Call:
    return Call("GET", _key(op.ns, op.key), decode=_entry, missing_ok=True)


def _get_many(op: o.GetMany) -> Call:
    if not op.keys:
        return Call("GET", _ns(op.ns), decode=lambda d: {})
    body = _json({"atomic": True, "ops": [{"op": "get", "key": k} for k in op.keys]})
    keys = op.keys

    def decode(data: Any) -> dict[str, Entry]:
        out: dict[str, Entry] = {}
        for key, result in zip(keys, data["results"], strict=True):
            if result.get("entry") is not None:
                out[key] = Entry.from_dict(result["entry"])
        return out

    return Call("POST", f"{_ns(op.ns)}/batch", body=body, decode=decode)


def _list(op: o.ListEntries) -> Call:
    params: dict[str, Any] = {"prefix": op.prefix, "limit": op.limit or 1000}
    if op.cursor is not None:
        params["cursor"] = op.cursor

    def decode(data: Any) -> Page[Entry]:
        return Page([Entry.from_dict(e) for e in data["items"]], data["next_cursor"])

    return Call("GET", f"{_ns(op.ns)}/entries", params=params, decode=decode)


def _put(op: o.Put) -> Call:
    body: dict[str, Any] = {"value": _raw(op.value_json)}
    if op.ttl is not None:
        body["ttl"] = op.ttl
    if op.expected_version is not None:
        body["expected_version"] = op.expected_version
    if op.resolved:
        body["resolved"] = True
    return Call(
        "PUT", _key(op.ns, op.key), body=_json(body), decode=Entry.from_dict, headers=_idem(op)
    )


def _put_many(op: o.PutMany) -> Call:
    body: dict[str, Any] = {
        "atomic": True,
        "ops": [{"op": "put", "key": k, "value": _raw(v)} for k, v in op.items],
    }
    if op.ttl is not None:
        body["ttl"] = op.ttl

    def decode(data: Any) -> list[Entry]:
        return [Entry.from_dict(r["entry"]) for r in data["results"]]

    return Call("POST", f"{_ns(op.ns)}/batch", body=_json(body), decode=decode, headers=_idem(op))


def _delete(op: o.Delete) -> Call:
    params = {} if op.expected_version is None else {"expected_version": op.expected_version}
    return Call(
        "DELETE",
        _key(op.ns, op.key),
        params=params,
        decode=lambda d: d["deleted"],
        headers=_idem(op),
    )


def _broadcast(op: o.Broadcast) -> Call:
    body = _json({"message": _raw(op.message_json)})
    return Call(
        "POST", f"{_ns(op.ns)}/broadcast", body=body, decode=Event.from_dict, headers=_idem(op)
    )


def _start_watch(op: o.StartWatch) -> Call:
    # The JSON form of the events route checks permission and retention and returns at once.
    params: dict[str, Any] = {"limit": 1}
    if op.since is not None:
        params["since"] = op.since
    params["probe"] = "subscribe" if op.subscribe else "watch"
    return Call(
        "GET",
        f"{_ns(op.ns)}/events",
        params=params,
        decode=lambda d: d["revision"],
        headers={"Accept": "application/json"},
    )


def _events_after(op: o.EventsAfter) -> Call:
    params = {"since": op.since, "limit": op.limit}
    return Call(
        "GET",
        f"{_ns(op.ns)}/events",
        params=params,
        decode=lambda d: [Event.from_dict(e) for e in d["events"]],
        headers={"Accept": "application/json"},
    )


def _audit(op: o.AccessLogQuery) -> Call:
    params: dict[str, Any] = {"limit": op.limit}
    for name, value in (
        ("agent_id", op.agent_id),
        ("namespace", op.ns),
        ("action", op.action_filter),
        ("since", op.since),
    ):
        if value is not None:
            params[name] = value
    if op.success is not None:
        params["success"] = "true" if op.success else "false"
    return Call(
        "GET",
        "/v1/audit",
        params=params,
        decode=lambda d: [AccessLogEntry.from_dict(r) for r in d["items"]],
    )


def _stats(op: o.Stats) -> Call:
    return Call("GET", "/v1/stats")


def _sweep(op: o.Sweep) -> Call:
    return Call("POST", "/v1/sweep", decode=lambda d: d["removed"])


def _list_path(op: Any, verb: str) -> str:
    return f"{_ns(op.ns)}/lists/{_seg(op.key)}/{verb}"


def _list_push(op: o.ListPush) -> Call:
    body: dict[str, Any] = {"items": [_raw(i) for i in op.items]}
    if op.ttl is not None:
        body["ttl"] = op.ttl
    return Call(
        "POST",
        _list_path(op, "push"),
        body=_json(body),
        decode=lambda d: d["length"],
        headers=_idem(op),
    )


def _list_pop(op: o.ListPop) -> Call:
    return Call(
        "POST",
        _list_path(op, "pop"),
        body=_json({"index": op.index}),
        decode=lambda d: d["value"],
        headers=_idem(op),
    )


def _list_insert(op: o.ListInsert) -> Call:
    body: dict[str, Any] = {"index": op.index, "item": _raw(op.item)}
    if op.ttl is not None:
        body["ttl"] = op.ttl
    return Call(
        "POST",
        _list_path(op, "insert"),
        body=_json(body),
        decode=lambda d: d["length"],
        headers=_idem(op),
    )


def _list_remove(op: o.ListRemove) -> Call:
    return Call(
        "POST",
        _list_path(op, "remove"),
        body=_json({"item": _raw(op.item)}),
        decode=lambda d: d["length"],
        headers=_idem(op),
    )


def _list_range(op: o.ListRange) -> Call:
    params: dict[str, Any] = {"start": op.start}
    if op.stop is not None:
        params["stop"] = op.stop
    return Call(
        "GET",
        f"{_ns(op.ns)}/lists/{_seg(op.key)}/items",
        params=params,
        decode=lambda d: (d["items"], d["length"]),
    )


def _expire_prefix(op: o.ExpirePrefix) -> Call:
    body = _json({"prefix": op.prefix, "ttl": op.ttl})
    return Call("POST", f"{_ns(op.ns)}/prefix/expire", body=body, decode=lambda d: d["count"])


def _delete_prefix(op: o.DeletePrefix) -> Call:
    body = _json({"prefix": op.prefix})
    return Call("POST", f"{_ns(op.ns)}/prefix/delete", body=body, decode=lambda d: d["count"])


_CALLS: dict[type, Callable[[Any], Call]] = {
    o.CreateNamespace: _create,
    o.GetNamespace: _get_ns,
    o.ListNamespaces: _list_ns,
    o.UpdateNamespace: _update_ns,
    o.UpdatePermissions: _update_perms,
    o.ClearNamespace: _clear,
    o.DeleteNamespace: _delete_ns,
    o.Get: _get,
    o.GetMany: _get_many,
    o.ListEntries: _list,
    o.Put: _put,
    o.PutMany: _put_many,
    o.Delete: _delete,
    o.Broadcast: _broadcast,
    o.StartWatch: _start_watch,
    o.EventsAfter: _events_after,
    o.AccessLogQuery: _audit,
    o.Stats: _stats,
    o.Sweep: _sweep,
    o.ListPush: _list_push,
    o.ListPop: _list_pop,
    o.ListInsert: _list_insert,
    o.ListRemove: _list_remove,
    o.ListRange: _list_range,
    o.ExpirePrefix: _expire_prefix,
    o.DeletePrefix: _delete_prefix,
}


def _register_memories() -> None:
    from hivemem.memories.wire import MemoryCall, memory_call

    _CALLS[MemoryCall] = memory_call


_register_memories()


def call_for(op: o.Op[Any]) -> Call:
    """The HTTP call that carries ``op``."""
    return _CALLS[type(op)](op)
