"""Lists and prefix operations over plain entries, atomic on every backend.

A list at ``key`` is a header entry ``key`` holding ``{"$list": [h, t]}`` and one entry
per item at ``key/<position>`` for positions ``h <= p < t`` (positions are fixed-width hex
of ``p + 2**63``, so key order is list order). Appending or prepending writes the item and
the header: the cost does not grow with the list. Popping the last or first item is the
same; inserting or removing in the middle shifts the items after that point.

Items are ordinary entries: they carry owners, versions, revisions and TTLs, emit
``memory:write``/``memory:delete`` events and count against ``max_entries``. Items that
expired at the head of a list (the oldest, under a conversation TTL) are skipped by
readers and dropped by the next write. A key holding a plain JSON list (written with
``write``/``set``) becomes a list on the first list operation, with the same items.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hivemem import _codec
from hivemem.backends.base import Stored
from hivemem.engine import ops as o
from hivemem.engine.permissions import READ, WRITE
from hivemem.errors import IndexOutOfRange, InvalidArgument, ItemNotFound, WrongType

if TYPE_CHECKING:
    from hivemem.engine.apply import Ctx
    from hivemem.types import NamespaceInfo

__all__ = ["HANDLERS", "HEADER", "is_header", "item_key"]

_OFFSET = 1 << 63
#: The header of a list: ``{"$list": [head, tail]}``.
HEADER = "$list"


def is_header(value: Any) -> bool:
    """Whether a stored value is a list header."""
    return (
        isinstance(value, dict)
        and len(value) == 1
        and isinstance(value.get(HEADER), list)
        and len(value[HEADER]) == 2
    )


#: Bytes an item key adds to its list's key.
ITEM_SUFFIX = 17


def item_key(key: str, position: int) -> str:
    """The key of the item at ``position`` of the list at ``key``."""
    return f"{key}/{position + _OFFSET:016x}"


def _apply() -> Any:
    from hivemem.engine import apply

    return apply


class _List:
    """A list's header as read inside one op."""

    def __init__(self, ctx: Ctx, op: o.Op[Any], info: NamespaceInfo, key: str, write: bool):
        if len(key.encode()) + ITEM_SUFFIX > 1024:
            raise InvalidArgument(f"list key is too long: at most {1024 - ITEM_SUFFIX} bytes")
        self.ctx, self.op, self.info, self.key, self.write = ctx, op, info, key, write
        a = _apply()
        raw = ctx.tx.entry_get(info.name, key)
        live = a._live(raw, ctx.now)
        if raw is not None and live is None and write:
            a._expire(ctx, info.name, key, raw)
        value = _codec.decode(live.value_json) if live is not None else None
        self.plain: list[Any] | None = None
        self.head = self.tail = 0
        if is_header(value):
            assert isinstance(value, dict)
            self.head, self.tail = (int(x) for x in value[HEADER])
        elif isinstance(value, list):
            # A plain JSON list stored by a write: it becomes a list on the first list op.
            self.plain = value
        elif value is not None:
            raise WrongType(
                f"{key!r} holds a {type(value).__name__}, not a list: set it to a list first"
            )
        self.before = (self.head, self.tail)
        if self.plain is not None and write:
            expires = live.expires_at if live is not None else None
            for item in self.plain:
                self.put(self.tail, _codec.encode(item), expires)
                self.tail += 1
            self.plain = None
            self.before = (None, None)  # type: ignore[assignment]  # the header must be written
        self._skip_expired_head()

    def _skip_expired_head(self) -> None:
        a = _apply()
        ns = self.info.name
        while self.head < self.tail:
            k = item_key(self.key, self.head)
            raw = self.ctx.tx.entry_get(ns, k)
            if a._live(raw, self.ctx.now) is not None:
                return
            if raw is not None and self.write:
                a._expire(self.ctx, ns, k, raw)
            self.head += 1

    def __len__(self) -> int:
        return self.tail - self.head

    def position(self, index: int, *, insert: bool = False) -> int:
        """The position of a Python index (``insert``: clamped, as ``list.insert`` does)."""
        n = len(self)
        if insert:
            i = max(0, min(n, index + n if index < 0 else index))
            return self.head + i
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexOutOfRange(
                f"list {self.key!r} has {n} items: index {index} is out of range"
                if n
                else f"list {self.key!r} is empty"
            )
        return self.head + i

    def read(self, position: int) -> Stored | None:
        raw = self.ctx.tx.entry_get(self.info.name, item_key(self.key, position))
        live: Stored | None = _apply()._live(raw, self.ctx.now)
        return live

    def put(self, position: int, value_json: str, expires_at: float | None) -> None:
        _put(self.ctx, self.op, self.info, item_key(self.key, position), value_json, expires_at)

    def delete(self, position: int) -> None:
        _delete(self.ctx, self.op, self.info.name, item_key(self.key, position))

    def prefetch(self, start: int, stop: int) -> None:
        """Read the items at positions ``[start, stop)`` in one step where the store can."""
        if stop > start:
            keys = [item_key(self.key, p) for p in range(start, stop)]
            self.ctx.tx.entries_get(self.info.name, keys)

    def save(self, expires_at: float | None, *, force: bool = False) -> None:
        if (self.head, self.tail) == self.before and not force:
            return
        ns = self.info.name
        if self.head == self.tail:
            if self.ctx.tx.entry_get(ns, self.key) is not None:
                _delete(self.ctx, self.op, ns, self.key)
            return
        header = _codec.encode({HEADER: [self.head, self.tail]})
        _put(self.ctx, self.op, self.info, self.key, header, expires_at)


def _expires(ctx: Ctx, info: NamespaceInfo, ttl: float | None) -> float | None:
    ttl = ttl if ttl is not None else info.ttl
    return ctx.now + ttl if ttl is not None else None


def _put(
    ctx: Ctx,
    op: o.Op[Any],
    info: NamespaceInfo,
    key: str,
    value_json: str,
    expires_at: float | None,
) -> None:
    """Write one entry unconditionally (list internals know no conflict strategy)."""
    a = _apply()
    ns = info.name
    raw = ctx.tx.entry_get(ns, key)
    cur = a._live(raw, ctx.now)
    if raw is not None and cur is None:
        a._expire(ctx, ns, key, raw)
    if cur is None and info.max_entries is not None:
        a._check_room(ctx, info)
    rev = ctx.tx.rev_next(ns)
    s = Stored(
        value_json,
        op.agent,
        cur.version + 1 if cur else 1,
        rev,
        cur.created_at if cur else ctx.now,
        ctx.now,
        expires_at,
    )
    ctx.tx.entry_put(ns, key, s)
    event = a.Event(
        "memory:write",
        ns,
        rev,
        ctx.now,
        op.agent,
        key=key,
        value=_codec.decode(value_json),
        version=s.version,
    )
    ctx.tx.event_append(event)
    ctx.stream.append(event)


def _delete(ctx: Ctx, op: o.Op[Any], ns: str, key: str) -> None:
    raw = ctx.tx.entry_get(ns, key)
    if raw is None:
        return
    ctx.tx.entry_delete(ns, key)
    ctx.emit("memory:delete", ns, op.agent, key=key, version=raw.version)


def list_push(ctx: Ctx, op: o.ListPush) -> int:
    info = _apply()._namespace(ctx, op, op.ns, WRITE, create=True)
    lst = _List(ctx, op, info, op.key, True)
    expires = _expires(ctx, info, op.ttl)
    lst.prefetch(lst.tail, lst.tail + len(op.items))
    for item in op.items:
        lst.put(lst.tail, item, expires)
        lst.tail += 1
    lst.save(expires, force=True)  # an append refreshes the header's TTL too
    return len(lst)


def list_pop(ctx: Ctx, op: o.ListPop) -> Any:
    info = _apply()._namespace(ctx, op, op.ns, WRITE)
    lst = _List(ctx, op, info, op.key, True)
    pos = lst.position(op.index)
    stored = lst.read(pos)
    value = _codec.decode(stored.value_json) if stored is not None else None
    header = ctx.tx.entry_get(info.name, op.key)
    expires = header.expires_at if header is not None else None
    if pos == lst.tail - 1:
        lst.delete(pos)
        lst.tail -= 1
    elif pos == lst.head:
        lst.delete(pos)
        lst.head += 1
    else:
        _shift_down(lst, pos)
    lst.save(expires)
    return value


def _shift_down(lst: _List, pos: int) -> None:
    """Remove the item at ``pos`` by moving every later item one place towards the head."""
    lst.prefetch(pos, lst.tail)
    for p in range(pos, lst.tail - 1):
        nxt = lst.read(p + 1)
        if nxt is None:
            lst.delete(p)
        else:
            lst.put(p, nxt.value_json, nxt.expires_at)
    lst.delete(lst.tail - 1)
    lst.tail -= 1


def list_insert(ctx: Ctx, op: o.ListInsert) -> int:
    info = _apply()._namespace(ctx, op, op.ns, WRITE, create=True)
    lst = _List(ctx, op, info, op.key, True)
    expires = _expires(ctx, info, op.ttl)
    pos = lst.position(op.index, insert=True)
    if pos == lst.head and len(lst):
        lst.head -= 1
        lst.put(lst.head, op.item, expires)
    else:
        lst.prefetch(pos, lst.tail + 1)
        for p in range(lst.tail, pos, -1):
            prev = lst.read(p - 1)
            if prev is not None:
                lst.put(p, prev.value_json, prev.expires_at)
        lst.put(pos, op.item, expires)
        lst.tail += 1
    lst.save(expires)
    return len(lst)


def list_remove(ctx: Ctx, op: o.ListRemove) -> int:
    info = _apply()._namespace(ctx, op, op.ns, WRITE)
    lst = _List(ctx, op, info, op.key, True)
    wanted = _codec.decode(op.item)
    lst.prefetch(lst.head, lst.tail)
    for pos in range(lst.head, lst.tail):
        stored = lst.read(pos)
        if stored is not None and _codec.decode(stored.value_json) == wanted:
            header = ctx.tx.entry_get(info.name, op.key)
            if pos == lst.head:
                lst.delete(pos)
                lst.head += 1
            else:
                _shift_down(lst, pos)
            lst.save(header.expires_at if header is not None else None)
            return len(lst)
    raise ItemNotFound(f"list {op.key!r} holds no item equal to {wanted!r}")


def list_range(ctx: Ctx, op: o.ListRange) -> tuple[list[Any], int]:
    info = _apply()._namespace(ctx, op, op.ns, READ)
    lst = _List(ctx, op, info, op.key, False)
    if lst.plain is not None:
        return lst.plain[op.start : op.stop], len(lst.plain)
    start, stop, _ = slice(op.start, op.stop).indices(len(lst))
    lst.prefetch(lst.head + start, lst.head + max(start, stop))
    items = []
    for pos in range(lst.head + start, lst.head + max(start, stop)):
        stored = lst.read(pos)
        if stored is not None:
            items.append(_codec.decode(stored.value_json))
    return items, len(lst)


def expire_prefix(ctx: Ctx, op: o.ExpirePrefix) -> int:
    a = _apply()
    info = a._namespace(ctx, op, op.ns, WRITE)
    expires = ctx.now + op.ttl if op.ttl is not None else None
    count = 0
    for key, s in ctx.tx.entries_scan(info.name, op.prefix, None, None):
        if a._live(s, ctx.now) is None:
            continue
        rev = ctx.tx.rev_next(info.name)
        s = s._replace(version=s.version + 1, revision=rev, updated_at=ctx.now, expires_at=expires)
        ctx.tx.entry_put(info.name, key, s)
        event = a.Event(
            "memory:write",
            info.name,
            rev,
            ctx.now,
            op.agent,
            key=key,
            value=_codec.decode(s.value_json),
            version=s.version,
        )
        ctx.tx.event_append(event)
        ctx.stream.append(event)
        count += 1
    return count


def delete_prefix(ctx: Ctx, op: o.DeletePrefix) -> int:
    a = _apply()
    info = a._namespace(ctx, op, op.ns, WRITE)
    count = 0
    for key, s in ctx.tx.entries_scan(info.name, op.prefix, None, None):
        live = a._live(s, ctx.now) is not None
        _delete(ctx, op, info.name, key)
        count += live
    return count


HANDLERS: dict[type, Any] = {
    o.ListPush: list_push,
    o.ListPop: list_pop,
    o.ListInsert: list_insert,
    o.ListRemove: list_remove,
    o.ListRange: list_range,
    o.ExpirePrefix: expire_prefix,
    o.DeletePrefix: delete_prefix,
}
