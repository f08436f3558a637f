"""What every op means, over the primitives of a backend transaction.

:func:`execute` runs one op inside a backend's atomic step: idempotency check, the op's
handler (permissions, conflict strategy, TTL, revision, events), rollback on refusal, and
the audit record. Backends call it; nothing here does I/O of its own.
"""

from __future__ import annotations

import base64
import dataclasses
from typing import TYPE_CHECKING, Any

from hivemem import _codec
from hivemem._validate import SYSTEM_AGENT, is_reserved
from hivemem.engine import ops as o
from hivemem.engine.conflicts import resolve_value
from hivemem.engine.decide import DELETED, EXPIRED, decide_delete, decide_put, refusal
from hivemem.engine.permissions import ADMIN, READ, WRITE, level_of, require
from hivemem.engine.reserved import (
    INTERNAL,
    MAX_PREFIX,
    SWEEPERS,
    check_value,
    internal_kind,
    public_after,
    shows_internal,
)
from hivemem.engine.results import decode_result, encode_result
from hivemem.engine.txn import Result, Settings, Stored, Txn
from hivemem.errors import (
    AlreadyExists,
    ConflictError,
    HivememError,
    InternalError,
    InvalidArgument,
    NamespaceFull,
    NamespaceNotFound,
    PermissionDenied,
    QuotaExceeded,
    RevisionCompacted,
    WrongType,
)
from hivemem.types import AccessLogEntry, Entry, Event, NamespaceInfo, Page

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "DEFAULT_NAMESPACE",
    "MEMORIES",
    "SYSTEM_AGENT",
    "Ctx",
    "entry_cap",
    "execute",
    "to_entry",
]

DEFAULT_NAMESPACE = "default"
#: The kind of a namespace the memories API wrote to: its entries (records, vectors, links,
#: the marker) change only through that API (ops with ``memories=True``).
MEMORIES = "memories"


class Ctx:
    """Per-op context: the transaction, settings, the op's time and its events."""

    __slots__ = ("local", "now", "settings", "stream", "tx")

    def __init__(self, tx: Txn, settings: Settings, now: float) -> None:
        self.tx = tx
        self.settings = settings
        self.now = now
        self.stream: list[Event] = []
        self.local: list[Event] = []

    def emit(self, type_: str, ns: str, agent: str, **fields: Any) -> Event:
        """Take the namespace's next revision and append a stream event."""
        event = Event(type_, ns, self.tx.rev_next(ns), self.now, agent, **fields)
        self.tx.event_append(event)
        self.stream.append(event)
        return event


def to_entry(ns: str, key: str, s: Stored, value: Any = _codec) -> Entry:
    """Build the public :class:`Entry` from a stored row (decoding the value unless given)."""
    if value is _codec:
        value = _codec.decode(s.value_json)
    return Entry(
        ns, key, value, s.owner, s.version, s.revision, s.created_at, s.updated_at, s.expires_at
    )


def _live(s: Stored | None, now: float) -> Stored | None:
    if s is None or (s.expires_at is not None and s.expires_at <= now):
        return None
    return s


# ---------------------------------------------------------------- namespaces


def _namespace(
    ctx: Ctx,
    op: o.Op[Any],
    name: str,
    needed: int,
    create: bool = False,
    entries: bool | None = None,
) -> NamespaceInfo:
    """The namespace an op addresses, created if asked and allowed, the caller checked.

    ``entries`` (default: ``needed == WRITE``): the op changes entries, so the namespace's
    kind must allow the op's door (see :func:`_check_kind`).
    """
    info = ctx.tx.ns_get(name)
    if info is None:
        if not (create and ctx.settings.auto_create_namespaces):
            raise NamespaceNotFound(f"namespace {name!r} does not exist", namespace=name)
        info = _create(ctx, o.CreateNamespace(agent=op.agent, admin=op.admin, ns=name))
    require(info, op.agent, needed, op.admin)
    if (needed == WRITE if entries is None else entries) and (info.kind == MEMORIES) != (
        op.memories
    ):
        info = _check_kind(ctx, op, info)
    return info


def _check_kind(ctx: Ctx, op: o.Op[Any], info: NamespaceInfo) -> NamespaceInfo:
    """Mark a namespace the memories API writes to; refuse other doors into a marked one.

    A namespace of an earlier version holding memories (its marker entry, no kind) is
    marked by the first memories write; no plain write pays for a read to find out.
    """
    if op.memories:
        info = dataclasses.replace(info, kind=MEMORIES)
        ctx.tx.ns_put(info)
        return info
    raise WrongType(
        f"namespace {info.name!r} holds long-term memories: its entries change only through "
        f"the memories API (mem.memories({info.name!r}), /v1/namespaces/{info.name}/memories)",
        namespace=info.name,
        reason="memories_namespace",
    )


def _create(ctx: Ctx, op: o.CreateNamespace) -> NamespaceInfo:
    _check_namespace_quota(ctx, op)
    perms = dict(op.permissions) if op.permissions is not None else {}
    if op.permissions is None or op.agent not in perms:
        perms.setdefault(op.agent, "admin")
    info = NamespaceInfo(
        name=op.ns,
        default_permission=op.default_permission,
        permissions=perms,
        conflict_strategy=op.conflict_strategy,
        resolver=op.resolver,
        ttl=op.ttl,
        max_entries=op.max_entries,
        description=op.description,
        created_by=op.agent,
        created_at=ctx.now,
        group=op.group,
    )
    ctx.tx.ns_put(info)
    ctx.emit("namespace:created", op.ns, op.agent, message=_public_config(info))
    return info


# ---------------------------------------------------------------- quotas


def _check_namespace_quota(ctx: Ctx, op: o.Op[Any]) -> None:
    """Refuse a namespace beyond the agent's quota (admins and the store itself are exempt)."""
    limit = ctx.settings.max_namespaces_per_agent
    if limit is None or op.admin or op.internal:
        return
    if ctx.tx.ns_count_by(op.agent) >= limit:
        raise QuotaExceeded(
            f"agent {op.agent!r} created {limit} namespaces already, its quota; delete one "
            "first or ask the operator to raise --max-namespaces-per-agent",
            quota="namespaces_per_agent",
            limit=limit,
        )


def entry_cap(info: NamespaceInfo, settings: Settings) -> int | None:
    """The most entries the namespace may hold: its ``max_entries``, else the store's default.

    The store's own namespaces (tokens) have no default cap. The fast write paths ask this
    too, so they hand a write to a full namespace to the engine.
    """
    if info.max_entries is not None:
        return info.max_entries
    return None if is_reserved(info.name) else settings.default_max_entries


#: Mutations that never add data: allowed on a store over its byte quota (they free space).
_FREEING = (
    o.Delete,
    o.DeletePrefix,
    o.ExpirePrefix,
    o.ClearNamespace,
    o.DeleteNamespace,
    o.Sweep,
    o.ListPop,
    o.ListRemove,
    # (workers must drain a queue of a full store)
    o.QueueClaim,
    o.QueueAck,
    o.QueueNack,
    o.QueueExtend,
)


def _check_store_bytes(tx: Txn, op: o.Op[Any], settings: Settings) -> None:
    """Refuse a mutation that may add data to a store over its byte quota."""
    limit = settings.max_store_bytes
    if limit is None or op.internal or op.admin or op.agent == SYSTEM_AGENT:
        return  # the store's own records (its setup included) and admins are exempt
    if isinstance(op, _FREEING):
        return
    size = tx.store_bytes()
    if size is not None and size >= limit:
        raise QuotaExceeded(
            f"the store takes {size} bytes, its quota is {limit}: delete entries or ask the "
            "operator to raise --max-store-bytes",
            quota="store_bytes",
            limit=limit,
        )


def _public_config(info: NamespaceInfo) -> dict[str, Any]:
    data = info.to_dict()
    data.pop("revision")
    return data


def create_namespace(ctx: Ctx, op: o.CreateNamespace) -> NamespaceInfo:
    existing = ctx.tx.ns_get(op.ns)
    if existing is not None:
        if op.exist_ok:
            require(existing, op.agent, READ, op.admin)
            return _with_rev(ctx, existing)
        raise AlreadyExists(f"namespace {op.ns!r} exists already", namespace=op.ns)
    return _with_rev(ctx, _create(ctx, op))


def _with_rev(ctx: Ctx, info: NamespaceInfo) -> NamespaceInfo:
    return dataclasses.replace(info, revision=ctx.tx.rev_get(info.name))


def get_namespace(ctx: Ctx, op: o.GetNamespace) -> NamespaceInfo:
    return _with_rev(ctx, _namespace(ctx, op, op.ns, READ))


def list_namespaces(ctx: Ctx, op: o.ListNamespaces) -> list[NamespaceInfo]:
    out: list[NamespaceInfo] = []
    for info in ctx.tx.ns_list():
        if op.limit is not None and len(out) >= op.limit:
            break
        if op.after is not None and info.name <= op.after:
            continue
        if level_of(info, op.agent, op.admin) >= READ and not is_reserved(info.name):
            out.append(_with_rev(ctx, info))  # a revision read only for what is answered
    return out


#: Config fields ``update_namespace`` may change.
CONFIG_FIELDS = frozenset(
    {"default_permission", "conflict_strategy", "resolver", "ttl", "max_entries", "description"}
)


def update_namespace(ctx: Ctx, op: o.UpdateNamespace) -> NamespaceInfo:
    info = _namespace(ctx, op, op.ns, ADMIN)
    unknown = set(op.changes) - CONFIG_FIELDS - {"permissions"}
    if unknown:
        raise InvalidArgument(f"unknown namespace fields: {', '.join(sorted(unknown))}")
    changes = dict(op.changes)
    if "permissions" in changes:
        changes["permissions"] = _merge_perms(info.permissions, changes["permissions"])
    new = dataclasses.replace(info, **changes)
    ctx.tx.ns_put(new)
    ctx.emit("namespace:updated", op.ns, op.agent, message=_public_config(new))
    return _with_rev(ctx, new)


def _merge_perms(
    current: dict[str, str | None], changes: dict[str, str | None]
) -> dict[str, str | None]:
    merged = dict(current)
    for agent, level in changes.items():
        if level is None:
            merged.pop(agent, None)
        else:
            merged[agent] = level
    return merged


def update_permissions(ctx: Ctx, op: o.UpdatePermissions) -> NamespaceInfo:
    info = _namespace(ctx, op, op.ns, ADMIN)
    new = dataclasses.replace(info, permissions=_merge_perms(info.permissions, op.permissions))
    ctx.tx.ns_put(new)
    ctx.emit("namespace:permissions_updated", op.ns, op.agent, message=dict(new.permissions))
    return _with_rev(ctx, new)


def clear_namespace(ctx: Ctx, op: o.ClearNamespace) -> int:
    _namespace(ctx, op, op.ns, ADMIN)
    removed = ctx.tx.entries_clear(op.ns)
    count = sum(1 for k, s in removed if _live(s, ctx.now) and not k.startswith(INTERNAL))
    ctx.emit("namespace:cleared", op.ns, op.agent, message={"removed": count})
    return count


def delete_namespace(ctx: Ctx, op: o.DeleteNamespace) -> None:
    if op.ns == DEFAULT_NAMESPACE:
        raise InvalidArgument("the 'default' namespace always exists; clear it instead")
    _namespace(ctx, op, op.ns, ADMIN)
    ctx.tx.entries_clear(op.ns)
    ctx.tx.ns_delete(op.ns)
    ctx.emit("namespace:deleted", op.ns, op.agent)


# ---------------------------------------------------------------- entries


def get(ctx: Ctx, op: o.Get) -> Entry | None:
    info, raw = ctx.tx.ns_and_entry(op.ns, op.key)
    if info is None:
        raise NamespaceNotFound(f"namespace {op.ns!r} does not exist", namespace=op.ns)
    require(info, op.agent, READ, op.admin)
    s = _live(raw, ctx.now)
    entry = to_entry(op.ns, op.key, s) if s is not None else None
    if ctx.settings.read_events:
        ctx.local.append(
            Event(
                "memory:read",
                op.ns,
                0,
                ctx.now,
                op.agent,
                key=op.key,
                value=entry.value if entry else None,
                version=entry.version if entry else None,
            )
        )
    return entry


def exists(ctx: Ctx, op: o.Exists) -> bool:
    info, raw = ctx.tx.ns_and_entry(op.ns, op.key)
    if info is None:
        raise NamespaceNotFound(f"namespace {op.ns!r} does not exist", namespace=op.ns)
    require(info, op.agent, READ, op.admin)
    return _live(raw, ctx.now) is not None


def impersonation(ctx: Ctx, op: o.Impersonation) -> None:
    raise PermissionDenied(op.reason)


def get_many(ctx: Ctx, op: o.GetMany) -> dict[str, Entry]:
    _namespace(ctx, op, op.ns, READ)
    out: dict[str, Entry] = {}
    for key in op.keys:
        s = _live(ctx.tx.entry_get(op.ns, key), ctx.now)
        if s is not None:
            out[key] = to_entry(op.ns, key, s)
    return out


def _encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument(f"invalid cursor {cursor!r}: pass back a next_cursor") from None


def list_entries(ctx: Ctx, op: o.ListEntries) -> Page[Entry]:
    _namespace(ctx, op, op.ns, READ)
    if shows_internal(op.prefix) and not op.memories:
        return Page([], None)
    after = public_after(op.prefix, _decode_cursor(op.cursor) if op.cursor else None)
    items: list[Entry] = []
    limit, now, ns = op.limit, ctx.now, op.ns
    more = False
    least = 0  # grows while pages hold expired rows: reads stay few however many there are
    while True:
        # One row beyond the page tells whether another page follows (no second query).
        want = None if limit is None else max(limit - len(items) + 1, least)
        rows = ctx.tx.entries_scan(ns, op.prefix, after, want)
        for key, s in rows:
            if limit is not None and len(items) >= limit:
                more = True  # a stored row follows the full page
                break
            if s.expires_at is None or s.expires_at > now:
                items.append(to_entry(ns, key, s))
        if more or want is None or len(rows) < want:
            break
        after = rows[-1][0]
        least = min(max(want, 64) * 4, 1 << 16)
    return Page(items, _encode_cursor(items[-1].key) if more else None)


def _expire(ctx: Ctx, ns: str, key: str, s: Stored) -> None:
    """Remove an expired entry and announce it (an internal record: as its kind says)."""
    kind = internal_kind(key)
    if kind is None:
        ctx.tx.entry_delete(ns, key)
        ctx.emit("memory:expired", ns, SYSTEM_AGENT, key=key, version=s.version)
    elif kind in SWEEPERS:
        SWEEPERS[kind](ctx, ns, key, s)
    else:
        ctx.tx.entry_delete(ns, key)


def _write_one(
    ctx: Ctx,
    op: o.Op[Any],
    info: NamespaceInfo,
    key: str,
    value_json: str,
    ttl: float | None,
    expected_version: int | None,
    lease_expiry: float | None = None,
) -> Entry:
    """Write one entry; ``lease_expiry`` (an attached lease's end) replaces any ttl."""
    ns, tx, now = info.name, ctx.tx, ctx.now
    raw = tx.entry_get(ns, key)
    strategy = info.conflict_strategy
    refused, current, expired, resolve, adds, version, created_at = decide_put(
        raw, strategy, expected_version, now
    )
    if expired:
        assert raw is not None
        _expire(ctx, ns, key, raw)
    ttl = ttl if ttl is not None else info.ttl
    expires_at = now + ttl if ttl is not None else None
    if lease_expiry is not None:
        expires_at = lease_expiry
    value: Any = _codec  # the text as given is stored, decoded once for the returned entry
    if refused is not None:
        exc = refusal(refused, ns, key, current, expected_version)
        raise _conflict(ctx, op, ns, key, value_json, exc)
    if resolve:
        assert raw is not None
        existing = to_entry(ns, key, raw)
        incoming = Entry(ns, key, _codec.decode(value_json), op.agent, 0, 0, now, now, expires_at)
        try:
            value = resolve_value(
                strategy, existing, incoming, ctx.settings.resolvers.get(info.resolver or "")
            )
        except InvalidArgument as exc:
            if exc.details.get("reason") == "resolver_unavailable":
                exc.details["resolver"] = info.resolver
            raise
        except ConflictError as exc:
            _conflict(ctx, op, ns, key, value_json, exc)
            raise
        value_json = _codec.encode_value(value, ctx.settings.max_value_bytes)
    check_value(value_json)  # (list headers are written by list ops alone)
    if adds:
        cap = entry_cap(info, ctx.settings)
        if cap is not None:
            _check_room(ctx, info, cap)
    internal = key.startswith(INTERNAL)
    # An internal record takes no revision and emits no event (see engine/reserved.py);
    # its version stands in for the revision, so each write still changes the row.
    rev = version if internal else tx.rev_next(ns)
    s = Stored(value_json, op.agent, version, rev, created_at, now, expires_at)
    tx.entry_put(ns, key, s)
    entry = to_entry(ns, key, s, value)
    if internal:
        return entry
    event = Event(
        "memory:write", ns, rev, now, op.agent, key=key, value=entry.value, version=s.version
    )
    tx.event_append(event)
    ctx.stream.append(event)
    return entry


def _conflict(
    ctx: Ctx, op: o.Op[Any], ns: str, key: str, value_json: str, exc: ConflictError
) -> ConflictError:
    """Tell in-process listeners of a refused write (``memory:conflict``); return ``exc``."""
    ctx.local.append(
        Event(
            "memory:conflict",
            ns,
            0,
            ctx.now,
            op.agent,
            key=key,
            value=_codec.decode(value_json),
            version=exc.current_version,
            reason=exc.reason,
        )
    )
    return exc


def _check_room(ctx: Ctx, info: NamespaceInfo, cap: int | None = None) -> None:
    """Refuse a new entry beyond ``cap`` (default: the namespace's ``max_entries``)."""
    cap = info.max_entries if cap is None else cap
    assert cap is not None
    if ctx.tx.entry_count(info.name) < cap:
        return
    # One free slot is all this write needs: a bounded number of expired entries makes it.
    for ns, key in ctx.tx.expired_scan(ctx.now, MAX_PREFIX, info.name):
        raw = ctx.tx.entry_get(ns, key)
        if raw is not None:
            _expire(ctx, ns, key, raw)
    if ctx.tx.entry_count(info.name) < cap:
        return
    if info.max_entries is not None:
        raise NamespaceFull(
            f"namespace {info.name!r} holds its max_entries={info.max_entries} entries",
            namespace=info.name,
            max_entries=info.max_entries,
        )
    raise QuotaExceeded(
        f"namespace {info.name!r} holds {cap} entries, the store's default quota for a "
        "namespace without max_entries; delete entries, set the namespace's max_entries, or "
        "ask the operator to raise --max-entries-per-namespace",
        quota="entries_per_namespace",
        limit=cap,
        namespace=info.name,
    )


def put(ctx: Ctx, op: o.Put) -> Entry:
    ctx.tx.read_ahead(op.ns, op.key)
    info = _namespace(ctx, op, op.ns, WRITE, create=True)
    if op.resolved:
        _check_resolved(ctx, op, info)
        info = dataclasses.replace(info, conflict_strategy="latest-wins")
    return _write_one(ctx, op, info, op.key, op.value_json, op.ttl, op.expected_version)


def _check_resolved(ctx: Ctx, op: o.Put, info: NamespaceInfo) -> None:
    """A pre-resolved write is allowed only where the store cannot resolve by itself."""
    if info.conflict_strategy != "custom" or info.resolver in ctx.settings.resolvers:
        raise InvalidArgument(
            f"resolved=true applies only to 'custom' namespaces whose resolver runs in the "
            f"client; namespace {info.name!r} resolves its writes itself"
        )
    if op.expected_version is None:
        raise InvalidArgument("a resolved write needs expected_version (the version it resolved)")


def put_many(ctx: Ctx, op: o.PutMany) -> list[Entry]:
    info = _namespace(ctx, op, op.ns, WRITE, create=True)
    return [_write_one(ctx, op, info, k, v, op.ttl, None) for k, v in op.items]


def delete(ctx: Ctx, op: o.Delete) -> bool:
    _namespace(ctx, op, op.ns, WRITE)
    return _delete_one(ctx, op, op.ns, op.key, op.expected_version)


def _delete_one(ctx: Ctx, op: o.Op[Any], ns: str, key: str, expected: int | None) -> bool:
    raw = ctx.tx.entry_get(ns, key)
    decision = decide_delete(raw, expected, ctx.now)
    if decision.refusal is not None:
        raise refusal(decision.refusal, ns, key, decision.version, expected)
    if decision.outcome == DELETED:
        ctx.tx.entry_delete(ns, key)
        if not key.startswith(INTERNAL):
            ctx.emit("memory:delete", ns, op.agent, key=key, version=decision.version)
        return True
    if decision.outcome == EXPIRED:
        assert raw is not None
        _expire(ctx, ns, key, raw)
    return False


def transact(ctx: Ctx, op: o.Transact) -> list[Entry]:
    info = _namespace(ctx, op, op.ns, WRITE, create=True)
    keys = [k for k, _, _ in op.puts] + [k for k, _ in op.deletes]
    if len(set(keys)) != len(keys):
        raise InvalidArgument("a transaction names each key once")
    if not op.memories and any(k.startswith(INTERNAL) for k in keys):
        # (the memories plans keep their internal records this way; nothing else may)
        raise InvalidArgument("keys starting with \\x01 are the engine's own")
    for key, expected in op.deletes:
        _delete_one(ctx, op, info.name, key, expected)
    entries = [_write_one(ctx, op, info, k, v, None, exp) for k, v, exp in op.puts]
    written = {e.key: e for e in entries}
    for type_, key in op.notes:
        if type_ not in NOTE_TYPES or key not in written:
            raise InvalidArgument(f"a transaction cannot note {type_!r} of {key!r}")
        ctx.emit(type_, info.name, op.agent, key=key, version=written[key].version)
    return entries


#: Events a transaction may add to say what its writes mean (``Transact.notes``).
NOTE_TYPES = frozenset({"memory:archived", "memory:restored"})


def broadcast(ctx: Ctx, op: o.Broadcast) -> Event:
    _namespace(ctx, op, op.ns, WRITE, create=True, entries=False)
    return ctx.emit("memory:broadcast", op.ns, op.agent, message=_codec.decode(op.message_json))


# ---------------------------------------------------------------- events, audit, stats


def start_watch(ctx: Ctx, op: o.StartWatch) -> int:
    info = ctx.tx.ns_get(op.ns)
    if info is not None:
        require(info, op.agent, READ, op.admin)
    if op.since is not None:
        _check_retained(ctx, op.ns, op.since)
    return ctx.tx.rev_get(op.ns)


def _check_retained(ctx: Ctx, ns: str, since: int) -> None:
    if since < 0:
        raise InvalidArgument(f"invalid revision {since}: give an integer >= 0")
    current = ctx.tx.rev_get(ns)
    if since > current:
        _ahead(ns, since, current)
    if since == current:
        return
    oldest = ctx.tx.events_oldest(ns)
    if oldest is None or oldest > since + 1:
        raise RevisionCompacted(
            f"revision {since} of namespace {ns!r} is no longer retained; "
            f"resync and watch from {oldest if oldest is not None else current}",
            oldest_available=oldest if oldest is not None else current,
            namespace=ns,
        )


def _ahead(ns: str, since: int, current: int) -> None:
    """A watcher ahead of the store: the store lost its history (e.g. Redis restarted empty).

    Resuming would silently mix two histories once the revisions climb back past ``since``.
    """
    raise RevisionCompacted(
        f"revision {since} is ahead of namespace {ns!r}'s current revision {current}: the "
        f"store lost its history (restarted empty?); resync and watch from {current}",
        oldest_available=current,
        namespace=ns,
    )


def events_after(ctx: Ctx, op: o.EventsAfter) -> list[Event]:
    info = ctx.tx.ns_get(op.ns)
    if info is not None:
        require(info, op.agent, READ, op.admin)
    events = ctx.tx.events_after(op.ns, op.since, op.limit)
    if events and events[0].revision != op.since + 1:
        _check_retained(ctx, op.ns, op.since)
    elif not events and op.since > (current := ctx.tx.rev_get(op.ns)):
        _ahead(op.ns, op.since, current)
    if info is None and events and events[-1].type != "namespace:deleted":
        return []  # deleted and not recreated yet: nothing readable
    return events


def access_log(ctx: Ctx, op: o.AccessLogQuery) -> list[AccessLogEntry]:
    visible: Callable[[str | None], bool] | None = None
    if not op.admin:
        cache: dict[str | None, bool] = {}

        def visible(ns: str | None) -> bool:
            if ns not in cache:
                info = ctx.tx.ns_get(ns) if ns else None
                cache[ns] = info is not None and level_of(info, op.agent) >= ADMIN
            return cache[ns]

    return ctx.tx.audit_query(
        op.agent_id, op.ns, op.action_filter, op.success, op.since, op.limit, visible
    )


def stats(ctx: Ctx, op: o.Stats) -> dict[str, Any]:
    per_ns = {}
    total = 0
    for info in ctx.tx.ns_list():
        if level_of(info, op.agent, op.admin) < READ or is_reserved(info.name):
            continue
        expired = len(ctx.tx.expired_scan(ctx.now, 1 << 62, info.name))
        count = ctx.tx.entry_count(info.name) - expired
        total += count
        per_ns[info.name] = {
            "entries": count,
            "bytes": ctx.tx.ns_bytes(info.name),
            "revision": ctx.tx.rev_get(info.name),
        }
    return {
        "namespaces": len(per_ns),
        "total_entries": total,
        "total_access_logs": ctx.tx.audit_count(),
        "per_namespace": per_ns,
    }


def sweep(ctx: Ctx, op: o.Sweep) -> int:
    count = 0
    # An expired lease first: the entries attached to it (same expiry) then go as
    # "memory:deleted" (reason lease_expired) with it, not one by one as "memory:expired".
    found = sorted(
        ctx.tx.expired_scan(ctx.now, op.limit), key=lambda nk: internal_kind(nk[1]) != "lease"
    )
    for ns, key in found:
        raw = ctx.tx.entry_get(ns, key)
        if raw is not None and not _live(raw, ctx.now):
            _expire(ctx, ns, key, raw)
            count += 1
    return count


#: Each op's handler. The list ops' handlers (:mod:`hivemem.engine.lists`, which builds on
#: this module) join the table in :mod:`hivemem.engine`, the package that imports both.
HANDLERS: dict[type, Callable[[Ctx, Any], Any]] = {
    o.CreateNamespace: create_namespace,
    o.GetNamespace: get_namespace,
    o.ListNamespaces: list_namespaces,
    o.UpdateNamespace: update_namespace,
    o.UpdatePermissions: update_permissions,
    o.ClearNamespace: clear_namespace,
    o.DeleteNamespace: delete_namespace,
    o.Get: get,
    o.Exists: exists,
    o.Impersonation: impersonation,
    o.GetMany: get_many,
    o.ListEntries: list_entries,
    o.Put: put,
    o.PutMany: put_many,
    o.Transact: transact,
    o.Delete: delete,
    o.Broadcast: broadcast,
    o.StartWatch: start_watch,
    o.EventsAfter: events_after,
    o.AccessLogQuery: access_log,
    o.Stats: stats,
    o.Sweep: sweep,
}


def execute(tx: Txn, op: o.Op[Any], settings: Settings, now: float | None = None) -> Result:
    """Run one op inside the backend's atomic step and audit it.

    A refused op (any :class:`HivememError`) is rolled back: its stream events are dropped,
    local events (``memory:conflict``) are kept for in-process listeners. Any other
    exception (a bug, a codec or driver error) is rolled back the same way and becomes the
    op's :class:`InternalError`, logged once: one op never takes its commit down with it.
    """
    ctx = Ctx(tx, settings, settings.clock() if now is None else now)
    result = Result()
    idem = getattr(op, "idempotency_key", None)
    if idem is not None:
        idem = f"{op.agent}\x00{idem}"
        remembered = tx.idem_get(idem, ctx.now)
        if remembered is not None:
            result.value = decode_result(remembered)
            _audit(tx, op, ctx, None)
            return result
    mutates = op.mutates
    if mutates:
        tx.savepoint()
    try:
        if mutates and settings.max_store_bytes is not None:
            _check_store_bytes(tx, op, settings)
        result.value = HANDLERS[type(op)](ctx, op)
    except HivememError as exc:
        if mutates:
            tx.rollback()
        result.error = exc
        result.events = ctx.local
    except tx.passthrough:
        raise
    except Exception as exc:
        if mutates:
            tx.rollback()
        result.error = InternalError.of(exc, f"op {type(op).__name__} on {op.namespace_name!r}")
        result.events = ctx.local
    else:
        if idem is not None:
            tx.idem_put(idem, encode_result(result.value), ctx.now)
        if mutates:
            tx.release()
        result.events = ctx.stream + ctx.local if ctx.local else ctx.stream
    _audit(tx, op, ctx, result.error)
    return result


def _audit(tx: Txn, op: o.Op[Any], ctx: Ctx, error: HivememError | None) -> None:
    action = op.action
    if op.internal:
        return
    if isinstance(op, o.StartWatch):
        action = op.audit_action
    if action is None or (not op.mutates and not ctx.settings.log_reads and error is None):
        return
    key = None if isinstance(op, o.PutMany | o.GetMany | o.Transact) else op.key_name
    tx.audit_append(
        AccessLogEntry(
            ctx.now,
            op.agent,
            op.namespace_name,
            key,
            action,
            error is None,
            None if error is None else f"{error.code}: {error.message}",
        )
    )
