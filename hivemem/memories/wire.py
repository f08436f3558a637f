"""The HTTP routes of long-term memories, described once for the server and the client.

Each :class:`MemRoute` names the plan method it runs (:class:`~hivemem.memories.plans.
MemoryPlans`), its verb and path, and where each argument travels (path, query or body).
The server builds its routes from this table; the remote client builds its requests from
it; :func:`to_json` / :func:`from_json` turn each method's result into JSON and back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote

import orjson

from hivemem.engine import ops as o
from hivemem.types import Group, MemoryRecord, ScoredMemory, Session

__all__ = ["ROUTES", "MemRoute", "MemoryCall", "from_json", "memory_call", "to_json"]


@dataclass(frozen=True, slots=True)
class MemRoute:
    """One memories route.

    Attributes:
        method: The plan method (and the Python API method) it runs.
        verb: HTTP method.
        path: Path under ``/v1/namespaces/{ns}`` (or absolute, for ``/v1/sessions``).
        query: Query arguments and their types.
        body: Body fields passed as arguments; ``"*name"`` passes the whole body as ``name``.
        mutates: Whether it changes state (it then honours ``Idempotency-Key``).
    """

    method: str
    verb: str
    path: str
    query: dict[str, type] = field(default_factory=dict)
    body: tuple[str, ...] = ()
    mutates: bool = False

    @property
    def absolute(self) -> bool:
        """Whether the path is outside ``/v1/namespaces/{ns}``."""
        return self.path.startswith("/v1/")


M = "/memories"
#: Every memories route; static paths come before parametrised ones at each depth.
ROUTES: tuple[MemRoute, ...] = (
    MemRoute("search", "POST", f"{M}/search",
             body=("query", "memory_type", "tags", "limit", "parent_id", "filters")),
    MemRoute("semantic_search", "POST", f"{M}/semantic-search",
             body=("query", "k", "filters", "weights")),
    MemRoute("add_many", "POST", f"{M}/batch", body=("memories",), mutates=True),
    MemRoute("get_many", "POST", f"{M}/batch-get", body=("ids",)),
    MemRoute("add_relationship", "POST", f"{M}/relationships",
             body=("source_id", "target_id", "relationship_type", "strength"), mutates=True),
    MemRoute("decay", "POST", f"{M}/decay", body=("now",), mutates=True),
    MemRoute("config", "GET", f"{M}/config"),
    MemRoute("configure", "PUT", f"{M}/config", body=("forget",), mutates=True),
    MemRoute("create_group", "POST", f"{M}/groups", body=("name", "description"), mutates=True),
    MemRoute("get_group", "GET", f"{M}/groups/{{gid}}"),
    MemRoute("add_to_group", "PUT", f"{M}/groups/{{gid}}/members/{{rid}}", mutates=True),
    MemRoute("add", "POST", M, body=("*spec",), mutates=True),
    MemRoute("get", "GET", f"{M}/{{rid}}"),
    MemRoute("update", "PATCH", f"{M}/{{rid}}", body=("*fields",), mutates=True),
    MemRoute("delete", "DELETE", f"{M}/{{rid}}", query={"cascade": bool}, mutates=True),
    MemRoute("children", "GET", f"{M}/{{parent_id}}/children",
             query={"limit": int, "sort_field": str, "sort_order": str}),
    MemRoute("get_related", "GET", f"{M}/{{rid}}/related", query={"relationship_type": str}),
    MemRoute("reinforce", "POST", f"{M}/{{rid}}/reinforce", body=("factor",), mutates=True),
    MemRoute("archive", "POST", f"{M}/{{rid}}/archive", mutates=True),
    MemRoute("restore", "POST", f"{M}/{{rid}}/restore", mutates=True),
    MemRoute("create_session", "POST", "/v1/sessions",
             body=("user_id", "session_type", "metadata"), mutates=True),
    MemRoute("get_session", "GET", "/v1/sessions/{session_id}"),
)  # fmt: skip
BY_METHOD = {r.method: r for r in ROUTES}


# ---------------------------------------------------------------- results as JSON


#: Methods that answer one record.
_RECORD_RESULTS = frozenset({"add", "get", "update", "reinforce", "archive", "restore"})


def _records(items: list[MemoryRecord]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in items]


def to_json(method: str, value: Any) -> Any:
    """A method's result as the route's JSON body."""
    if method in _RECORD_RESULTS:
        return value.to_dict()
    if method in ("add_many", "get_many", "children"):
        return {"memories": _records(value)}
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
    if method in ("add_many", "get_many", "children"):
        return [MemoryRecord.from_dict(r) for r in data["memories"]]
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


def _seg(text: str) -> str:
    return quote(str(text), safe="").replace(".", "%2E")


def memory_call(op: MemoryCall) -> Any:
    """The HTTP :class:`~hivemem.remote.wire.Call` that carries ``op``."""
    from hivemem.remote.wire import Call

    route = BY_METHOD[op.method]
    args = dict(op.args)
    path = route.path
    for name in [p[1:-1] for p in path.split("/") if p.startswith("{")]:
        path = path.replace(f"{{{name}}}", _seg(args.pop(name)))
    if not route.absolute:
        path = f"/v1/namespaces/{_seg(op.ns)}{path}"
    params = {}
    for name in route.query:
        value = args.pop(name, None)
        if value is not None:
            params[name] = str(value).lower() if isinstance(value, bool) else value
    body: Any = None
    if route.body:
        if route.body[0].startswith("*"):
            body = args.pop(route.body[0][1:])
        else:
            body = {k: args.pop(k) for k in route.body if k in args}
    headers = {}
    if route.mutates:
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
