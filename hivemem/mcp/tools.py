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

The long-term memory tools of SPEC §14 (``add_memory``, ``search_memories``,
``semantic_search``, ``get_related``) come with long-term memories (SPEC §10).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mcp_types as types
import orjson

from hivemem.conversations import DEFAULT_NAMESPACE
from hivemem.engine.history import MAX_HISTORY
from hivemem.errors import HivememError, InvalidArgument, NotFound
from hivemem.wire.table import BY_NAME

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from hivemem._async import AsyncMemory

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
                idempotent_hint=self.read_only or self.name in ("write", "delete"),
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
    }[kind]
    if not ok:
        raise InvalidArgument(f"{tool}: argument {p.name!r} must be {_ARTICLE[kind]}")
    return value


_ARTICLE = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "object": "an object",
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
    )
}


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
