"""The route table: every operation of the HTTP API, declared once.

Each :class:`RouteSpec` names an operation (its OpenAPI ``operationId``) and gives its verb,
path, parameters (path, query, header, with their schemas), body schema, success schema and
status, error statuses, permission, whether it honours ``Idempotency-Key`` and whether a
client may resend it. From :data:`ROUTES`:

- the server builds its Starlette routes (:mod:`hivemem.server.routes`: one handler per
  name; the memories routes' handlers are generated from ``plan``) and checks body fields
  against the body schema (:attr:`RouteSpec.fields`, :attr:`RouteSpec.required`);
- the remote client builds its requests (:mod:`hivemem.remote.wire`,
  :mod:`hivemem.memories.wire`): verb, path (:meth:`RouteSpec.url`), idempotency header;
- :mod:`hivemem.server.openapi` builds the OpenAPI document;
- :mod:`hivemem.mcp.tools` takes its argument schemas from the schemas named here.

The order is the server's routing order (Starlette tries routes in turn): entry reads and
writes first, as they are most requests. The web UI's pages and ``/mcp`` (JSON-RPC) are not
in the table: they are not the REST API.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from hivemem.memories import plans as memory_plans
from hivemem.memories.decay import ACTIONS
from hivemem.memories.index import NamespaceIndex
from hivemem.memories.plans import MAX_WEIGHT, TIMELINE_CURSOR
from hivemem.wire import schemas as s
from hivemem.wire.schemas import Schema

__all__ = ["BY_NAME", "ROUTES", "Param", "RouteSpec", "segment"]


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a route.

    Attributes:
        name: Its name.
        where: ``path``, ``query`` or ``header``.
        schema: Its JSON schema.
        required: Whether a request must give it.
        greedy: A path parameter that matches ``/`` too (Starlette's ``{name:path}``).
        extra: More OpenAPI fields (``example``, ``description``).
    """

    name: str
    where: str
    schema: Schema
    required: bool = False
    greedy: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def openapi(self) -> Schema:
        """The parameter as an OpenAPI parameter object."""
        return {
            "name": self.name,
            "in": self.where,
            "required": self.required,
            "schema": self.schema,
            **self.extra,
        }


#: How a query argument's JSON type reads from a query string (memories routes).
_QUERY_TYPES: dict[str, type] = {"boolean": bool, "integer": int, "number": float}

BodySchema = Schema | Callable[[list[str]], Schema]


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """One operation of the HTTP API.

    Attributes:
        name: Its ``operationId``; the server's handler of the same name serves it.
        verb: HTTP method.
        path: Path template (OpenAPI form: ``{name}``).
        summary: One line for the documentation.
        ok: Schema of the success body (``None``: any).
        status: Success status.
        errors: Error statuses beyond those of every authenticated route (401, 403, 422,
            429, 503) and of every body (413, 422).
        params: Path, query and header parameters (``Idempotency-Key`` is added by
            ``idempotency_key``).
        body: The body's schema, or a function of the server's resolver names giving it.
        permission: ``public`` (no token), ``agent`` (a token; the namespace's levels are
            checked by the engine) or ``admin`` (an admin token).
        idempotency_key: Whether it honours ``Idempotency-Key`` (a repeat answers the first
            outcome); the client then always sends one.
        retry_safe: Whether a client may resend it after a lost answer.
        media: Media type of the success body.
        streaming: Whether the answer is a stream held open (SSE).
        description: A longer description.
        also: More media types of the success answer, with their schemas.
        headers: Headers of the success answer, documented.
        plan: For a memories route, the plan method it runs
            (:class:`~hivemem.memories.plans.MemoryPlans`); its handler is generated.
        whole_body: For a memories route, the argument the whole body is passed as.
    """

    name: str
    verb: str
    path: str
    summary: str
    ok: Schema | None
    status: int = 200
    errors: tuple[int, ...] = ()
    params: tuple[Param, ...] = ()
    body: BodySchema | None = None
    permission: str = "agent"
    idempotency_key: bool = False
    retry_safe: bool = True
    media: str = "application/json"
    streaming: bool = False
    description: str | None = None
    also: dict[str, Schema] = field(default_factory=dict)
    headers: dict[str, Schema] = field(default_factory=dict)
    plan: str | None = None
    whole_body: str | None = None
    #: The body's field names (empty without a body), for the server's unknown-field check.
    fields: frozenset[str] = field(init=False)
    #: The body's field names, in the schema's order.
    field_order: tuple[str, ...] = field(init=False)
    #: The body's required fields, in the schema's order.
    required: tuple[str, ...] = field(init=False)
    #: Query arguments and the Python type each reads as.
    query: dict[str, type] = field(init=False)
    #: The path's parameters, in order.
    path_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        body = self.body_schema([])
        props = body.get("properties", {}) if body else {}
        object.__setattr__(self, "fields", frozenset(props))
        object.__setattr__(self, "field_order", tuple(props))
        object.__setattr__(self, "required", tuple(body.get("required", ())) if body else ())
        query = {
            p.name: _QUERY_TYPES.get(p.schema.get("type", ""), str)
            for p in self.params
            if p.where == "query"
        }
        object.__setattr__(self, "query", query)
        object.__setattr__(self, "path_names", tuple(re.findall(r"{(\w+)}", self.path)))

    @property
    def auth(self) -> bool:
        """Whether it needs a token."""
        return self.permission != "public"

    @property
    def route_path(self) -> str:
        """The path as Starlette routes it (greedy parameters as ``{name:path}``)."""
        path = self.path
        for p in self.params:
            if p.greedy:
                path = path.replace(f"{{{p.name}}}", f"{{{p.name}:path}}")
        return path

    def body_schema(self, resolvers: list[str]) -> Schema | None:
        """The body's schema (``None``: no body) for a server with these resolvers."""
        if self.body is None or isinstance(self.body, dict):
            return self.body
        return self.body(resolvers)

    def url(self, **values: Any) -> str:
        """The path with each parameter's value, each one URL-encoded as one segment."""
        path = self.path
        for name in self.path_names:
            path = path.replace(f"{{{name}}}", segment(values[name]))
        return path


def segment(text: str) -> str:
    """``text`` as one URL path segment."""
    # Dots too: a key "." or ".." must not read as a path's dot segment.
    return quote(str(text), safe="").replace(".", "%2E")


def _param(name: str, where: str, schema: Schema, required: bool = False, **extra: Any) -> Param:
    return Param(name, where, schema, required, extra=extra)


# ---------------------------------------------------------------- shared parameters

#: A lease id (``grant_lease``): ``"<home namespace>/<32 hex>"``.
_LEASE_ID: Schema = {
    "type": "string",
    "pattern": "^[A-Za-z0-9._:-]{1,128}/[0-9a-f]{32}$",
    "description": "a lease id: the entry lives as long as that lease (no ttl then)",
}
#: A held lock's fence: the write is refused unless that token still holds the lock.
_FENCE: Schema = {
    "type": "object",
    "properties": {
        "namespace": s.NS_NAME,
        "name": s.KEY,
        "token": {"type": "integer", "minimum": 0, "maximum": s.INT64},
    },
    "required": ["namespace", "name", "token"],
    "additionalProperties": False,
    "description": "a held lock (fencing token): refused (409 conflict, reason fenced) once "
    "that token no longer holds it",
}

NS = _param("ns", "path", s.NS_NAME, True, example="default")
KEY = Param("key", "path", s.KEY, True, greedy=True, extra={"example": "greeting"})
LIST_KEY = Param("key", "path", s.LIST_KEY, True, greedy=True, extra={"example": "todo"})
IDEMPOTENCY_KEY = _param(
    "Idempotency-Key",
    "header",
    {"type": "string", "minLength": 1, "maxLength": 200},
    description="a repeat with the same key answers the first outcome instead of applying twice",
)
_PAGE_LIMIT = _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 10_000})
_INDEX: Schema = {"type": "integer", "minimum": -s.INT64, "maximum": s.INT64}
_LENGTH = s.out({"length": {"type": "integer", "minimum": 0}})
_COUNT = s.out({"count": {"type": "integer", "minimum": 0}})
_PREFIX: Schema = {"type": "string", "maxLength": 1024, "pattern": r"^[^\u0000-\u001f\u007f]*$"}
_ENTRIES: Schema = {"type": "array", "items": s.ref("Entry")}
_NAMESPACE = s.ref("Namespace")


def _permissions(resolvers: list[str]) -> Schema:
    return s.config_fields(resolvers)["permissions"]


def _create_namespace(resolvers: list[str]) -> Schema:
    config = s.config_fields(resolvers)
    return s.obj(
        {
            "name": s.NS_NAME,
            "exist_ok": {"type": "boolean"},
            **config,
            "group": {
                "type": ["string", "null"],
                "pattern": r"^[A-Za-z0-9._:\-]{1,128}$",
                "description": "transaction group, fixed at creation: on Redis Cluster the "
                "namespaces of one group share a hash slot, so one transaction may span them",
            },
            "permissions": {
                "anyOf": [config["permissions"], {"type": "null"}],
                "description": "null: the default, {creator: admin}",
            },
        },
        ("name",),
        allOf=[s.CUSTOM_NEEDS_RESOLVER],
    )


def _update_namespace(resolvers: list[str]) -> Schema:
    return s.obj(s.config_fields(resolvers), allOf=[s.NULL_RESOLVER_NEEDS_STRATEGY])


def _update_permissions(resolvers: list[str]) -> Schema:
    return s.obj({"permissions": _permissions(resolvers)}, ("permissions",))


# ---------------------------------------------------------------- entries, lists, prefixes

_NSP = "/v1/namespaces/{ns}"
_REVISION = _param(
    "revision",
    "query",
    {"type": "integer", "minimum": 0, "maximum": s.INT64},
    description="the state after this revision (give revision or at)",
)
_AT = _param(
    "at",
    "query",
    {"type": "number"},
    description="the state at this time, Unix seconds (give revision or at)",
)
_CURSOR = _param(
    "cursor",
    "query",
    {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"},
    description="next_cursor of the previous page (empty: the first page)",
)
_VERSION = s.obj(
    {
        "value": {},
        "version": {"type": "integer"},
        "revision": {"type": "integer"},
        "agent_id": {"type": "string"},
        "updated_at": {"type": "number"},
        "deleted": {"type": "boolean"},
    },
    required=("value", "version", "revision", "agent_id", "updated_at", "deleted"),
)
#: The cursor of a coordination listing (locks, queues): a next_cursor handed out before.
_LIST_CURSOR = _param(
    "cursor",
    "query",
    {"type": "string", "pattern": "^[A-Za-z0-9_-]*$", "maxLength": 2048},
    description="next_cursor of the previous page (empty: the first page)",
)
_ENTRY_ROUTES = (
    RouteSpec(
        "list_entries", "GET", f"{_NSP}/entries", "Live entries in key order, a page at a time",
        s.out({"items": _ENTRIES, "next_cursor": {"type": ["string", "null"]}}),
        errors=(404,),
        params=(
            NS,
            _param("prefix", "query", {"type": "string"}),
            _PAGE_LIMIT,
            _param(
                "cursor", "query", {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"},
                description="next_cursor of the previous page (empty: the first page)",
            ),
        ),
    ),
    RouteSpec(
        "get_entry", "GET", f"{_NSP}/entries/{{key}}", "Read a key", s.ref("Entry"),
        errors=(404, 413), params=(NS, KEY),
    ),
    RouteSpec(
        "exists", "GET", f"{_NSP}/exists/{{key}}", "Whether a key holds a live entry",
        s.obj({"exists": {"type": "boolean"}}, required=("exists",)),
        errors=(404, 413), params=(NS, KEY),
    ),
    RouteSpec(
        "list_as_of", "GET", f"{_NSP}/as_of",
        "Live entries as they were after a revision or at a time (from the retained log)",
        s.out({"items": _ENTRIES, "next_cursor": {"type": ["string", "null"]}}),
        errors=(404, 410),
        params=(
            NS, _REVISION, _AT, _param("prefix", "query", {"type": "string"}), _PAGE_LIMIT,
            _CURSOR,
        ),
    ),
    RouteSpec(
        "read_as_of", "GET", f"{_NSP}/as_of/{{key}}",
        "A key's entry as it was after a revision or at a time (from the retained log)",
        s.obj({"entry": {"anyOf": [s.ref("Entry"), {"type": "null"}]}}, required=("entry",)),
        errors=(404, 410, 413), params=(NS, KEY, _REVISION, _AT),
    ),
    RouteSpec(
        "history", "GET", f"{_NSP}/history/{{key}}",
        "A key's retained versions, newest first (deletions included)",
        s.obj({"versions": {"type": "array", "items": _VERSION}}, required=("versions",)),
        errors=(404, 410, 413),
        params=(
            NS, KEY,
            _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000}),
            _param("before", "query", {"type": "integer", "minimum": 0},
                   description="only changes with a revision below this one"),
        ),
    ),
    RouteSpec(
        "put_entry", "PUT", f"{_NSP}/entries/{{key}}",
        "Write a key (under the namespace's conflict strategy)", s.ref("Entry"),
        errors=(404, 409), params=(NS, KEY), idempotency_key=True,
        body=s.obj(
            {
                "value": s.ANY,
                "ttl": s.TTL,
                "expected_version": s.VERSION,
                "resolved": {
                    "type": "boolean",
                    "description": "true only for a custom namespace whose resolver "
                    "runs in the client: the value is that resolver's outcome",
                },
                "lease": _LEASE_ID,
                "fence": _FENCE,
            },
            ("value",),
        ),
    ),
    RouteSpec(
        "delete_entry", "DELETE", f"{_NSP}/entries/{{key}}", "Delete a key",
        s.out({"deleted": {"type": "boolean"}}), errors=(404, 409, 413),
        params=(
            NS, KEY,
            _param("expected_version", "query",
                   {"type": "integer", "minimum": 0, "maximum": s.INT64}),
        ),
        idempotency_key=True,
    ),
    RouteSpec(
        "batch", "POST", f"{_NSP}/batch", "Several gets, puts and deletes in one request",
        s.out({"results": {"type": "array", "items": s.RESULT}}), errors=(404, 409),
        params=(NS,), body=s.batch_body(), idempotency_key=True,
    ),
    RouteSpec(
        "broadcast", "POST", f"{_NSP}/broadcast", "Send a message to the namespace's watchers",
        s.ref("Event"), errors=(404,), params=(NS,), idempotency_key=True,
        body=s.obj({"message": s.ANY}, ("message",)),
    ),
)  # fmt: skip

_L = f"{_NSP}/lists/{{key}}"
_LIST_ROUTES = (
    RouteSpec(
        "list_push", "POST", f"{_L}/push", "Append items to a list, atomically", _LENGTH,
        errors=(404, 409), params=(NS, LIST_KEY), idempotency_key=True,
        body=s.obj({"items": {"type": "array", "minItems": 1, "maxItems": 1000}, "ttl": s.TTL},
                   ("items",)),
    ),
    RouteSpec(
        "list_pop", "POST", f"{_L}/pop", "Remove and return an item (default the last)",
        s.out({"value": s.ANY}), errors=(404, 409), params=(NS, LIST_KEY),
        idempotency_key=True, body=s.obj({"index": _INDEX}),
    ),
    RouteSpec(
        "list_insert", "POST", f"{_L}/insert", "Insert an item before an index", _LENGTH,
        errors=(404, 409), params=(NS, LIST_KEY), idempotency_key=True,
        body=s.obj({"index": _INDEX, "item": s.ANY, "ttl": s.TTL}, ("index", "item")),
    ),
    RouteSpec(
        "list_remove", "POST", f"{_L}/remove", "Remove the first item equal to the given one",
        _LENGTH, errors=(404, 409), params=(NS, LIST_KEY), idempotency_key=True,
        body=s.obj({"item": s.ANY}, ("item",)),
    ),
    RouteSpec(
        "list_range", "GET", f"{_L}/items", "Items [start:stop] of a list and its length",
        s.out({"items": {"type": "array"}, "length": {"type": "integer", "minimum": 0}}),
        errors=(404,),
        params=(NS, LIST_KEY, _param("start", "query", _INDEX), _param("stop", "query", _INDEX)),
    ),
    RouteSpec(
        "expire_prefix", "POST", f"{_NSP}/prefix/expire",
        "Set or clear the expiry of every entry with a prefix", _COUNT, errors=(404, 409),
        params=(NS,), body=s.obj({"prefix": _PREFIX, "ttl": s.TTL}, ("prefix", "ttl")),
    ),
    RouteSpec(
        "delete_prefix", "POST", f"{_NSP}/prefix/delete", "Delete every entry with a prefix",
        _COUNT, errors=(404, 409), params=(NS,),
        body=s.obj({"prefix": _PREFIX}, ("prefix",)),
    ),
)  # fmt: skip

# ---------------------------------------------------------------- service, tokens

_SYSTEM_ROUTES = (
    RouteSpec("healthz", "GET", "/healthz", "Liveness", s.out({"status": {"const": "ok"}}),
              permission="public"),
    RouteSpec(
        "readyz", "GET", "/readyz", "Readiness: the store answers and the embedder is loaded",
        s.out(
            {
                "status": {"const": "ready"},
                "backend": {"type": "string"},
                "embedder": {
                    "anyOf": [
                        s.out(
                            {
                                "name": {"type": "string"},
                                "state": {"enum": ["idle", "ready"]},
                                "load_seconds": {"type": ["number", "null"]},
                            }
                        ),
                        {"type": "null"},
                    ],
                    "description": "the memories' embedder (null: none); idle: loads on "
                    "first use (an app run without its lifespan)",
                },
            }
        ),
        errors=(503,), permission="public",
        description="503 backend_unavailable: the store does not answer; 503 "
        "embedder_unavailable: the embedder is loading (the server loads it at start) or "
        "failed to load.",
    ),
    RouteSpec("metrics", "GET", "/metrics", "Prometheus metrics", {"type": "string"},
              media="text/plain", errors=(404,), permission="admin",
              description="Prometheus text format (docs/observability.md). Who may read it "
              "is the server's --metrics setting: open (no token; the default on a loopback "
              "address), auth (an admin token; the default otherwise) or off (404)."),
    RouteSpec(
        "whoami", "GET", "/v1/whoami", "Who the token acts for",
        s.out(
            {
                "agent": {"type": "string"},
                "role": {"enum": ["agent", "admin"]},
                "token_id": {"type": ["string", "null"]},
                "auth": {"type": "boolean"},
                "backend": {"type": "string"},
            }
        ),
    ),
    RouteSpec(
        "audit", "GET", "/v1/audit",
        "The audit log (an agent token sees what its namespaces' admin level allows)",
        s.out({"items": {"type": "array", "items": s.ref("AuditRecord")}}),
        params=(
            _param("agent_id", "query", {"type": "string"}),
            _param("namespace", "query", {"type": "string"}),
            _param("action", "query", {"type": "string"}),
            _param("success", "query", {"type": "boolean"}),
            _param("since", "query", {"type": "number"}),
            _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1_000_000}),
        ),
    ),
    RouteSpec(
        "stats", "GET", "/v1/stats",
        "Entry counts and sizes of the namespaces the token can read",
        s.out(
            {
                "namespaces": {"type": "integer"},
                "total_entries": {"type": "integer"},
                "total_access_logs": {"type": "integer"},
                "per_namespace": {"type": "object"},
                "event_streams": {"type": ["integer", "null"]},
                "backend": {"type": "string"},
            }
        ),
    ),
    RouteSpec("sweep", "POST", "/v1/sweep", "Remove expired entries now (admin)",
              s.out({"removed": {"type": "integer"}}), permission="admin"),
    RouteSpec("list_tokens", "GET", "/v1/tokens", "Every token record (admin)",
              s.out({"tokens": {"type": "array", "items": s.ref("Token")}}),
              permission="admin"),
    RouteSpec(
        "create_token", "POST", "/v1/tokens", "Mint a token, shown once (admin)",
        {"allOf": [s.ref("Token"), s.out({"token": {"type": "string"}})]},
        status=201, permission="admin", retry_safe=False,
        body=s.obj(
            {
                "agent": s.AGENT,
                "role": {"enum": ["agent", "admin"]},
                "label": {"type": "string", "maxLength": 200},
            },
            ("agent",),
        ),
    ),
    RouteSpec(
        "revoke_token", "DELETE", "/v1/tokens/{token_id}",
        "Revoke a token given itself, its id (>= 8 characters) or its agent (admin)",
        s.out({"revoked": {"type": "array", "items": s.ref("Token")}}), errors=(404,),
        params=(_param("token_id", "path", {"type": "string", "minLength": 1}, True),),
        permission="admin",
    ),
)  # fmt: skip

# ---------------------------------------------------------------- namespaces, events

_NAMESPACE_ROUTES = (
    RouteSpec(
        "list_namespaces", "GET", "/v1/namespaces",
        "The namespaces the token can read, by name (all, or with limit one page)",
        s.out(
            {
                "namespaces": {"type": "array", "items": _NAMESPACE},
                "next_cursor": {
                    "type": ["string", "null"],
                    "description": "cursor of the next page (null: the last page, "
                    "and always without limit)",
                },
            }
        ),
        params=(_PAGE_LIMIT, _param("cursor", "query", {"type": "string"})),
    ),
    RouteSpec(
        "create_namespace", "POST", "/v1/namespaces",
        "Create a namespace (its creator gets admin)", _NAMESPACE, status=201, errors=(409,),
        body=_create_namespace, retry_safe=False,
    ),
    RouteSpec("get_namespace", "GET", _NSP, "A namespace's configuration", _NAMESPACE,
              errors=(404,), params=(NS,)),
    RouteSpec("update_namespace", "PATCH", _NSP, "Change configuration (admin level)",
              _NAMESPACE, errors=(404,), params=(NS,), body=_update_namespace),
    RouteSpec(
        "delete_namespace", "DELETE", _NSP, "Delete a namespace and its entries (admin level)",
        s.out({"deleted": {"const": True}}), errors=(404,), retry_safe=False,
        params=(
            Param(
                "ns", "path", {**s.NS_NAME, "not": {"const": "default"}}, True,
                extra={"example": "default",
                       "description": "any namespace but default, which always exists"},
            ),
        ),
    ),
    RouteSpec("clear_namespace", "POST", f"{_NSP}/clear", "Delete every entry (admin level)",
              s.out({"cleared": {"type": "integer"}}), errors=(404,), params=(NS,),
              retry_safe=False),
    RouteSpec("update_permissions", "PUT", f"{_NSP}/permissions",
              "Set per-agent levels (admin level)", _NAMESPACE, errors=(404,), params=(NS,),
              body=_update_permissions),
)  # fmt: skip

_EVENT_ROUTES = (
    RouteSpec(
        "events", "GET", f"{_NSP}/events",
        "The namespace's events as Server-Sent Events (id = revision; Last-Event-ID resumes)",
        {"type": "string", "description": "id: <revision> / event: <type> / data: <event JSON>"},
        errors=(404, 410, 429), media="text/event-stream", streaming=True,
        params=(
            NS,
            _param("since", "query", {"type": "integer", "minimum": 0, "maximum": s.INT64}),
            _param("Last-Event-ID", "header", {"type": "string", "pattern": "^[0-9]{1,18}$"}),
            _param("probe", "query", {"enum": ["watch", "subscribe"]}),
            _param("heartbeat", "query", {"type": "number"}),
            _PAGE_LIMIT,
            _param("wait", "query", {"type": "number"}),
        ),
        description=(
            "With Accept: application/json the route answers the retained events after since "
            "as {events: [...]} (wait=S holds up to S seconds, at most 60), or without since "
            "(or with probe) checks read permission and answers {revision}."
        ),
        also={
            "application/json": {
                "oneOf": [
                    s.out({"events": {"type": "array", "items": s.ref("Event")}}),
                    s.out({"revision": {"type": "integer"}}),
                ]
            }
        },
    ),
)  # fmt: skip

# ---------------------------------------------------------------- export and import (§20)

_RECORDS = {"type": "array", "items": {"type": "object"}}
#: A dump page holds at most hivemem.engine.restore.MAX_BATCH records.
_DUMP_LIMIT = _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000})
_TRANSFER_ROUTES = (
    RouteSpec(
        "dump_entries", "GET", f"{_NSP}/dump/entries",
        "A page of the namespace's stored entries as exported (namespace admins)",
        s.out({"entries": _RECORDS, "after": {"type": ["string", "null"]}}),
        errors=(404,), params=(
            NS, _param("after", "query", {"type": "string"}), _DUMP_LIMIT,
        ),
        description="Entry records of `hivemem export` (value, version, owner, revision, "
        "times, expiry; engine-internal keys included), keys > after; `after` in the answer "
        "continues (null: done).",
    ),
    RouteSpec(
        "dump_events", "GET", f"{_NSP}/dump/events",
        "A page of the namespace's retained events as exported (namespace admins)",
        s.out({"events": {"type": "array", "items": s.ref("Event")}}),
        errors=(404,), params=(
            NS,
            _param("since", "query", {"type": "integer", "minimum": 0, "maximum": s.INT64}),
            _DUMP_LIMIT,
        ),
    ),
    RouteSpec(
        "restore", "POST", f"{_NSP}/restore",
        "Write exported state verbatim: config, entries, events (admin; `hivemem import`)",
        _COUNT, errors=(404, 409), params=(NS,), permission="admin",
        body=s.obj(
            {
                "config": {"type": ["object", "null"]},
                "entries": _RECORDS,
                "events": _RECORDS,
                "replace": {"type": "boolean"},
            }
        ),
    ),
)  # fmt: skip

# ---------------------------------------------------------------- seed 000's registry

_REGISTRY_ROUTES = (
    RouteSpec(
        "registry_list", "GET", "/shared-memory",
        "Seed 000's registry: live entries of namespace default, a page at a time "
        "(limit, default 1000); the X-Next-Cursor header names the next page",
        {"type": "object", "additionalProperties": s.REGISTRY_ITEM},
        params=(
            _PAGE_LIMIT,
            _param("cursor", "query", {"type": "string"}, description="an X-Next-Cursor"),
        ),
        headers={
            "X-Next-Cursor": {
                "description": "the cursor of the next page (absent on the last page)",
                "schema": {"type": "string"},
            }
        },
    ),
    RouteSpec(
        "registry_put", "POST", "/shared-memory",
        "Seed 000's registry: write a key of namespace default (owner: the token's agent)",
        s.out({"status": {"const": "success"}, "key": {"type": "string"},
               "entry": s.REGISTRY_ITEM}),
        errors=(404, 409),
        body=s.obj({"key": s.KEY, "value": s.ANY, "owner": {"description": "ignored"}},
                   ("key", "value")),
    ),
)  # fmt: skip

# ---------------------------------------------------------------- conversations, records

_NAME_RE: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "pattern": r"^[^/\u0000-\u001f\u007f]+$",
}
_CID = _param("cid", "path", _NAME_RE, True, example="conv-123")
_FIELD = _param("name", "path", {"type": "string", "minLength": 1, "maxLength": 200}, True)
_CONV_NS = _param("namespace", "query", s.NS_NAME)
_MESSAGE = s.out(
    {
        "id": {"type": "string"},
        "role": {"type": "string"},
        "content": s.ANY,
        "metadata": {"type": "object"},
        "timestamp": s.TIME,
    }
)
_ETYPE = _param("type", "path", _NAME_RE, True, example="user")
_EID = _param("id", "path", {"type": "string", "minLength": 1, "maxLength": 200}, True)
_C = "/v1/conversations/{cid}"
_WRITE = (404, 409)


def _conv(name: str, verb: str, path: str, summary: str, ok: Schema, **kw: Any) -> RouteSpec:
    """A conversation or record route: 404 and 409 unless told."""
    return RouteSpec(name, verb, path, summary, ok, errors=kw.pop("errors", _WRITE), **kw)


#: The body of each list verb of a conversation.
_CONV_LIST_VERBS: dict[str, Schema] = {
    "append": s.obj({"item": s.ANY}, ("item",)),
    "extend": s.obj({"items": {"type": "array", "minItems": 1, "maxItems": 1000}}, ("items",)),
    "pop": s.obj({"index": _INDEX}),
    "insert": s.obj({"index": _INDEX, "item": s.ANY}, ("index", "item")),
    "remove": s.obj({"item": s.ANY}, ("item",)),
}

_CONVERSATION_ROUTES = (
    _conv("conversations_list", "GET", "/v1/conversations", "Conversation ids",
          s.out({"conversations": {"type": "array", "items": {"type": "string"}}}),
          params=(_CONV_NS,)),
    _conv("conversation_show", "GET", _C, "A conversation's fields and sizes",
          {"type": "object"}, params=(_CID, _CONV_NS)),
    _conv("conversation_delete", "DELETE", _C, "Delete a conversation",
          s.out({"deleted": {"type": "integer"}}), params=(_CID, _CONV_NS)),
    _conv("field_get", "GET", _C + "/fields/{name}", "A field", s.out({"value": s.ANY}),
          params=(_CID, _FIELD, _CONV_NS)),
    _conv("field_put", "PUT", _C + "/fields/{name}", "Set a field", s.out({"ok": {"const": True}}),
          params=(_CID, _FIELD, _CONV_NS),
          body=s.obj({"value": s.ANY, "ttl": s.TTL}, ("value",))),
    _conv("field_delete", "DELETE", _C + "/fields/{name}", "Delete a field",
          s.out({"deleted": {"type": "boolean"}}), params=(_CID, _FIELD, _CONV_NS)),
    _conv(
        "messages_get", "GET", _C + "/messages", "The last messages, oldest first",
        s.out({"messages": {"type": "array", "items": _MESSAGE}, "count": {"type": "integer"}}),
        params=(
            _CID, _CONV_NS,
            _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1_000_000}),
        ),
    ),
    _conv(
        "messages_add", "POST", _C + "/messages", "Add a message", _MESSAGE, status=201,
        params=(_CID, _CONV_NS), retry_safe=False,
        body=s.obj(
            {"role": {"type": "string", "minLength": 1, "maxLength": 200}, "content": s.ANY,
             "metadata": {"type": ["object", "null"]}},
            ("role", "content"),
        ),
    ),
    _conv("conversation_list_get", "GET", _C + "/lists/{name}", "A list's items",
          s.out({"items": {"type": "array"}, "length": {"type": "integer"}}),
          params=(_CID, _FIELD, _CONV_NS)),
    *(
        _conv(f"conversation_list_{verb}", "POST", f"{_C}/lists/{{name}}/{verb}",
              f"List {verb}", s.out({"value": s.ANY}) if verb == "pop" else _LENGTH,
              params=(_CID, _FIELD, _CONV_NS), body=body, retry_safe=False)
        for verb, body in _CONV_LIST_VERBS.items()
    ),
    _conv("conversation_ttl", "PUT", _C + "/ttl",
          "Expire the whole conversation after some seconds (null: never)",
          s.out({"updated": {"type": "integer"}}), params=(_CID, _CONV_NS),
          body=s.obj({"seconds": s.TTL}, ("seconds",))),
    _conv("entities_list", "GET", "/v1/entities/{type}", "Every entity of a type",
          s.out({"entities": {"type": "object"}}), params=(_ETYPE,)),
    _conv("entity_get", "GET", "/v1/entities/{type}/{id}", "An entity", s.out({"data": s.ANY}),
          params=(_ETYPE, _EID)),
    _conv("entity_put", "PUT", "/v1/entities/{type}/{id}", "Save an entity",
          s.out({"ok": {"const": True}}), params=(_ETYPE, _EID),
          body=s.obj({"data": s.ANY}, ("data",))),
    _conv("entity_delete", "DELETE", "/v1/entities/{type}/{id}", "Delete an entity",
          s.out({"deleted": {"type": "boolean"}}), params=(_ETYPE, _EID)),
    _conv(
        "tool_usage_get", "GET", "/v1/tool-usage", "The last tool calls",
        s.out({"items": {"type": "array"}}),
        params=(
            _param("tool", "query", {"type": "string", "minLength": 1, "maxLength": 200}),
            _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100_000}),
        ),
    ),
    _conv(
        "tool_usage_save", "POST", "/v1/tool-usage", "Record a tool call", {"type": "object"},
        status=201, retry_safe=False,
        body=s.obj(
            {
                "tool": {"type": "string", "minLength": 1, "maxLength": 200},
                "args": s.ANY,
                "result": s.ANY,
                "conversation_id": {"type": ["string", "null"]},
                "duration_ms": {"type": ["number", "null"]},
            },
            ("tool",),
        ),
    ),
    _conv("summary", "GET", "/v1/summary", "Counts and recent activity", {"type": "object"},
          errors=()),
)  # fmt: skip

# ---------------------------------------------------------------- long-term memories

_RECORD = s.ref("MemoryRecord")
_RECORDS = s.out({"memories": {"type": "array", "items": _RECORD}})
_SCORED = s.out({"results": {"type": "array", "items": s.ref("ScoredMemory")}})
_QUERY_TEXT: Schema = {"type": "string", "minLength": 1, "maxLength": 10_000}
_NEW_MEMORY = s.obj(s.memory_spec(new=True), ("content",))
#: A record of add_many: no slot (a slot takes one statement per atomic step).
_BATCH_MEMORY = s.obj(
    {k: v for k, v in s.memory_spec(new=True).items() if k != "slot"}, ("content",)
)
_AS_OF: Schema = {**s.TIME_OR_NULL, "description": "records that held then (default: now)"}
_SUPERSEDED: Schema = {
    "type": ["boolean", "null"],
    "description": "every record, superseded ones too (not with as_of)",
}
_RELATIONSHIP = s.out(
    {
        "source_id": {"type": "string"},
        "target_id": {"type": "string"},
        "relationship_type": {"type": "string"},
        "strength": s.UNIT,
        "created_at": s.TIME,
        "agent_id": {"type": "string"},
    }
)
_RELATED = s.out(
    {
        "memory": _RECORD,
        "relationship_type": {"type": "string"},
        "strength": s.UNIT,
        "direction": {"enum": ["outgoing", "incoming"]},
    }
)
_FORGET: Schema = {
    "anyOf": [
        s.obj(
            {
                "below": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "action": {"enum": list(ACTIONS)},
                "min_age": {"type": "number", "minimum": 0, "maximum": 1e12},
            },
            ("below", "action"),
        ),
        {"type": "null"},
    ],
    "description": "the forgetting policy; null: nothing is forgotten (the default)",
}
_MEMORY_SETTINGS = s.out({"forget": {"anyOf": [s.out({}), {"type": "null"}]}})
_WEIGHTS = {
    name: {"type": "number", "minimum": 0, "maximum": MAX_WEIGHT, "default": weight}
    for name, weight in memory_plans.DEFAULT_WEIGHTS.items()
}
_MOST = memory_plans.MAX_BATCH
_EXPAND = {
    "type": "integer",
    "minimum": 0,
    "maximum": memory_plans.MAX_EXPAND,
    "default": 0,
    "description": "After each hit, up to this many neighbouring records of its session "
    '(next one first), marked parts == {"context": <the hit\'s score>}',
}
_READ = (404,)
_M = f"{_NSP}/memories"


def _memory(
    plan: str,
    verb: str,
    path: str,
    summary: str,
    ok: Schema,
    *,
    query: tuple[Param, ...] = (),
    mutates: bool = False,
    **kw: Any,
) -> RouteSpec:
    """A memories route: runs the plan method ``plan`` with the path's ids, query and body."""
    names = re.findall(r"{(\w+)}", path)
    params = tuple(NS if n == "ns" else _param(n, "path", s.MEM_ID, True) for n in names)
    return RouteSpec(
        f"memories_{plan}", verb, path, summary, ok, params=params + query,
        idempotency_key=mutates, plan=plan, **kw,
    )  # fmt: skip


#: Every memories route (SPEC §10, §12); static paths come before parametrised ones at
#: each depth (Starlette's first match wins).
_MEMORY_ROUTES = (
    _memory(
        "search", "POST", f"{_M}/search", "Keyword search (BM25) of the namespace's records",
        _SCORED, errors=_READ,
        body=s.obj(
            {
                "query": _QUERY_TEXT,
                "memory_type": s.STRINGS,
                "tags": s.STRINGS,
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
                "parent_id": s.STRINGS,
                "filters": s.filters_schema(),
                "as_of": _AS_OF,
                "include_superseded": _SUPERSEDED,
                "expand": _EXPAND,
            },
            ("query",),
        ),
    ),
    _memory(
        "semantic_search", "POST", f"{_M}/semantic-search",
        "Hybrid search: vector, keyword, previous, strength, recency (503 without an embedder)",
        _SCORED, errors=_READ,
        body=s.obj(
            {
                "query": _QUERY_TEXT,
                "k": {"type": "integer", "minimum": 1, "maximum": 1000},
                "filters": s.filters_schema(),
                "weights": {**s.obj(_WEIGHTS), "type": ["object", "null"]},
                "as_of": _AS_OF,
                "include_superseded": _SUPERSEDED,
                "boosts": s.BOOSTS,
                "expand": _EXPAND,
            },
            ("query",),
        ),
    ),
    _memory(
        "timeline", "POST", f"{_M}/timeline",
        "The namespace's records by time, newest first, a page at a time (not accesses)",
        s.out({"memories": {"type": "array", "items": _RECORD},
               "next_cursor": {"type": ["string", "null"]}}),
        errors=_READ,
        body=s.obj(
            {
                "filters": s.filters_schema(),
                "sort_field": {"enum": list(NamespaceIndex.TIME_COLUMNS),
                               "default": "created_at"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                "cursor": {
                    "type": ["string", "null"],
                    "pattern": TIMELINE_CURSOR,
                    "description": "next_cursor of the previous page (null or empty: the first)",
                },
                "as_of": _AS_OF,
                "include_superseded": _SUPERSEDED,
            },
        ),
    ),
    _memory(
        "add_many", "POST", f"{_M}/batch", "Add records in one atomic step", _RECORDS,
        errors=_WRITE, mutates=True,
        body=s.obj(
            {"memories": {"type": "array", "minItems": 1, "maxItems": _MOST,
                          "items": _BATCH_MEMORY}},
            ("memories",),
        ),
    ),
    _memory(
        "get_many", "POST", f"{_M}/batch-get",
        "The records of the ids that exist, in the order asked (not counted as accesses)",
        _RECORDS, errors=_READ,
        body=s.obj({"ids": {"type": "array", "maxItems": _MOST, "items": s.MEM_ID}}, ("ids",)),
    ),
    _memory(
        "add_relationship", "POST", f"{_M}/relationships",
        "Relate two records (directed, typed, with a strength in 0..1)", _RELATIONSHIP,
        errors=_WRITE, mutates=True,
        body=s.obj(
            {
                "source_id": s.MEM_ID,
                "target_id": s.MEM_ID,
                "relationship_type": s.TEXT_100,
                "strength": {**s.UNIT, "default": 1},
            },
            ("source_id", "target_id", "relationship_type"),
        ),
    ),
    _memory(
        "decay", "POST", f"{_M}/decay",
        "One decay pass: promote; archive or delete only under the namespace's policy",
        s.out({name: {"type": "integer", "minimum": 0} for name in memory_plans.DECAY_COUNTS}),
        errors=_WRITE, mutates=True,
        body=s.obj({"now": {**s.TIME_OR_NULL, "description": "unix seconds (default: now)"}}),
    ),
    _memory(
        "slot", "GET", f"{_M}/slot",
        "The current record of a slot, or the one that held at as_of (404: none)", _RECORD,
        errors=_READ,
        query=(
            _param("slot", "query", s.SLOT, True),
            _param("as_of", "query", {"type": "number", "description": "unix seconds"}),
        ),
    ),
    _memory(
        "slot_history", "GET", f"{_M}/slot-history",
        "The records of a slot, newest first (by valid_from)", _RECORDS, errors=_READ,
        query=(
            _param("slot", "query", s.SLOT, True),
            _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 10_000}),
        ),
    ),
    _memory(
        "config", "GET", f"{_M}/config",
        "The namespace's memories settings (forgetting policy; none by default)",
        _MEMORY_SETTINGS, errors=_READ,
    ),
    _memory(
        "configure", "PUT", f"{_M}/config",
        "Change the namespace's memories settings (needs admin)", _MEMORY_SETTINGS,
        errors=_WRITE, mutates=True, body=s.obj({"forget": _FORGET}),
    ),
    _memory(
        "create_group", "POST", f"{_M}/groups", "Create a context group", s.ref("Group"),
        status=201, errors=_WRITE, mutates=True,
        body=s.obj(
            {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "description": {"type": ["string", "null"], "maxLength": 2000},
            },
            ("name",),
        ),
    ),
    _memory(
        "get_group", "GET", f"{_M}/groups/{{gid}}", "A group and its records (oldest first)",
        s.out({"group": s.ref("Group"), "memories": {"type": "array", "items": _RECORD}}),
        errors=_READ,
    ),
    _memory(
        "add_to_group", "PUT", f"{_M}/groups/{{gid}}/members/{{rid}}",
        "Put a record in a group (idempotent)", s.out({"added": {"const": True}}),
        errors=_WRITE, mutates=True,
    ),
    _memory(
        "add", "POST", _M, "Add a record (embedded when the server has an embedder)", _RECORD,
        status=201, errors=_WRITE, mutates=True, body=_NEW_MEMORY, whole_body="spec",
    ),
    _memory(
        "get", "GET", f"{_M}/{{rid}}",
        "A record; the read counts as an access for agents that may write", _RECORD,
        errors=_WRITE,
    ),
    _memory(
        "update", "PATCH", f"{_M}/{{rid}}",
        "Change fields of a record (a new content is re-embedded)", _RECORD, errors=_WRITE,
        mutates=True, whole_body="fields",
        body=s.obj(
            s.memory_spec(),
            minProperties=1,
            description="At least one field; parent_id names another record (not "
            "this one), null detaches it.",
        ),
    ),
    _memory(
        "delete", "DELETE", f"{_M}/{{rid}}",
        "Delete a record (with cascade, the default, its descendants too)",
        s.out({"deleted": {"type": "integer", "minimum": 0}}), errors=_WRITE, mutates=True,
        query=(_param("cascade", "query", {"type": "boolean"}),),
    ),
    _memory(
        "children", "GET", f"{_M}/{{parent_id}}/children", "A record's children, sorted",
        _RECORDS, errors=_READ,
        query=(
            _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 10_000}),
            _param("sort_field", "query", {"enum": list(memory_plans._SORT_FIELDS)}),
            _param("sort_order", "query", {"enum": ["asc", "desc"]}),
        ),
    ),
    _memory(
        "get_related", "GET", f"{_M}/{{rid}}/related",
        "Records related to a record either way, strongest first",
        s.out({"related": {"type": "array", "items": _RELATED}}), errors=_READ,
        query=(_param("relationship_type", "query", {"type": "string", "maxLength": 100}),),
    ),
    _memory(
        "reinforce", "POST", f"{_M}/{{rid}}/reinforce",
        "Strengthen a record: strength back to 1, stability times factor", _RECORD,
        errors=_WRITE, mutates=True,
        body=s.obj({"factor": {"type": "number", "minimum": 1, "maximum": 100}}),
    ),
    _memory(
        "supersede", "POST", f"{_M}/{{rid}}/supersede",
        "Add a record replacing this one, which stops holding when the new one starts "
        "(409: superseded already)", _RECORD, status=201, errors=_WRITE,
        mutates=True, body=_NEW_MEMORY, whole_body="spec",
    ),
    _memory("archive", "POST", f"{_M}/{{rid}}/archive",
            "Archive a record: searches skip it until restored (memory:archived)", _RECORD,
            errors=_WRITE, mutates=True),
    _memory("restore", "POST", f"{_M}/{{rid}}/restore",
            "Bring an archived record back to its tier, as an access (memory:restored)",
            _RECORD, errors=_WRITE, mutates=True),
    _memory(
        "create_session", "POST", "/v1/sessions",
        "Create a session (namespace sessions) that memories can be recorded in",
        s.ref("Session"), status=201, errors=_WRITE, mutates=True,
        body=s.obj(
            {
                "user_id": {"type": "string", "minLength": 1, "maxLength": 200},
                "session_type": s.TEXT_100,
                "metadata": {"type": ["object", "null"], "additionalProperties": s.ANY},
            },
            ("user_id",),
        ),
    ),
    _memory("get_session", "GET", "/v1/sessions/{session_id}", "A session by id",
            s.ref("Session"), errors=_READ),
)  # fmt: skip

# ---------------------------------------------------------------- leases and locks (§19)

#: Seconds a lease (or a lock's) lives: required, above 0.
_LEASE_TTL: Schema = {**s.TTL, "type": "number"}
_LOCK_NAME = Param("key", "path", s.KEY, True, greedy=True, extra={"example": "deploy"})
_LK = f"{_NSP}/locks/{{key}}"
_MAYBE_LOCK = s.out({"lock": {"anyOf": [s.ref("Lock"), {"type": "null"}]}})
_LEASE_BODY = s.obj({"lease_id": _LEASE_ID}, ("lease_id",))
# A lock's name is greedy (it may hold "/", as keys do), so the acts on a lock are paths of
# their own (".../lock-acquire/{key}"), never a suffix after the name.
_COORD_ROUTES = (
    RouteSpec(
        "grant_lease", "POST", "/v1/leases", "Grant a lease (its home: namespace, else reserved)",
        s.ref("Lease"), errors=(404,),
        body=s.obj({"ttl": _LEASE_TTL, "namespace": {"anyOf": [s.NS_NAME, {"type": "null"}]}},
                   ("ttl",)),
    ),
    RouteSpec(
        "keep_alive", "POST", "/v1/leases/keepalive",
        "Extend a live lease and all attached to it by its ttl", s.ref("Lease"),
        errors=(404,), body=_LEASE_BODY,
    ),
    RouteSpec(
        "revoke_lease", "POST", "/v1/leases/revoke",
        "End a lease now: attached entries are deleted, presence leaves, locks are released",
        s.out({"revoked": {"type": "boolean"}}), errors=(404,), body=_LEASE_BODY,
        retry_safe=False,
    ),
    RouteSpec(
        "join", "POST", f"{_NSP}/presence", "Be present in the namespace while a lease lives",
        s.ref("Presence"), errors=(404,), params=(NS,),
        body=s.obj({"lease_id": _LEASE_ID, "info": s.ANY}, ("lease_id",)),
    ),
    RouteSpec(
        "presence", "GET", f"{_NSP}/presence", "The agents present in the namespace",
        s.out({"items": {"type": "array", "items": s.ref("Presence")}}), errors=(404,),
        params=(NS,),
    ),
    RouteSpec(
        "list_locks", "GET", f"{_NSP}/locks",
        "The held locks (holder, fencing token, lease, expiry) in name order, a page at a time",
        s.out({"items": {"type": "array", "items": s.ref("Lock")},
               "next_cursor": {"type": ["string", "null"]}}),
        errors=(404,),
        params=(NS, _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000}),
                _LIST_CURSOR),
        description="A page scans limit lock records; a hold that expired and was not swept "
        "yet is left out, so a page may hold fewer locks than limit while next_cursor says "
        "more follow.",
    ),
    RouteSpec(
        "lock_turn", "GET", f"{_NSP}/lock-turn/{{key}}",
        "Whether a waiter's ticket would get the lock now (the lock is free, the ticket first)",
        s.out({"turn": {"type": "boolean"}}), errors=(404, 413),
        params=(NS, _LOCK_NAME, _param("ticket", "query",
                                        {"type": "string", "pattern": "^[0-9a-f]{24}$"}, True)),
    ),
    RouteSpec(
        "lock_info", "GET", _LK, "The lock's holder and token, or null if it is free",
        _MAYBE_LOCK, errors=(404, 413), params=(NS, _LOCK_NAME),
    ),
    RouteSpec(
        "try_lock", "POST", f"{_NSP}/lock-acquire/{{key}}",
        "Take the lock if free (a ticket waits in line), else answer lock: null",
        _MAYBE_LOCK, errors=(404, 413), params=(NS, _LOCK_NAME), retry_safe=False,
        body=s.obj(
            {
                "ttl": _LEASE_TTL,
                "ticket": {"anyOf": [{"type": "string", "pattern": "^[0-9a-f]{24}$"},
                                     {"type": "null"}]},
                "ticket_ttl": _LEASE_TTL,
            },
            ("ttl",),
        ),
    ),
    RouteSpec(
        "unlock", "POST", f"{_NSP}/lock-release/{{key}}",
        "Release a hold (false: it had ended already)",
        s.out({"released": {"type": "boolean"}}), errors=(404, 409, 413), params=(NS, _LOCK_NAME),
        body=s.obj({"token": {"type": "integer", "minimum": 0, "maximum": s.INT64}},
                   ("token",)),
    ),
)  # fmt: skip


# ---------------------------------------------------------------- transactions (§19)

_TXN_WHERE: dict[str, Schema] = {"namespace": s.NS_NAME, "key": s.KEY}
_TXN_VERSION: Schema = {"type": "integer", "minimum": 0, "maximum": s.INT64}


def _txn_variant(extra: dict[str, Schema], required: tuple[str, ...]) -> Schema:
    return s.obj({**_TXN_WHERE, **extra}, ("namespace", "key", *required))


#: One condition: exactly one of version (0: no live entry), value, exists.
_TXN_TARGET: Schema = {
    "oneOf": [
        _txn_variant({"version": _TXN_VERSION}, ("version",)),
        _txn_variant({"value": s.ANY}, ("value",)),
        _txn_variant({"exists": {"type": "boolean"}}, ("exists",)),
    ],
}
_TXN_STEP: Schema = {
    "oneOf": [
        _txn_variant(
            {
                "op": {"const": "write"},
                "value": s.ANY,
                "ttl": s.TTL,
                "expected_version": {**_TXN_VERSION, "type": ["integer", "null"]},
            },
            ("op", "value"),
        ),
        _txn_variant(
            {
                "op": {"const": "delete"},
                "expected_version": {**_TXN_VERSION, "type": ["integer", "null"]},
            },
            ("op",),
        ),
        _txn_variant({"op": {"const": "read"}}, ("op",)),
    ],
}
_TXN_RESULT = s.out(
    {
        "succeeded": {"type": "boolean"},
        "results": {
            "type": "array",
            "items": {"anyOf": [s.ref("Entry"), {"type": "boolean"}, {"type": "null"}]},
            "description": "per op of the branch that ran: the written Entry, whether a "
            "delete removed a live entry, the Entry read (null: none)",
        },
        "revisions": {"type": "object", "additionalProperties": {"type": "integer"}},
    }
)
_TXN_ROUTES = (
    RouteSpec(
        "transaction", "POST", "/v1/transactions",
        "Compares, then the success or failure ops, atomically across namespaces",
        _TXN_RESULT, errors=(404, 409), idempotency_key=True,
        description="At most 128 compares and ops in all. Each write, delete and read keeps "
        "its usual permission, conflict strategy, events and audit; a refused one changes "
        "nothing. On Redis Cluster the namespaces must share a slot (group=): else 422 "
        "cross_slot.",
        body=s.obj({
            "compares": {"type": "array", "items": _TXN_TARGET, "maxItems": 128},
            "success": {"type": "array", "items": _TXN_STEP, "maxItems": 128},
            "failure": {"type": "array", "items": _TXN_STEP, "maxItems": 128},
        }),
    ),
)  # fmt: skip

# ---------------------------------------------------------------- the document itself

_DOC_ROUTES = (
    RouteSpec("openapi", "GET", "/openapi.json", "This document", {"type": "object"},
              permission="public"),
    RouteSpec("docs", "GET", "/docs", "Interactive API docs (Swagger UI)", {"type": "string"},
              permission="public", media="text/html"),
)  # fmt: skip

# ---------------------------------------------------------------- task queues (SPEC §19)

_Q = f"{_NSP}/queues/{{queue}}"
QUEUE = _param(
    "queue", "path", {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"}, True, example="jobs"
)
TASK_ID = _param("task_id", "path", {"type": "string", "pattern": "^[0-9a-f]{32}$"}, True)
_SECONDS: Schema = {"type": "number", "minimum": 0, "maximum": 315_360_000}
#: A visibility: seconds above 0.
_VISIBILITY: Schema = {"type": "number", "exclusiveMinimum": 0, "maximum": 315_360_000}
_TOKEN: Schema = {"type": "integer", "minimum": 0, "maximum": s.INT64}
_ATTEMPTS: Schema = {"type": "integer", "minimum": 1, "maximum": 1000}
_QUEUE_ROUTES = (
    RouteSpec(
        "list_queues", "GET", f"{_NSP}/queues",
        "The namespace's queues with their counts, a page at a time (records' key order)",
        s.out({"items": {"type": "array", "items": s.ref("QueueInfo")},
               "next_cursor": {"type": ["string", "null"]}}),
        errors=(404,),
        params=(NS, _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100}),
                _LIST_CURSOR),
    ),
    RouteSpec(
        "queue_put", "POST", f"{_Q}/tasks", "Add a task to a queue", s.ref("Task"),
        status=201, errors=(404, 409), params=(NS, QUEUE), retry_safe=False,
        body=s.obj(
            {
                "task": s.ANY,
                "priority": {"type": "integer", "minimum": -(1 << 31), "maximum": (1 << 31) - 1},
                "delay": _SECONDS,
                "idempotency_key": {"type": ["string", "null"], "minLength": 1, "maxLength": 200},
            },
            ("task",),
        ),
    ),
    RouteSpec(
        "queue_claim", "POST", f"{_Q}/claim",
        "Claim the next ready task for a while (task null: none is ready)",
        s.out({"task": {"oneOf": [s.ref("Task"), {"type": "null"}]}}), errors=(404,),
        params=(NS, QUEUE), retry_safe=False,
        body=s.obj(
            {
                "worker": {"type": ["string", "null"], "minLength": 1, "maxLength": 200},
                "visibility": _VISIBILITY,
                "max_attempts": _ATTEMPTS,
            }
        ),
    ),
    RouteSpec(
        "queue_ack", "POST", f"{_Q}/tasks/{{task_id}}/ack", "Finish a claimed task",
        s.out({"acked": {"const": True}}), errors=(404, 409), params=(NS, QUEUE, TASK_ID),
        body=s.obj({"token": _TOKEN}, ("token",)),
    ),
    RouteSpec(
        "queue_nack", "POST", f"{_Q}/tasks/{{task_id}}/nack",
        "Give a claimed task back (after a delay; dead after max_attempts)",
        s.out({"nacked": {"const": True}}), errors=(404, 409), params=(NS, QUEUE, TASK_ID),
        body=s.obj({"token": _TOKEN, "delay": _SECONDS, "max_attempts": _ATTEMPTS}, ("token",)),
    ),
    RouteSpec(
        "queue_extend", "POST", f"{_Q}/tasks/{{task_id}}/extend",
        "Keep a claim for more seconds from now", s.ref("Task"), errors=(404, 409),
        params=(NS, QUEUE, TASK_ID),
        body=s.obj({"token": _TOKEN, "visibility": _VISIBILITY}, ("token", "visibility")),
    ),
    RouteSpec(
        "queue_stats", "GET", f"{_Q}/stats", "How many tasks are ready, claimed, delayed, dead",
        s.out({k: {"type": "integer", "minimum": 0}
               for k in ("ready", "claimed", "delayed", "dead")}),
        errors=(404,), params=(NS, QUEUE),
    ),
    RouteSpec(
        "queue_dead_letters", "GET", f"{_Q}/dead", "The dead tasks, oldest death first",
        s.out({"items": {"type": "array", "items": s.ref("Task")}}), errors=(404,),
        params=(NS, QUEUE,
                _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 10_000})),
    ),
)  # fmt: skip


# ---------------------------------------------------------------- webhooks (SPEC §19)

_HOOK_ID = _param("hook_id", "path", {"type": "string", "minLength": 1, "maxLength": 100}, True)
_WEBHOOK_ROUTES = (
    RouteSpec("list_webhooks", "GET", "/v1/webhooks",
              "The webhooks the token administers (all for an admin token), secrets hidden",
              s.out({"webhooks": {"type": "array", "items": s.ref("Webhook")}})),
    RouteSpec(
        "add_webhook", "POST", "/v1/webhooks",
        "Send namespaces' events to a URL, signed per Standard Webhooks (admin of every "
        "namespace); the answer holds the secret, shown once",
        s.ref("Webhook"), status=201, errors=(404,), retry_safe=False,
        body=s.obj(
            {
                "url": {"type": "string", "maxLength": 2048, "pattern": "^https?://",
                        "description": "http(s) URL; a loopback or private target is refused "
                        "unless the server allows it (--allow-webhook-host)"},
                "namespaces": {"type": "array", "items": s.NS_NAME, "minItems": 1,
                               "maxItems": 32},
                "events": {"type": "array", "minItems": 1, "maxItems": 32,
                           "items": {"type": "string", "minLength": 1, "maxLength": 100}},
                "secret": {"type": ["string", "null"], "pattern": "^whsec_",
                           "description": "whsec_ + base64 of 24-64 bytes; null: a new one"},
            },
            ("url", "namespaces"),
        ),
    ),
    RouteSpec("remove_webhook", "DELETE", "/v1/webhooks/{hook_id}",
              "Remove a webhook and its delivery log (admin of its namespaces)",
              s.out({"removed": {"type": "boolean"}}), errors=(404,), params=(_HOOK_ID,)),
    RouteSpec("webhook_deliveries", "GET", "/v1/webhooks/{hook_id}/deliveries",
              "A webhook's recent delivery attempts, newest first (admin of its namespaces)",
              s.out({"deliveries": {"type": "array", "items": s.ref("WebhookDelivery")}}),
              errors=(404,),
              params=(_HOOK_ID, _param("limit", "query",
                                       {"type": "integer", "minimum": 1, "maximum": 100}))),
)  # fmt: skip

#: Every route of the API, in the server's routing order.
ROUTES: tuple[RouteSpec, ...] = (
    *_ENTRY_ROUTES,
    *_LIST_ROUTES,
    *_SYSTEM_ROUTES,
    *_NAMESPACE_ROUTES,
    *_EVENT_ROUTES,
    *_TRANSFER_ROUTES,
    *_REGISTRY_ROUTES,
    *_CONVERSATION_ROUTES,
    *_MEMORY_ROUTES,
    *_COORD_ROUTES,
    *_TXN_ROUTES,
    *_DOC_ROUTES,
    *_QUEUE_ROUTES,
    *_WEBHOOK_ROUTES,
)
#: Each route by name.
BY_NAME: dict[str, RouteSpec] = {r.name: r for r in ROUTES}
