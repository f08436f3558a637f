"""The HTTP routes of long-term memories, described once for the server and the client.

Each memories route of the route table (:mod:`hivemem.wire.table`) names the plan method
it runs (:class:`~hivemem.memories.plans.MemoryPlans`), its verb and path, and where each
argument travels (path, query or body). The server builds its routes from that table; the
remote client builds its requests from it (:func:`memory_call`); :func:`to_json` /
:func:`from_json` turn each method's result into JSON and back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from hivemem.engine import ops as o
from hivemem.types import Group, MemoryRecord, Page, ScoredMemory, Session
from hivemem.wire.call import Call
from hivemem.wire.table import ROUTES as TABLE

if TYPE_CHECKING:
    from hivemem.wire.table import RouteSpec

__all__ = ["ROUTES", "MemoryCall", "from_json", "memory_call", "to_json"]


#: Every memories route of the route table (:data:`hivemem.wire.table.ROUTES`).
ROUTES: tuple[RouteSpec, ...] = tuple(r for r in TABLE if r.plan is not None)
BY_METHOD = {r.plan: r for r in ROUTES}


# ---------------------------------------------------------------- results as JSON


#: Methods that answer one record.
_RECORD_RESULTS = frozenset(
    {"add", "get", "update", "reinforce", "archive", "restore", "supersede", "slot"}
)
_RECORD_LISTS = ("add_many", "get_many", "children", "slot_history")


def _records(items: list[MemoryRecord]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in items]


def to_json(method: str, value: Any) -> Any:
    """A method's result as the route's JSON body."""
    if method in _RECORD_RESULTS:
        return value.to_dict()
    if method in _RECORD_LISTS:
        return {"memories": _records(value)}
    if method == "timeline":
        return {"memories": _records(value.items), "next_cursor": value.next_cursor}
    if method in ("search", "semantic_search"):
        return {"results": [s.to_dict() for s in value]}
    if method == "delete":
        return {"deleted": value}
    if method == "get_related":
        return {"related": [{**r, "memory": r["memory"].to_dict()} for r in value]}
    if method == "get_group":
        group, records = value
        return {"group": group.to_dict(), "memories": _records(records)}
    if method == "add_to_group":
        return {"added": value}
    if method in ("create_group", "create_session", "get_session"):
        return value.to_dict()
    return value  # add_relationship, decay, config, configure: already JSON objects


def from_json(method: str, data: Any) -> Any:
    """The inverse of :func:`to_json`: the Python API's value."""
    if method in _RECORD_RESULTS:
        return MemoryRecord.from_dict(data)
    if method in _RECORD_LISTS:
        return [MemoryRecord.from_dict(r) for r in data["memories"]]
    if method == "timeline":
        return Page([MemoryRecord.from_dict(r) for r in data["memories"]], data["next_cursor"])
    if method in ("search", "semantic_search"):
        return [ScoredMemory.from_dict(s) for s in data["results"]]
    if method == "delete":
        return data["deleted"]
    if method == "get_related":
        return [{**r, "memory": MemoryRecord.from_dict(r["memory"])} for r in data["related"]]
    if method == "get_group":
        return Group.from_dict(data["group"]), [MemoryRecord.from_dict(r) for r in data["memories"]]
    if method == "add_to_group":
        return data["added"]
    if method == "create_group":
        return Group.from_dict(data)
    if method in ("create_session", "get_session"):
        return Session.from_dict(data)
    return data


# ---------------------------------------------------------------- the client's op


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryCall(o.Op[Any]):
    """A memories method sent to a server (remote clients only; servers run the plans)."""

    ns: str
    method: str
    args: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    action: ClassVar[str | None] = None


def memory_call(op: MemoryCall) -> Call:
    """The HTTP call that carries ``op``."""
    route = BY_METHOD[op.method]
    args = dict(op.args)
    path = route.url(ns=op.ns, **{n: args.pop(n) for n in route.path_names if n != "ns"})
    params = {}
    for name in route.query:
        value = args.pop(name, None)
        if value is not None:
            params[name] = str(value).lower() if isinstance(value, bool) else value
    body: Any = None
    if route.whole_body is not None:
        body = args.pop(route.whole_body)
    elif route.fields:
        body = {k: args.pop(k) for k in route.field_order if k in args}
    headers = {}
    if route.idempotency_key:
        headers["Idempotency-Key"] = op.idempotency_key or uuid.uuid4().hex
    return Call(
        route.verb,
        path,
        params=params,
        body=None if body is None else orjson.dumps(body, default=_default),
        retry_safe=True,
        decode=lambda data: from_json(op.method, data),
        headers=headers,
    )


def _default(value: Any) -> Any:
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"cannot send {type(value).__name__} as JSON")
