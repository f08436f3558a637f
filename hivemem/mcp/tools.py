"""The MCP tools (SPEC §14), defined once over an :class:`~hivemem.AsyncMemory`.

Each tool is a :class:`ToolSpec`: a name, a description, its parameters (from which the JSON
schema the client sees is built) and a coroutine running it on a memory handle whose default
agent is the agent acting. The stdio server hands it the handle opened by ``hivemem mcp``;
``/mcp`` on the server hands it a handle that runs every op through the server's store as the
token's agent (:mod:`hivemem.mcp.http`), so permissions and audit are those of every other path.

:func:`call_tool` never raises: a bad argument, a refused operation or an unexpected failure
becomes a tool result with ``isError`` set, its text ``<code>: <message>`` and its structured
content the error JSON of the HTTP API (``{"error": {"code", "message", ...}}``).

Arguments that are also arguments of the HTTP API take their JSON schemas from its route
table (:mod:`hivemem.wire.table`), so the tools and the routes accept the same values.

The long-term memory tools (SPEC §10, §14: ``add_memory``, ``search_memories``,
``get_memory``, ``update_memory``, ``archive_memory``, ``get_related``, ``link_memories``)
call the public memories API (:class:`~hivemem.memories.api.AsyncMemories`), which checks
every value; their record fields and ``filters`` take their schemas from the memories routes,
so a field or filter the API gains needs no change here. ``archive_memory`` restores with
``restore=true`` rather than a tool of its own, so the tool list stays SPEC §14's.
``search_memories`` runs a hybrid search when it can and says which search ran.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mcp_types as types
import orjson

from hivemem.conversations import DEFAULT_NAMESPACE
from hivemem.engine.history import (
    MAX_HISTORY,
)
from hivemem.errors import (
    EmbedderUnavailable,
    HivememError,
    InvalidArgument,
    LockTimeout,
    NotFound,
)
from hivemem.memories.plans import DEFAULT_NAMESPACE as MEMORIES_NAMESPACE
from hivemem.memories.wire import to_json
from hivemem.types import (
    Lock,
)
from hivemem.wire.table import BY_NAME

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from hivemem._async import AsyncMemory
    from hivemem.memories.api import AsyncMemories

__all__ = ["TOOLS", "Param", "ToolSpec", "call_tool", "list_tools"]

log = logging.getLogger("hivemem.mcp")

Schema = dict[str, Any]

#: Most keys one ``list_keys`` call returns, and most messages one ``get_messages`` /
#: ``search_messages`` call returns.
MAX_KEYS = 1000
MAX_MESSAGES = 1000


@dataclass(frozen=True, slots=True)
class Param:
    """One argument of a tool.

    Attributes:
        name: The argument's name.
        schema: Its JSON schema (``{}`` for any JSON value).
        description: What it means, for the model choosing the tool.
        required: Whether the call must give it.
    """

    name: str
    schema: Schema
    description: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One MCP tool.

    Attributes:
        name: The tool's name.
        description: What it does.
        params: Its arguments.
        run: ``run(mem, arguments)``: the result as a JSON object.
        read_only: Whether it only reads (an MCP annotation hint).
    """

    name: str
    description: str
    params: tuple[Param, ...]
    run: Callable[[AsyncMemory, dict[str, Any]], Awaitable[dict[str, Any]]]
    read_only: bool = False

    def input_schema(self) -> Schema:
        """The JSON schema of the tool's arguments (an object, no other properties)."""
        return {
            "type": "object",
            "properties": {p.name: {**p.schema, "description": p.description} for p in self.params},
            "required": [p.name for p in self.params if p.required],
            "additionalProperties": False,
        }

    def to_mcp(self) -> types.Tool:
        """The tool as the MCP ``tools/list`` result lists it."""
        return types.Tool(
            name=self.name,
            description=self.description,
            input_schema=self.input_schema(),
            annotations=types.ToolAnnotations(
                read_only_hint=self.read_only,
                destructive_hint=self.name == "delete",
                idempotent_hint=self.read_only
                or self.name in ("write", "delete", "archive_memory", "link_memories"),
                open_world_hint=False,
            ),
        )

    def check(self, arguments: dict[str, Any] | None) -> dict[str, Any]:
        """Check the arguments against the parameters; return them without nulls.

        An optional argument given as ``null`` counts as not given.

        Raises:
            InvalidArgument: an unknown or missing argument, or one of the wrong type.
        """
        given = dict(arguments or {})
        known = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise InvalidArgument(
                f"{self.name}: unknown argument(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(known) or 'none'}"
            )
        out: dict[str, Any] = {}
        for p in self.params:
            value = given.get(p.name)
            if p.name not in given or (value is None and not p.required):
                if p.required:
                    raise InvalidArgument(f"{self.name}: missing argument {p.name!r}")
                continue
            out[p.name] = _typed(self.name, p, value)
        return out


def _typed(tool: str, p: Param, value: Any) -> Any:
    kind = p.schema.get("type")
    if isinstance(kind, list):  # ["integer", "null"]: a null never reaches here
        kind = next(k for k in kind if k != "null")
    if kind is None:
        return value
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON Schema: 2.0 is an integer
    ok = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "object": isinstance(value, dict),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
    }[kind]
    if not ok:
        raise InvalidArgument(f"{tool}: argument {p.name!r} must be {_ARTICLE[kind]}")
    return value


_ARTICLE = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "object": "an object",
    "boolean": "true or false",
    "array": "a list",
}

# ---------------------------------------------------------------- parameters


def _schema(route: str, name: str) -> Schema:
    """The schema of a parameter or body field of a route of the HTTP API's route table."""
    spec = BY_NAME[route]
    for p in spec.params:
        if p.name == name:
            return _bare(p.schema)
    body = spec.body_schema([])
    assert body is not None, (route, name)
    return _bare(body["properties"][name])


def _bare(schema: Schema) -> Schema:
    """A schema without its description (each tool argument has its own)."""
    return {k: v for k, v in schema.items() if k != "description"}


_NS = Param(
    "namespace", _schema("get_entry", "ns"), "The namespace, e.g. 'default'.", required=True
)
_KEY = Param("key", _schema("get_entry", "key"), "The key within the namespace.", required=True)
_VERSION = Param(
    "expected_version",
    _schema("put_entry", "expected_version"),
    "Compare-and-set: act only if the entry is at this version (0: only if absent).",
)
_CID = Param(
    "conversation_id",
    _schema("messages_add", "cid"),
    "The conversation's id (1-200 characters, no '/').",
    required=True,
)
_CONV_NS = Param(
    "namespace",
    _schema("messages_add", "namespace"),
    f"The namespace the conversation lives in (default {DEFAULT_NAMESPACE!r}).",
)


def _limit(default: int | None, maximum: int, what: str) -> Param:
    told = f"; default {default}" if default is not None else "; default all"
    return Param(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": maximum},
        f"Most {what} to return (1-{maximum}{told}).",
    )


def _check_limit(args: dict[str, Any], default: int | None, maximum: int) -> int | None:
    limit: int | None = args.get("limit", default)
    if limit is not None and not 1 <= limit <= maximum:
        raise InvalidArgument(f"invalid limit {limit}: give an integer from 1 to {maximum}")
    return limit


# ---------------------------------------------------------------- runners


async def _list_namespaces(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    return {"namespaces": [info.to_dict() for info in await mem.list_namespaces()]}


async def _read(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    entry = await mem.get_entry(args["namespace"], args["key"])
    if entry is None:
        return {"found": False, "namespace": args["namespace"], "key": args["key"]}
    return {"found": True, **entry.to_dict()}


async def _history(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    versions = await mem.history(
        args["namespace"],
        args["key"],
        limit=_check_limit(args, 20, MAX_HISTORY) or 20,
        before=args.get("before"),
    )
    return {"versions": [v.to_dict() for v in versions]}


async def _write(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    entry = await mem.write(
        args["namespace"],
        args["key"],
        args["value"],
        ttl=args.get("ttl"),
        expected_version=args.get("expected_version"),
    )
    return entry.to_dict()


async def _delete(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    deleted = await mem.delete(
        args["namespace"], args["key"], expected_version=args.get("expected_version")
    )
    return {"deleted": deleted, "namespace": args["namespace"], "key": args["key"]}


async def _list_keys(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    page = await mem.list_entries(
        args["namespace"],
        prefix=args.get("prefix", ""),
        limit=_check_limit(args, 100, MAX_KEYS) or 100,
        cursor=args.get("cursor"),
    )
    return {"keys": [e.key for e in page.items], "next_cursor": page.next_cursor}


async def _broadcast(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    event = await mem.broadcast(args["namespace"], args["message"])
    return event.to_dict()


def _conversation(mem: AsyncMemory, args: dict[str, Any]) -> Any:
    return mem.conversation(
        args["conversation_id"], namespace=args.get("namespace", DEFAULT_NAMESPACE)
    )


async def _add_message(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    conv = _conversation(mem, args)
    message = await conv.add_message(args["role"], args["content"], args.get("metadata"))
    result: dict[str, Any] = message.to_dict()
    return result


async def _get_messages(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    limit = _check_limit(args, None, MAX_MESSAGES)
    messages = await _conversation(mem, args).get_messages(limit)
    return {"messages": [m.to_dict() for m in messages]}


def content_text(content: Any) -> str:
    """The text a message's content is searched in: a string as is, other JSON as JSON."""
    if isinstance(content, str):
        return content
    return orjson.dumps(content).decode()


async def _search_messages(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    limit = _check_limit(args, 20, MAX_MESSAGES) or 20
    query = args["query"]
    if not query:
        raise InvalidArgument("search_messages: query must be a non-empty string")
    needle = query.casefold()
    messages = await _conversation(mem, args).get_messages(None)
    found = [m for m in messages if needle in content_text(m.content).casefold()]
    return {"messages": [m.to_dict() for m in found[-limit:]], "total_matches": len(found)}


# ---------------------------------------------------------------- task queues (SPEC §19)

_QUEUE = Param(
    "queue", _schema("queue_stats", "queue"), "The queue's name, e.g. 'jobs'.", required=True
)


async def _put_task(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    q = mem.queue(args["namespace"], args["queue"])
    task = await q.put(
        args["task"],
        priority=args.get("priority", 0),
        delay=args.get("delay", 0.0),
        idempotency_key=args.get("idempotency_key"),
    )
    return task.to_dict()


async def _claim_task(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    q = mem.queue(args["namespace"], args["queue"], max_attempts=args.get("max_attempts", 5))
    task = await q.claim(visibility=args.get("visibility", 30.0))
    return {"task": task.to_dict() if task is not None else None}


async def _complete_task(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    from hivemem.types import Task

    q = mem.queue(args["namespace"], args["queue"], max_attempts=args.get("max_attempts", 5))
    held = Task(args["id"], None, 0, 1, None, None, 0.0, q.namespace, q.name, args["token"])
    if args.get("success", True):
        await q.ack(held)
        return {"id": args["id"], "acked": True}
    await q.nack(held, delay=args.get("delay", 0.0))
    return {"id": args["id"], "nacked": True}


# ---------------------------------------------------------------- the tools

TOOLS: dict[str, ToolSpec] = {
    t.name: t
    for t in (
        ToolSpec(
            "list_namespaces",
            "List the namespaces this agent can read, with their configuration "
            "(permissions, conflict strategy, TTL) and revision.",
            (),
            _list_namespaces,
            read_only=True,
        ),
        ToolSpec(
            "read",
            "Read one key of a namespace. Returns found=false if the key is absent or "
            "expired, else the entry: value, owner, version, timestamps, expiry.",
            (_NS, _KEY),
            _read,
            read_only=True,
        ),
        ToolSpec(
            "history",
            "List the retained versions of one key, newest first: each value with its "
            "version, revision, author and time; deletions (and expiries, clears) have "
            "deleted=true. Pass the last revision as before for older versions.",
            (
                _NS,
                _KEY,
                _limit(20, MAX_HISTORY, "versions"),
                Param(
                    "before",
                    _schema("history", "before"),
                    "Only changes with a revision below this one.",
                ),
            ),
            _history,
            read_only=True,
        ),
        ToolSpec(
            "write",
            "Write a JSON value under a key (creating the namespace if it does not exist). "
            "Returns the new entry with its version. Give expected_version to write only if "
            "nobody changed the entry meanwhile (a conflict is an error).",
            (
                _NS,
                _KEY,
                Param(
                    "value",
                    _schema("put_entry", "value"),
                    "The value: any JSON (object, array, string, number...).",
                    True,
                ),
                Param(
                    "ttl",
                    _schema("put_entry", "ttl"),
                    "Seconds until the entry expires (default: the namespace's TTL, or never).",
                ),
                _VERSION,
            ),
            _write,
        ),
        ToolSpec(
            "delete",
            "Delete a key. Returns deleted=false if there was no live entry.",
            (_NS, _KEY, _VERSION),
            _delete,
        ),
        ToolSpec(
            "list_keys",
            "List the keys of a namespace in key order, optionally those starting with a "
            "prefix. Pages: pass next_cursor back as cursor for the next page.",
            (
                _NS,
                Param("prefix", _schema("list_entries", "prefix"), "Only keys starting with this."),
                _limit(100, MAX_KEYS, "keys"),
                Param(
                    "cursor", _schema("list_entries", "cursor"), "next_cursor of the previous page."
                ),
            ),
            _list_keys,
            read_only=True,
        ),
        ToolSpec(
            "broadcast",
            "Send a message to every agent subscribed to or watching the namespace "
            "(stores nothing; needs write permission).",
            (
                _NS,
                Param("message", _schema("broadcast", "message"), "The message: any JSON.", True),
            ),
            _broadcast,
        ),
        ToolSpec(
            "add_message",
            "Append a message to a conversation's history (the conversation is created on "
            "its first message). Returns the message with its id and timestamp.",
            (
                _CID,
                Param(
                    "role",
                    _schema("messages_add", "role"),
                    "Who speaks: user, assistant, system...",
                    True,
                ),
                Param(
                    "content",
                    _schema("messages_add", "content"),
                    "The message: usually text, any JSON works.",
                    True,
                ),
                Param(
                    "metadata",
                    _schema("messages_add", "metadata"),
                    "Free-form JSON object kept with it.",
                ),
                _CONV_NS,
            ),
            _add_message,
        ),
        ToolSpec(
            "get_messages",
            "Return a conversation's messages, oldest first: the last `limit` ones, or all.",
            (_CID, _limit(None, MAX_MESSAGES, "messages (the most recent)"), _CONV_NS),
            _get_messages,
            read_only=True,
        ),
        ToolSpec(
            "search_messages",
            "Find the messages of a conversation whose content contains a text "
            "(case-insensitive; non-text content is searched as JSON). Returns the most "
            "recent matches, oldest first, and how many matched in all.",
            (
                _CID,
                Param("query", {"type": "string", "minLength": 1}, "The text to look for.", True),
                _limit(20, MAX_MESSAGES, "matches (the most recent)"),
                _CONV_NS,
            ),
            _search_messages,
            read_only=True,
        ),
        ToolSpec(
            "put_task",
            "Add a task (any JSON) to a queue of a namespace. Higher priority is claimed "
            "first, then oldest first; delay hides it for that many seconds.",
            (
                _NS,
                _QUEUE,
                Param("task", _schema("queue_put", "task"), "The task: any JSON.", True),
                Param("priority", _schema("queue_put", "priority"), "Higher first (default 0)."),
                Param("delay", _schema("queue_put", "delay"), "Seconds before it is claimable."),
                Param(
                    "idempotency_key",
                    _schema("queue_put", "idempotency_key"),
                    "A repeat with this key returns the first task instead of adding one.",
                ),
            ),
            _put_task,
        ),
        ToolSpec(
            "claim_task",
            "Claim the next task of a queue for `visibility` seconds (task null: none is "
            "ready). Finish it with complete_task, passing its id and token, before the "
            "visibility ends, or it returns to the queue.",
            (
                _NS,
                _QUEUE,
                Param(
                    "visibility",
                    _schema("queue_claim", "visibility"),
                    "Seconds the claim lasts (default 30).",
                ),
                Param(
                    "max_attempts",
                    _schema("queue_claim", "max_attempts"),
                    "Claims before a task goes to the dead letters (default 5).",
                ),
            ),
            _claim_task,
        ),
        ToolSpec(
            "complete_task",
            "Finish a claimed task: success=true acks it (done), success=false gives it back "
            "(claimable again after `delay` s; dead after max_attempts claims). Refused with "
            "conflict/claim_lost when the claim lapsed or is not this agent's.",
            (
                _NS,
                _QUEUE,
                Param("id", _schema("queue_ack", "task_id"), "The task's id.", True),
                Param("token", _schema("queue_ack", "token"), "The claim's token.", True),
                Param("success", {"type": "boolean"}, "Done (default) or give it back."),
                Param("delay", _schema("queue_nack", "delay"), "For success=false: seconds."),
                Param(
                    "max_attempts",
                    _schema("queue_nack", "max_attempts"),
                    "For success=false: claims before it dies (default 5).",
                ),
            ),
            _complete_task,
        ),
    )
}


# ---------------------------------------------------------------- coordination (§19): locks


async def _acquire_lock(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    hold = mem.lock(
        args["namespace"], args["name"], ttl=args.get("ttl", 30.0), wait=args.get("wait", 0.0)
    )
    try:
        lk = await hold.acquire()
    except LockTimeout:
        held = await mem.lock_info(args["namespace"], args["name"])
        return {"acquired": False, "held_by": None if held is None else held.to_dict()}
    return {"acquired": True, **lk.to_dict()}


async def _release_lock(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    lk = Lock(args["name"], mem.agent, args["token"], "", args["namespace"])
    return {"released": await mem.unlock(lk)}


async def _presence(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    return {"present": [p.to_dict() for p in await mem.presence(args["namespace"])]}


_LOCK_NAME = Param("name", {"type": "string", "minLength": 1, "maxLength": 1024},
                   "The lock's name.", required=True)  # fmt: skip
_LOCK_TOOLS = (
    ToolSpec(
        "acquire_lock",
        "Take a named lock of a namespace (one holder at a time, first come first served). "
        "Returns acquired=true with the fencing token, or acquired=false and who holds it. "
        "The hold ends after ttl seconds unless released with release_lock.",
        (
            _NS,
            _LOCK_NAME,
            Param("ttl", _schema("try_lock", "ttl"), "Seconds the hold lives (default 30)."),
            Param(
                "wait",
                {"type": "number", "minimum": 0, "maximum": 60},
                "Seconds to wait for a busy lock (default 0: answer at once).",
            ),
        ),
        _acquire_lock,
    ),
    ToolSpec(
        "release_lock",
        "Release a hold taken with acquire_lock, by its token. released=false: the hold "
        "had ended already (it expired or was released).",
        (
            _NS,
            _LOCK_NAME,
            Param("token", _schema("unlock", "token"), "The token acquire_lock returned.", True),
        ),
        _release_lock,
    ),
    ToolSpec(
        "presence",
        "List the agents present in a namespace (joined with a live lease), with what each "
        "said about itself.",
        (_NS,),
        _presence,
        read_only=True,
    ),
)
TOOLS.update({t.name: t for t in _LOCK_TOOLS})


# ---------------------------------------------------------------- long-term memories (§10)

#: How ``search_memories`` searches: hybrid when the store can embed the query, else keyword
#: (``auto``, the default); always hybrid (an error without an embedder); keyword (BM25).
SEARCH_MODES = ("auto", "hybrid", "keyword")

_MEMORIES_NS = Param(
    "namespace",
    _schema("memories_add", "ns"),
    f"The namespace of the memories (default {MEMORIES_NAMESPACE!r}).",
)
_MEMORY_ID = Param(
    "memory_id", _schema("memories_get", "rid"), "The memory's id (from add_memory).", True
)

#: What each field of a record means, for the model (the schemas come from the route table).
_FIELD_HELP = {
    "content": "The text to remember (not empty).",
    "memory_type": "A free-form kind, e.g. 'fact', 'preference', 'decision' (default general).",
    "tier": "How fast it fades unless used: short, medium or long (default short).",
    "importance": "0..1 (default 0.5); important memories fade slower.",
    "metadata": "A free-form JSON object kept with it (filterable by field equality).",
    "tags": "Labels (filterable).",
    "parent_id": "An existing memory it belongs under.",
    "session_id": "The session it was recorded in.",
    "valid_from": "When the fact starts to hold (unix seconds; default: now).",
    "valid_to": "When it stops holding (unix seconds; default: open-ended).",
    "slot": "'<subject>/<attribute>': the memory replaces the slot's current one.",
}


def _body_params(route: str, *, required: bool = True) -> tuple[Param, ...]:
    """A param per body field of a memories route, in the route's order.

    The fields follow the route table, so a field the API gains is a tool argument at once.
    """
    spec = BY_NAME[route]
    body = spec.body_schema([])
    assert body is not None, route
    return tuple(
        Param(
            name,
            _bare(schema),
            _FIELD_HELP.get(name) or schema.get("description") or name.replace("_", " "),
            required and name in spec.required,
        )
        for name, schema in body["properties"].items()
    )


_ADD_PARAMS = _body_params("memories_add")
_UPDATE_PARAMS = _body_params("memories_update")


def _memories(mem: AsyncMemory, args: dict[str, Any]) -> AsyncMemories:
    return mem.memories(args.get("namespace", MEMORIES_NAMESPACE))


def _fields(args: dict[str, Any], params: tuple[Param, ...]) -> dict[str, Any]:
    names = {p.name for p in params}
    return {k: v for k, v in args.items() if k in names}


async def _add_memory(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    fields = _fields(args, _ADD_PARAMS)
    record = await _memories(mem, args).add(fields.pop("content"), **fields)
    return record.to_dict()


async def _get_memory(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    return (await _memories(mem, args).get(args["memory_id"])).to_dict()


async def _update_memory(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    fields = _fields(args, _UPDATE_PARAMS)
    if not fields:
        raise InvalidArgument(
            "update_memory: give at least one field to change: "
            + ", ".join(p.name for p in _UPDATE_PARAMS)
        )
    return (await _memories(mem, args).update(args["memory_id"], **fields)).to_dict()


async def _archive_memory(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    lt = _memories(mem, args)
    if args.get("restore", False):
        return (await lt.restore(args["memory_id"])).to_dict()
    return (await lt.archive(args["memory_id"])).to_dict()


async def _search_memories(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    mode = args.get("mode", "auto")
    if mode not in SEARCH_MODES:
        raise InvalidArgument(f"search_memories: mode must be one of {', '.join(SEARCH_MODES)}")
    if mode == "keyword" and args.get("weights") is not None:
        raise InvalidArgument("search_memories: weights rank hybrid searches, not keyword ones")
    lt = _memories(mem, args)
    query, limit, filters = args["query"], args.get("limit", 10), args.get("filters")
    validity = {k: args[k] for k in ("as_of", "include_superseded") if k in args}
    fallback: str | None = None
    if mode != "keyword":
        try:
            hits = await lt.semantic_search(
                query, k=limit, filters=filters, weights=args.get("weights"), **validity
            )
            return {"mode": "hybrid", **to_json("semantic_search", hits)}
        except EmbedderUnavailable as exc:
            if mode == "hybrid":
                raise
            fallback = f"hybrid search is unavailable ({exc.message}); this is a keyword search"
    hits = await lt.search(query, limit=limit, filters=filters, **validity)
    out: dict[str, Any] = {"mode": "keyword", **to_json("search", hits)}
    if fallback is not None:
        out["fallback"] = fallback
    return out


async def _get_related(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    related = await _memories(mem, args).get_related(
        args["memory_id"], args.get("relationship_type")
    )
    result: dict[str, Any] = to_json("get_related", related)
    return result


async def _link_memories(mem: AsyncMemory, args: dict[str, Any]) -> dict[str, Any]:
    return await _memories(mem, args).add_relationship(
        args["source_id"],
        args["target_id"],
        args["relationship_type"],
        args.get("strength", 1.0),
    )


_SEARCH = "memories_semantic_search"
_MEMORY_TOOLS = (
    ToolSpec(
        "add_memory",
        "Remember something for the long term: a text with optional kind, tier, importance, "
        "tags and metadata. It is embedded for semantic search when the store has an "
        "embedder. Returns the memory with its id.",
        (_MEMORIES_NS, *_ADD_PARAMS),
        _add_memory,
    ),
    ToolSpec(
        "search_memories",
        "Find memories relevant to a query, best first; each result has the memory, its "
        "score and the score's parts (vector, keyword, strength, recency...). By default a "
        "hybrid search (meaning and keywords) when the store has an embedder, else a keyword "
        "search; the answer's mode says which ran (and fallback why). Archived and "
        "superseded memories are skipped unless filters ask for them.",
        (
            _MEMORIES_NS,
            Param("query", _schema(_SEARCH, "query"), "What to look for, in words.", True),
            Param(
                "mode",
                {"enum": list(SEARCH_MODES)},
                "auto (default): hybrid when possible, else keyword; hybrid: only hybrid "
                "(an error without an embedder); keyword: BM25 over the text.",
            ),
            Param(
                "limit",
                _schema(_SEARCH, "k"),
                "Most results to return (1-1000; default 10).",
            ),
            Param(
                "filters",
                _schema(_SEARCH, "filters"),
                "Only memories matching all of these, e.g. {'tags': ['ops'], "
                "'memory_type': 'decision', 'include_archived': true}.",
            ),
            Param("as_of", _schema(_SEARCH, "as_of"), "Memories that held then (unix seconds)."),
            Param(
                "include_superseded",
                _schema(_SEARCH, "include_superseded"),
                "Also memories that were replaced (not with as_of).",
            ),
            Param(
                "weights",
                _schema(_SEARCH, "weights"),
                "Hybrid only: the weight of each part of the score (default: the server's).",
            ),
        ),
        _search_memories,
        read_only=True,
    ),
    ToolSpec(
        "get_memory",
        "Read one memory by id (counts as a use: its strength goes back to 1).",
        (_MEMORIES_NS, _MEMORY_ID),
        _get_memory,
        read_only=True,
    ),
    ToolSpec(
        "update_memory",
        "Change fields of a memory (a new content is re-embedded). Returns the memory. "
        "A null argument means 'unchanged'.",
        (_MEMORIES_NS, _MEMORY_ID, *_UPDATE_PARAMS),
        _update_memory,
    ),
    ToolSpec(
        "archive_memory",
        "Archive a memory: searches skip it (unless filters include_archived) until it is "
        "restored; nothing is deleted. restore=true brings an archived memory back.",
        (
            _MEMORIES_NS,
            _MEMORY_ID,
            Param(
                "restore",
                {"type": "boolean"},
                "true: restore an archived memory instead (default false: archive).",
            ),
        ),
        _archive_memory,
    ),
    ToolSpec(
        "get_related",
        "The memories linked to one (link_memories), either way, strongest first: each with "
        "the relationship's type, strength and direction.",
        (
            _MEMORIES_NS,
            _MEMORY_ID,
            Param(
                "relationship_type",
                _schema("memories_get_related", "relationship_type"),
                "Only links of this type.",
            ),
        ),
        _get_related,
        read_only=True,
    ),
    ToolSpec(
        "link_memories",
        "Relate two memories with a typed, directed link (e.g. 'supports', 'caused_by') of "
        "a strength in 0..1. Returns the relationship.",
        (
            _MEMORIES_NS,
            Param(
                "source_id",
                _schema("memories_add_relationship", "source_id"),
                "The memory the link goes from.",
                True,
            ),
            Param(
                "target_id",
                _schema("memories_add_relationship", "target_id"),
                "The memory the link goes to.",
                True,
            ),
            Param(
                "relationship_type",
                _schema("memories_add_relationship", "relationship_type"),
                "The link's type, e.g. 'supports'.",
                True,
            ),
            Param(
                "strength", _schema("memories_add_relationship", "strength"), "0..1 (default 1)."
            ),
        ),
        _link_memories,
    ),
)
TOOLS.update({t.name: t for t in _MEMORY_TOOLS})


def list_tools() -> list[types.Tool]:
    """Every tool, as ``tools/list`` answers."""
    return [t.to_mcp() for t in TOOLS.values()]


def _result(data: dict[str, Any], *, error: bool = False) -> types.CallToolResult:
    text = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode()
    return types.CallToolResult(
        content=[types.TextContent(text=text)], structured_content=data, is_error=error
    )


def error_result(exc: HivememError) -> types.CallToolResult:
    """A tool error: text ``<code>: <message>``, structured content the error JSON."""
    data = exc.to_dict()
    return types.CallToolResult(
        content=[types.TextContent(text=f"{exc.code}: {exc.message}")],
        structured_content=orjson.loads(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)),
        is_error=True,
    )


async def call_tool(
    mem: AsyncMemory, name: str, arguments: dict[str, Any] | None
) -> types.CallToolResult:
    """Run a tool on ``mem`` (as its default agent); never raises.

    Args:
        mem: The memory handle; its default agent is the agent acting.
        name: The tool's name.
        arguments: The call's arguments.

    Returns:
        The tool's result, or an error result (``isError``) carrying the hivemem error code
        and message: an unknown tool, bad arguments, a refused or failed operation.
    """
    tool = TOOLS.get(name)
    try:
        if tool is None:
            raise NotFound(f"no tool {name!r}; the tools are: {', '.join(TOOLS)}")
        return _result(await tool.run(mem, tool.check(arguments)))
    except HivememError as exc:
        return error_result(exc)
    except Exception:
        log.exception("hivemem: MCP tool %s failed", name)
        return error_result(HivememError("internal error running the tool; see the server log"))
