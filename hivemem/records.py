"""Entities, tool usage, conversation history and the memory summary (SPEC §8, seed 002).

All of it is plain entries and lists in dedicated namespaces, so permissions, TTL, events
and the audit log apply as everywhere::

    entities     <type>/<id>              an entity's data
    tool_usage   tool/<name>              a list of that tool's calls
                 all                      a list of every call
    conversations (see hivemem.conversations) for conversation history

Each operation is written once as a generator of ops (driven sync or async, as in
:mod:`hivemem.conversations`).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from hivemem import _codec
from hivemem import _validate as v
from hivemem.conversations import DEFAULT_NAMESPACE as CONVERSATIONS
from hivemem.conversations import Plan, _Plans, delete_prefix, list_range
from hivemem.engine import ops as o
from hivemem.errors import InvalidArgument, NamespaceNotFound
from hivemem.types import Message

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["ENTITIES", "TOOL_USAGE", "RecordPlans"]

ENTITIES = "entities"
TOOL_USAGE = "tool_usage"


def _type(entity_type: Any) -> str:
    if type(entity_type) is not str or not entity_type or "/" in entity_type:
        raise InvalidArgument(f"invalid entity type {entity_type!r}: a non-empty name, no '/'")
    if len(entity_type) > 200:
        raise InvalidArgument("entity type is longer than 200 characters")
    return v.check_key(entity_type)


def _id(entity_id: Any) -> str:
    if type(entity_id) is not str or not entity_id or len(entity_id) > 200:
        raise InvalidArgument(f"invalid entity id {entity_id!r}: 1-200 characters")
    try:
        return quote(entity_id, safe="")
    except UnicodeEncodeError:
        raise InvalidArgument("invalid entity id: not valid UTF-8 (lone surrogate)") from None


def _tool(tool_name: Any) -> str:
    if type(tool_name) is not str or not tool_name or len(tool_name) > 200:
        raise InvalidArgument("tool_name must be a non-empty string of at most 200 chars")
    try:
        return quote(tool_name, safe="")
    except UnicodeEncodeError:
        raise InvalidArgument("invalid tool name: not valid UTF-8 (lone surrogate)") from None


class RecordPlans:
    """The ops of §8 for one agent."""

    def __init__(self, agent: str, clock: Any, max_value_bytes: int) -> None:
        self.agent = agent
        self.clock = clock
        self.max_value_bytes = max_value_bytes

    def _encode(self, value: Any) -> str:
        return _codec.encode_value(value, self.max_value_bytes)

    # -- entities
    def save_entity(self, entity_type: str, entity_id: str, data: Any) -> Plan[None]:
        key = f"{_type(entity_type)}/{_id(entity_id)}"
        yield o.Put(agent=self.agent, ns=ENTITIES, key=key, value_json=self._encode(data))

    def load_entity(self, entity_type: str, entity_id: str) -> Plan[Any]:
        key = f"{_type(entity_type)}/{_id(entity_id)}"
        try:
            entry = yield o.Get(agent=self.agent, ns=ENTITIES, key=key)
        except NamespaceNotFound:
            return None
        return None if entry is None else entry.value

    def delete_entity(self, entity_type: str, entity_id: str) -> Plan[bool]:
        key = f"{_type(entity_type)}/{_id(entity_id)}"
        try:
            deleted: bool = yield o.Delete(agent=self.agent, ns=ENTITIES, key=key)
        except NamespaceNotFound:
            return False
        return deleted

    def _scan(self, ns: str, prefix: str) -> Plan[list[Any]]:
        out: list[Any] = []
        cursor = None
        while True:
            try:
                page = yield o.ListEntries(
                    agent=self.agent, ns=ns, prefix=prefix, limit=1000, cursor=cursor
                )
            except NamespaceNotFound:
                return []
            out.extend(page.items)
            if page.next_cursor is None:
                return out
            cursor = page.next_cursor

    def list_entities(self, entity_type: str) -> Plan[dict[str, Any]]:
        prefix = f"{_type(entity_type)}/"
        entries = yield from self._scan(ENTITIES, prefix)
        return {unquote(e.key[len(prefix) :]): e.value for e in entries}

    # -- tool usage
    def save_tool_usage(
        self,
        tool_name: str,
        args: Any,
        result: Any,
        conversation_id: str | None,
        duration_ms: float | None,
    ) -> Plan[dict[str, Any]]:
        key = f"tool/{_tool(tool_name)}"
        if duration_ms is not None and (
            isinstance(duration_ms, bool) or not isinstance(duration_ms, int | float)
        ):
            raise InvalidArgument("duration_ms must be a number")
        record = {
            "tool": tool_name,
            "args": args,
            "result": result,
            "agent": self.agent,
            "conversation_id": conversation_id,
            "duration_ms": duration_ms,
            "timestamp": self.clock(),
        }
        item = self._encode(record)
        yield o.ListPush(agent=self.agent, ns=TOOL_USAGE, key="all", items=(item,))
        yield o.ListPush(agent=self.agent, ns=TOOL_USAGE, key=key, items=(item,))
        return record

    def get_tool_usage(self, tool_name: str | None, limit: int) -> Plan[list[dict[str, Any]]]:
        limit = v.check_limit(limit, maximum=100_000)
        key = "all" if tool_name is None else f"tool/{_tool(tool_name)}"
        items, _ = yield from list_range(self.agent, TOOL_USAGE, key, -limit, None)
        records: list[dict[str, Any]] = items
        return records

    # -- conversation history (seed 002)
    def save_conversation_history(
        self, conversation_id: str, messages: Iterable[Any], namespace: str
    ) -> Plan[int]:
        plans = _Plans(conversation_id, self.agent, namespace, None, self.clock)
        if (yield from self._exists(plans.ns)):
            yield from delete_prefix(self.agent, plans.ns, plans.msg_key)
        count = 0
        for m in messages:
            metadata: Any
            if isinstance(m, Message):
                role, content, metadata = m.role, m.content, m.metadata
            elif isinstance(m, dict) and "role" in m:
                role, content, metadata = m["role"], m.get("content"), m.get("metadata")
            else:
                raise InvalidArgument("each message is a Message or a dict with role and content")
            yield from plans.add_message(role, content, metadata)
            count += 1
        return count

    def _exists(self, ns: str) -> Plan[bool]:
        try:
            yield o.GetNamespace(agent=self.agent, ns=ns)
        except NamespaceNotFound:
            return False
        return True

    def load_conversation_history(
        self, conversation_id: str, limit: int | None, namespace: str
    ) -> Plan[list[dict[str, Any]]]:
        plans = _Plans(conversation_id, self.agent, namespace, None, self.clock)
        messages = yield from plans.get_messages(limit)
        return [m.to_dict() for m in messages]

    # -- summary
    def summary(self) -> Plan[dict[str, Any]]:
        recent = yield o.AccessLogQuery(agent=self.agent, limit=10)  # before our own reads
        stats = yield o.Stats(agent=self.agent)
        entity_types: Counter[str] = Counter()
        for e in (yield from self._scan(ENTITIES, "")):
            entity_types[e.key.split("/", 1)[0]] += 1
        tools: dict[str, int] = {}
        for e in (yield from self._scan(TOOL_USAGE, "tool/")):
            name = e.key[len("tool/") :]
            if "/" not in name:
                _, length = yield o.ListRange(
                    agent=self.agent, ns=TOOL_USAGE, key=e.key, start=0, stop=0
                )
                tools[unquote(name)] = length
        conversations = []
        for meta in (yield from self._scan(CONVERSATIONS, "m/")):
            cid = meta.key[2:]
            plans = _Plans(cid, self.agent, CONVERSATIONS, None, self.clock)
            _, count = yield from plans.range(plans.msg_key, 0, 0)
            conversations.append({"conversation_id": cid, "message_count": count})
        return {
            "namespaces": {
                name: {"entries": ns["entries"], "revision": ns["revision"]}
                for name, ns in stats["per_namespace"].items()
            },
            "total_entries": stats["total_entries"],
            "conversations": {"total": len(conversations), "items": conversations},
            "entities": dict(sorted(entity_types.items())),
            "tools": dict(sorted(tools.items())),
            "recent_activity": [r.to_dict() for r in recent],
        }
