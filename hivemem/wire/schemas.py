"""The JSON schemas of the HTTP API: what requests may carry, what responses hold.

Request schemas say exactly what the routes accept: unknown fields are refused, and the
types, patterns and limits are those of :mod:`hivemem._validate`. What JSON Schema cannot
say is written in the descriptions: keys are at most 1024 bytes of UTF-8 (``maxLength``
bounds the characters), stored values at most ``max_value_bytes`` serialized and 64 levels
deep, and an atomic batch names each key once. The route table (:mod:`hivemem.wire.table`)
names them per route; the OpenAPI document and the MCP tools are built from it.
"""

from __future__ import annotations

from typing import Any

from hivemem import _validate as v
from hivemem._codec import MAX_DEPTH
from hivemem._core import CLIENT_RESOLVER_PREFIX
from hivemem.memories.index import FILTER_KEYS
from hivemem.memories.match import (
    BOOST_WEIGHT,
    MAX_BOOST_FIELDS,
    MAX_BOOST_VALUES,
    MAX_SOURCE_BYTES,
    MAX_SOURCE_FIELDS,
    MAX_SOURCE_NAME,
)
from hivemem.types import CONFLICT_STRATEGIES, EVENT_TYPES, RECORD_TIERS, TIERS

Schema = dict[str, Any]

#: Most operations one batch request may carry.
MAX_BATCH = 1000

INT64 = v.MAX_INT
ANY: Schema = {
    "description": f"any JSON value: at most {MAX_DEPTH} levels deep, integers within 64 bits"
}
TIME: Schema = {"type": "number"}
LEVEL: Schema = {"enum": [None, "read", "write", "admin"]}
AGENT: Schema = {"type": "string", "pattern": r"^[A-Za-z0-9._@:\-]{1,128}$"}
NS_NAME: Schema = {
    "type": "string",
    "pattern": rf"^(?!{v.RESERVED_PREFIX})[A-Za-z0-9._:\-]{{1,128}}$",
    "description": f"1-128 characters of [A-Za-z0-9._:-]; names starting with "
    f"{v.RESERVED_PREFIX} are reserved",
}
KEY: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": v.MAX_KEY_BYTES,
    "pattern": r"^[^\u0000-\u001f\u007f]+$",
    "description": f"1-{v.MAX_KEY_BYTES} bytes of UTF-8, no control characters",
}
#: A list's key leaves room for its items' keys (key + "/" + 16 hex digits).
LIST_KEY: Schema = {
    **KEY,
    "maxLength": v.MAX_KEY_BYTES - 17,
    "description": f"1-{v.MAX_KEY_BYTES - 17} bytes of UTF-8, no control characters",
}
TTL: Schema = {
    "type": ["number", "null"],
    "exclusiveMinimum": 0,
    "maximum": v.MAX_TTL,
    "description": "seconds",
}
VERSION: Schema = {"type": ["integer", "null"], "minimum": 0, "maximum": INT64}


def obj(props: dict[str, Schema], required: tuple[str, ...] = (), **extra: Any) -> Schema:
    """A JSON object schema refusing unknown fields."""
    out: Schema = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = list(required)
    out.update(extra)
    return out


def out(props: dict[str, Schema], required: tuple[str, ...] | None = None) -> Schema:
    """A response object schema (every listed field present; later additions allowed)."""
    return {"type": "object", "properties": props, "required": list(required or props)}


def ref(name: str) -> Schema:
    """A reference to a named schema of ``COMPONENTS``."""
    return {"$ref": f"#/components/schemas/{name}"}


ENTRY = out(
    {
        "namespace": {"type": "string"},
        "key": {"type": "string"},
        "value": {},
        "owner": {"type": "string"},
        "version": {"type": "integer", "minimum": 1},
        "revision": {"type": "integer", "minimum": 0},
        "created_at": TIME,
        "updated_at": TIME,
        "expires_at": {"type": ["number", "null"]},
    }
)
NAMESPACE = out(
    {
        "name": {"type": "string"},
        "default_permission": LEVEL,
        "permissions": {"type": "object", "additionalProperties": LEVEL},
        "conflict_strategy": {"enum": list(CONFLICT_STRATEGIES)},
        "resolver": {"type": ["string", "null"]},
        "ttl": {"type": ["number", "null"]},
        "max_entries": {"type": ["integer", "null"]},
        "description": {"type": "string"},
        "created_by": {"type": ["string", "null"]},
        "created_at": TIME,
        "revision": {"type": "integer"},
        "group": {"type": ["string", "null"]},
    },
    ("name", "default_permission", "permissions", "conflict_strategy", "revision"),
)
EVENT = out(
    {
        "type": {"enum": list(EVENT_TYPES)},
        "namespace": {"type": "string"},
        "revision": {"type": "integer"},
        "timestamp": TIME,
        "agent_id": {"type": "string"},
        "key": {"type": ["string", "null"]},
        "value": {},
        "version": {"type": ["integer", "null"]},
        "reason": {"type": ["string", "null"]},
        "message": {},
    },
    ("type", "namespace", "revision", "timestamp", "agent_id"),
)
ERROR = out(
    {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["code", "message"],
            "description": "code, message and details (reason, current_version, ...)",
        }
    }
)
TOKEN = out(
    {
        "id": {"type": "string"},
        "agent": {"type": "string"},
        "role": {"enum": ["agent", "admin"]},
        "label": {"type": "string"},
        "created_at": TIME,
    }
)
REGISTRY_ITEM = out({"value": {}, "timestamp": TIME, "owner": {"type": "string"}})
RESULT = {
    "type": "object",
    "properties": {
        "ok": {"type": "boolean"},
        "entry": {"anyOf": [ref("Entry"), {"type": "null"}]},
        "deleted": {"type": "boolean"},
        "error": ERROR["properties"]["error"],
    },
    "required": ["ok"],
}


def config_fields(resolvers: list[str]) -> dict[str, Schema]:
    """A namespace's configuration fields, for a server with these resolvers."""
    names: Schema = {
        "anyOf": [
            {"enum": [None, *resolvers]},
            {"type": "string", "pattern": f"^{CLIENT_RESOLVER_PREFIX}"},
        ],
        "description": "a resolver registered on the server, or a client-side one "
        f"({CLIENT_RESOLVER_PREFIX}...)",
    }
    return {
        "default_permission": LEVEL,
        "permissions": {
            "type": "object",
            "propertyNames": AGENT,
            "additionalProperties": LEVEL,
            "description": "agent id -> level (null: no access)",
        },
        "conflict_strategy": {"enum": list(CONFLICT_STRATEGIES)},
        "resolver": names,
        "ttl": TTL,
        "max_entries": {"type": ["integer", "null"], "minimum": 1, "maximum": INT64},
        "description": {"type": "string", "maxLength": 10_000},
    }


# "custom" needs a resolver, given with it (create) or already set (update).
CUSTOM_NEEDS_RESOLVER: Schema = {
    "if": {
        "properties": {"conflict_strategy": {"const": "custom"}},
        "required": ["conflict_strategy"],
    },
    "then": {"properties": {"resolver": {"type": "string"}}, "required": ["resolver"]},
}
NULL_RESOLVER_NEEDS_STRATEGY: Schema = {
    "if": {"properties": {"resolver": {"const": None}}, "required": ["resolver"]},
    "then": {
        "properties": {"conflict_strategy": {"not": {"const": "custom"}}},
        "required": ["conflict_strategy"],
    },
}


def batch_body() -> Schema:
    """The body of ``POST .../batch``."""
    get = obj({"op": {"const": "get"}, "key": KEY}, ("op", "key"))
    put = obj(
        {
            "op": {"const": "put"},
            "key": KEY,
            "value": ANY,
            "ttl": TTL,
            "expected_version": VERSION,
        },
        ("op", "key", "value"),
    )
    plain_put = obj({"op": {"const": "put"}, "key": KEY, "value": ANY}, ("op", "key", "value"))
    delete = obj(
        {"op": {"const": "delete"}, "key": KEY, "expected_version": VERSION}, ("op", "key")
    )
    ops = {"type": "array", "maxItems": MAX_BATCH}
    atomic = {
        "anyOf": [
            {"properties": {"ops": {**ops, "items": plain_put}}},
            {"properties": {"ops": {**ops, "items": get}, "ttl": {"type": "null"}}},
        ]
    }
    return obj(
        {
            "ops": {**ops, "items": {"oneOf": [get, put, delete]}},
            "atomic": {"type": "boolean"},
            "ttl": TTL,
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


#: What ``str.strip()`` removes (``str.isspace``): content needs one character besides.
SPACES = r"\t-\r\u001c- \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
MEM_ID: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "pattern": r"^[^/\u0000-\u001f\u007f]+$",
    "description": "1-200 characters, no '/' nor control characters (ids starting with _ "
    "name no record: 404)",
}
MEM_ID_OR_NULL: Schema = {**MEM_ID, "type": ["string", "null"]}
UNIT: Schema = {"type": "number", "minimum": 0, "maximum": 1}
TEXT_100: Schema = {"type": "string", "minLength": 1, "maxLength": 100}
STRINGS: Schema = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}, {"type": "null"}],
    "description": "a value or a list of values (any of them matches)",
}
TIME_OR_NULL: Schema = {"type": ["number", "null"]}
SLOT: Schema = {
    "type": "string",
    "minLength": 3,
    "maxLength": 200,
    "pattern": r"^[^/\u0000-\u001f\u007f]+/[^\u0000-\u001f\u007f]+$",
    "description": "'<subject>/<attribute>': a record added to a slot supersedes its current one",
}
_SOURCE_FIELDS: Schema = {
    "maxProperties": MAX_SOURCE_FIELDS,
    "propertyNames": {"minLength": 1, "maxLength": MAX_SOURCE_NAME},
    "additionalProperties": ANY,
}
SOURCE: Schema = {
    **_SOURCE_FIELDS,
    "type": ["object", "null"],
    "description": f"where it came from (conversation/message ids, run id, URL...): at most "
    f"{MAX_SOURCE_FIELDS} fields, {MAX_SOURCE_BYTES} bytes serialized; null: none",
}
_BOOST_PAIRS: Schema = {
    "type": ["object", "null"],
    "maxProperties": MAX_BOOST_FIELDS,
    "propertyNames": {"minLength": 1, "maxLength": MAX_SOURCE_NAME},
    "additionalProperties": ANY,
}
_BOOST_IDS: Schema = {
    "anyOf": [
        {"type": "string"},
        {"type": "array", "maxItems": MAX_BOOST_VALUES, "items": {"type": "string"}},
        {"type": "null"},
    ],
    "description": "a value or a list of values (any of them matches): one clause",
}
BOOSTS: Schema = {
    **obj(
        {
            "metadata": {**_BOOST_PAIRS, "description": "field: value, one clause each"},
            "source": {**_BOOST_PAIRS, "description": "field: value, one clause each"},
            "tags": {
                "type": ["array", "null"],
                "maxItems": MAX_BOOST_FIELDS,
                "items": {"type": "string"},
                "description": "tags, one clause each",
            },
            "agent_id": _BOOST_IDS,
            "session_id": _BOOST_IDS,
            "memory_type": _BOOST_IDS,
            "weight": {
                "type": ["number", "null"],
                "minimum": 0,
                "maximum": 1,
                "default": BOOST_WEIGHT,
                "description": "the boost part of a record matching every clause",
            },
        }
    ),
    "type": ["object", "null"],
    "description": "raise the candidates that match: parts.boost = weight x the share of "
    "the clauses a record matches",
}
MEMORY = out(
    {
        "id": {"type": "string"},
        "namespace": {"type": "string"},
        "content": {"type": "string"},
        "memory_type": {"type": "string"},
        "tier": {"enum": list(RECORD_TIERS)},
        "importance": UNIT,
        "strength": UNIT,
        "metadata": {"type": "object"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "parent_id": {"type": ["string", "null"]},
        "session_id": {"type": ["string", "null"]},
        "agent_id": {"type": "string"},
        "created_at": TIME,
        "updated_at": TIME,
        "last_accessed_at": TIME,
        "access_count": {"type": "integer", "minimum": 0},
        "stability": {"type": "number", "minimum": 0},
        "forgotten": {"type": "boolean", "description": "archived (the earlier name)"},
        "valid_from": {**TIME, "description": "when the fact starts to hold"},
        "valid_to": {
            **TIME_OR_NULL,
            "description": "when it stops holding (null: still holds); set when superseded",
        },
        "supersedes": {"type": ["string", "null"], "description": "the record it replaced"},
        "superseded_by": {"type": ["string", "null"], "description": "the record replacing it"},
        "slot": {"type": ["string", "null"], "description": "its '<subject>/<attribute>' slot"},
        "source": {"type": "object", "description": "where it came from ({}: not given)"},
        "occurred_at": {**TIME, "description": "when the remembered thing happened"},
    }
)
SCORED = out(
    {
        "memory": ref("MemoryRecord"),
        "score": {"type": "number"},
        "parts": {
            "type": "object",
            "additionalProperties": {"type": "number"},
            "description": "each scoring component's weighted contribution; they sum to score",
        },
    }
)
GROUP = out(
    {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "description": {"type": ["string", "null"]},
        "created_at": TIME,
    }
)
SESSION = out(
    {
        "id": {"type": "string"},
        "user_id": {"type": "string"},
        "session_type": {"type": "string"},
        "metadata": {"type": "object"},
        "created_at": TIME,
        "agent_id": {"type": "string"},
    }
)


def memory_spec(new: bool = False) -> dict[str, Schema]:
    """The fields of an ``update``; with ``new``, of a new record (``add``, ``supersede``)."""
    fields: dict[str, Schema] = {
        "content": {
            "type": "string",
            "pattern": f"[^{SPACES}]",
            "description": "the text: not empty nor only whitespace",
        },
        "memory_type": {**TEXT_100, "description": "free-form kind (default general)"},
        "tier": {"enum": list(TIERS), "description": "how fast it fades (default short)"},
        "importance": {**UNIT, "description": "0..1 (default 0.5); slows decay"},
        "metadata": {"type": ["object", "null"], "additionalProperties": ANY},
        "tags": {
            "type": ["array", "null"],
            "maxItems": 100,
            "items": {"type": "string", "minLength": 1, "maxLength": 100},
        },
        "parent_id": {**MEM_ID_OR_NULL, "description": "an existing record of the namespace"},
        "session_id": {**MEM_ID_OR_NULL, "description": "a session id (not checked)"},
        "source": SOURCE,
        "occurred_at": {
            **(TIME_OR_NULL if new else TIME),
            "description": "when the remembered thing happened (default: when it is added)",
        },
    }
    if new:
        fields["valid_from"] = {
            **TIME_OR_NULL,
            "description": "when the fact starts to hold (default: when it happened)",
        }
        fields["valid_to"] = {**TIME_OR_NULL, "description": "when it stops (default: never)"}
        fields["slot"] = {**SLOT, "type": ["string", "null"]}
    return fields


def filters_schema() -> Schema:
    """Search filters (hivemem.memories.index.check_filters); null means no filter."""
    kinds: dict[str, Schema] = {
        "metadata": {"type": ["object", "null"], "description": "field: value, all must equal"},
        "include_archived": {
            "type": ["boolean", "null"],
            "description": "also archived records (skipped by default)",
        },
        "include_forgotten": {"type": ["boolean", "null"], "description": "include_archived"},
        "as_of": {**TIME_OR_NULL, "description": "records that held then (default: now)"},
        "include_superseded": {
            "type": ["boolean", "null"],
            "description": "every record, whenever it held (not with as_of)",
        },
        "source": {
            **_SOURCE_FIELDS,
            "type": ["object", "null"],
            "description": "field: value, all must equal the record's source fields",
        },
    }
    for name in (
        "created_after",
        "created_before",
        "updated_after",
        "updated_before",
        "occurred_after",
        "occurred_before",
    ):
        kinds[name] = TIME_OR_NULL
    props = {name: kinds.get(name, STRINGS) for name in sorted(FILTER_KEYS)}
    return {**obj(props), "type": ["object", "null"]}


AUDIT_RECORD = out(
    {
        "timestamp": TIME,
        "agent_id": {"type": "string"},
        "namespace": {"type": ["string", "null"]},
        "key": {"type": ["string", "null"]},
        "action": {"type": "string"},
        "success": {"type": "boolean"},
        "error": {"type": ["string", "null"]},
    }
)

TASK = out(
    {
        "id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
        "value": ANY,
        "priority": {"type": "integer"},
        "attempts": {"type": "integer", "minimum": 0},
        "claimed_by": {"type": ["string", "null"]},
        "visible_at": {"type": ["number", "null"]},
        "enqueued_at": TIME,
        "namespace": {"type": "string"},
        "queue": {"type": "string"},
        "token": {"type": "integer", "minimum": 0},
        "state": {"enum": ["ready", "delayed", "claimed", "dead"]},
    },
    ("id", "value", "priority", "attempts", "enqueued_at", "token", "state"),
)


WEBHOOK = out(
    {
        "id": {"type": "string"},
        "url": {"type": "string"},
        "namespaces": {"type": "array", "items": {"type": "string"}},
        "events": {"type": "array", "items": {"type": "string"}},
        "owner": {"type": "string"},
        "created_at": TIME,
        "enabled": {"type": "boolean"},
        "failures": {"type": "integer"},
        "cursors": {
            "type": "object",
            "additionalProperties": {"type": "integer"},
            "description": "per namespace, the last revision the target acknowledged",
        },
        "last_error": {"type": ["string", "null"]},
        "secret": {
            "type": ["string", "null"],
            "description": "whsec_<base64>: only in the answer of the webhook's creation",
        },
    }
)
WEBHOOK_DELIVERY = out(
    {
        "seq": {"type": "integer"},
        "message_id": {"type": "string"},
        "namespace": {"type": "string"},
        "first_revision": {"type": "integer"},
        "last_revision": {"type": "integer"},
        "events": {"type": "integer"},
        "attempt": {"type": "integer"},
        "at": TIME,
        "ok": {"type": "boolean"},
        "status": {"type": ["integer", "null"]},
        "error": {"type": ["string", "null"]},
        "duration": {"type": "number"},
    }
)


QUEUE_INFO = out(
    {
        "name": {"type": "string"},
        "ready": {"type": "integer", "minimum": 0},
        "claimed": {"type": "integer", "minimum": 0},
        "delayed": {"type": "integer", "minimum": 0},
        "dead": {"type": "integer", "minimum": 0},
        "namespace": {"type": "string"},
    }
)


LEASE = out(
    {
        "id": {"type": "string"},
        "agent_id": {"type": "string"},
        "ttl": {"type": "number"},
        "expires_at": TIME,
    }
)
PRESENCE = out(
    {
        "agent_id": {"type": "string"},
        "info": {},
        "since": TIME,
        "lease_id": {"type": "string"},
    }
)
LOCK = out(
    {
        "name": {"type": "string"},
        "holder": {"type": "string"},
        "token": {"type": "integer", "description": "fencing token: grows with every grant"},
        "lease_id": {"type": "string"},
        "namespace": {"type": "string"},
        "expires_at": {"type": ["number", "null"]},
    }
)

#: The named schemas (``#/components/schemas/...``).
COMPONENTS: dict[str, Schema] = {
    "Entry": ENTRY,
    "Lease": LEASE,
    "Presence": PRESENCE,
    "Lock": LOCK,
    "Namespace": NAMESPACE,
    "Event": EVENT,
    "Error": ERROR,
    "Token": TOKEN,
    "MemoryRecord": MEMORY,
    "ScoredMemory": SCORED,
    "Group": GROUP,
    "Session": SESSION,
    "AuditRecord": AUDIT_RECORD,
    "Task": TASK,
    "QueueInfo": QUEUE_INFO,
    "Webhook": WEBHOOK,
    "WebhookDelivery": WEBHOOK_DELIVERY,
}
