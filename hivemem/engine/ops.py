"""Operations: frozen records of what a caller asked for.

The public API turns each call into one op, once; backends execute ops; the server's
``/batch`` route and the remote client carry them unchanged. Values travel as JSON text
(``value_json``), already validated and size-checked by the caller's side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from hivemem._frozen import fast_init
from hivemem.engine.txn import Stored
from hivemem.types import AccessLogEntry, Entry, Event, NamespaceInfo, Page, Version

__all__ = [
    "MUTATIONS",
    "AccessLogQuery",
    "Broadcast",
    "ClearNamespace",
    "CreateNamespace",
    "Delete",
    "DeleteNamespace",
    "DeletePrefix",
    "DumpEntries",
    "DumpEvents",
    "EventsAfter",
    "ExpirePrefix",
    "Exists",
    "Get",
    "Impersonation",
    "GetMany",
    "GetNamespace",
    "History",
    "ListAsOf",
    "ReadAsOf",
    "ListEntries",
    "ListInsert",
    "ListNamespaces",
    "ListPop",
    "ListPush",
    "ListRange",
    "ListRemove",
    "Op",
    "Put",
    "PutMany",
    "Restore",
    "StartWatch",
    "Stats",
    "Sweep",
    "Transact",
    "UpdateNamespace",
    "UpdatePermissions",
]

R = TypeVar("R")


@dataclass(frozen=True, slots=True, kw_only=True)
class Op(Generic[R]):
    """Base of every op: who asks, whether they are a server admin, whether it is internal.

    Internal ops are the store's own bookkeeping (the server's token records): they are not
    audited, and only the server builds them (names under :data:`RESERVED_PREFIX`).

    ``memories`` marks the ops of the memories API (:mod:`hivemem.memories.plans`): only they
    write the entries of a namespace of kind ``memories``. No route or wire format carries
    the flag; plans set it where they run (in process, or in the server).
    """

    agent: str
    admin: bool = False
    internal: bool = False
    memories: bool = False

    #: The audit action name; ``None`` for ops that are not audited.
    action: ClassVar[str | None] = None
    #: True for ops that change state (they run in a write transaction).
    mutates: ClassVar[bool] = False

    @property
    def namespace_name(self) -> str | None:
        """The namespace the op addresses, if any."""
        return getattr(self, "ns", None)

    @property
    def key_name(self) -> str | None:
        """The key the op addresses, if any."""
        return getattr(self, "key", None)


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateNamespace(Op[NamespaceInfo]):
    """Create a namespace; the creator becomes its admin unless ``permissions`` say otherwise."""

    ns: str
    default_permission: str | None = "write"
    permissions: dict[str, str | None] | None = None
    conflict_strategy: str = "latest-wins"
    resolver: str | None = None
    ttl: float | None = None
    max_entries: int | None = None
    description: str = ""
    exist_ok: bool = False
    action: ClassVar[str | None] = "create_namespace"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class GetNamespace(Op[NamespaceInfo]):
    """Read a namespace's configuration (needs read)."""

    ns: str
    action: ClassVar[str | None] = "get_namespace"


@dataclass(frozen=True, slots=True, kw_only=True)
class ListNamespaces(Op[list[NamespaceInfo]]):
    """List the namespaces the agent can read, by name.

    ``after``/``limit`` page the list: names > ``after``, at most ``limit`` (``None``: all).
    """

    after: str | None = None
    limit: int | None = None
    action: ClassVar[str | None] = "list_namespaces"


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateNamespace(Op[NamespaceInfo]):
    """Change configuration fields (needs admin)."""

    ns: str
    changes: dict[str, Any] = field(default_factory=dict)
    action: ClassVar[str | None] = "update_namespace"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdatePermissions(Op[NamespaceInfo]):
    """Merge per-agent permission overrides; a ``None`` value removes one (needs admin)."""

    ns: str
    permissions: dict[str, str | None] = field(default_factory=dict)
    action: ClassVar[str | None] = "update_permissions"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ClearNamespace(Op[int]):
    """Delete every entry of a namespace (needs admin)."""

    ns: str
    action: ClassVar[str | None] = "clear"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteNamespace(Op[None]):
    """Delete a namespace and its entries (needs admin)."""

    ns: str
    action: ClassVar[str | None] = "delete_namespace"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Get(Op[Entry | None]):
    """Read one entry (needs read)."""

    ns: str
    key: str
    action: ClassVar[str | None] = "read"


@dataclass(frozen=True, slots=True, kw_only=True)
class Exists(Op[bool]):
    """Whether a key holds a live entry (needs read; no value leaves the store)."""

    ns: str
    key: str
    action: ClassVar[str | None] = "exists"


@dataclass(frozen=True, slots=True, kw_only=True)
class GetMany(Op[dict[str, Entry]]):
    """Read several entries (needs read)."""

    ns: str
    keys: tuple[str, ...]
    action: ClassVar[str | None] = "read"


@dataclass(frozen=True, slots=True, kw_only=True)
class ListEntries(Op[Page[Entry]]):
    """List live entries by key order, optionally by prefix, paged (needs read).

    ``limit=None`` lists everything (``get_keys``/``get_all``).
    """

    ns: str
    prefix: str = ""
    limit: int | None = 100
    cursor: str | None = None
    action: ClassVar[str | None] = "list"


@dataclass(frozen=True, slots=True, kw_only=True)
class History(Op[list[Version]]):
    """A key's retained versions, newest first, revisions < ``before`` (needs read)."""

    ns: str
    key: str
    limit: int = 50
    before: int | None = None
    action: ClassVar[str | None] = "history"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadAsOf(Op[Entry | None]):
    """A key's entry as it was after ``revision``, or at time ``at`` (needs read).

    Exactly one of ``revision`` and ``at`` is given.
    """

    ns: str
    key: str
    revision: int | None = None
    at: float | None = None
    action: ClassVar[str | None] = "read"


@dataclass(frozen=True, slots=True, kw_only=True)
class ListAsOf(Op[Page[Entry]]):
    """Live entries as they were after ``revision`` (or at time ``at``), paged (needs read)."""

    ns: str
    revision: int | None = None
    at: float | None = None
    prefix: str = ""
    limit: int = 100
    cursor: str | None = None
    action: ClassVar[str | None] = "list"


@dataclass(frozen=True, slots=True, kw_only=True)
class Put(Op[Entry]):
    """Write one entry under the namespace's conflict strategy (needs write)."""

    ns: str
    key: str
    value_json: str
    ttl: float | None = None
    expected_version: int | None = None
    idempotency_key: str | None = None
    #: The caller ran the namespace's custom resolver itself (a client-side resolver the
    #: store does not have): store the value as given if ``expected_version`` still holds.
    resolved: bool = False
    action: ClassVar[str | None] = "write"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class PutMany(Op[list[Entry]]):
    """Write several entries, all or nothing (needs write)."""

    ns: str
    items: tuple[tuple[str, str], ...]
    ttl: float | None = None
    idempotency_key: str | None = None
    action: ClassVar[str | None] = "write_many"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Delete(Op[bool]):
    """Delete one entry (needs write)."""

    ns: str
    key: str
    expected_version: int | None = None
    idempotency_key: str | None = None
    action: ClassVar[str | None] = "delete"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Broadcast(Op[Event]):
    """Send a message to every reader of the namespace (needs write)."""

    ns: str
    message_json: str
    idempotency_key: str | None = None
    action: ClassVar[str | None] = "broadcast"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class StartWatch(Op[int]):
    """Check read permission and return the current revision (audited as watch/subscribe)."""

    ns: str
    since: int | None = None
    subscribe: bool = False

    @property
    def audit_action(self) -> str:
        """``subscribe`` or ``watch``."""
        return "subscribe" if self.subscribe else "watch"


@dataclass(frozen=True, slots=True, kw_only=True)
class EventsAfter(Op[list[Event]]):
    """Retained stream events with revision > ``since``, oldest first (needs read; unaudited)."""

    ns: str
    since: int
    limit: int = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class DumpEntries(Op[tuple[list[tuple[str, Stored]], str | None]]):
    """Stored rows of a namespace as kept, for an export (needs admin of the namespace).

    Rows with keys > ``after``, in key order, engine-internal keys included; entries expired
    by now are left out (no reader sees them; the sweeper removes them). Returns the rows
    and the key to pass as ``after`` next (``None``: the namespace is done): at most
    ``limit`` rows are scanned per call.
    """

    ns: str
    after: str | None = None
    limit: int = 1000
    action: ClassVar[str | None] = "export"


@dataclass(frozen=True, slots=True, kw_only=True)
class DumpEvents(Op[list[Event]]):
    """Retained events with revision > ``since``, oldest first, as kept (needs namespace admin).

    Unlike :class:`EventsAfter`, a ``since`` older than the retained log is no error: the
    export starts at the oldest retained event.
    """

    ns: str
    since: int = 0
    limit: int = 1000
    action: ClassVar[str | None] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Restore(Op[int]):
    """Write a namespace's exported state verbatim (store admins only; ``hivemem import``).

    The first op of a namespace carries its ``config`` (the namespace must not exist, or
    exist untouched: no entries, revision <= 1, as ``default`` in a new store); later ops
    carry its entries (stored rows: versions, owners, times, revisions as exported) and its
    retained events (revisions above the namespace's, in order; the counter follows them).

    ``replace`` (``import --merge=overwrite`` into a namespace with history of its own):
    the config and each entry replace the target's, each entry at a new revision of the
    target with its ``memory:write`` event (its version, owner and times as exported); the
    target's history stays and ``events`` must be empty. Returns the entries written.
    """

    ns: str
    config: NamespaceInfo | None = None
    entries: tuple[tuple[str, Stored], ...] = ()
    events: tuple[Event, ...] = ()
    replace: bool = False
    action: ClassVar[str | None] = "restore"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessLogQuery(Op[list[AccessLogEntry]]):
    """Audit records, newest first, filtered."""

    agent_id: str | None = None
    ns: str | None = None
    action_filter: str | None = None
    success: bool | None = None
    since: float | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class Impersonation(Op[None]):
    """A request that named another agent than its token's: refused, and audited as such.

    Only the server builds it, for the token's own agent; it changes nothing but the audit
    log, where the refusal lands as action ``impersonate`` with its reason.
    """

    reason: str
    action: ClassVar[str | None] = "impersonate"


@dataclass(frozen=True, slots=True, kw_only=True)
class Stats(Op[dict[str, Any]]):
    """Counters of the whole store."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Sweep(Op[int]):
    """Delete expired entries and announce each with a ``memory:expired`` event."""

    limit: int = 1000
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ListPush(Op[int]):
    """Append items to a list (``front=True``: prepend), atomically; return its new length.

    A list is a header entry at ``key`` and one entry per item (``key/<position>``), so an
    append writes two entries whatever the list's length (needs write).
    """

    ns: str
    key: str
    items: tuple[str, ...]
    ttl: float | None = None
    idempotency_key: str | None = None
    action: ClassVar[str | None] = "list_push"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ListPop(Op[Any]):
    """Remove and return the item at ``index`` (default the last) (needs write).

    Raises ``IndexOutOfRange`` for an empty list or an index outside it.
    """

    ns: str
    key: str
    index: int = -1
    idempotency_key: str | None = None
    action: ClassVar[str | None] = "list_pop"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ListInsert(Op[int]):
    """Insert an item before ``index`` (Python's ``list.insert``); return the new length."""

    ns: str
    key: str
    index: int
    item: str
    ttl: float | None = None
    idempotency_key: str | None = None
    action: ClassVar[str | None] = "list_insert"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ListRemove(Op[int]):
    """Remove the first item equal to ``item``; return the new length.

    Raises ``ItemNotFound`` if no item is equal (needs write).
    """

    ns: str
    key: str
    item: str
    idempotency_key: str | None = None
    action: ClassVar[str | None] = "list_remove"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ListRange(Op[tuple[list[Any], int]]):
    """The items ``[start:stop]`` (Python slice bounds) and the list's length (needs read)."""

    ns: str
    key: str
    start: int = 0
    stop: int | None = None
    action: ClassVar[str | None] = "list_range"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpirePrefix(Op[int]):
    """Set (``ttl``) or clear (``None``) the expiry of every live entry with ``prefix``."""

    ns: str
    prefix: str
    ttl: float | None = None
    action: ClassVar[str | None] = "expire_prefix"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class DeletePrefix(Op[int]):
    """Delete every entry whose key starts with ``prefix``; return how many (needs write)."""

    ns: str
    prefix: str
    action: ClassVar[str | None] = "delete_prefix"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Transact(Op[list[Entry]]):
    """Puts and deletes of keys of one namespace, each optionally conditional: all or none.

    Needs write. Returns the written entries, in order.

    ``puts`` holds ``(key, value_json, expected_version)``; ``deletes`` holds
    ``(key, expected_version)``; an ``expected_version`` of ``None`` means unconditional
    (0 means "must not exist"). Deleting a missing key is not an error. ``notes`` holds
    ``(event type, key)`` pairs: events that say what the writes mean (``memory:archived``
    of a record just put), emitted after them in the same step.
    """

    ns: str
    puts: tuple[tuple[str, str, int | None], ...] = ()
    deletes: tuple[tuple[str, int | None], ...] = ()
    notes: tuple[tuple[str, str], ...] = ()
    idempotency_key: str | None = None
    action: ClassVar[str | None] = "transact"
    mutates: ClassVar[bool] = True


#: Op types that run in a write transaction.
MUTATIONS: frozenset[type[Op[Any]]] = frozenset(
    cls
    for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, Op) and cls.mutates
)


def _speed_up() -> None:
    """Give every op class the faster constructor (see :mod:`hivemem._frozen`)."""
    for name in __all__:
        cls = globals()[name]
        if isinstance(cls, type) and issubclass(cls, Op) and cls is not Op:
            fast_init(cls)


_speed_up()
