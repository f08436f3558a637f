"""Operations: frozen records of what a caller asked for.

The public API turns each call into one op, once; backends execute ops; the server's
``/batch`` route and the remote client carry them unchanged. Values travel as JSON text
(``value_json``), already validated and size-checked by the caller's side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from hivemem._frozen import fast_init
from hivemem.engine.txn import (
    Stored,
)
from hivemem.types import (
    AccessLogEntry,
    Entry,
    Event,
    Lease,
    Lock,
    NamespaceInfo,
    Page,
    Presence,
    QueueInfo,
    Task,
    TxnResult,
    Version,
    Webhook,
    WebhookDelivery,
)

__all__ = [
    "MUTATIONS",
    "AccessLogQuery",
    "AddWebhook",
    "ClaimWebhook",
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
    "GrantLease",
    "Join",
    "KeepAlive",
    "ListLocks",
    "ListPresence",
    "ListQueues",
    "LockInfo",
    "LockTurn",
    "RevokeLease",
    "TryLock",
    "Unlock",
    "ListEntries",
    "ListInsert",
    "ListNamespaces",
    "ListPop",
    "ListPush",
    "ListWebhooks",
    "ListRange",
    "ListRemove",
    "Op",
    "Put",
    "PutMany",
    "Restore",
    "QueueAck",
    "QueueClaim",
    "QueueDeadLetters",
    "QueueExtend",
    "QueueNack",
    "QueuePut",
    "QueueStats",
    "RecordDelivery",
    "RemoveWebhook",
    "StartWatch",
    "Stats",
    "Sweep",
    "Transact",
    "Transaction",
    "TxnCompare",
    "TxnStep",
    "UpdateNamespace",
    "UpdatePermissions",
    "WebhookDeliveries",
]

R = TypeVar("R")


@dataclass(frozen=True, slots=True, kw_only=True)
class Op(Generic[R]):
    """Base of every op: who asks, whether they are a server admin, whether it is internal.

    Internal ops are the store's own bookkeeping (the server's token records): they are not
    audited, and only the server builds them (names under :data:`RESERVED_PREFIX`).

    ``memories`` marks the ops of the memories API (:mod:`hivemem.memories.plans`): only they
    write the entries of a namespace of kind ``memories``, and only their listings show
    internal records (:mod:`hivemem.memories.layout`). No route or wire format carries the
    flag; plans set it where they run (in process, or in the server).
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
    #: The transaction group (immutable; on Redis Cluster, the namespace's hash tag).
    group: str | None = None
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
    #: A lease id: the entry lives as long as that lease (engine/leases.py).
    lease: str | None = None
    #: ``(namespace, lock name, token)``: refused unless that token still holds the lock.
    fence: tuple[str, str, int] | None = None
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


# ---------------------------------------------------------------- queues (engine/queues.py)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuePut(Op[Task]):
    """Add a task to queue ``queue`` of namespace ``ns`` (needs write; creates the namespace).

    ``task_id`` (32 hex digits) is chosen by whoever builds the op, so a backend that runs an
    op more than once (Redis, optimistically) writes the same records each time.

    ``dedupe``: a put with the same key into the same queue within the store's
    ``idempotency_ttl`` returns the first put's task instead of adding another.
    """

    ns: str
    queue: str
    task_id: str
    value_json: str
    priority: int = 0
    delay: float = 0.0
    dedupe: str | None = None
    action: ClassVar[str | None] = "queue_put"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueClaim(Op[Task | None]):
    """Claim the first ready task (highest priority, then oldest) for ``visibility`` seconds.

    Due tasks (lapsed claims, ended delays) are made ready first. ``None``: nothing ready.
    """

    ns: str
    queue: str
    worker: str | None = None
    visibility: float = 30.0
    max_attempts: int = 5
    action: ClassVar[str | None] = "queue_claim"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueAck(Op[None]):
    """Finish a claimed task (only the current claim's token and agent may)."""

    ns: str
    queue: str
    task_id: str
    token: int
    action: ClassVar[str | None] = "queue_ack"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueNack(Op[None]):
    """Give a claimed task back: ready again after ``delay`` s, or dead after max_attempts."""

    ns: str
    queue: str
    task_id: str
    token: int
    delay: float = 0.0
    max_attempts: int = 5
    action: ClassVar[str | None] = "queue_nack"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueExtend(Op[Task]):
    """Keep a claim for ``visibility`` more seconds from now; return the task."""

    ns: str
    queue: str
    task_id: str
    token: int
    visibility: float
    action: ClassVar[str | None] = "queue_extend"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueStats(Op[dict[str, int]]):
    """How many tasks are ready, claimed, delayed and dead (needs read; O(1))."""

    ns: str
    queue: str
    action: ClassVar[str | None] = "queue_stats"


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueDeadLetters(Op[list[Task]]):
    """The queue's dead tasks, oldest death first, at most ``limit`` (needs read)."""

    ns: str
    queue: str
    limit: int = 100
    action: ClassVar[str | None] = "queue_dead_letters"


@dataclass(frozen=True, slots=True, kw_only=True)
class ListQueues(Op[Page[QueueInfo]]):
    """The queues of ``ns`` with their counts, in name order, a page at a time (needs read)."""

    ns: str
    limit: int = 100
    cursor: str | None = None
    action: ClassVar[str | None] = "list_queues"


# ---------------------------------------------------------------- webhooks (engine/webhooks.py)


@dataclass(frozen=True, slots=True, kw_only=True)
class AddWebhook(Op[Webhook]):
    """Register a webhook on namespaces (server admin, or admin of every one of them).

    ``url`` and ``secret`` are checked by the caller's side (scheme, target address);
    the engine checks permissions and stores the record. ``hook_id`` is chosen by the
    caller's side too: an op must ask the same when a backend runs it again (Redis).
    """

    hook_id: str
    url: str
    namespaces: tuple[str, ...]
    events: tuple[str, ...] = ("*",)
    secret: str
    action: ClassVar[str | None] = "add_webhook"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ListWebhooks(Op[list[Webhook]]):
    """The webhooks the caller administers (all of them for a server admin), by id."""

    action: ClassVar[str | None] = "list_webhooks"


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveWebhook(Op[bool]):
    """Remove a webhook, its delivery log and its claim (admin of its namespaces)."""

    hook_id: str
    action: ClassVar[str | None] = "remove_webhook"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookDeliveries(Op[list[WebhookDelivery]]):
    """A webhook's delivery log, newest first (admin of its namespaces)."""

    hook_id: str
    limit: int = 100
    action: ClassVar[str | None] = "webhook_deliveries"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimWebhook(Op[Webhook | None]):
    """Internal (the delivery worker): take or renew a webhook's claim until ``until``.

    Returns the webhook (with its secret and cursors) if ``holder`` now holds the claim,
    ``None`` if another live holder has it, or the hook is gone or disabled.
    """

    hook_id: str
    holder: str
    until: float
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordDelivery(Op[Webhook]):
    """Internal (the delivery worker): log a delivery attempt, move the cursor on a 2xx.

    Refused with ``ConflictError(reason="claim_lost")`` unless ``holder`` holds the claim.
    ``cursor``: the namespace's new acknowledged revision (``None``: unchanged).
    ``delivery_json``: the attempt's log record (``None``: log nothing, e.g. a batch of
    events that no pattern matched). ``max_failures``: disable at that many in a row.
    """

    hook_id: str
    holder: str
    namespace: str
    cursor: int | None = None
    ok: bool = True
    error: str | None = None
    delivery_json: str | None = None
    max_failures: int = 0
    mutates: ClassVar[bool] = True


# ---------------------------------------------------------------- leases and locks
# (engine/leases.py, engine/locks.py; SPEC §19)


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantLease(Op[Lease]):
    """Grant a lease of ``ttl`` seconds homed in ``ns`` (``_hivemem.leases`` by default)."""

    ns: str
    ttl: float
    #: The new lease's id within its home (random, chosen when the op is built: a store
    #: that runs an op again after a conflict must grant the same lease).
    lease_hex: str
    action: ClassVar[str | None] = "grant_lease"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class KeepAlive(Op[Lease]):
    """Extend a live lease by its ttl (and all attached to it); ``ns`` is its home."""

    ns: str
    lease_id: str
    action: ClassVar[str | None] = "keep_alive"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class RevokeLease(Op[None]):
    """End a lease now: its entries, presence and locks go with it; ``ns`` is its home."""

    ns: str
    lease_id: str
    action: ClassVar[str | None] = "revoke_lease"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Join(Op[Presence]):
    """Mark the agent present in ``ns`` as long as its lease lives (needs write)."""

    ns: str
    lease_id: str
    info_json: str = "null"
    action: ClassVar[str | None] = "join"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ListPresence(Op[list[Presence]]):
    """The agents present in ``ns`` (live leases only), by agent id (needs read)."""

    ns: str
    action: ClassVar[str | None] = "presence"


@dataclass(frozen=True, slots=True, kw_only=True)
class TryLock(Op[Lock | None]):
    """Take the lock ``name`` of ``ns`` for ``ttl`` seconds if free, else ``None``.

    ``ticket``: a waiter's place in line (first come, first served): a free lock goes to
    the oldest live ticket; a busy one refreshes the ticket for ``ticket_ttl`` seconds.
    """

    ns: str
    name: str
    ttl: float
    ticket: str | None = None
    ticket_ttl: float = 2.0
    #: The id of the hold's lease within the namespace (as ``GrantLease.lease_hex``).
    lease_hex: str = ""
    action: ClassVar[str | None] = "lock"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Unlock(Op[bool]):
    """Release the hold ``token`` of lock ``name``; ``False`` if that hold had ended."""

    ns: str
    name: str
    token: int
    action: ClassVar[str | None] = "unlock"
    mutates: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class LockInfo(Op[Lock | None]):
    """The current holder of lock ``name`` of ``ns``, or ``None`` (needs read)."""

    ns: str
    name: str
    action: ClassVar[str | None] = "lock_info"


@dataclass(frozen=True, slots=True, kw_only=True)
class ListLocks(Op[Page[Lock]]):
    """The held locks of ``ns`` in name order, a page at a time (needs read)."""

    ns: str
    limit: int = 100
    cursor: str | None = None
    action: ClassVar[str | None] = "list_locks"


@dataclass(frozen=True, slots=True, kw_only=True)
class LockTurn(Op[bool]):
    """Whether ``try_lock`` with ``ticket`` would get the lock now (a waiter's poll; a read)."""

    ns: str
    name: str
    ticket: str
    action: ClassVar[str | None] = "lock_info"


# ---------------------------------------------------------------- transactions
# (SPEC §19 Transactions; handler in hivemem/engine/transactions.py)


@dataclass(frozen=True, slots=True)
class TxnCompare:
    """One condition of a transaction: ``target`` of the entry at ``ns``/``key``.

    ``target`` is ``"version"`` (``expected`` an int; 0: no live entry), ``"value"``
    (``expected`` the value's JSON text) or ``"exists"`` (``expected`` a bool).
    """

    ns: str
    key: str
    target: str
    expected: Any


@dataclass(frozen=True, slots=True)
class TxnStep:
    """One op of a transaction's branch: ``kind`` is ``"write"``, ``"delete"`` or ``"read"``.

    A write carries ``value_json`` and optionally ``ttl`` and ``expected_version``; a delete
    optionally ``expected_version``; a read nothing more.
    """

    kind: str
    ns: str
    key: str
    value_json: str | None = None
    ttl: float | None = None
    expected_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Transaction(Op[TxnResult]):
    """Compares, then the ops of one branch, in one atomic step across namespaces.

    Every compare is evaluated; if all hold, ``success`` runs, else ``failure``. Each op of
    the branch is the ordinary op (write, delete, read) with its usual permission, conflict
    strategy, events and audit record. The value is a :class:`~hivemem.types.TxnResult`.
    """

    compares: tuple[TxnCompare, ...] = ()
    success: tuple[TxnStep, ...] = ()
    failure: tuple[TxnStep, ...] = ()
    idempotency_key: str | None = None
    action: ClassVar[str | None] = "transaction"
    mutates: ClassVar[bool] = True

    @property
    def namespace_name(self) -> str | None:
        """The first namespace the transaction names (home of its audit record and key)."""
        items: tuple[TxnCompare | TxnStep, ...] = (*self.compares, *self.success, *self.failure)
        return items[0].ns if items else None

    @property
    def namespaces(self) -> list[str]:
        """Every namespace the transaction names, sorted (the order it reads them in)."""
        items: tuple[TxnCompare | TxnStep, ...] = (*self.compares, *self.success, *self.failure)
        return sorted({i.ns for i in items})


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
