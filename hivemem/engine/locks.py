r"""Locks with fencing tokens (SPEC §19), and the writes that carry ``lease=`` or ``fence=``.

A held lock is the record ``"\\x01lock/<name>"`` in its namespace: value ``{"lease",
"holder"}``, ``expires_at`` its lease's, and ``revision`` its **token**: the revision of the
``lock:acquired`` event of its grant. Revisions of a namespace only grow and are never
reused (they survive restarts and namespace deletion), so every grant of any lock of the
namespace gets a larger token than all before. Each grant comes with a fresh lease homed in
the lock's namespace (so a lock op touches one namespace); ``keep_alive(lk.lease_id)`` holds
longer, and when the lease ends the lock is free (``lock:expired``).

**Waiters, first come, first served.** A caller that waits (``lock(wait=)``) takes a ticket
(:data:`TICKET_LEN` hex digits: the caller's clock in nanoseconds, then random) and retries
with it; a busy lock stores or refreshes the ticket as a record
``"\\x01lockq/<name>\\x1f<ticket>"`` living ``ticket_ttl`` seconds; a free lock goes only to
the oldest live ticket (a caller without a ticket takes it only when nobody waits). Tickets
order by their creators' clocks: exact within one machine, as good as the clocks' agreement
across machines (it decides fairness only: one holder at a time holds whatever the clocks).

**Fencing.** ``write(..., fence=lk)`` checks in the same atomic step that ``lk.token`` still
holds the lock; otherwise ``ConflictError(reason="fenced")`` and nothing is written. So a
paused ex-holder whose lease expired cannot clobber its successor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hivemem import _codec
from hivemem.engine import apply, leases
from hivemem.engine import ops as o
from hivemem.engine.permissions import ADMIN, READ, WRITE, level_of
from hivemem.engine.reserved import SWEEPERS, internal_key
from hivemem.engine.txn import Stored
from hivemem.errors import ConflictError, InvalidArgument
from hivemem.types import Entry, Event, Lock, Page

if TYPE_CHECKING:
    from hivemem.engine.apply import Ctx

__all__ = [
    "HANDLERS",
    "MAX_LIST",
    "MAX_TICKET_SCAN",
    "TICKET_LEN",
    "lock_key",
    "put",
    "reads",
    "ticket_prefix",
]

#: Length of a waiter's ticket (hex digits: 16 of time in ns, 8 random).
TICKET_LEN = 24
#: Most ticket records one attempt looks at (expired ones it meets are dropped).
MAX_TICKET_SCAN = 64
#: Most locks one ``list_locks`` page holds.
MAX_LIST = 1000
#: Separates a lock's name from a ticket in its key (no caller's name holds it).
_SEP = "\x1f"


def lock_key(name: str) -> str:
    """The key of the lock ``name``'s record."""
    return internal_key("lock", name)


def ticket_prefix(name: str) -> str:
    """The key prefix of the tickets waiting for the lock ``name``."""
    return internal_key("lockq", name + _SEP)


def reads(op: o.Op[Any]) -> tuple[list[str], bool]:
    """The keys a lock op of ``op.ns`` will read, and whether it scans its tickets.

    A store that fetches an op's reads before running it (Redis) asks this to save the
    round trips of reads it would otherwise discover one by one.
    """
    if isinstance(op, o.TryLock):
        keys = [lock_key(op.name), internal_key("lease", op.lease_hex)]
        if op.ticket is not None:
            keys.append(ticket_prefix(op.name) + op.ticket)
        return keys, True
    if isinstance(op, o.LockTurn):
        return [lock_key(op.name)], True
    if isinstance(op, o.Unlock | o.LockInfo):
        return [lock_key(op.name)], False
    return [], False


def _live(s: Stored | None, now: float) -> bool:
    return s is not None and (s.expires_at is None or s.expires_at > now)


def _as_lock(ns: str, name: str, s: Stored) -> Lock:
    v = _codec.decode(s.value_json)
    return Lock(name, s.owner, s.revision, str(v["lease"]), ns, s.expires_at)


def _current(ctx: Ctx, ns: str, name: str) -> Stored | None:
    """The lock's live record; an expired one is swept here (``lock:expired``)."""
    key = lock_key(name)
    raw = ctx.tx.entry_get(ns, key)
    if raw is not None and not _live(raw, ctx.now):
        apply._expire(ctx, ns, key, raw)
        return None
    return raw


def _first_ticket(ctx: Ctx, ns: str, name: str) -> str | None:
    """The oldest live ticket waiting for the lock (expired ones met on the way dropped)."""
    prefix = ticket_prefix(name)
    for key, s in ctx.tx.entries_scan(ns, prefix, None, MAX_TICKET_SCAN):
        if _live(s, ctx.now):
            return key[len(prefix) :]
        ctx.tx.entry_delete(ns, key)
    return None


def _wait_in_line(ctx: Ctx, op: o.TryLock) -> None:
    """Store or refresh the waiter's ticket."""
    if op.ticket is None:
        return
    key = internal_key("lockq", op.name + _SEP + op.ticket)
    old = ctx.tx.entry_get(op.ns, key)
    n = 1 if old is None else old.version + 1
    exp = ctx.now + op.ticket_ttl
    ctx.tx.entry_put(op.ns, key, Stored("null", op.agent, n, n, ctx.now, ctx.now, exp))


def try_lock(ctx: Ctx, op: o.TryLock) -> Lock | None:
    ns = op.ns
    apply._namespace(ctx, op, ns, WRITE, create=True, entries=False)
    if _current(ctx, ns, op.name) is not None:
        _wait_in_line(ctx, op)
        return None
    first = _first_ticket(ctx, ns, op.name)
    if first is not None and first != op.ticket:
        _wait_in_line(ctx, op)
        return None
    if first is not None:
        ctx.tx.entry_delete(ns, internal_key("lockq", op.name + _SEP + first))
    lease = leases.new_lease(ctx, ns, op.lease_hex, op.agent, op.ttl, [[leases.LOCK, ns, op.name]])
    rev = ctx.tx.rev_next(ns)
    value = _codec.encode({"lease": lease.id, "holder": op.agent})
    ctx.tx.entry_put(
        ns, lock_key(op.name), Stored(value, op.agent, 1, rev, ctx.now, ctx.now, lease.expires_at)
    )
    # The token is this event's revision (a placeholder until some stores commit: it is
    # not written into the event's fields, only into the record's revision).
    event = Event(
        "lock:acquired",
        ns,
        rev,
        ctx.now,
        op.agent,
        key=op.name,
        message={"lease_id": lease.id, "expires_at": lease.expires_at},
    )
    ctx.tx.event_append(event)
    ctx.stream.append(event)
    return Lock(op.name, op.agent, rev, lease.id, ns, lease.expires_at)


def unlock(ctx: Ctx, op: o.Unlock) -> bool:
    info = apply._namespace(ctx, op, op.ns, WRITE, entries=False)
    s = _current(ctx, op.ns, op.name)
    if s is None or s.revision != op.token:
        return False  # that hold ended already (expired, released, or never was)
    if s.owner != op.agent and level_of(info, op.agent, op.admin) < ADMIN:
        raise ConflictError(
            f"lock {op.name!r} of namespace {op.ns!r} is held by {s.owner!r}, not by "
            f"{op.agent!r}: only its holder (or a namespace admin) may unlock it",
            reason="not_holder",
            namespace=op.ns,
        )
    lease_id = str(_codec.decode(s.value_json)["lease"])
    home, key = leases.split_id(lease_id)
    lease = ctx.tx.entry_get(home, key)
    if lease is None:  # (a lease swept on its own: release the lock alone)
        ctx.tx.entry_delete(op.ns, lock_key(op.name))
        ctx.emit("lock:released", op.ns, s.owner, key=op.name, version=s.revision,
                 reason="unlocked", message={"lease_id": lease_id})  # fmt: skip
        return True
    leases.release_all(ctx, lease_id, home, key, lease, "lease_revoked", s.owner)
    return True


def lock_info(ctx: Ctx, op: o.LockInfo) -> Lock | None:
    apply._namespace(ctx, op, op.ns, READ)
    s = ctx.tx.entry_get(op.ns, lock_key(op.name))
    return _as_lock(op.ns, op.name, s) if s is not None and _live(s, ctx.now) else None


def list_locks(ctx: Ctx, op: o.ListLocks) -> Page[Lock]:
    """The held locks in name order; ``next_cursor`` names the last lock record scanned.

    A page scans ``limit`` lock records (one more tells whether another page follows); an
    expired hold not swept yet is skipped, so a page may hold fewer than ``limit`` locks.
    """
    limit = op.limit
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
        raise InvalidArgument(f"invalid limit {limit!r}: give an integer from 1 to {MAX_LIST}")
    apply._namespace(ctx, op, op.ns, READ)
    prefix = lock_key("")
    after = prefix + apply._decode_cursor(op.cursor) if op.cursor else None
    rows = ctx.tx.entries_scan(op.ns, prefix, after, limit + 1)
    page = rows[:limit]
    items = [_as_lock(op.ns, k[len(prefix) :], s) for k, s in page if _live(s, ctx.now)]
    more = len(rows) > limit
    return Page(items, apply._encode_cursor(page[-1][0][len(prefix) :]) if more else None)


def lock_turn(ctx: Ctx, op: o.LockTurn) -> bool:
    apply._namespace(ctx, op, op.ns, READ)
    s = ctx.tx.entry_get(op.ns, lock_key(op.name))
    if s is not None and _live(s, ctx.now):
        return False
    prefix = ticket_prefix(op.name)
    for key, t in ctx.tx.entries_scan(op.ns, prefix, None, MAX_TICKET_SCAN):
        if _live(t, ctx.now):
            return key[len(prefix) :] == op.ticket
    return True


def check_fence(ctx: Ctx, op: o.Put, fence: tuple[str, str, int]) -> None:
    """Refuse ``op`` unless the fence's token still holds its lock (``reason="fenced"``)."""
    ns, name, token = fence
    if ns != op.ns:
        apply._namespace(ctx, op, ns, READ)
    s = ctx.tx.entry_get(ns, lock_key(name))
    current = s.revision if s is not None and _live(s, ctx.now) else None
    if current != token:
        exc = ConflictError(
            f"write to {op.key!r} refused: token {token} no longer holds lock {name!r} of "
            f"namespace {ns!r} ("
            + ("it is free" if current is None else f"token {current} does")
            + ")",
            reason="fenced",
            token=token,
            current_token=current,
        )
        raise apply._conflict(ctx, op, op.ns, op.key, op.value_json, exc)


def put(ctx: Ctx, op: o.Put) -> Entry:
    """A Put, with a ``fence`` checked and a ``lease`` attached when it carries them."""
    if op.fence is None and op.lease is None:
        return apply.put(ctx, op)
    info = apply._namespace(ctx, op, op.ns, WRITE, create=True)
    if op.fence is not None:
        check_fence(ctx, op, op.fence)
    if op.lease is None:
        return apply._write_one(ctx, op, info, op.key, op.value_json, op.ttl, op.expected_version)
    home, key, s, rec = leases.live_lease(ctx, op, op.lease)
    entry = apply._write_one(
        ctx, op, info, op.key, op.value_json, None, op.expected_version, s.expires_at
    )
    leases.attach(ctx, op.lease, home, key, s, rec, [leases.ENTRY, op.ns, op.key])
    return entry


def _sweep_lock(ctx: Ctx, ns: str, key: str, s: Stored) -> None:
    ctx.tx.entry_delete(ns, key)
    lease_id = _codec.decode(s.value_json).get("lease")
    ctx.emit("lock:expired", ns, s.owner, key=key.partition("/")[2], version=s.revision,
             reason="lease_expired", message={"lease_id": lease_id})  # fmt: skip


SWEEPERS["lock"] = _sweep_lock

HANDLERS: dict[type, Any] = {
    o.Put: put,
    o.TryLock: try_lock,
    o.Unlock: unlock,
    o.LockInfo: lock_info,
    o.LockTurn: lock_turn,
    o.ListLocks: list_locks,
}
