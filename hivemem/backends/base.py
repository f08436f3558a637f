"""The backend contract.

A backend stores namespaces, entries, revisions, events, audit records and idempotency
keys, and runs ops atomically. Everything with meaning (permissions, conflict strategies,
TTL, revisions, events) lives in :mod:`hivemem.engine.apply`, which works over the
primitives of :class:`Txn`; a backend's job is to provide those primitives inside one atomic
step and to run ops through :func:`hivemem.engine.apply.execute`.

Sync and async: :meth:`Backend.execute` runs an op in the calling thread (or hands a
mutation to a writer thread and waits); :meth:`Backend.aexecute` is the same for asyncio
callers and never costs a thread hop for work that runs inline.
"""

from __future__ import annotations

import abc
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable, Iterator

    from hivemem.engine.conflicts import Resolver
    from hivemem.engine.ops import Op
    from hivemem.errors import HivememError
    from hivemem.types import AccessLogEntry, Event, NamespaceInfo

__all__ = ["Backend", "Notifier", "Result", "Settings", "Stored", "Txn", "filter_audit"]


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

    # -- entries
    @abc.abstractmethod
    def entry_get(self, ns: str, key: str) -> Stored | None:
        """The stored entry, expired or not."""

    def ns_and_entry(self, ns: str, key: str) -> tuple[NamespaceInfo | None, Stored | None]:
        """The namespace's config and the stored entry, in one step where the store can."""
        return self.ns_get(ns), self.entry_get(ns, key)

    def entries_get(self, ns: str, keys: list[str]) -> list[Stored | None]:
        """Several stored entries (expired or not), in one step where the store can."""
        return [self.entry_get(ns, key) for key in keys]

    @abc.abstractmethod
    def entry_put(self, ns: str, key: str, stored: Stored) -> None:
        """Create or replace an entry (``stored.version == 1`` means it is new)."""

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


class Notifier:
    """Wakes watchers when a namespace's revision moves (threads and asyncio loops alike)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._seq = 0
        self._waiting = 0
        self._loops: dict[Any, int] = {}

    @property
    def seq(self) -> int:
        """A counter bumped on every notification."""
        return self._seq

    def notify(self) -> None:
        """Wake every waiter."""
        # Bump first, then look for waiters: a waiter registers before it re-checks the
        # counter, so either it sees the bump or we see it (no lost wake-up, no lock when idle).
        self._seq += 1
        if not self._waiting and not self._loops:
            return
        with self._cond:
            self._seq += 1
            self._cond.notify_all()
            waiters = list(self._loops.items()) if self._loops else ()
        for fut, _ in waiters:
            loop = fut.get_loop()
            loop.call_soon_threadsafe(_resolve, fut)

    def wait(self, seq: int, timeout: float) -> None:
        """Block until the counter moves past ``seq`` or ``timeout`` seconds pass."""
        with self._cond:
            self._waiting += 1
            try:
                if self._seq == seq:
                    self._cond.wait(timeout)
            finally:
                self._waiting -= 1

    async def await_change(self, seq: int, timeout: float) -> None:
        """Async twin of :meth:`wait`."""
        import asyncio

        fut = asyncio.get_running_loop().create_future()
        with self._cond:
            if self._seq != seq:
                return
            self._loops[fut] = seq
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            pass
        finally:
            with self._cond:
                self._loops.pop(fut, None)


def _resolve(fut: Any) -> None:
    if not fut.done():
        fut.set_result(None)


class Backend(abc.ABC):
    """A store: runs ops atomically and serves event streams.

    Class flags tell tests and the engine what a backend can do.
    """

    name = "base"
    #: Whether several processes may share this store.
    shared_between_processes = False
    #: Whether ops go to a hivemem server that runs the engine (and the memories' plans).
    remote = False
    #: Seconds between polls of the event log for changes made by other processes.
    poll_interval = 0.25

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.notifier = Notifier()
        self._epoch = 0

    def default_index_dir(self) -> str | None:
        """Where derived, rebuildable index files go by default (``None``: nowhere)."""
        return None

    @abc.abstractmethod
    def execute(self, op: Op[Any]) -> Result:
        """Run one op atomically; block until it is durable."""

    async def aexecute(self, op: Op[Any]) -> Result:
        """Run one op atomically from asyncio (inline unless it must wait for a writer)."""
        return self.execute(op)

    def execute_many(self, ops: Iterable[Op[Any]]) -> list[Result]:
        """Run several ops, each atomically, in order."""
        return [self.execute(op) for op in ops]

    def follow(
        self, agent: str, ns: str, since: int, timeout: float | None, stop: threading.Event
    ) -> Iterator[Event]:
        """Yield the namespace's events after ``since``: the retained ones, then live ones.

        Ends when ``stop`` is set (call :meth:`wake` after setting it) or after ``timeout``
        seconds without an event. Read permission is checked on every pull.

        Raises:
            RevisionCompacted: ``since`` is older than the retained events.
            PermissionDenied: the agent lost read permission.
        """
        from hivemem.engine.ops import EventsAfter

        notifier = self.notifier
        last, idle, poll = since, 0.0, self.poll_interval
        while not stop.is_set():
            seq = notifier.seq
            events: list[Event] = self.execute(EventsAfter(agent=agent, ns=ns, since=last)).unwrap()
            if events:
                idle = 0.0
                for event in events:
                    last = event.revision
                    yield event
                continue
            if timeout is not None and idle >= timeout:
                return
            wait = poll if timeout is None else min(poll, timeout - idle)
            notifier.wait(seq, wait)
            idle += wait

    async def afollow(
        self, agent: str, ns: str, since: int, timeout: float | None, stop: threading.Event
    ) -> AsyncIterator[Event]:
        """Async twin of :meth:`follow` (cancel the consuming task to stop it early)."""
        from hivemem.engine.ops import EventsAfter

        notifier = self.notifier
        last, idle, poll = since, 0.0, self.poll_interval
        while not stop.is_set():
            seq = notifier.seq
            op = EventsAfter(agent=agent, ns=ns, since=last)
            events: list[Event] = (await self.aexecute(op)).unwrap()
            if events:
                idle = 0.0
                for event in events:
                    last = event.revision
                    yield event
                continue
            if timeout is not None and idle >= timeout:
                return
            wait = poll if timeout is None else min(poll, timeout - idle)
            await notifier.await_change(seq, wait)
            idle += wait

    def sweep_lease(self, seconds: float, name: str = "sweeper") -> bool:
        """Whether this process should run the background job ``name`` now.

        Jobs: the TTL sweep (``sweeper``), the memories' decay pass (``decay``).

        Stores shared by several server replicas grant it to one at a time, for ``seconds``.
        """
        return True

    def cache_epoch(self) -> int | None:
        """A number that moves whenever any process sharing the store bumps it.

        Processes bump it (:meth:`bump_cache_epoch`) after changing data that others cache.
        ``None`` when the store cannot tell cheaply: then nothing read from it may be
        cached (ask it every time). The server caches token lookups under it
        (:class:`hivemem.server.auth.TokenStore`). By default an in-process count, and
        ``None`` for a store shared between processes.
        """
        return None if self.shared_between_processes else self._epoch

    def bump_cache_epoch(self) -> None:
        """Tell every process sharing the store that cached data changed (after the commit)."""
        self._epoch += 1

    def wake(self, stop: threading.Event) -> None:
        """Make the :meth:`follow` that ``stop`` belongs to notice it was set."""
        self.notifier.notify()

    @abc.abstractmethod
    def close(self) -> None:
        """Release every resource; idempotent."""
