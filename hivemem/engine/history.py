"""Entry history and reads as of a revision or a time (SPEC §20), over the retained log.

Every change of an entry is an event of its namespace's retained log (§4): ``memory:write``
(key, value, version), ``memory:delete`` and ``memory:expired`` (key, the version removed),
and ``namespace:cleared`` / ``namespace:deleted`` (every entry removed). :meth:`Txn.key_events`
returns those of one key (wipes included), newest first, from an index where the backend has
one. From them:

- ``history`` lists a key's versions, newest first; a wipe is listed as a deletion only when
  the key held a value just before it.
- The state of a key *after revision R* is its newest change at or before R. When the log
  holds none, the key's state is the one it had before the oldest retained revision O: the
  stored entry if it was last written before O (untouched since), absent if the log is
  complete (O <= 1) or if the key's first retained change creates it (version 1); otherwise
  the value is gone: :class:`RevisionCompacted`, whose ``oldest_available`` is the revision
  from which that key's state is known.
- A listing as of R is the stored entries untouched since R plus the keys changed after R,
  each resolved as above. A wipe after R erased entries the log may not name: the listing
  then replays the log from the newest wipe at or before R (or from the start of a complete
  log), else raises :class:`RevisionCompacted` with the revision of the oldest retained wipe.
- A time maps to the last revision at or before it (a binary search over the log's
  timestamps, which grow with revisions).

What the log does not record is not shown: an event carries no expiry time, so an entry read
from the log has ``expires_at=None`` and an expiry counts from its ``memory:expired`` event
(a stored entry untouched since R is hidden if it had expired by R's time). ``created_at`` is
exact for the stored entry's own lifetime and when the creating write is among the 64
versions before; otherwise the time of the oldest of those 64 versions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hivemem.engine import apply
from hivemem.engine import ops as o
from hivemem.engine.permissions import READ, require
from hivemem.engine.txn import KEY_EVENT_TYPES, NS_WIPE_TYPES, Stored
from hivemem.errors import InvalidArgument, NamespaceNotFound, RevisionCompacted
from hivemem.types import Entry, Event, Page, Version

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["HANDLERS", "MAX_HISTORY"]

#: The most versions one ``history`` call returns.
MAX_HISTORY = 1000
#: Rounds of reads one ``history`` call may take (each reads up to ``limit + 1`` events;
#: only a run of wipes while the key is absent makes more than one).
_ROUNDS = 8
#: Events or entries read per step of a listing as of a revision.
_CHUNK = 1024
#: Versions looked back to find when a lifetime began (``created_at``).
_CREATED_LOOKBACK = 64
#: "The stored entry was not read yet."
_UNREAD: Any = object()
#: Keys the engine keeps for itself (locks, queues): never part of history.
_INTERNAL = "\x01"


def _deleted(e: Event, version: int) -> Version:
    return Version(None, version, e.revision, e.agent_id, e.timestamp, True)


def history(ctx: apply.Ctx, op: o.History) -> list[Version]:
    apply._namespace(ctx, op, op.ns, READ)
    tx, ns, key = ctx.tx, op.ns, op.key
    oldest = tx.events_oldest(ns)
    if op.before is not None and oldest is not None and oldest > 1 and op.before < oldest:
        raise _compacted(ns, op.before, oldest)
    out: list[Version] = []
    wipe: Event | None = None  # a wipe whose meaning waits for the change before it
    before = op.before
    for _ in range(_ROUNDS):
        want = op.limit - len(out) + 1  # (one more: what precedes a wipe tells its meaning)
        events = tx.key_events(ns, key, before, want)
        for e in events:
            if e.type == "memory:write":
                if wipe is not None:
                    out.append(_deleted(wipe, e.version or 0))
                out.append(Version(e.value, e.version or 0, e.revision, e.agent_id, e.timestamp))
                wipe = None
            elif e.type in NS_WIPE_TYPES:
                wipe = e  # (of a run of wipes, the oldest removed the key: the last seen)
            else:  # a delete or an expiry
                wipe = None
                out.append(_deleted(e, e.version or 0))
        if len(out) >= op.limit or len(events) < want:
            break
        before = events[-1].revision
    return out[: op.limit]


# ---------------------------------------------------------------- as of a revision


def _compacted(ns: str, rev: int, oldest: int, what: str = "") -> RevisionCompacted:
    return RevisionCompacted(
        f"revision {rev} of namespace {ns!r}{what} is no longer retained; the oldest "
        f"available is {oldest}",
        oldest_available=oldest,
        namespace=ns,
    )


def _revision(
    ctx: apply.Ctx, ns: str, revision: int | None, at: float | None, lazy: bool = False
) -> tuple[int, int | Any | None]:
    """The revision asked for (checked), and the oldest retained revision.

    ``at``: the last revision at or before that time. ``lazy``: leave the retention check
    of a revision to :func:`_retained` (the oldest comes back as ``_UNREAD``): a read that
    finds the key's change at or before it needs no such check.
    """
    tx = ctx.tx
    current = tx.rev_get(ns)
    if at is not None:
        oldest = tx.events_oldest(ns)
        return _revision_at(ctx, ns, at, current, oldest), oldest
    assert revision is not None
    if revision > current:
        raise InvalidArgument(
            f"revision {revision} is ahead of namespace {ns!r}'s current revision {current}"
        )
    if lazy and revision < current:
        return revision, _UNREAD
    return revision, _retained(ctx, ns, revision, current)


def _retained(ctx: apply.Ctx, ns: str, revision: int, current: int | None = None) -> int | None:
    """The oldest retained revision; raise unless the state after ``revision`` is retained."""
    oldest = ctx.tx.events_oldest(ns)
    if current is None:
        current = ctx.tx.rev_get(ns)
    if revision < current and (oldest is None or oldest > revision + 1):
        raise _compacted(ns, revision, oldest if oldest is not None else current)
    return oldest


def _revision_at(ctx: apply.Ctx, ns: str, at: float, current: int, oldest: int | None) -> int:
    tx = ctx.tx
    if oldest is None:
        return current
    first = tx.events_after(ns, oldest - 1, 1)
    if not first or first[0].timestamp > at:
        if oldest <= 1:
            return 0
        raise RevisionCompacted(
            f"time {at} is before the oldest retained revision {oldest} of namespace {ns!r}",
            oldest_available=oldest,
            namespace=ns,
        )
    lo, hi = first[0].revision, current  # the answer is in [lo, hi]; ts(lo) <= at
    while lo < hi:  # halves [lo, hi] each time: log2(retained) reads
        mid = (lo + hi + 1) // 2
        found = tx.events_after(ns, mid - 1, 1)
        if found and found[0].timestamp <= at:
            lo = max(mid, min(found[0].revision, hi))
        else:
            hi = mid - 1
    return lo


def _time_of(ctx: apply.Ctx, ns: str, rev: int) -> float | None:
    found = ctx.tx.events_after(ns, rev - 1, 1) if rev > 0 else []
    return found[0].timestamp if found and found[0].revision == rev else None


def _from_stored(ns: str, key: str, s: Stored, at_time: float | None) -> Entry | None:
    if at_time is not None and s.expires_at is not None and s.expires_at <= at_time:
        return None
    return apply.to_entry(ns, key, s)


def _from_write(
    ctx: apply.Ctx, ns: str, key: str, e: Event, s: Stored | Any | None = _UNREAD
) -> Entry:
    version = e.version or 1
    created = e.timestamp
    if version > 1:
        if s is _UNREAD:
            s = ctx.tx.entry_get(ns, key)
        if s is not None and s.version >= version and s.created_at <= e.timestamp:
            created = s.created_at  # the stored entry's lifetime began at or before e
        else:
            back = ctx.tx.key_events(ns, key, e.revision, min(version - 1, _CREATED_LOOKBACK))
            for older in back:
                if older.type != "memory:write":
                    break
                created = older.timestamp
    return Entry(ns, key, e.value, e.agent_id, version, e.revision, created, e.timestamp, None)


def _state_at(
    ctx: apply.Ctx,
    ns: str,
    key: str,
    rev: int,
    oldest: int | Any | None,
    at_time: float | None,
    s: Stored | Any | None = _UNREAD,
) -> Entry | None:
    """The entry ``key`` held after revision ``rev`` (see the module's docstring)."""
    tx = ctx.tx
    if s is not _UNREAD and s is not None and s.revision <= rev:
        if oldest is _UNREAD:
            _retained(ctx, ns, rev)
        return _from_stored(ns, key, s, at_time)  # unchanged since: no event to read
    found = tx.key_events(ns, key, rev + 1, 1)
    if found:  # (retained: every revision after a retained one is)
        e = found[0]
        return _from_write(ctx, ns, key, e, s) if e.type == "memory:write" else None
    if oldest is _UNREAD:
        oldest = _retained(ctx, ns, rev)
    if oldest is None or oldest <= 1:
        return None  # a complete log: no change yet
    if s is _UNREAD:
        s = tx.entry_get(ns, key)
    if s is not None and s.revision < oldest:
        return _from_stored(ns, key, s, at_time)
    first = tx.key_events(ns, key, None, 1, oldest_first=True)
    if not first:
        return None
    f = first[0]
    if f.type == "memory:write" and f.version == 1:
        return None
    raise _compacted(ns, rev, f.revision, f" (for key {key!r})")


def read_as_of(ctx: apply.Ctx, op: o.ReadAsOf) -> Entry | None:
    info, stored = ctx.tx.ns_and_entry(op.ns, op.key)  # (one read where the store can)
    if info is None:
        raise NamespaceNotFound(f"namespace {op.ns!r} does not exist", namespace=op.ns)
    require(info, op.agent, READ, op.admin)
    if op.revision is not None and stored is not None and op.revision < stored.revision:
        rev, oldest = op.revision, _UNREAD  # below a stored revision: not ahead of the store
    else:
        rev, oldest = _revision(ctx, op.ns, op.revision, op.at, lazy=True)
    at_time = op.at
    if at_time is None and stored is not None and stored.expires_at is not None:
        at_time = _time_of(ctx, op.ns, rev)  # (only an expiring entry needs R's time)
    return _state_at(ctx, op.ns, op.key, rev, oldest, at_time, stored)


def list_as_of(ctx: apply.Ctx, op: o.ListAsOf) -> Page[Entry]:
    apply._namespace(ctx, op, op.ns, READ)
    tx, ns = ctx.tx, op.ns
    rev, oldest = _revision(ctx, ns, op.revision, op.at)
    at_time = op.at if op.at is not None else _time_of(ctx, ns, rev)
    after = apply._decode_cursor(op.cursor) if op.cursor else None
    touched: set[str] = set()
    wiped = False
    since, current = rev, tx.rev_get(ns)
    for _ in range((current - rev) // _CHUNK + 1):  # each full chunk advances `since`
        chunk = tx.events_after(ns, since, _CHUNK)
        for e in chunk:
            if e.type in NS_WIPE_TYPES:
                wiped = True
            elif e.type in KEY_EVENT_TYPES and e.key is not None:
                touched.add(e.key)
        if len(chunk) < _CHUNK:
            break
        since = chunk[-1].revision
    if wiped:
        entries = _replay(ctx, ns, rev, oldest)
    else:
        entries = _merged(ctx, ns, rev, oldest, at_time, touched, op.prefix, after, op.limit)

    def wanted(k: str) -> bool:
        return k.startswith(op.prefix) and (after is None or k > after)

    return _page(entries, wanted, op.limit)


def _page(entries: dict[str, Entry], wanted: Callable[[str], bool], limit: int) -> Page[Entry]:
    keys = sorted(k for k in entries if wanted(k) and not k.startswith(_INTERNAL))
    items = [entries[k] for k in keys[:limit]]
    more = len(keys) > limit
    return Page(items, apply._encode_cursor(items[-1].key) if more else None)


def _replay(ctx: apply.Ctx, ns: str, rev: int, oldest: int | None) -> dict[str, Entry]:
    """Every entry after ``rev``, replayed from the newest wipe at or before it."""
    tx = ctx.tx
    start = 0 if oldest is None or oldest <= 1 else None
    state: dict[str, Event] = {}
    since = (oldest or 1) - 1
    for _ in range((rev - since) // _CHUNK + 1):  # bounded by the retained revisions
        chunk = tx.events_after(ns, since, _CHUNK)
        for e in chunk:
            if e.revision > rev:
                break
            if e.type in NS_WIPE_TYPES:
                state.clear()
                start = e.revision
            elif e.type == "memory:write" and e.key is not None:
                state[e.key] = e
            elif e.type in KEY_EVENT_TYPES and e.key is not None:
                state.pop(e.key, None)
        if len(chunk) < _CHUNK or chunk[-1].revision >= rev:
            break
        since = chunk[-1].revision
    if start is None:  # entries older than the log were erased after `rev`: unknown
        first = tx.key_events(ns, "\x00", None, 1, oldest_first=True)  # the oldest wipe
        raise _compacted(ns, rev, first[0].revision if first else tx.rev_get(ns))
    return {k: _from_write(ctx, ns, k, e) for k, e in state.items()}


def _merged(
    ctx: apply.Ctx,
    ns: str,
    rev: int,
    oldest: int | None,
    at_time: float | None,
    touched: set[str],
    prefix: str,
    after: str | None,
    limit: int,
) -> dict[str, Entry]:
    """The first ``limit + 1`` live entries after ``after`` (maybe more).

    Stored entries untouched since ``rev`` as they are; the keys changed after ``rev``
    resolved one by one.
    """
    tx = ctx.tx
    pending = sorted(k for k in touched if k.startswith(prefix) and (after is None or k > after))
    out: dict[str, Entry] = {}
    cursor = after
    ti = 0
    for _ in range(tx.entry_count(ns) // _CHUNK + 2):  # each full chunk advances `cursor`
        rows = tx.entries_scan(ns, prefix, cursor, _CHUNK)
        last = rows[-1][0] if len(rows) == _CHUNK else None  # None: the scan reached the end
        while ti < len(pending) and (last is None or pending[ti] <= last):
            k = pending[ti]
            ti += 1
            entry = _state_at(ctx, ns, k, rev, oldest, at_time)
            if entry is not None:
                out[k] = entry
        for k, s in rows:
            if k not in touched and (e := _from_stored(ns, k, s, at_time)) is not None:
                out[k] = e
        if len(out) > limit or last is None:
            break
        cursor = last
    return out


HANDLERS: dict[type, Callable[[apply.Ctx, Any], Any]] = {
    o.History: history,
    o.ReadAsOf: read_as_of,
    o.ListAsOf: list_as_of,
}
