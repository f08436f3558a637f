"""The OpenAPI 3.1 document of the server, built as Python data in one place.

Request schemas say exactly what the routes accept: unknown fields are refused, and the
types, patterns and limits are those of :mod:`hivemem._validate`. What JSON Schema cannot
say is written in the descriptions: keys are at most 1024 bytes of UTF-8 (``maxLength``
bounds the characters), stored values at most ``max_value_bytes`` serialized and 64 levels
deep, and an atomic batch names each key once.
"""

from __future__ import annotations

import re
from typing import Any

from hivemem import _validate as v
from hivemem._codec import MAX_DEPTH
from hivemem._core import CLIENT_RESOLVER_PREFIX
from hivemem.memories import plans as memory_plans
from hivemem.memories.decay import ACTIONS
from hivemem.memories.index import FILTER_KEYS
from hivemem.memories.plans import MAX_WEIGHT
from hivemem.memories.wire import ROUTES as MEMORY_ROUTES
from hivemem.server.routes.entries import MAX_BATCH
from hivemem.types import CONFLICT_STRATEGIES, EVENT_TYPES, RECORD_TIERS, TIERS

__all__ = ["build_openapi"]

Schema = dict[str, Any]

_INT64 = v.MAX_INT
_ANY: Schema = {
    "description": f"any JSON value: at most {MAX_DEPTH} levels deep, integers within 64 bits"
}
_TIME: Schema = {"type": "number"}
_LEVEL: Schema = {"enum": [None, "read", "write", "admin"]}
_AGENT: Schema = {"type": "string", "pattern": r"^[A-Za-z0-9._@:\-]{1,128}$"}
_NS_NAME: Schema = {
    "type": "string",
    "pattern": rf"^(?!{v.RESERVED_PREFIX})[A-Za-z0-9._:\-]{{1,128}}$",
    "description": f"1-128 characters of [A-Za-z0-9._:-]; names starting with "
    f"{v.RESERVED_PREFIX} are reserved",
}
_KEY: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": v.MAX_KEY_BYTES,
    "pattern": r"^[^\u0000-\u001f\u007f]+$",
    "description": f"1-{v.MAX_KEY_BYTES} bytes of UTF-8, no control characters",
}
#: A list's key leaves room for its items' keys (key + "/" + 16 hex digits).
_LIST_KEY: Schema = {
    **_KEY,
    "maxLength": v.MAX_KEY_BYTES - 17,
    "description": f"1-{v.MAX_KEY_BYTES - 17} bytes of UTF-8, no control characters",
}
_TTL: Schema = {
    "type": ["number", "null"],
    "exclusiveMinimum": 0,
    "maximum": v.MAX_TTL,
    "description": "seconds",
}
_VERSION: Schema = {"type": ["integer", "null"], "minimum": 0, "maximum": _INT64}


def _obj(props: dict[str, Schema], required: tuple[str, ...] = (), **extra: Any) -> Schema:
    """A JSON object schema refusing unknown fields."""
    out: Schema = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = list(required)
    out.update(extra)
    return out


def _out(props: dict[str, Schema], required: tuple[str, ...] | None = None) -> Schema:
    """A response object schema (every listed field present; later additions allowed)."""
    return {"type": "object", "properties": props, "required": list(required or props)}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


_ENTRY = _out(
    {
        "namespace": {"type": "string"},
        "key": {"type": "string"},
        "value": {},
        "owner": {"type": "string"},
        "version": {"type": "integer", "minimum": 1},
        "revision": {"type": "integer", "minimum": 0},
        "created_at": _TIME,
        "updated_at": _TIME,
        "expires_at": {"type": ["number", "null"]},
    }
)
_NAMESPACE = _out(
    {
        "name": {"type": "string"},
        "default_permission": _LEVEL,
        "permissions": {"type": "object", "additionalProperties": _LEVEL},
        "conflict_strategy": {"enum": list(CONFLICT_STRATEGIES)},
        "resolver": {"type": ["string", "null"]},
        "ttl": {"type": ["number", "null"]},
        "max_entries": {"type": ["integer", "null"]},
        "description": {"type": "string"},
        "created_by": {"type": ["string", "null"]},
        "created_at": _TIME,
        "revision": {"type": "integer"},
    },
    ("name", "default_permission", "permissions", "conflict_strategy", "revision"),
)
_EVENT = _out(
    {
        "type": {"enum": list(EVENT_TYPES)},
        "namespace": {"type": "string"},
        "revision": {"type": "integer"},
        "timestamp": _TIME,
        "agent_id": {"type": "string"},
        "key": {"type": ["string", "null"]},
        "value": {},
        "version": {"type": ["integer", "null"]},
        "reason": {"type": ["string", "null"]},
        "message": {},
    },
    ("type", "namespace", "revision", "timestamp", "agent_id"),
)
_ERROR = _out(
    {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["code", "message"],
            "description": "code, message and details (reason, current_version, ...)",
        }
    }
)
_TOKEN = _out(
    {
        "id": {"type": "string"},
        "agent": {"type": "string"},
        "role": {"enum": ["agent", "admin"]},
        "label": {"type": "string"},
        "created_at": _TIME,
    }
)
_REGISTRY_ITEM = _out({"value": {}, "timestamp": _TIME, "owner": {"type": "string"}})
_RESULT = {
    "type": "object",
    "properties": {
        "ok": {"type": "boolean"},
        "entry": {"anyOf": [_ref("Entry"), {"type": "null"}]},
        "deleted": {"type": "boolean"},
        "error": _ERROR["properties"]["error"],
    },
    "required": ["ok"],
}


def _config(resolvers: list[str]) -> dict[str, Schema]:
    names: Schema = {
        "anyOf": [
            {"enum": [None, *resolvers]},
            {"type": "string", "pattern": f"^{CLIENT_RESOLVER_PREFIX}"},
        ],
        "description": "a resolver registered on the server, or a client-side one "
        f"({CLIENT_RESOLVER_PREFIX}...)",
    }
    return {
        "default_permission": _LEVEL,
        "permissions": {
            "type": "object",
            "propertyNames": _AGENT,
            "additionalProperties": _LEVEL,
            "description": "agent id -> level (null: no access)",
        },
        "conflict_strategy": {"enum": list(CONFLICT_STRATEGIES)},
        "resolver": names,
        "ttl": _TTL,
        "max_entries": {"type": ["integer", "null"], "minimum": 1, "maximum": _INT64},
        "description": {"type": "string", "maxLength": 10_000},
    }


# "custom" needs a resolver, given with it (create) or already set (update).
_CUSTOM_NEEDS_RESOLVER: Schema = {
    "if": {
        "properties": {"conflict_strategy": {"const": "custom"}},
        "required": ["conflict_strategy"],
    },
    "then": {"properties": {"resolver": {"type": "string"}}, "required": ["resolver"]},
}
_NULL_RESOLVER_NEEDS_STRATEGY: Schema = {
    "if": {"properties": {"resolver": {"const": None}}, "required": ["resolver"]},
    "then": {
        "properties": {"conflict_strategy": {"not": {"const": "custom"}}},
        "required": ["conflict_strategy"],
    },
}


def _batch() -> Schema:
    get = _obj({"op": {"const": "get"}, "key": _KEY}, ("op", "key"))
    put = _obj(
        {
            "op": {"const": "put"},
            "key": _KEY,
            "value": _ANY,
            "ttl": _TTL,
            "expected_version": _VERSION,
        },
        ("op", "key", "value"),
    )
    plain_put = _obj({"op": {"const": "put"}, "key": _KEY, "value": _ANY}, ("op", "key", "value"))
    delete = _obj(
        {"op": {"const": "delete"}, "key": _KEY, "expected_version": _VERSION}, ("op", "key")
    )
    ops = {"type": "array", "maxItems": MAX_BATCH}
    atomic = {
        "anyOf": [
            {"properties": {"ops": {**ops, "items": plain_put}}},
            {"properties": {"ops": {**ops, "items": get}, "ttl": {"type": "null"}}},
        ]
    }
    return _obj(
        {
            "ops": {**ops, "items": {"oneOf": [get, put, delete]}},
            "atomic": {"type": "boolean"},
            "ttl": _TTL,
        },
        ("ops",),
        allOf=[
            {
                "if": {"properties": {"atomic": {"const": True}}, "required": ["atomic"]},
                "then": atomic,
                "else": {"not": {"required": ["ttl"]}},
            }
        ],
        description=(
            "Each op on its own (results carry per-op errors), or atomic: all puts (one "
            "batch-wide ttl, each key once) or all gets."
        ),
    )


_STATUS_TEXT = {
    401: "no valid token",
    403: "the token's agent lacks the permission (or names another agent)",
    404: "no such namespace, key, token, memory, group or session",
    409: "conflict: already exists, first-wins, version mismatch, namespace full, quota exceeded",
    410: "the revision asked for is compacted",
    413: "the body, a key or a value is too large",
    422: "invalid input: malformed JSON, wrong types, unknown fields, bad names",
    429: "the token's rate limit (retry after Retry-After), or too many event streams",
    503: "the store does not answer (or, for memories, no embedder is configured)",
}


def _param(name: str, where: str, schema: Schema, required: bool = False, **extra: Any) -> Schema:
    return {"name": name, "in": where, "required": required, "schema": schema, **extra}


_NS = _param("ns", "path", _NS_NAME, True, example="default")
_KEY_PARAM = _param("key", "path", _KEY, True, example="greeting")
_IDEM = _param(
    "Idempotency-Key",
    "header",
    {"type": "string", "minLength": 1, "maxLength": 200},
    description="a repeat with the same key answers the first outcome instead of applying twice",
)


def _registry_list() -> Schema:
    """``GET /shared-memory``: a page of ``default``; the next page's cursor in a header."""
    op = _operation(
        "registry_list",
        "Seed 000's registry: live entries of namespace default, a page at a time "
        "(limit, default 1000); the X-Next-Cursor header names the next page",
        {"type": "object", "additionalProperties": _REGISTRY_ITEM},
        params=(
            _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 10_000}),
            _param("cursor", "query", {"type": "string"}, description="an X-Next-Cursor"),
        ),
    )
    op["responses"]["200"]["headers"] = {
        "X-Next-Cursor": {
            "description": "the cursor of the next page (absent on the last page)",
            "schema": {"type": "string"},
        }
    }
    return op


def _operation(
    op_id: str,
    summary: str,
    ok: Schema | None,
    *,
    status: int = 200,
    errors: tuple[int, ...] = (),
    params: tuple[Schema, ...] = (),
    body: Schema | None = None,
    auth: bool = True,
    media: str = "application/json",
) -> Schema:
    """One operation: its parameters, body, success and error responses."""
    responses: Schema = {
        str(status): {"description": "success", "content": {media: {"schema": ok or {}}}}
    }
    # Every authenticated call counts against its token's rate limit: any may answer 429.
    codes = set(errors) | ({401, 403, 422, 429, 503} if auth else set())
    if body is not None:
        codes |= {413, 422}
    for code in sorted(codes):
        responses[str(code)] = {
            "description": _STATUS_TEXT[code],
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    out: Schema = {"operationId": op_id, "summary": summary, "responses": responses}
    if params:
        out["parameters"] = list(params)
    if body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    out["security"] = [{"bearer": []}] if auth else []
    return out


def _paths(resolvers: list[str]) -> Schema:
    config = _config(resolvers)
    ns_item = {**_NS}
    entries = {"type": "array", "items": _ref("Entry")}
    namespace = _ref("Namespace")
    limit = _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 10_000})
    return {
        "/healthz": {
            "get": _operation("healthz", "Liveness", _out({"status": {"const": "ok"}}), auth=False)
        },
        "/readyz": {
            "get": _operation(
                "readyz",
                "Readiness: the store answers",
                _out({"status": {"const": "ready"}, "backend": {"type": "string"}}),
                errors=(503,),
                auth=False,
            )
        },
        "/metrics": {
            "get": _operation(
                "metrics", "Prometheus metrics", {"type": "string"}, media="text/plain"
            )
        },
        "/v1/whoami": {
            "get": _operation(
                "whoami",
                "Who the token acts for",
                _out(
                    {
                        "agent": {"type": "string"},
                        "role": {"enum": ["agent", "admin"]},
                        "token_id": {"type": ["string", "null"]},
                        "auth": {"type": "boolean"},
                        "backend": {"type": "string"},
                    }
                ),
            )
        },
        "/v1/audit": {
            "get": _operation(
                "audit",
                "The audit log (an agent token sees what its namespaces' admin level allows)",
                _out({"items": {"type": "array", "items": _ref("AuditRecord")}}),
                params=(
                    _param("agent_id", "query", {"type": "string"}),
                    _param("namespace", "query", {"type": "string"}),
                    _param("action", "query", {"type": "string"}),
                    _param("success", "query", {"type": "boolean"}),
                    _param("since", "query", {"type": "number"}),
                    _param(
                        "limit", "query", {"type": "integer", "minimum": 1, "maximum": 1_000_000}
                    ),
                ),
            )
        },
        "/v1/stats": {
            "get": _operation(
                "stats",
                "Entry counts and sizes of the namespaces the token can read",
                _out(
                    {
                        "namespaces": {"type": "integer"},
                        "total_entries": {"type": "integer"},
                        "total_access_logs": {"type": "integer"},
                        "per_namespace": {"type": "object"},
                        "event_streams": {"type": ["integer", "null"]},
                        "backend": {"type": "string"},
                    }
                ),
            )
        },
        "/v1/sweep": {
            "post": _operation(
                "sweep",
                "Remove expired entries now (admin)",
                _out({"removed": {"type": "integer"}}),
            )
        },
        "/v1/tokens": {
            "get": _operation(
                "list_tokens",
                "Every token record (admin)",
                _out({"tokens": {"type": "array", "items": _ref("Token")}}),
            ),
            "post": _operation(
                "create_token",
                "Mint a token, shown once (admin)",
                {"allOf": [_ref("Token"), _out({"token": {"type": "string"}})]},
                status=201,
                body=_obj(
                    {
                        "agent": _AGENT,
                        "role": {"enum": ["agent", "admin"]},
                        "label": {"type": "string", "maxLength": 200},
                    },
                    ("agent",),
                ),
            ),
        },
        "/v1/tokens/{token_id}": {
            "delete": _operation(
                "revoke_token",
                "Revoke a token given itself, its id (>= 8 characters) or its agent (admin)",
                _out({"revoked": {"type": "array", "items": _ref("Token")}}),
                errors=(404,),
                params=(_param("token_id", "path", {"type": "string", "minLength": 1}, True),),
            )
        },
        "/v1/namespaces": {
            "get": _operation(
                "list_namespaces",
                "The namespaces the token can read, by name (all, or with limit one page)",
                _out(
                    {
                        "namespaces": {"type": "array", "items": namespace},
                        "next_cursor": {
                            "type": ["string", "null"],
                            "description": "cursor of the next page (null: the last page, "
                            "and always without limit)",
                        },
                    }
                ),
                params=(
                    _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 10_000}),
                    _param("cursor", "query", {"type": "string"}),
                ),
            ),
            "post": _operation(
                "create_namespace",
                "Create a namespace (its creator gets admin)",
                namespace,
                status=201,
                errors=(409,),
                body=_obj(
                    {
                        "name": _NS_NAME,
                        "exist_ok": {"type": "boolean"},
                        **config,
                        "permissions": {
                            "anyOf": [config["permissions"], {"type": "null"}],
                            "description": "null: the default, {creator: admin}",
                        },
                    },
                    ("name",),
                    allOf=[_CUSTOM_NEEDS_RESOLVER],
                ),
            ),
        },
        "/v1/namespaces/{ns}": {
            "get": _operation(
                "get_namespace",
                "A namespace's configuration",
                namespace,
                errors=(404,),
                params=(ns_item,),
            ),
            "patch": _operation(
                "update_namespace",
                "Change configuration (admin level)",
                namespace,
                errors=(404,),
                params=(ns_item,),
                body=_obj(config, allOf=[_NULL_RESOLVER_NEEDS_STRATEGY]),
            ),
            "delete": _operation(
                "delete_namespace",
                "Delete a namespace and its entries (admin level)",
                _out({"deleted": {"const": True}}),
                errors=(404,),
                params=(
                    {
                        **ns_item,
                        "schema": {**_NS_NAME, "not": {"const": "default"}},
                        "description": "any namespace but default, which always exists",
                    },
                ),
            ),
        },
        "/v1/namespaces/{ns}/clear": {
            "post": _operation(
                "clear_namespace",
                "Delete every entry (admin level)",
                _out({"cleared": {"type": "integer"}}),
                errors=(404,),
                params=(ns_item,),
            )
        },
        "/v1/namespaces/{ns}/permissions": {
            "put": _operation(
                "update_permissions",
                "Set per-agent levels (admin level)",
                namespace,
                errors=(404,),
                params=(ns_item,),
                body=_obj({"permissions": config["permissions"]}, ("permissions",)),
            )
        },
        "/v1/namespaces/{ns}/entries": {
            "get": _operation(
                "list_entries",
                "Live entries in key order, a page at a time",
                _out({"items": entries, "next_cursor": {"type": ["string", "null"]}}),
                errors=(404,),
                params=(
                    ns_item,
                    _param("prefix", "query", {"type": "string"}),
                    limit,
                    _param(
                        "cursor",
                        "query",
                        {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"},
                        description="next_cursor of the previous page (empty: the first page)",
                    ),
                ),
            )
        },
        "/v1/namespaces/{ns}/entries/{key}": {
            "get": _operation(
                "get_entry",
                "Read a key",
                _ref("Entry"),
                errors=(404, 413),
                params=(ns_item, _KEY_PARAM),
            ),
            "put": _operation(
                "put_entry",
                "Write a key (under the namespace's conflict strategy)",
                _ref("Entry"),
                errors=(404, 409),
                params=(ns_item, _KEY_PARAM, _IDEM),
                body=_obj(
                    {
                        "value": _ANY,
                        "ttl": _TTL,
                        "expected_version": _VERSION,
                        "resolved": {
                            "type": "boolean",
                            "description": "true only for a custom namespace whose resolver "
                            "runs in the client: the value is that resolver's outcome",
                        },
                    },
                    ("value",),
                ),
            ),
            "delete": _operation(
                "delete_entry",
                "Delete a key",
                _out({"deleted": {"type": "boolean"}}),
                errors=(404, 409, 413),
                params=(
                    ns_item,
                    _KEY_PARAM,
                    _param(
                        "expected_version",
                        "query",
                        {"type": "integer", "minimum": 0, "maximum": _INT64},
                    ),
                    _IDEM,
                ),
            ),
        },
        "/v1/namespaces/{ns}/batch": {
            "post": _operation(
                "batch",
                "Several gets, puts and deletes in one request",
                _out({"results": {"type": "array", "items": _RESULT}}),
                errors=(404, 409),
                params=(ns_item, _IDEM),
                body=_batch(),
            )
        },
        "/v1/namespaces/{ns}/broadcast": {
            "post": _operation(
                "broadcast",
                "Send a message to the namespace's watchers",
                _ref("Event"),
                errors=(404,),
                params=(ns_item, _IDEM),
                body=_obj({"message": _ANY}, ("message",)),
            )
        },
        "/v1/namespaces/{ns}/events": {"get": _events(ns_item)},
        "/shared-memory": {
            "get": _registry_list(),
            "post": _operation(
                "registry_put",
                "Seed 000's registry: write a key of namespace default (owner: the token's agent)",
                _out(
                    {
                        "status": {"const": "success"},
                        "key": {"type": "string"},
                        "entry": _REGISTRY_ITEM,
                    }
                ),
                errors=(404, 409),
                body=_obj(
                    {"key": _KEY, "value": _ANY, "owner": {"description": "ignored"}},
                    ("key", "value"),
                ),
            ),
        },
        "/openapi.json": {
            "get": _operation("openapi", "This document", {"type": "object"}, auth=False)
        },
        "/docs": {
            "get": _operation(
                "docs",
                "A page listing the routes",
                {"type": "string"},
                auth=False,
                media="text/html",
            )
        },
    }


def _list_paths() -> Schema:
    """The list and prefix routes (hivemem.server.routes.lists)."""
    ns_item = {**_NS}
    key = _param("key", "path", _LIST_KEY, True, example="todo")
    length = _out({"length": {"type": "integer", "minimum": 0}})
    index = {"type": "integer", "minimum": -_INT64, "maximum": _INT64}
    prefix = {"type": "string", "maxLength": 1024, "pattern": r"^[^\u0000-\u001f\u007f]*$"}
    count = _out({"count": {"type": "integer", "minimum": 0}})
    base = "/v1/namespaces/{ns}/lists/{key}"
    return {
        f"{base}/push": {
            "post": _operation(
                "list_push",
                "Append items to a list, atomically",
                length,
                errors=(404, 409),
                params=(ns_item, key, _IDEM),
                body=_obj(
                    {"items": {"type": "array", "minItems": 1, "maxItems": 1000}, "ttl": _TTL},
                    ("items",),
                ),
            )
        },
        f"{base}/pop": {
            "post": _operation(
                "list_pop",
                "Remove and return an item (default the last)",
                _out({"value": _ANY}),
                errors=(404, 409),
                params=(ns_item, key, _IDEM),
                body=_obj({"index": index}),
            )
        },
        f"{base}/insert": {
            "post": _operation(
                "list_insert",
                "Insert an item before an index",
                length,
                errors=(404, 409),
                params=(ns_item, key, _IDEM),
                body=_obj({"index": index, "item": _ANY, "ttl": _TTL}, ("index", "item")),
            )
        },
        f"{base}/remove": {
            "post": _operation(
                "list_remove",
                "Remove the first item equal to the given one",
                length,
                errors=(404, 409),
                params=(ns_item, key, _IDEM),
                body=_obj({"item": _ANY}, ("item",)),
            )
        },
        f"{base}/items": {
            "get": _operation(
                "list_range",
                "Items [start:stop] of a list and its length",
                _out({"items": {"type": "array"}, "length": {"type": "integer", "minimum": 0}}),
                errors=(404,),
                params=(
                    ns_item,
                    key,
                    _param("start", "query", index),
                    _param("stop", "query", index),
                ),
            )
        },
        "/v1/namespaces/{ns}/prefix/expire": {
            "post": _operation(
                "expire_prefix",
                "Set or clear the expiry of every entry with a prefix",
                count,
                errors=(404, 409),
                params=(ns_item,),
                body=_obj({"prefix": prefix, "ttl": _TTL}, ("prefix", "ttl")),
            )
        },
        "/v1/namespaces/{ns}/prefix/delete": {
            "post": _operation(
                "delete_prefix",
                "Delete every entry with a prefix",
                count,
                errors=(404, 409),
                params=(ns_item,),
                body=_obj({"prefix": prefix}, ("prefix",)),
            )
        },
    }


def _conversation_paths() -> Schema:
    """Conversations, entities, tool usage, summary (hivemem.server.routes.conversations)."""
    name_re = {
        "type": "string",
        "minLength": 1,
        "maxLength": 200,
        "pattern": r"^[^/\u0000-\u001f\u007f]+$",
    }
    cid = _param("cid", "path", name_re, True, example="conv-123")
    name = _param("name", "path", {"type": "string", "minLength": 1, "maxLength": 200}, True)
    nsq = _param("namespace", "query", _NS_NAME)
    index = {"type": "integer", "minimum": -_INT64, "maximum": _INT64}
    length = _out({"length": {"type": "integer", "minimum": 0}})
    message = _out(
        {
            "id": {"type": "string"},
            "role": {"type": "string"},
            "content": _ANY,
            "metadata": {"type": "object"},
            "timestamp": _TIME,
        }
    )
    etype = _param("type", "path", name_re, True, example="user")
    eid = _param("id", "path", {"type": "string", "minLength": 1, "maxLength": 200}, True)
    role = {"type": "string", "minLength": 1, "maxLength": 200}
    c = "/v1/conversations/{cid}"

    def op(op_id: str, summary: str, ok: Schema, **kw: Any) -> Schema:
        return _operation(op_id, summary, ok, errors=kw.pop("errors", (404, 409)), **kw)

    verbs = {
        "append": _obj({"item": _ANY}, ("item",)),
        "extend": _obj({"items": {"type": "array", "minItems": 1, "maxItems": 1000}}, ("items",)),
        "pop": _obj({"index": index}),
        "insert": _obj({"index": index, "item": _ANY}, ("index", "item")),
        "remove": _obj({"item": _ANY}, ("item",)),
    }
    paths: Schema = {
        "/v1/conversations": {
            "get": op(
                "conversations_list",
                "Conversation ids",
                _out({"conversations": {"type": "array", "items": {"type": "string"}}}),
                params=(nsq,),
            )
        },
        c: {
            "get": op(
                "conversation_show",
                "A conversation's fields and sizes",
                {"type": "object"},
                params=(cid, nsq),
            ),
            "delete": op(
                "conversation_delete",
                "Delete a conversation",
                _out({"deleted": {"type": "integer"}}),
                params=(cid, nsq),
            ),
        },
        c + "/fields/{name}": {
            "get": op("field_get", "A field", _out({"value": _ANY}), params=(cid, name, nsq)),
            "put": op(
                "field_put",
                "Set a field",
                _out({"ok": {"const": True}}),
                params=(cid, name, nsq),
                body=_obj({"value": _ANY, "ttl": _TTL}, ("value",)),
            ),
            "delete": op(
                "field_delete",
                "Delete a field",
                _out({"deleted": {"type": "boolean"}}),
                params=(cid, name, nsq),
            ),
        },
        c + "/messages": {
            "get": op(
                "messages_get",
                "The last messages, oldest first",
                _out(
                    {"messages": {"type": "array", "items": message}, "count": {"type": "integer"}}
                ),
                params=(
                    cid,
                    nsq,
                    _param(
                        "limit", "query", {"type": "integer", "minimum": 1, "maximum": 1_000_000}
                    ),
                ),
            ),
            "post": op(
                "messages_add",
                "Add a message",
                message,
                status=201,
                params=(cid, nsq),
                body=_obj(
                    {"role": role, "content": _ANY, "metadata": {"type": ["object", "null"]}},
                    ("role", "content"),
                ),
            ),
        },
        c + "/lists/{name}": {
            "get": op(
                "conversation_list_get",
                "A list's items",
                _out({"items": {"type": "array"}, "length": {"type": "integer"}}),
                params=(cid, name, nsq),
            )
        },
        c + "/ttl": {
            "put": op(
                "conversation_ttl",
                "Expire the whole conversation after some seconds (null: never)",
                _out({"updated": {"type": "integer"}}),
                params=(cid, nsq),
                body=_obj({"seconds": _TTL}, ("seconds",)),
            )
        },
        "/v1/entities/{type}": {
            "get": op(
                "entities_list",
                "Every entity of a type",
                _out({"entities": {"type": "object"}}),
                params=(etype,),
            )
        },
        "/v1/entities/{type}/{id}": {
            "get": op("entity_get", "An entity", _out({"data": _ANY}), params=(etype, eid)),
            "put": op(
                "entity_put",
                "Save an entity",
                _out({"ok": {"const": True}}),
                params=(etype, eid),
                body=_obj({"data": _ANY}, ("data",)),
            ),
            "delete": op(
                "entity_delete",
                "Delete an entity",
                _out({"deleted": {"type": "boolean"}}),
                params=(etype, eid),
            ),
        },
        "/v1/tool-usage": {
            "get": op(
                "tool_usage_get",
                "The last tool calls",
                _out({"items": {"type": "array"}}),
                params=(
                    _param("tool", "query", {"type": "string", "minLength": 1, "maxLength": 200}),
                    _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100_000}),
                ),
            ),
            "post": op(
                "tool_usage_save",
                "Record a tool call",
                {"type": "object"},
                status=201,
                body=_obj(
                    {
                        "tool": {"type": "string", "minLength": 1, "maxLength": 200},
                        "args": _ANY,
                        "result": _ANY,
                        "conversation_id": {"type": ["string", "null"]},
                        "duration_ms": {"type": ["number", "null"]},
                    },
                    ("tool",),
                ),
            ),
        },
        "/v1/summary": {
            "get": op("summary", "Counts and recent activity", {"type": "object"}, errors=())
        },
    }
    for verb, body in verbs.items():
        paths[c + "/lists/{name}/" + verb] = {
            "post": op(
                f"conversation_list_{verb}",
                f"List {verb}",
                _out({"value": _ANY}) if verb == "pop" else length,
                params=(cid, name, nsq),
                body=body,
            )
        }
    return paths


# ---------------------------------------------------------------- long-term memories
#: What ``str.strip()`` removes (``str.isspace``): content needs one character besides.
_SPACES = r"\t-\r\u001c- \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_MEM_ID: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "pattern": r"^[^/\u0000-\u001f\u007f]+$",
    "description": "1-200 characters, no '/' nor control characters (ids starting with _ "
    "name no record: 404)",
}
_MEM_ID_OR_NULL: Schema = {**_MEM_ID, "type": ["string", "null"]}
_UNIT: Schema = {"type": "number", "minimum": 0, "maximum": 1}
_TEXT_100: Schema = {"type": "string", "minLength": 1, "maxLength": 100}
_STRINGS: Schema = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}, {"type": "null"}],
    "description": "a value or a list of values (any of them matches)",
}
_TIME_OR_NULL: Schema = {"type": ["number", "null"]}
_MEMORY = _out(
    {
        "id": {"type": "string"},
        "namespace": {"type": "string"},
        "content": {"type": "string"},
        "memory_type": {"type": "string"},
        "tier": {"enum": list(RECORD_TIERS)},
        "importance": _UNIT,
        "strength": _UNIT,
        "metadata": {"type": "object"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "parent_id": {"type": ["string", "null"]},
        "session_id": {"type": ["string", "null"]},
        "agent_id": {"type": "string"},
        "created_at": _TIME,
        "updated_at": _TIME,
        "last_accessed_at": _TIME,
        "access_count": {"type": "integer", "minimum": 0},
        "stability": {"type": "number", "minimum": 0},
        "forgotten": {"type": "boolean", "description": "archived (the earlier name)"},
    }
)
_SCORED = _out(
    {
        "memory": _ref("MemoryRecord"),
        "score": {"type": "number"},
        "parts": {
            "type": "object",
            "additionalProperties": {"type": "number"},
            "description": "each scoring component's weighted contribution; they sum to score",
        },
    }
)
_GROUP = _out(
    {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "description": {"type": ["string", "null"]},
        "created_at": _TIME,
    }
)
_SESSION = _out(
    {
        "id": {"type": "string"},
        "user_id": {"type": "string"},
        "session_type": {"type": "string"},
        "metadata": {"type": "object"},
        "created_at": _TIME,
        "agent_id": {"type": "string"},
    }
)


def _memory_spec() -> dict[str, Schema]:
    """The fields of a new record (``add``, ``add_many``) and of an ``update``."""
    return {
        "content": {
            "type": "string",
            "pattern": f"[^{_SPACES}]",
            "description": "the text: not empty nor only whitespace",
        },
        "memory_type": {**_TEXT_100, "description": "free-form kind (default general)"},
        "tier": {"enum": list(TIERS), "description": "how fast it fades (default short)"},
        "importance": {**_UNIT, "description": "0..1 (default 0.5); slows decay"},
        "metadata": {"type": ["object", "null"], "additionalProperties": _ANY},
        "tags": {
            "type": ["array", "null"],
            "maxItems": 100,
            "items": {"type": "string", "minLength": 1, "maxLength": 100},
        },
        "parent_id": {**_MEM_ID_OR_NULL, "description": "an existing record of the namespace"},
        "session_id": {**_MEM_ID_OR_NULL, "description": "a session id (not checked)"},
    }


def _filters() -> Schema:
    """Search filters (hivemem.memories.index.check_filters); null means no filter."""
    kinds: dict[str, Schema] = {
        "metadata": {"type": ["object", "null"], "description": "field: value, all must equal"},
        "include_archived": {
            "type": ["boolean", "null"],
            "description": "also archived records (skipped by default)",
        },
        "include_forgotten": {"type": ["boolean", "null"], "description": "include_archived"},
    }
    for name in ("created_after", "created_before", "updated_after", "updated_before"):
        kinds[name] = _TIME_OR_NULL
    props = {name: kinds.get(name, _STRINGS) for name in sorted(FILTER_KEYS)}
    return {**_obj(props), "type": ["object", "null"]}


def _memory_docs() -> dict[str, tuple[str, Schema, dict[str, Any]]]:
    """Per plan method: its summary, its success schema and :func:`_operation` options."""
    record = _ref("MemoryRecord")
    records = _out({"memories": {"type": "array", "items": record}})
    results = _out({"results": {"type": "array", "items": _ref("ScoredMemory")}})
    spec = _memory_spec()
    weights = {
        name: {"type": "number", "minimum": 0, "maximum": MAX_WEIGHT, "default": weight}
        for name, weight in memory_plans.DEFAULT_WEIGHTS.items()
    }
    query: Schema = {"type": "string", "minLength": 1, "maxLength": 10_000}
    most = memory_plans.MAX_BATCH
    new = _obj(spec, ("content",))
    relationship = _out(
        {
            "source_id": {"type": "string"},
            "target_id": {"type": "string"},
            "relationship_type": {"type": "string"},
            "strength": _UNIT,
            "created_at": _TIME,
            "agent_id": {"type": "string"},
        }
    )
    related = _out(
        {
            "memory": record,
            "relationship_type": {"type": "string"},
            "strength": _UNIT,
            "direction": {"enum": ["outgoing", "incoming"]},
        }
    )
    read, write = (404,), (404, 409)
    forget: Schema = {
        "anyOf": [
            _obj(
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
    settings = _out({"forget": {"anyOf": [_out({}), {"type": "null"}]}})
    return {
        "search": (
            "Keyword search (BM25) of the namespace's records",
            results,
            {
                "errors": read,
                "body": _obj(
                    {
                        "query": query,
                        "memory_type": _STRINGS,
                        "tags": _STRINGS,
                        "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
                        "parent_id": _STRINGS,
                        "filters": _filters(),
                    },
                    ("query",),
                ),
            },
        ),
        "semantic_search": (
            "Hybrid search: vector + keyword + strength + recency (503 without an embedder)",
            results,
            {
                "errors": read,
                "body": _obj(
                    {
                        "query": query,
                        "k": {"type": "integer", "minimum": 1, "maximum": 1000},
                        "filters": _filters(),
                        "weights": {**_obj(weights), "type": ["object", "null"]},
                    },
                    ("query",),
                ),
            },
        ),
        "add_many": (
            "Add records in one atomic step",
            records,
            {
                "errors": write,
                "body": _obj(
                    {"memories": {"type": "array", "minItems": 1, "maxItems": most, "items": new}},
                    ("memories",),
                ),
            },
        ),
        "get_many": (
            "The records of the ids that exist, in the order asked (not counted as accesses)",
            records,
            {
                "errors": read,
                "body": _obj(
                    {"ids": {"type": "array", "maxItems": most, "items": _MEM_ID}}, ("ids",)
                ),
            },
        ),
        "add_relationship": (
            "Relate two records (directed, typed, with a strength in 0..1)",
            relationship,
            {
                "errors": write,
                "body": _obj(
                    {
                        "source_id": _MEM_ID,
                        "target_id": _MEM_ID,
                        "relationship_type": _TEXT_100,
                        "strength": {**_UNIT, "default": 1},
                    },
                    ("source_id", "target_id", "relationship_type"),
                ),
            },
        ),
        "config": (
            "The namespace's memories settings (forgetting policy; none by default)",
            settings,
            {"errors": read},
        ),
        "configure": (
            "Change the namespace's memories settings (needs admin)",
            settings,
            {"errors": write, "body": _obj({"forget": forget})},
        ),
        "archive": (
            "Archive a record: searches skip it until restored (memory:archived)",
            record,
            {"errors": write},
        ),
        "restore": (
            "Bring an archived record back to its tier, as an access (memory:restored)",
            record,
            {"errors": write},
        ),
        "decay": (
            "One decay pass: promote; archive or delete only under the namespace's policy",
            _out({name: {"type": "integer", "minimum": 0} for name in _DECAY_COUNTS}),
            {
                "errors": write,
                "body": _obj(
                    {"now": {**_TIME_OR_NULL, "description": "unix seconds (default: now)"}}
                ),
            },
        ),
        "create_group": (
            "Create a context group",
            _ref("Group"),
            {
                "status": 201,
                "errors": write,
                "body": _obj(
                    {
                        "name": {"type": "string", "minLength": 1, "maxLength": 200},
                        "description": {"type": ["string", "null"], "maxLength": 2000},
                    },
                    ("name",),
                ),
            },
        ),
        "get_group": (
            "A group and its records (oldest first)",
            _out({"group": _ref("Group"), "memories": {"type": "array", "items": record}}),
            {"errors": read},
        ),
        "add_to_group": (
            "Put a record in a group (idempotent)",
            _out({"added": {"const": True}}),
            {"errors": write},
        ),
        "add": (
            "Add a record (embedded when the server has an embedder)",
            record,
            {"status": 201, "errors": write, "body": new},
        ),
        "get": (
            "A record; the read counts as an access for agents that may write",
            record,
            {"errors": write},
        ),
        "update": (
            "Change fields of a record (a new content is re-embedded)",
            record,
            {
                "errors": write,
                "body": _obj(
                    spec,
                    minProperties=1,
                    description="At least one field; parent_id names another record (not "
                    "this one), null detaches it.",
                ),
            },
        ),
        "delete": (
            "Delete a record (with cascade, the default, its descendants too)",
            _out({"deleted": {"type": "integer", "minimum": 0}}),
            {"errors": write},
        ),
        "children": (
            "A record's children, sorted",
            records,
            {"errors": read},
        ),
        "get_related": (
            "Records related to a record either way, strongest first",
            _out({"related": {"type": "array", "items": related}}),
            {"errors": read},
        ),
        "reinforce": (
            "Strengthen a record: strength back to 1, stability times factor",
            record,
            {
                "errors": write,
                "body": _obj({"factor": {"type": "number", "minimum": 1, "maximum": 100}}),
            },
        ),
        "create_session": (
            "Create a session (namespace sessions) that memories can be recorded in",
            _ref("Session"),
            {
                "status": 201,
                "errors": write,
                "body": _obj(
                    {
                        "user_id": {"type": "string", "minLength": 1, "maxLength": 200},
                        "session_type": _TEXT_100,
                        "metadata": {"type": ["object", "null"], "additionalProperties": _ANY},
                    },
                    ("user_id",),
                ),
            },
        ),
        "get_session": ("A session by id", _ref("Session"), {"errors": read}),
    }


_DECAY_COUNTS = memory_plans.DECAY_COUNTS
#: Query arguments of the memories routes.
_MEMORY_QUERY: dict[str, Schema] = {
    "cascade": {"type": "boolean"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 10_000},
    "sort_field": {"enum": list(memory_plans._SORT_FIELDS)},
    "sort_order": {"enum": ["asc", "desc"]},
    "relationship_type": {"type": "string", "maxLength": 100},
}


def _memory_paths() -> Schema:
    """Long-term memories and sessions (hivemem.server.routes.memories).

    Built from the table the server builds its routes from (hivemem.memories.wire.ROUTES),
    so the documented verbs and paths are the routed ones.
    """
    docs = _memory_docs()
    paths: Schema = {}
    for route in MEMORY_ROUTES:
        summary, ok, options = docs[route.method]
        path = route.path if route.absolute else "/v1/namespaces/{ns}" + route.path
        params = [
            _NS if name == "ns" else _param(name, "path", _MEM_ID, True)
            for name in re.findall(r"{(\w+)}", path)
        ]
        params += [_param(name, "query", _MEMORY_QUERY[name]) for name in route.query]
        if route.mutates:
            params.append(_IDEM)
        paths.setdefault(path, {})[route.verb.lower()] = _operation(
            f"memories_{route.method}", summary, ok, params=tuple(params), **options
        )
    return paths


def _events(ns_item: Schema) -> Schema:
    op = _operation(
        "events",
        "The namespace's events as Server-Sent Events (id = revision; Last-Event-ID resumes)",
        {"type": "string", "description": "id: <revision> / event: <type> / data: <event JSON>"},
        errors=(404, 410, 429),
        media="text/event-stream",
        params=(
            ns_item,
            _param("since", "query", {"type": "integer", "minimum": 0, "maximum": _INT64}),
            _param("Last-Event-ID", "header", {"type": "string", "pattern": "^[0-9]{1,18}$"}),
            _param("probe", "query", {"enum": ["watch", "subscribe"]}),
            _param("heartbeat", "query", {"type": "number"}),
            _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 10_000}),
            _param("wait", "query", {"type": "number"}),
        ),
    )
    op["description"] = (
        "With Accept: application/json the route answers the retained events after since "
        "as {events: [...]} (wait=S holds up to S seconds, at most 60), or without since "
        "(or with probe) checks read permission and answers {revision}."
    )
    op["responses"]["200"]["content"]["application/json"] = {
        "schema": {
            "oneOf": [
                _out({"events": {"type": "array", "items": _ref("Event")}}),
                _out({"revision": {"type": "integer"}}),
            ]
        }
    }
    return op


def build_openapi(resolvers: list[str] | None = None) -> Schema:
    """The OpenAPI 3.1 document of every route.

    Args:
        resolvers: Names of the resolvers registered on the server (for ``custom``).

    Returns:
        The document as JSON-ready data.
    """
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hivemem",
            "version": "1",
            "description": (
                "Shared memory for multi-agent AI systems. Errors answer "
                '{"error": {"code", "message", ...}}. Bodies are at most the server\'s '
                "max_body_bytes (2 MiB by default); JSON with NaN, infinities, integers "
                "beyond 64 bits or invalid UTF-8 is refused."
            ),
        },
        "paths": {
            **_paths(sorted(resolvers or [])),
            **_list_paths(),
            **_conversation_paths(),
            **_memory_paths(),
        },
        "components": {
            "schemas": {
                "Entry": _ENTRY,
                "Namespace": _NAMESPACE,
                "Event": _EVENT,
                "Error": _ERROR,
                "Token": _TOKEN,
                "MemoryRecord": _MEMORY,
                "ScoredMemory": _SCORED,
                "Group": _GROUP,
                "Session": _SESSION,
                "AuditRecord": _out(
                    {
                        "timestamp": _TIME,
                        "agent_id": {"type": "string"},
                        "namespace": {"type": ["string", "null"]},
                        "key": {"type": ["string", "null"]},
                        "action": {"type": "string"},
                        "success": {"type": "boolean"},
                        "error": {"type": ["string", "null"]},
                    }
                ),
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
