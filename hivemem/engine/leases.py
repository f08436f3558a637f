r"""Leases and presence (SPEC §19), as engine-internal records over plain Txn primitives.

A lease is the record ``"\\x01lease/<32 hex>"`` in its *home* namespace (``ns=`` of
``grant_lease``, else the reserved :data:`LEASE_HOME`), whose ``expires_at`` is the lease's
end; its id is ``"<home>/<32 hex>"`` so every op finds the record. The record's value lists
what is *attached* to it, at most :data:`MAX_ATTACHED` items: entries written with
``lease=`` (they get the lease's ``expires_at``), presence records (``join``) and the lock a
lease was granted for (:mod:`hivemem.engine.locks`). ``keep_alive`` moves the expiry of the
lease and of everything attached; when the lease expires (the sweeper, or any op finding it
expired) or is revoked, everything attached goes in the same atomic step:
``memory:deleted`` (reason ``lease_expired`` / ``lease_revoked``), ``presence:left``,
``lock:expired`` / ``lock:released``.

An entry rewritten without ``lease=`` (or under another lease) is detached: it keeps the
expiry of its new write, and the lease no longer touches it (an attached entry is one whose
``expires_at`` is still the lease's). Internal records count towards a namespace's entry
cap like entries do.

A lease record's ``version`` and ``revision`` both count its rewrites (it takes no
revision of the namespace, so it emits no event): a store that checks a record by its
revision before committing (Redis) sees every rewrite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hivemem import _codec
from hivemem._validate import SYSTEM_AGENT
from hivemem.engine import apply
from hivemem.engine import ops as o
from hivemem.engine.permissions import ADMIN, READ, WRITE, level_of, require
from hivemem.engine.reserved import SWEEPERS, internal_key
from hivemem.engine.txn import Stored
from hivemem.errors import InvalidArgument, LeaseExpired, PermissionDenied
from hivemem.types import Lease, NamespaceInfo, Presence

if TYPE_CHECKING:
    from hivemem.engine.apply import Ctx

__all__ = [
    "HANDLERS",
    "LEASE_HOME",
    "MAX_ATTACHED",
    "MAX_PRESENCE",
    "attach",
    "live_lease",
    "new_lease",
    "release_all",
    "split_id",
]

#: The home of leases granted without ``ns=`` (reserved: no caller can address it).
LEASE_HOME = "_hivemem.leases"
#: Most items (entries, presence records, locks) one lease carries.
MAX_ATTACHED = 1000
#: Most agents ``presence`` lists (and scans) in one namespace.
MAX_PRESENCE = 1000
#: The kinds of attached items: an entry, a presence record, a lock.
ENTRY, PRESENCE, LOCK = "e", "p", "l"


def split_id(lease_id: str) -> tuple[str, str]:
    """``(home namespace, record key)`` of a lease id (already checked by the caller)."""
    home, _, hexid = lease_id.rpartition("/")
    return home, internal_key("lease", hexid)


def _live(s: Stored | None, now: float) -> bool:
    return s is not None and (s.expires_at is None or s.expires_at > now)


def home_namespace(ctx: Ctx, op: o.Op[Any], home: str, needed: int) -> NamespaceInfo:
    """The home of a lease: the reserved one (created on demand), or a caller's namespace."""
    if home != LEASE_HOME:
        return apply._namespace(ctx, op, home, needed, create=needed == WRITE, entries=False)
    info = ctx.tx.ns_get(home)
    if info is None:
        info = NamespaceInfo(
            name=home, default_permission=None, created_by=SYSTEM_AGENT, created_at=ctx.now
        )
        ctx.tx.ns_put(info)
    return info


def new_lease(
    ctx: Ctx, home: str, hexid: str, agent: str, ttl: float, attached: list[Any]
) -> Lease:
    """Write a fresh lease record ``hexid`` in ``home`` (checked by the caller)."""
    if ctx.tx.entry_get(home, internal_key("lease", hexid)) is not None:
        raise InvalidArgument(f"lease id {hexid!r} is taken: build the op again", reason="lease_id")
    exp = ctx.now + ttl
    value = _codec.encode({"agent": agent, "ttl": ttl, "attached": attached})
    ctx.tx.entry_put(
        home, internal_key("lease", hexid), Stored(value, agent, 1, 1, ctx.now, ctx.now, exp)
    )
    return Lease(f"{home}/{hexid}", agent, ttl, exp)


def live_lease(ctx: Ctx, op: o.Op[Any], lease_id: str) -> tuple[str, str, Stored, dict[str, Any]]:
    """The live lease ``lease_id`` that ``op``'s agent may use: home, key, record, value.

    Raises:
        LeaseExpired: it expired, was revoked, or never existed.
        PermissionDenied: it is another agent's (namespace and server admins excepted).
    """
    home, key = split_id(lease_id)
    info = ctx.tx.ns_get(home)
    s = ctx.tx.entry_get(home, key) if info is not None else None
    if s is None or not _live(s, ctx.now):
        raise LeaseExpired(
            f"lease {lease_id!r} expired, was revoked or never existed", lease_id=lease_id
        )
    assert info is not None
    rec: dict[str, Any] = _codec.decode(s.value_json)
    if home != LEASE_HOME:
        require(info, op.agent, WRITE, op.admin)
    if rec["agent"] != op.agent and not op.admin and level_of(info, op.agent) < ADMIN:
        raise PermissionDenied(
            f"lease {lease_id!r} was granted to {rec['agent']!r}, not to {op.agent!r}",
            lease_id=lease_id,
        )
    return home, key, s, rec


def _rewrite(ctx: Ctx, home: str, key: str, s: Stored, rec: dict[str, Any], exp: float) -> None:
    n = s.version + 1
    ctx.tx.entry_put(
        home, key, Stored(_codec.encode(rec), s.owner, n, n, s.created_at, ctx.now, exp)
    )


def _holds(ctx: Ctx, lease_id: str, exp: float | None, item: list[str]) -> Stored | None:
    """The attached item's record, if it still lives by this lease (else ``None``)."""
    kind, ns, name = item
    if kind == ENTRY:
        e = ctx.tx.entry_get(ns, name)
        return e if e is not None and e.expires_at == exp else None
    r = ctx.tx.entry_get(ns, internal_key("presence" if kind == PRESENCE else "lock", name))
    if r is None or _codec.decode(r.value_json).get("lease") != lease_id:
        return None
    return r


def attach(
    ctx: Ctx, lease_id: str, home: str, key: str, s: Stored, rec: dict[str, Any], item: list[str]
) -> None:
    """Add ``item`` to the lease's attached list (pruning items that left it when full).

    Raises:
        InvalidArgument: the lease already carries :data:`MAX_ATTACHED` live items.
    """
    attached: list[list[str]] = rec["attached"]
    if item in attached:
        return
    if len(attached) >= MAX_ATTACHED:
        attached[:] = [i for i in attached if _holds(ctx, lease_id, s.expires_at, i) is not None]
        if len(attached) >= MAX_ATTACHED:
            raise InvalidArgument(
                f"lease {lease_id!r} carries {MAX_ATTACHED} items already; grant another lease",
                reason="lease_full",
            )
    attached.append(item)
    assert s.expires_at is not None
    _rewrite(ctx, home, key, s, rec, s.expires_at)


def release_all(
    ctx: Ctx, lease_id: str, home: str, key: str, s: Stored, reason: str, agent: str
) -> None:
    """Delete the lease and everything still attached to it, announcing each.

    ``reason``: ``lease_expired`` (the sweeper, as ``system``) or ``lease_revoked``.
    """
    rec = _codec.decode(s.value_json)
    expired = reason == "lease_expired"
    for item in rec["attached"][:MAX_ATTACHED]:
        r = _holds(ctx, lease_id, s.expires_at, item)
        if r is None:
            continue
        kind, ns, name = item
        if kind == ENTRY:
            ctx.tx.entry_delete(ns, name)
            ctx.emit("memory:deleted", ns, agent, key=name, version=r.version, reason=reason)
        elif kind == PRESENCE:
            ctx.tx.entry_delete(ns, internal_key("presence", name))
            ctx.emit("presence:left", ns, name, reason=reason, message={"lease_id": lease_id})
        else:
            ctx.tx.entry_delete(ns, internal_key("lock", name))
            ctx.emit(
                "lock:expired" if expired else "lock:released",
                ns,
                r.owner,
                key=name,
                version=r.revision,
                reason=reason,
                message={"lease_id": lease_id},
            )
    ctx.tx.entry_delete(home, key)


# ---------------------------------------------------------------- handlers


def grant_lease(ctx: Ctx, op: o.GrantLease) -> Lease:
    home_namespace(ctx, op, op.ns, WRITE)
    return new_lease(ctx, op.ns, op.lease_hex, op.agent, op.ttl, [])


def keep_alive(ctx: Ctx, op: o.KeepAlive) -> Lease:
    home, key, s, rec = live_lease(ctx, op, op.lease_id)
    exp = ctx.now + float(rec["ttl"])
    for item in rec["attached"][:MAX_ATTACHED]:
        r = _holds(ctx, op.lease_id, s.expires_at, item)
        if r is None:
            continue
        kind, ns, name = item
        k = (
            name
            if kind == ENTRY
            else internal_key("presence" if kind == PRESENCE else "lock", name)
        )
        # Same version and revision: the entry did not change, only how long it lives.
        ctx.tx.entry_put(ns, k, r._replace(expires_at=exp))
    _rewrite(ctx, home, key, s, rec, exp)
    return Lease(op.lease_id, rec["agent"], float(rec["ttl"]), exp)


def revoke_lease(ctx: Ctx, op: o.RevokeLease) -> None:
    home, key, s, _ = live_lease(ctx, op, op.lease_id)
    release_all(ctx, op.lease_id, home, key, s, "lease_revoked", op.agent)


def join(ctx: Ctx, op: o.Join) -> Presence:
    apply._namespace(ctx, op, op.ns, WRITE, create=True, entries=False)
    home, key, s, rec = live_lease(ctx, op, op.lease_id)
    pkey = internal_key("presence", op.agent)
    old = ctx.tx.entry_get(op.ns, pkey)
    info = _codec.decode(op.info_json)
    same = old is not None and _live(old, ctx.now)
    since = ctx.now
    if same:
        assert old is not None
        prev = _codec.decode(old.value_json)
        same = prev.get("lease") == op.lease_id
        since = float(prev["since"]) if same else ctx.now
    elif old is not None:
        apply._expire(ctx, op.ns, pkey, old)  # (announces the earlier presence's end)
        old = ctx.tx.entry_get(op.ns, pkey)
    n = 1 if old is None else old.version + 1
    value = _codec.encode({"lease": op.lease_id, "info": info, "since": since})
    ctx.tx.entry_put(op.ns, pkey, Stored(value, op.agent, n, n, since, ctx.now, s.expires_at))
    if not same:
        ctx.emit("presence:joined", op.ns, op.agent, value=info, message={"lease_id": op.lease_id})
    attach(ctx, op.lease_id, home, key, s, rec, [PRESENCE, op.ns, op.agent])
    return Presence(op.agent, info, since, op.lease_id)


def list_presence(ctx: Ctx, op: o.ListPresence) -> list[Presence]:
    apply._namespace(ctx, op, op.ns, READ)
    prefix = internal_key("presence", "")
    out: list[Presence] = []
    for _, r in ctx.tx.entries_scan(op.ns, prefix, None, MAX_PRESENCE):
        if _live(r, ctx.now):
            v = _codec.decode(r.value_json)
            out.append(Presence(r.owner, v.get("info"), float(v["since"]), str(v["lease"])))
    return out


def _sweep_lease(ctx: Ctx, ns: str, key: str, s: Stored) -> None:
    lease_id = f"{ns}/{key.partition('/')[2]}"
    release_all(ctx, lease_id, ns, key, s, "lease_expired", SYSTEM_AGENT)


def _sweep_presence(ctx: Ctx, ns: str, key: str, s: Stored) -> None:
    ctx.tx.entry_delete(ns, key)
    lease_id = _codec.decode(s.value_json).get("lease")
    ctx.emit("presence:left", ns, s.owner, reason="lease_expired", message={"lease_id": lease_id})


SWEEPERS["lease"] = _sweep_lease
SWEEPERS["presence"] = _sweep_presence

HANDLERS: dict[type, Any] = {
    o.GrantLease: grant_lease,
    o.KeepAlive: keep_alive,
    o.RevokeLease: revoke_lease,
    o.Join: join,
    o.ListPresence: list_presence,
}
