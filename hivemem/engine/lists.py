"""Lists and prefix operations over plain entries, atomic on every backend.

A list at ``key`` is a header entry ``key`` holding ``{"$list": [h, t]}`` and one entry
per item at ``key/<position>`` for positions ``h <= p < t`` (positions are fixed-width hex
of ``p + 2**63``, so key order is list order). Appending or prepending writes the item and
the header: the cost does not grow with the list. Popping the last or first item is the
same; inserting or removing in the middle shifts the items after that point.

Only list operations write headers. A value whose top level is an object with the key
``"$list"`` is *reserved*: every write of a value (``write``, ``write_many``, batches,
merge and resolver results, list items, imports...) refuses it with ``InvalidArgument``
(:func:`check_value`; the fast write paths hand such values to the engine). A header
found in a store written before that rule (or by hand) is checked before use: two
integers ``head <= tail`` within the position range, at most :data:`MAX_LIST_LENGTH`
apart; anything else raises ``WrongType`` (delete the key to reuse it).

Every loop over stored data has a bound: a list holds at most :data:`MAX_LIST_LENGTH`
items; one ``list_range`` returns at most :data:`MAX_RANGE` items (page with start/stop);
inserting or removing in the middle moves at most :data:`MAX_MOVE` items, and so does a
plain list becoming a list; readers skip expired or missing head items with a scan over
what is stored (holes cost nothing), writers drop at most :data:`MAX_MOVE` of them per op
(the sweeper takes the rest); a prefix op touches at most :data:`MAX_PREFIX` entries
(``delete_prefix`` deletes that many per call, call again for more; ``expire_prefix``
refuses a larger prefix).

Items are ordinary entries: they carry owners, versions, revisions and TTLs, emit
``memory:write``/``memory:delete`` events and count against ``max_entries`` (or the
store's default entries cap). Items that expired at the head of a list (the oldest, under
a conversation TTL) are skipped by readers and dropped by the next write. A key holding a
plain JSON list (written with ``write``/``set``) becomes a list on the first list
operation, with the same items.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hivemem import _codec
from hivemem.engine import apply
from hivemem.engine import ops as o
from hivemem.engine.permissions import READ, WRITE
from hivemem.engine.reserved import (
    HEADER,
    MAX_PREFIX,
    check_value,
    is_header,
    maybe_reserved,
    public_after,
)
from hivemem.engine.txn import Stored
from hivemem.errors import IndexOutOfRange, InvalidArgument, ItemNotFound, WrongType
from hivemem.types import Event

if TYPE_CHECKING:
    from collections.abc import Iterator

    from hivemem.engine.apply import Ctx
    from hivemem.types import NamespaceInfo

__all__ = [
    "HANDLERS",
    "HEADER",
    "MAX_LIST_LENGTH",
    "MAX_MOVE",
    "MAX_PREFIX",
    "MAX_RANGE",
    "check_value",
    "header_span",
    "is_header",
    "item_key",
    "item_position",
    "maybe_reserved",
]

_OFFSET = 1 << 63
#: Most items a list holds.
MAX_LIST_LENGTH = 1_000_000
#: Most items one ``list_range`` returns (a longer slice is cut there: page with start/stop).
MAX_RANGE = 10_000
#: Most items one op moves (insert or remove in the middle), converts (a plain list
#: becoming a list) or drops (expired items at the head).
MAX_MOVE = 10_000
#: Rows of the first scan page when skipping a list's head; each next page is 4x larger, so
#: a backend that re-runs an op per page read (Redis) re-runs it a few times, not per row.
_SCAN_PAGE = 256
_SCAN_PAGE_MAX = 1 << 16
_HEX = frozenset("0123456789abcdef")


#: Bytes an item key adds to its list's key.
ITEM_SUFFIX = 17


def item_key(key: str, position: int) -> str:
    """The key of the item at ``position`` of the list at ``key``."""
    return f"{key}/{position + _OFFSET:016x}"


def item_position(item: str, start: int) -> int | None:
    """The position an item key names (its text from ``start``), ``None`` if not an item."""
    digits = item[start:]
    if len(digits) != 16 or not _HEX.issuperset(digits):
        return None
    return int(digits, 16) - _OFFSET


def header_span(key: str, value: dict[str, Any]) -> tuple[int, int]:
    """A stored header's ``(head, tail)``, checked: no header may make an op loop.

    Raises:
        WrongType: the header is not one a list op could have written.
    """
    pair = value.get(HEADER)
    if (
        isinstance(pair, list)
        and len(pair) == 2
        and type(pair[0]) is int
        and type(pair[1]) is int
        and -_OFFSET <= pair[0] <= pair[1] <= _OFFSET
        and pair[1] - pair[0] <= MAX_LIST_LENGTH
    ):
        return pair[0], pair[1]
    raise WrongType(
        f"{key!r} holds an invalid list header {_codec.encode(pair)[:100]}: headers are "
        f"two integers head <= tail at most {MAX_LIST_LENGTH} apart, written only by list "
        "operations; delete the key to reuse it",
        key=key,
    )


class _List:
    """A list's header as read inside one op."""

    def __init__(self, ctx: Ctx, op: o.Op[Any], info: NamespaceInfo, key: str, write: bool):
        if len(key.encode()) + ITEM_SUFFIX > 1024:
            raise InvalidArgument(f"list key is too long: at most {1024 - ITEM_SUFFIX} bytes")
        self.ctx, self.op, self.info, self.key, self.write = ctx, op, info, key, write
        raw = ctx.tx.entry_get(info.name, key)
        live = apply._live(raw, ctx.now)
        if raw is not None and live is None and write:
            apply._expire(ctx, info.name, key, raw)
        value = _codec.decode(live.value_json) if live is not None else None
        self.plain: list[Any] | None = None
        self.head = self.tail = 0
        if isinstance(value, dict) and HEADER in value:  # (is_header)
            self.head, self.tail = header_span(key, value)
        elif isinstance(value, list):
            # A plain JSON list stored by a write: it becomes a list on the first list op.
            self.plain = value
        elif value is not None:
            raise WrongType(
                f"{key!r} holds a {type(value).__name__}, not a list: set it to a list first"
            )
        self.before = (self.head, self.tail)
        if self.plain is not None and write:
            if len(self.plain) > MAX_MOVE:
                raise InvalidArgument(
                    f"{key!r} holds a plain list of {len(self.plain)} items: at most "
                    f"{MAX_MOVE} become a list in one op; write it in smaller parts"
                )
            expires = live.expires_at if live is not None else None
            self.prefetch(self.tail, self.tail + len(self.plain))
            for item in self.plain:
                encoded = _codec.encode(item)
                check_value(encoded)
                self.put(self.tail, encoded, expires)
                self.tail += 1
            self.plain = None
            self.before = (None, None)  # type: ignore[assignment]  # the header must be written
        self._skip_expired_head()

    def _skip_expired_head(self) -> None:
        if self.head == self.tail or self.read(self.head) is not None:
            return  # (the common case: one read)
        ns, now = self.info.name, self.ctx.now
        doomed: list[tuple[str, Stored]] = []
        start, self.head = self.head, self.tail  # (unless a live item is found)
        for pos, raw in self.stored(start):
            if apply._live(raw, now) is not None:
                self.head = pos
                break
            if self.write and len(doomed) < MAX_MOVE:  # the sweeper takes the rest
                doomed.append((item_key(self.key, pos), raw))
        if doomed:
            self.ctx.tx.entries_get(ns, [k for k, _ in doomed])  # (one read where it counts)
            for k, raw in doomed:
                apply._expire(self.ctx, ns, k, raw)

    def stored(self, start: int) -> Iterator[tuple[int, Stored]]:
        """The stored items (expired ones too) at positions ``start <= p < tail``, in order.

        A short span is read by position (one read of its keys); a longer one by one scan of
        what is stored: missing positions cost nothing, so the work is bounded by the rows
        the store holds, whatever the header says. (A scan reads the whole namespace's state
        where the store tracks reads, so short lists keep to their own keys.)
        """
        if start >= self.tail:
            return
        if self.tail - start <= MAX_RANGE:
            self.prefetch(start, self.tail)
            for pos in range(start, self.tail):
                raw = self.read_raw(pos)
                if raw is not None:
                    yield pos, raw
            return
        ns, prefix = self.info.name, self.key + "/"
        head = self.read_raw(start)
        if head is not None:
            yield start, head
        after: str | None = item_key(self.key, start)
        # Keys past the tail's own key hold no item of the span (whatever else they are).
        end = item_key(self.key, self.tail) if self.tail < _OFFSET else None
        page = _SCAN_PAGE
        while True:
            rows = self.ctx.tx.entries_scan(ns, prefix, after, page)
            for k, s in rows:
                if end is not None and k >= end:
                    return
                at = item_position(k, len(prefix))
                if at is None or at < start:
                    continue
                if at >= self.tail:
                    return
                yield at, s
            if len(rows) < page:
                return
            after = rows[-1][0]
            page = min(page * 4, _SCAN_PAGE_MAX)

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

    def grow(self, count: int) -> None:
        """Refuse ``count`` more items beyond :data:`MAX_LIST_LENGTH` or the position range."""
        if len(self) + count > MAX_LIST_LENGTH:
            raise InvalidArgument(
                f"list {self.key!r} holds {len(self)} items: {count} more would pass the "
                f"maximum of {MAX_LIST_LENGTH}",
                reason="list_full",
            )
        if self.tail + count > _OFFSET or self.head - count < -_OFFSET:
            raise WrongType(f"list {self.key!r} cannot grow: its positions are exhausted")

    def moving(self, count: int) -> None:
        """Refuse an op that would move more than :data:`MAX_MOVE` items."""
        if count > MAX_MOVE:
            raise InvalidArgument(
                f"this change in the middle of list {self.key!r} moves {count} items; at "
                f"most {MAX_MOVE} move in one op (change nearer the end, or rebuild the list)"
            )

    def read_raw(self, position: int) -> Stored | None:
        stored: Stored | None = self.ctx.tx.entry_get(self.info.name, item_key(self.key, position))
        return stored

    def read(self, position: int) -> Stored | None:
        live: Stored | None = apply._live(self.read_raw(position), self.ctx.now)
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
    ns = info.name
    raw = ctx.tx.entry_get(ns, key)
    cur = apply._live(raw, ctx.now)
    if raw is not None and cur is None:
        apply._expire(ctx, ns, key, raw)
    if cur is None:
        cap = apply.entry_cap(info, ctx.settings)
        if cap is not None:
            apply._check_room(ctx, info, cap)
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
    event = Event(
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
    info = apply._namespace(ctx, op, op.ns, WRITE, create=True)
    for item in op.items:
        check_value(item)
    lst = _List(ctx, op, info, op.key, True)
    lst.grow(len(op.items))
    expires = _expires(ctx, info, op.ttl)
    lst.prefetch(lst.tail, lst.tail + len(op.items))
    for item in op.items:
        lst.put(lst.tail, item, expires)
        lst.tail += 1
    lst.save(expires, force=True)  # an append refreshes the header's TTL too
    return len(lst)


def list_pop(ctx: Ctx, op: o.ListPop) -> Any:
    info = apply._namespace(ctx, op, op.ns, WRITE)
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
    lst.moving(lst.tail - 1 - pos)
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
    info = apply._namespace(ctx, op, op.ns, WRITE, create=True)
    check_value(op.item)
    lst = _List(ctx, op, info, op.key, True)
    lst.grow(1)
    expires = _expires(ctx, info, op.ttl)
    pos = lst.position(op.index, insert=True)
    if pos == lst.head and len(lst):
        lst.head -= 1
        lst.put(lst.head, op.item, expires)
    else:
        lst.moving(lst.tail - pos)
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
    info = apply._namespace(ctx, op, op.ns, WRITE)
    lst = _List(ctx, op, info, op.key, True)
    wanted = _codec.decode(op.item)
    for pos, stored in lst.stored(lst.head):  # bounded by the items stored
        if apply._live(stored, ctx.now) is None or _codec.decode(stored.value_json) != wanted:
            continue
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
    info = apply._namespace(ctx, op, op.ns, READ)
    lst = _List(ctx, op, info, op.key, False)
    if lst.plain is not None:
        start, stop, _ = slice(op.start, op.stop).indices(len(lst.plain))
        return lst.plain[start : min(stop, start + MAX_RANGE)], len(lst.plain)
    start, stop, _ = slice(op.start, op.stop).indices(len(lst))
    stop = min(max(start, stop), start + MAX_RANGE)
    lst.prefetch(lst.head + start, lst.head + stop)
    items = []
    for pos in range(lst.head + start, lst.head + stop):
        stored = lst.read(pos)
        if stored is not None:
            items.append(_codec.decode(stored.value_json))
    return items, len(lst)


def expire_prefix(ctx: Ctx, op: o.ExpirePrefix) -> int:
    info = apply._namespace(ctx, op, op.ns, WRITE)
    expires = ctx.now + op.ttl if op.ttl is not None else None
    rows = ctx.tx.entries_scan(  # one row beyond tells of more
        info.name, op.prefix, public_after(op.prefix, None), MAX_PREFIX + 1
    )
    if len(rows) > MAX_PREFIX:
        raise InvalidArgument(
            f"prefix {op.prefix!r} holds more than {MAX_PREFIX} entries: one expire_prefix "
            "changes at most that many; use longer prefixes",
            reason="prefix_too_large",
        )
    ctx.tx.entries_get(info.name, [key for key, _ in rows])  # (one read where it counts)
    count = 0
    for key, s in rows:
        if apply._live(s, ctx.now) is None:
            continue
        rev = ctx.tx.rev_next(info.name)
        s = s._replace(version=s.version + 1, revision=rev, updated_at=ctx.now, expires_at=expires)
        ctx.tx.entry_put(info.name, key, s)
        event = Event(
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
    """Delete the first :data:`MAX_PREFIX` entries of the prefix; return how many were live.

    A larger prefix takes several calls (each call makes progress: expired rows go too).
    """
    info = apply._namespace(ctx, op, op.ns, WRITE)
    rows = ctx.tx.entries_scan(info.name, op.prefix, public_after(op.prefix, None), MAX_PREFIX)
    ctx.tx.entries_get(info.name, [key for key, _ in rows])  # (one read where it counts)
    count = 0
    for key, s in rows:
        live = apply._live(s, ctx.now) is not None
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
