"""The engine's contract with the backends: what a backend provides, what an op returns.

:class:`Txn` is the set of storage primitives the engine works over inside one atomic
step of a backend; :class:`Stored` is an entry as a backend keeps it; :class:`Result` is
what running one op produced; :class:`Settings` are the options an engine and its backend
share. The engine (:mod:`hivemem.engine.apply`) defines this contract and the backends
(:mod:`hivemem.backends`) implement it, so the engine imports nothing from them.
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from hivemem.engine.conflicts import Resolver
    from hivemem.errors import HivememError
    from hivemem.types import AccessLogEntry, Event, NamespaceInfo

__all__ = [
    "STORE_BYTES_EVERY",
    "Result",
    "Settings",
    "Stored",
    "Txn",
    "KEY_EVENT_TYPES",
    "NS_WIPE_TYPES",
    "changes_key",
    "filter_audit",
]


class Stored(NamedTuple):
    """An entry as a backend keeps it (the value as JSON text; expired ones included)."""

    value_json: str
    owner: str
    version: int
    revision: int
    created_at: float
    updated_at: float
    expires_at: float | None


@dataclass(slots=True)
class Settings:
    """Options shared by a store's engine and backend."""

    clock: Callable[[], float] = time.time
    max_value_bytes: int = 1 << 20
    event_retention: int = 10_000
    max_log_size: int = 100_000
    log_reads: bool = True
    idempotency_ttl: float = 600.0
    cleanup_interval: float = 60.0
    auto_create_namespaces: bool = True
    #: Set when someone listens to ``memory:read``: reads then build a local event.
    read_events: bool = False
    #: Set when any in-process listener exists: a remote client then asks for the events
    #: of its own ops.
    listening: bool = False
    resolvers: dict[str, Resolver] = field(default_factory=dict)
    #: The embedder of long-term memories (``hivemem.memories.embed``), or ``None``.
    embedder: Any = None
    #: How long-term memories decay (``hivemem.memories.decay.DecayPolicy``); ``None``: defaults.
    decay: Any = None
    #: Where long-term memory vector indexes are snapshotted at close so that a restart
    #: does not rebuild them (``hivemem.memories.snapshot``). ``None``: the backend's
    #: default (``<file>.index`` beside a SQLite file; none otherwise); ``""``: never.
    index_dir: str | None = None
    # -- quotas an operator sets (``None``: none; ``hivemem serve`` sets defaults)
    #: Namespaces one agent may create, auto-created ones included (admins are exempt).
    max_namespaces_per_agent: int | None = None
    #: Entries a namespace may hold when its config sets no ``max_entries``.
    default_max_entries: int | None = None
    #: Bytes the store may take (SQLite: its file; Redis: ``used_memory``); beyond, writes
    #: that add data are refused (deletes still run). Looked up at most every
    #: :data:`STORE_BYTES_EVERY` seconds, never per write.
    max_store_bytes: int | None = None


#: Seconds a backend may reuse its measure of the store's size (``Txn.store_bytes``).
STORE_BYTES_EVERY = 1.0


@dataclass(slots=True)
class Result:
    """What executing one op produced: a value or an error, and the events to dispatch."""

    value: Any = None
    error: HivememError | None = None
    events: list[Event] = field(default_factory=list)

    def unwrap(self) -> Any:
        """Return the value, or raise the error."""
        if self.error is not None:
            raise self.error
        return self.value


class Txn(abc.ABC):
    """Storage primitives inside one atomic step of a backend.

    ``savepoint``/``release``/``rollback`` bracket one op, so a refused op leaves nothing
    behind even when several ops share one commit. Entry primitives see expired entries too;
    the engine decides what is live.
    """

    #: Exceptions the engine lets through to the backend (its own signals, and driver
    #: errors that may have broken the whole transaction); any other exception an op raises
    #: fails that op alone (:class:`~hivemem.errors.InternalError`, its writes undone).
    passthrough: ClassVar[tuple[type[Exception], ...]] = ()

    # -- atomic brackets
    @abc.abstractmethod
    def savepoint(self) -> None:
        """Start an op whose changes :meth:`rollback` can undo."""

    @abc.abstractmethod
    def release(self) -> None:
        """Keep the changes of the current op."""

    @abc.abstractmethod
    def rollback(self) -> None:
        """Undo the changes of the current op."""

    # -- namespaces
    @abc.abstractmethod
    def ns_get(self, name: str) -> NamespaceInfo | None:
        """The namespace's config (its ``revision`` field is not filled), or ``None``."""

    @abc.abstractmethod
    def ns_put(self, info: NamespaceInfo) -> None:
        """Create or replace a namespace's config."""

    @abc.abstractmethod
    def ns_delete(self, name: str) -> None:
        """Remove a namespace's config (its revision counter survives)."""

    @abc.abstractmethod
    def ns_list(self) -> list[NamespaceInfo]:
        """Every namespace, by name."""

    @abc.abstractmethod
    def rev_get(self, ns: str) -> int:
        """The namespace's current revision (0 if it never changed)."""

    @abc.abstractmethod
    def rev_next(self, ns: str) -> int:
        """Take and return the namespace's next revision."""

    @abc.abstractmethod
    def rev_set(self, ns: str, rev: int) -> None:
        """Set the namespace's revision counter (a restore only: it may go backwards).

        ``rev`` is the revision of the newest event appended for the namespace (SQLite
        derives the counter from its newest event), or 0 after :meth:`events_clear`.
        """

    # -- entries
    @abc.abstractmethod
    def entry_get(self, ns: str, key: str) -> Stored | None:
        """The stored entry, expired or not."""

    def ns_and_entry(self, ns: str, key: str) -> tuple[NamespaceInfo | None, Stored | None]:
        """The namespace's config and the stored entry, in one step where the store can."""
        return self.ns_get(ns), self.entry_get(ns, key)

    def read_ahead(self, ns: str, key: str) -> None:  # noqa: B027 (optional: a hint)
        """A hint: the op reads the namespace's config, then this entry, next.

        A backend whose every read is a round trip fetches both in one
        (:meth:`ns_and_entry`) and serves the two reads from it; by default nothing happens.
        """

    def entries_get(self, ns: str, keys: list[str]) -> list[Stored | None]:
        """Several stored entries (expired or not), in one step where the store can."""
        return [self.entry_get(ns, key) for key in keys]

    @abc.abstractmethod
    def entry_put(self, ns: str, key: str, stored: Stored, new: bool | None = None) -> None:
        """Create or replace an entry.

        ``new``: whether no entry of the key is stored (``None``: ``stored.version == 1``
        says so; a restore writes new entries at any version).
        """

    @abc.abstractmethod
    def entry_delete(self, ns: str, key: str) -> None:
        """Remove an entry if present."""

    @abc.abstractmethod
    def entry_count(self, ns: str) -> int:
        """How many entries the namespace stores (expired but unswept ones included)."""

    @abc.abstractmethod
    def entries_clear(self, ns: str) -> list[tuple[str, Stored]]:
        """Remove every entry of the namespace and return what was removed."""

    @abc.abstractmethod
    def entries_scan(
        self, ns: str, prefix: str, after: str | None, limit: int | None
    ) -> list[tuple[str, Stored]]:
        """Entries in key order with ``prefix``, keys > ``after``; at most ``limit`` rows."""

    @abc.abstractmethod
    def expired_scan(self, now: float, limit: int, ns: str | None = None) -> list[tuple[str, str]]:
        """``(namespace, key)`` of entries whose expiry is <= now (optionally in one ns)."""

    @abc.abstractmethod
    def ns_bytes(self, ns: str) -> int:
        """Bytes of the namespace's stored values."""

    # -- quotas
    def ns_count_by(self, agent: str) -> int:
        """How many namespaces ``agent`` created (a backend may count without parsing)."""
        return sum(1 for info in self.ns_list() if info.created_by == agent)

    def store_bytes(self) -> int | None:
        """The store's size in bytes, measured at most :data:`STORE_BYTES_EVERY` s ago.

        ``None``: the store cannot tell (an in-memory store): no byte quota applies.
        """
        return None

    # -- events
    @abc.abstractmethod
    def event_append(self, event: Event) -> None:
        """Append a stream event; keep at least the last ``event_retention`` per namespace."""

    @abc.abstractmethod
    def events_after(self, ns: str, since: int, limit: int) -> list[Event]:
        """Retained events with revision > ``since``, oldest first."""

    @abc.abstractmethod
    def events_oldest(self, ns: str) -> int | None:
        """The oldest retained revision of the namespace, or ``None`` if none is retained."""

    @abc.abstractmethod
    def events_clear(self, ns: str) -> None:
        """Drop every retained event of the namespace (a restore, before it replays a file's)."""

    def key_events(
        self, ns: str, key: str, before: int | None, limit: int, oldest_first: bool = False
    ) -> list[Event]:
        """Retained events that changed ``key``, revisions < ``before`` (``None``: all).

        Those are the key's ``memory:write``/``memory:delete``/``memory:expired`` events and
        the namespace's ``namespace:cleared``/``namespace:deleted`` events (they remove every
        entry); newest first (``oldest_first``: oldest first), at most ``limit``.

        This default scans the retained log forwards (bounded by ``event_retention``);
        backends with an index on the events' keys answer in a few reads.
        """
        out: list[Event] = []
        oldest = self.events_oldest(ns)
        if oldest is None or limit <= 0:
            return out
        since = oldest - 1
        stop = min(before if before is not None else 1 << 62, self.rev_get(ns) + 1)
        # Each full chunk advances ``since`` by KEY_SCAN_CHUNK revisions at least: bounded.
        for _ in range((stop - since) // KEY_SCAN_CHUNK + 1):
            chunk = self.events_after(ns, since, KEY_SCAN_CHUNK)
            for event in chunk:
                if event.revision >= stop:
                    return out if oldest_first else out[::-1]
                if changes_key(event, key):
                    out.append(event)
                    if oldest_first and len(out) >= limit:
                        return out
                    if not oldest_first and len(out) > limit:
                        del out[0]
            if len(chunk) < KEY_SCAN_CHUNK:
                break
            since = chunk[-1].revision
        return out if oldest_first else out[::-1]

    # -- audit
    @abc.abstractmethod
    def audit_append(self, record: AccessLogEntry) -> None:
        """Add an audit record (the oldest beyond ``max_log_size`` are dropped)."""

    @abc.abstractmethod
    def audit_query(
        self,
        agent_id: str | None,
        ns: str | None,
        action: str | None,
        success: bool | None,
        since: float | None,
        limit: int,
        visible: Callable[[str | None], bool] | None,
    ) -> list[AccessLogEntry]:
        """Audit records, newest first; ``visible(ns)`` filters what the asker may see."""

    @abc.abstractmethod
    def audit_count(self) -> int:
        """How many audit records are kept."""

    # -- idempotency
    @abc.abstractmethod
    def idem_get(self, key: str, now: float) -> Any:
        """The remembered outcome of a mutation, or ``None``."""

    @abc.abstractmethod
    def idem_put(self, key: str, value: Any, now: float) -> None:
        """Remember a mutation's outcome."""


#: Events read per step of :meth:`Txn.key_events`'s default scan.
KEY_SCAN_CHUNK = 1024
#: Event types that change one entry (their ``key`` names it).
KEY_EVENT_TYPES = frozenset({"memory:write", "memory:delete", "memory:expired"})
#: Event types that remove every entry of the namespace.
NS_WIPE_TYPES = frozenset({"namespace:cleared", "namespace:deleted"})


def changes_key(event: Event, key: str) -> bool:
    """Whether ``event`` changed the entry ``key`` (see :meth:`Txn.key_events`)."""
    return (event.type in KEY_EVENT_TYPES and event.key == key) or event.type in NS_WIPE_TYPES


def filter_audit(
    records: Iterable[AccessLogEntry],
    agent_id: str | None,
    ns: str | None,
    action: str | None,
    success: bool | None,
    since: float | None,
    limit: int,
    visible: Callable[[str | None], bool] | None,
) -> list[AccessLogEntry]:
    """The first ``limit`` records, in the order given, that pass every filter.

    The filters of :meth:`Txn.audit_query`, for backends that filter in Python.
    """
    out: list[AccessLogEntry] = []
    for rec in records:
        if (
            (agent_id is None or rec.agent_id == agent_id)
            and (ns is None or rec.namespace == ns)
            and (action is None or rec.action == action)
            and (success is None or rec.success == success)
            and (since is None or rec.timestamp >= since)
            and (visible is None or visible(rec.namespace))
        ):
            out.append(rec)
            if len(out) >= limit:
                break
    return out
