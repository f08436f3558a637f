"""Conversation memory (SPEC §7): per-conversation fields, lists and messages.

A conversation lives in a namespace (default ``conversations``; permissions apply as
usual) under its id::

    m/<cid>                 the conversation's record: {ttl, created_at}
    c/<cid>/f/<name>        a field; a list is a field too (a header entry, its items
                            under c/<cid>/f/<name>/...: see hivemem.engine.lists), so
                            set(name, []) then append(name, item) works on one name
    c/<cid>/msg             the messages (a list of Message records)

Names are percent-encoded, so any name works. List and message operations are atomic ops
of the store (``ListPush``, ``ListPop``...): two agents appending at once both land, and
an append costs the same at the 10th and the 100,000th item.

Every method is written once, as a generator that yields ops and receives their results
(:mod:`hivemem._plan`); :class:`AsyncConversation` drives it with ``await``, and
:class:`Conversation`, generated from it (``python -m hivemem._unasync``), synchronously.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, unquote

from hivemem import _codec
from hivemem import _validate as v
from hivemem._plan import adrive, drive
from hivemem.engine import ops as o
from hivemem.engine.lists import MAX_RANGE, is_header
from hivemem.errors import (
    ConflictError,
    IndexOutOfRange,
    InvalidArgument,
    ItemNotFound,
    NamespaceNotFound,
)
from hivemem.types import Message

if TYPE_CHECKING:
    from hivemem._plan import AsyncHandle, Handle

__all__ = [
    "DEFAULT_NAMESPACE",
    "AsyncConversation",
    "AsyncConversations",
    "Conversation",
    "Conversations",
]

#: Where conversations live unless told otherwise.
DEFAULT_NAMESPACE = "conversations"
T = TypeVar("T")
Plan = Generator[o.Op[Any], Any, T]

_MISSING: Any = object()


def list_range(
    agent: str, ns: str, key: str, start: int, stop: int | None
) -> Plan[tuple[list[Any], int]]:
    """The items ``[start:stop]`` of a list and its length, one op per :data:`MAX_RANGE` items.

    (Each op reads at most that many; the pages are not one snapshot.) A missing namespace
    reads as an empty list.
    """
    try:
        items, length = yield o.ListRange(agent=agent, ns=ns, key=key, start=start, stop=stop)
    except NamespaceNotFound:
        return [], 0
    first, last, _ = slice(start, stop).indices(length)
    for page in range(first + MAX_RANGE, last, MAX_RANGE):  # at most length / MAX_RANGE
        more, _ = yield o.ListRange(agent=agent, ns=ns, key=key, start=page, stop=last)
        items.extend(more)
    return items, length


def delete_prefix(agent: str, ns: str, prefix: str) -> Plan[int]:
    """Delete every entry under ``prefix`` (one op deletes at most ``MAX_PREFIX``); how many.

    Each op deletes stored rows, expired ones too, so every round makes progress; the last
    round finds no live entry left (expired ones are the sweeper's).
    """
    total = 0
    while True:
        count: int = yield o.DeletePrefix(agent=agent, ns=ns, prefix=prefix)
        total += count
        page = yield o.ListEntries(agent=agent, ns=ns, prefix=prefix, limit=1)
        if not page.items:
            return total


def _check_id(cid: Any) -> str:
    if type(cid) is not str or not cid or len(cid) > 200 or "/" in cid:
        raise InvalidArgument(
            f"invalid conversation id {cid!r}: use 1-200 characters, no '/' or control chars"
        )
    v.check_key(cid)
    return cid


def _name(name: Any) -> str:
    if type(name) is not str or not name or len(name) > 200:
        raise InvalidArgument(f"invalid name {name!r}: names are 1-200 characters")
    try:
        return quote(name, safe="")
    except UnicodeEncodeError:
        raise InvalidArgument("invalid name: not valid UTF-8 (lone surrogate)") from None


class _Plans:
    """The ops of one conversation, as generators shared by both twins."""

    def __init__(self, cid: str, agent: str, namespace: str, ttl: float | None, clock: Any) -> None:
        self.cid = _check_id(cid)
        self.agent = agent
        self.ns = v.check_namespace(namespace)
        self.ttl = v.check_ttl(ttl)
        self.clock = clock
        self.base = f"c/{self.cid}/"
        self.meta_key = f"m/{self.cid}"
        self._meta_done = False

    def field_key(self, name: str) -> str:
        return f"{self.base}f/{_name(name)}"

    def list_key(self, name: str) -> str:
        return self.field_key(name)

    @property
    def msg_key(self) -> str:
        return f"{self.base}msg"

    def _encode(self, value: Any) -> str:
        return _codec.encode_value(value, 1 << 20)

    # -- the conversation's record (created on first write; carries its TTL)
    def ensure(self) -> Plan[None]:
        if self._meta_done:
            return
        try:
            meta = yield o.Get(agent=self.agent, ns=self.ns, key=self.meta_key)
        except NamespaceNotFound:
            meta = None  # the first write creates the namespace
        if meta is None:
            record = {"ttl": self.ttl, "created_at": self.clock()}
            with contextlib.suppress(ConflictError):  # created meanwhile by someone else
                yield o.Put(
                    agent=self.agent,
                    ns=self.ns,
                    key=self.meta_key,
                    value_json=self._encode(record),
                    expected_version=0,
                )
        elif self.ttl is None and isinstance(meta.value, dict):
            self.ttl = meta.value.get("ttl")
        self._meta_done = True

    # -- fields
    def set(self, name: str, value: Any, ttl: float | None) -> Plan[None]:
        yield from self.ensure()
        ttl = v.check_ttl(ttl) if ttl is not None else self.ttl
        yield o.Put(
            agent=self.agent,
            ns=self.ns,
            key=self.field_key(name),
            value_json=self._encode(value),
            ttl=ttl,
        )

    def get(self, name: str, default: Any) -> Plan[Any]:
        try:
            entry = yield o.Get(agent=self.agent, ns=self.ns, key=self.field_key(name))
        except NamespaceNotFound:
            return default
        if entry is None:
            return default
        if is_header(entry.value):
            items, _ = yield from self.range(entry.key, 0, None)
            return items
        return entry.value

    def delete(self, name: str) -> Plan[bool]:
        deleted: bool = yield o.Delete(agent=self.agent, ns=self.ns, key=self.field_key(name))
        return deleted

    def update(self, mapping: Mapping[str, Any]) -> Plan[None]:
        if not isinstance(mapping, Mapping):
            raise InvalidArgument("update takes a mapping of name to value")
        if not mapping:
            return
        yield from self.ensure()
        items = tuple((self.field_key(k), self._encode(val)) for k, val in mapping.items())
        yield o.PutMany(agent=self.agent, ns=self.ns, items=items, ttl=self.ttl)

    def items(self) -> Plan[list[tuple[str, Any]]]:
        prefix = f"{self.base}f/"
        out: list[tuple[str, Any]] = []
        cursor = None
        while True:
            try:
                page = yield o.ListEntries(
                    agent=self.agent, ns=self.ns, prefix=prefix, limit=1000, cursor=cursor
                )
            except NamespaceNotFound:
                return []
            for e in page.items:
                name = e.key[len(prefix) :]
                if "/" in name:
                    continue  # an item of a list
                value = e.value
                if is_header(value):
                    value, _ = yield from self.range(e.key, 0, None)
                out.append((unquote(name), value))
            if page.next_cursor is None:
                return out
            cursor = page.next_cursor

    # -- lists
    def push(self, key: str, items: list[Any]) -> Plan[int]:
        yield from self.ensure()
        length: int = yield o.ListPush(
            agent=self.agent,
            ns=self.ns,
            key=key,
            items=tuple(self._encode(i) for i in items),
            ttl=self.ttl,
        )
        return length

    def pop(self, name: str, index: int) -> Plan[Any]:
        op = o.ListPop(agent=self.agent, ns=self.ns, key=self.list_key(name), index=index)
        try:
            value = yield op
        except NamespaceNotFound:
            raise IndexOutOfRange(f"list {name!r} is empty") from None
        return value

    def insert(self, name: str, index: int, item: Any) -> Plan[int]:
        yield from self.ensure()
        length: int = yield o.ListInsert(
            agent=self.agent,
            ns=self.ns,
            key=self.list_key(name),
            index=_int(index, "index"),
            item=self._encode(item),
            ttl=self.ttl,
        )
        return length

    def remove(self, name: str, item: Any) -> Plan[int]:
        op = o.ListRemove(
            agent=self.agent, ns=self.ns, key=self.list_key(name), item=self._encode(item)
        )
        try:
            length: int = yield op
        except NamespaceNotFound:
            raise ItemNotFound(f"list {name!r} holds no item equal to {item!r}") from None
        return length

    def range(self, key: str, start: int, stop: int | None) -> Plan[tuple[list[Any], int]]:
        got: tuple[list[Any], int] = yield from list_range(self.agent, self.ns, key, start, stop)
        return got

    # -- messages
    def add_message(self, role: str, content: Any, metadata: Any) -> Plan[Message]:
        if type(role) is not str or not role or len(role) > 200:
            raise InvalidArgument("role must be a non-empty string of at most 200 characters")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise InvalidArgument("metadata must be a mapping (or None)")
        message = Message(uuid.uuid4().hex, role, content, dict(metadata or {}), self.clock())
        yield from self.push(self.msg_key, [message.to_dict()])
        return message

    def get_messages(self, limit: int | None) -> Plan[list[Message]]:
        if limit is not None:
            limit = v.check_limit(limit, maximum=1_000_000)
        items, _ = yield from self.range(self.msg_key, -limit if limit else 0, None)
        return [Message.from_dict(m) for m in items]

    # -- lifetime
    def set_ttl(self, seconds: float | None) -> Plan[int]:
        ttl = v.check_ttl(seconds)
        yield from self.ensure()
        record = {"ttl": ttl, "created_at": self.clock()}
        yield o.Put(
            agent=self.agent, ns=self.ns, key=self.meta_key, value_json=self._encode(record)
        )
        self.ttl = ttl
        count: int = yield o.ExpirePrefix(agent=self.agent, ns=self.ns, prefix=self.base, ttl=ttl)
        return count

    def clear_all(self) -> Plan[int]:
        count: int = yield from delete_prefix(self.agent, self.ns, self.base)
        return count

    def size(self) -> Plan[dict[str, int]]:
        fields = 0
        size = 0
        cursor = None
        while True:
            try:
                page = yield o.ListEntries(
                    agent=self.agent, ns=self.ns, prefix=self.base, limit=1000, cursor=cursor
                )
            except NamespaceNotFound:
                break
            for e in page.items:
                size += len(_codec.encode(e.value).encode())
                rest = e.key[len(self.base) + 2 :]
                if e.key.startswith(f"{self.base}f/") and "/" not in rest:
                    fields += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        _, messages = yield from self.range(self.msg_key, 0, 0)
        return {"total_fields": fields, "total_size_bytes": size, "message_count": messages}


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name} must be an integer")
    return value


# ---------------------------------------------------------------- one conversation


class AsyncConversation:
    """The asyncio twin of :class:`Conversation` (same names, awaitable)."""

    # -- unasync source "conversation": Conversation's methods are generated from here
    def __init__(
        self, mem: AsyncHandle, cid: str, agent: str, namespace: str, ttl: float | None
    ) -> None:
        self._mem = mem
        self._p = _Plans(cid, agent, namespace, ttl, mem._c.settings.clock)

    @property
    def id(self) -> str:
        """The conversation id."""
        return self._p.cid

    # fields
    async def set(self, name: str, value: Any, ttl: float | None = None) -> None:
        """Set a field (``ttl`` overrides the conversation's TTL for this field)."""
        await adrive(self._mem._run, self._p.set(name, value, ttl))

    async def get(self, name: str, default: Any = None) -> Any:
        """A field's value, or ``default``."""
        return await adrive(self._mem._run, self._p.get(name, default))

    async def update(self, mapping: Mapping[str, Any]) -> None:
        """Set several fields at once (all or nothing)."""
        await adrive(self._mem._run, self._p.update(mapping))

    async def delete(self, name: str) -> bool:
        """Delete a field; return whether it existed."""
        return await adrive(self._mem._run, self._p.delete(name))

    async def keys(self) -> list[str]:
        """Field names, sorted."""
        return [k for k, _ in await adrive(self._mem._run, self._p.items())]

    async def items(self) -> list[tuple[str, Any]]:
        """``(name, value)`` of every field, sorted by name."""
        return await adrive(self._mem._run, self._p.items())

    async def contains(self, name: str) -> bool:
        """Whether the field exists."""
        return await adrive(self._mem._run, self._p.get(name, _MISSING)) is not _MISSING

    # lists
    async def append(self, name: str, item: Any) -> int:
        """Append an item to a list (created if absent); return its new length."""
        return await adrive(self._mem._run, self._p.push(self._p.list_key(name), [item]))

    async def extend(self, name: str, items: list[Any]) -> int:
        """Append several items, atomically; return the new length."""
        return await adrive(self._mem._run, self._p.push(self._p.list_key(name), list(items)))

    async def pop(self, name: str, index: int = -1) -> Any:
        """Remove and return an item (default the last). Raises IndexError if empty."""
        return await adrive(self._mem._run, self._p.pop(name, index))

    async def insert(self, name: str, index: int, item: Any) -> int:
        """Insert ``item`` before ``index``; return the new length."""
        return await adrive(self._mem._run, self._p.insert(name, index, item))

    async def remove(self, name: str, item: Any) -> int:
        """Remove the first item equal to ``item``. Raises ValueError if absent."""
        return await adrive(self._mem._run, self._p.remove(name, item))

    async def get_list(self, name: str) -> list[Any]:
        """Every item of a list (``[]`` if absent)."""
        items, _ = await adrive(self._mem._run, self._p.range(self._p.list_key(name), 0, None))
        return items

    async def list_length(self, name: str) -> int:
        """A list's length (0 if absent)."""
        _, length = await adrive(self._mem._run, self._p.range(self._p.list_key(name), 0, 0))
        return length

    # messages
    async def add_message(self, role: str, content: Any, metadata: Any = None) -> Message:
        """Append a message; return it (with its id and timestamp)."""
        return await adrive(self._mem._run, self._p.add_message(role, content, metadata))

    async def get_messages(self, limit: int | None = None) -> list[Message]:
        """The last ``limit`` messages (all by default), oldest first."""
        return await adrive(self._mem._run, self._p.get_messages(limit))

    async def get_message_count(self) -> int:
        """How many messages the conversation holds."""
        _, count = await adrive(self._mem._run, self._p.range(self._p.msg_key, 0, 0))
        return count

    # lifetime
    async def set_ttl(self, seconds: float | None) -> int:
        """Expire every field, list and message ``seconds`` from now (``None``: never)."""
        return await adrive(self._mem._run, self._p.set_ttl(seconds))

    async def clear_all(self) -> int:
        """Delete every field, list and message; return how many entries went."""
        return await adrive(self._mem._run, self._p.clear_all())

    async def get_memory_size(self) -> dict[str, int]:
        """``{total_fields, total_size_bytes, message_count}``."""
        return await adrive(self._mem._run, self._p.size())

    # -- end of unasync source "conversation"


class Conversation:
    """One conversation's fields, lists and messages (sync). From ``mem.conversation(id)``."""

    # -- generated from conversations.py ("conversation"): do not edit
    def __init__(
        self, mem: Handle, cid: str, agent: str, namespace: str, ttl: float | None
    ) -> None:
        self._mem = mem
        self._p = _Plans(cid, agent, namespace, ttl, mem._c.settings.clock)

    @property
    def id(self) -> str:
        """The conversation id."""
        return self._p.cid

    # fields
    def set(self, name: str, value: Any, ttl: float | None = None) -> None:
        """Set a field (``ttl`` overrides the conversation's TTL for this field)."""
        drive(self._mem._run, self._p.set(name, value, ttl))

    def get(self, name: str, default: Any = None) -> Any:
        """A field's value, or ``default``."""
        return drive(self._mem._run, self._p.get(name, default))

    def update(self, mapping: Mapping[str, Any]) -> None:
        """Set several fields at once (all or nothing)."""
        drive(self._mem._run, self._p.update(mapping))

    def delete(self, name: str) -> bool:
        """Delete a field; return whether it existed."""
        return drive(self._mem._run, self._p.delete(name))

    def keys(self) -> list[str]:
        """Field names, sorted."""
        return [k for k, _ in drive(self._mem._run, self._p.items())]

    def items(self) -> list[tuple[str, Any]]:
        """``(name, value)`` of every field, sorted by name."""
        return drive(self._mem._run, self._p.items())

    def contains(self, name: str) -> bool:
        """Whether the field exists."""
        return drive(self._mem._run, self._p.get(name, _MISSING)) is not _MISSING

    # lists
    def append(self, name: str, item: Any) -> int:
        """Append an item to a list (created if absent); return its new length."""
        return drive(self._mem._run, self._p.push(self._p.list_key(name), [item]))

    def extend(self, name: str, items: list[Any]) -> int:
        """Append several items, atomically; return the new length."""
        return drive(self._mem._run, self._p.push(self._p.list_key(name), list(items)))

    def pop(self, name: str, index: int = -1) -> Any:
        """Remove and return an item (default the last). Raises IndexError if empty."""
        return drive(self._mem._run, self._p.pop(name, index))

    def insert(self, name: str, index: int, item: Any) -> int:
        """Insert ``item`` before ``index``; return the new length."""
        return drive(self._mem._run, self._p.insert(name, index, item))

    def remove(self, name: str, item: Any) -> int:
        """Remove the first item equal to ``item``. Raises ValueError if absent."""
        return drive(self._mem._run, self._p.remove(name, item))

    def get_list(self, name: str) -> list[Any]:
        """Every item of a list (``[]`` if absent)."""
        items, _ = drive(self._mem._run, self._p.range(self._p.list_key(name), 0, None))
        return items

    def list_length(self, name: str) -> int:
        """A list's length (0 if absent)."""
        _, length = drive(self._mem._run, self._p.range(self._p.list_key(name), 0, 0))
        return length

    # messages
    def add_message(self, role: str, content: Any, metadata: Any = None) -> Message:
        """Append a message; return it (with its id and timestamp)."""
        return drive(self._mem._run, self._p.add_message(role, content, metadata))

    def get_messages(self, limit: int | None = None) -> list[Message]:
        """The last ``limit`` messages (all by default), oldest first."""
        return drive(self._mem._run, self._p.get_messages(limit))

    def get_message_count(self) -> int:
        """How many messages the conversation holds."""
        _, count = drive(self._mem._run, self._p.range(self._p.msg_key, 0, 0))
        return count

    # lifetime
    def set_ttl(self, seconds: float | None) -> int:
        """Expire every field, list and message ``seconds`` from now (``None``: never)."""
        return drive(self._mem._run, self._p.set_ttl(seconds))

    def clear_all(self) -> int:
        """Delete every field, list and message; return how many entries went."""
        return drive(self._mem._run, self._p.clear_all())

    def get_memory_size(self) -> dict[str, int]:
        """``{total_fields, total_size_bytes, message_count}``."""
        return drive(self._mem._run, self._p.size())

    # -- end of generated "conversation"

    # Item access is sync only: ``await`` cannot run inside ``conv[name]``.
    def __getitem__(self, name: str) -> Any:
        value = drive(self._mem._run, self._p.get(name, _MISSING))
        if value is _MISSING:
            raise KeyError(name)
        return value

    def __setitem__(self, name: str, value: Any) -> None:
        self.set(name, value)

    def __delitem__(self, name: str) -> None:
        if not self.delete(name):
            raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.contains(name)


# ---------------------------------------------------------------- the manager


class _ManagerPlans:
    def __init__(self, agent: str, namespace: str, clock: Any) -> None:
        self.agent = agent
        self.ns = namespace
        self.clock = clock

    def ids(self) -> Plan[list[str]]:
        out: list[str] = []
        cursor = None
        while True:
            try:
                page = yield o.ListEntries(
                    agent=self.agent, ns=self.ns, prefix="m/", limit=1000, cursor=cursor
                )
            except NamespaceNotFound:
                return []
            out.extend(e.key[2:] for e in page.items)
            if page.next_cursor is None:
                return out
            cursor = page.next_cursor

    def cleanup(self, cid: str) -> Plan[int]:
        cid = _check_id(cid)
        try:
            count: int = yield from delete_prefix(self.agent, self.ns, f"c/{cid}/")
        except NamespaceNotFound:
            return 0
        yield o.Delete(agent=self.agent, ns=self.ns, key=f"m/{cid}")
        return count

    def last_active(self, cid: str) -> Plan[float]:
        last = 0.0
        for prefix in (f"c/{cid}/", f"m/{cid}"):
            cursor = None
            while True:
                page = yield o.ListEntries(
                    agent=self.agent, ns=self.ns, prefix=prefix, limit=1000, cursor=cursor
                )
                for e in page.items:
                    if prefix.startswith("m/") and e.key != prefix:
                        continue
                    last = max(last, e.updated_at)
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
        return last

    def cleanup_expired(self, max_age: float) -> Plan[int]:
        if isinstance(max_age, bool) or not isinstance(max_age, int | float) or max_age < 0:
            raise InvalidArgument("max_age_seconds must be a number >= 0")
        removed = 0
        now = self.clock()
        for cid in (yield from self.ids()):
            last = yield from self.last_active(cid)
            if now - last > max_age:
                yield from self.cleanup(cid)
                removed += 1
        return removed

    def stats(self) -> Plan[dict[str, Any]]:
        rows = []
        for cid in (yield from self.ids()):
            plans = _Plans(cid, self.agent, self.ns, None, self.clock)
            size = yield from plans.size()
            rows.append({"conversation_id": cid, **size})
        return {"total_conversations": len(rows), "conversations": rows}


class AsyncConversations:
    """The asyncio twin of :class:`Conversations`."""

    # -- unasync source "conversations": Conversations' methods are generated from here
    def __init__(self, mem: AsyncHandle, agent: str, namespace: str = DEFAULT_NAMESPACE) -> None:
        self._mem = mem
        self._p = _ManagerPlans(agent, v.check_namespace(namespace), mem._c.settings.clock)

    async def list(self) -> list[str]:
        """Conversation ids, sorted."""
        return await adrive(self._mem._run, self._p.ids())

    async def cleanup(self, conversation_id: str) -> int:
        """Delete a conversation and everything in it; return how many entries went."""
        return await adrive(self._mem._run, self._p.cleanup(conversation_id))

    async def cleanup_expired(self, max_age_seconds: float = 86400) -> int:
        """Delete conversations idle longer than ``max_age_seconds``; return how many."""
        return await adrive(self._mem._run, self._p.cleanup_expired(max_age_seconds))

    async def stats(self) -> dict[str, Any]:
        """``{total_conversations, conversations: [{conversation_id, total_fields, ...}]}``."""
        return await adrive(self._mem._run, self._p.stats())

    # -- end of unasync source "conversations"


class Conversations:
    """Every conversation of a namespace (sync): ``mem.conversations``."""

    # -- generated from conversations.py ("conversations"): do not edit
    def __init__(self, mem: Handle, agent: str, namespace: str = DEFAULT_NAMESPACE) -> None:
        self._mem = mem
        self._p = _ManagerPlans(agent, v.check_namespace(namespace), mem._c.settings.clock)

    def list(self) -> list[str]:
        """Conversation ids, sorted."""
        return drive(self._mem._run, self._p.ids())

    def cleanup(self, conversation_id: str) -> int:
        """Delete a conversation and everything in it; return how many entries went."""
        return drive(self._mem._run, self._p.cleanup(conversation_id))

    def cleanup_expired(self, max_age_seconds: float = 86400) -> int:
        """Delete conversations idle longer than ``max_age_seconds``; return how many."""
        return drive(self._mem._run, self._p.cleanup_expired(max_age_seconds))

    def stats(self) -> dict[str, Any]:
        """``{total_conversations, conversations: [{conversation_id, total_fields, ...}]}``."""
        return drive(self._mem._run, self._p.stats())

    # -- end of generated "conversations"
