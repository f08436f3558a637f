"""The backend layer's base: :class:`Backend` and the :class:`Notifier` that wakes watchers.

A backend stores namespaces, entries, revisions, events, audit records and idempotency
keys, and runs ops atomically. Everything with meaning (permissions, conflict strategies,
TTL, revisions, events) lives in the engine (:mod:`hivemem.engine.apply`), which works over
the primitives of :class:`~hivemem.engine.txn.Txn`; a backend's job is to provide those
primitives inside one atomic step and to run ops through
:func:`hivemem.engine.apply.execute`. The contract (``Txn``, ``Stored``, ``Result``,
``Settings``) belongs to the engine, in :mod:`hivemem.engine.txn`.

Sync and async: :meth:`Backend.execute` runs an op in the calling thread (or hands a
mutation to a writer thread and waits); :meth:`Backend.aexecute` is the same for asyncio
callers and never costs a thread hop for work that runs inline.
"""

from __future__ import annotations

import abc
import contextlib
import itertools
import threading
from typing import TYPE_CHECKING, Any, ClassVar

from hivemem._validate import SYSTEM_AGENT
from hivemem.engine.ops import EventsAfter, Get

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Iterator

    from hivemem._histogram import Histogram
    from hivemem.engine.ops import Op
    from hivemem.engine.txn import Result, Settings
    from hivemem.types import Event

__all__ = ["Backend", "Mark", "Notifier"]


#: A notifier's view of one namespace (or of the whole store): compare two with ``!=``.
Mark = tuple[int, int]


class _Sleeper:
    """One blocked waiter: a thread's lock or an asyncio future."""

    __slots__ = ("fut", "lock")

    def __init__(self, fut: Any = None) -> None:
        self.fut = fut
        self.lock: Any = None
        if fut is None:
            self.lock = threading.Lock()
            self.lock.acquire()

    def wake(self) -> None:
        if self.fut is None:
            with contextlib.suppress(RuntimeError):  # released already
                self.lock.release()
            return
        with contextlib.suppress(RuntimeError):  # a loop that closed meanwhile
            self.fut.get_loop().call_soon_threadsafe(_resolve, self.fut)


class Notifier:
    """Wakes watchers when a namespace's revision moves (threads and asyncio loops alike).

    Waiters wait on one namespace (or, with ``ns=None``, on any change): :meth:`notify` with
    a namespace wakes only that namespace's waiters (and those of any change), so idle
    streams on other namespaces cost a commit nothing. ``notify()`` without a namespace
    wakes everyone (a change made elsewhere whose namespaces are unknown, a close).
    """

    #: Namespaces whose last notification is remembered; beyond, they are folded into one
    #: store-wide notification (every mark moves: spurious wake-ups, never a lost one).
    MAX_MARKS = 100_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Every notification takes a fresh tick: a value once stored is never stored again,
        # so a waiter can compare without a lock (see notify).
        self._ticks = itertools.count(1)
        self._seq = 0
        self._all = 0
        self._marks: dict[str, int] = {}
        self._sleepers: dict[str | None, set[_Sleeper]] = {}
        self._count = 0
        #: Waiters woken so far (a test and a metric tell targeted wake-ups by it).
        self.wakeups = 0

    @property
    def seq(self) -> int:
        """A counter that moves on every notification, of any namespace."""
        return self._seq

    @property
    def waiting(self) -> int:
        """How many waiters (watch and subscribe loops, event streams) wait now."""
        return self._count

    @property
    def watched(self) -> bool:
        """Whether anyone waits now."""
        return self._count > 0

    def watched_namespaces(self) -> list[str]:
        """The namespaces someone waits on now (waiters on any change not included)."""
        with self._lock:
            return [ns for ns in self._sleepers if ns is not None]

    def mark(self, ns: str | None = None) -> Mark:
        """Where ``ns`` (or, with ``None``, the whole store) is now; pass it to :meth:`wait`."""
        if ns is None:
            return (self._seq, 0)
        return (self._all, self._marks.get(ns, 0))

    def notify(self, ns: str | None = None, *, wake: bool = True) -> None:
        """Wake the waiters of ``ns`` (``None``: of every namespace).

        ``wake=False`` (with ``ns=None``) moves every mark but wakes only the waiters of any
        change: a waiter about to sleep looks again, those asleep on a namespace stay asleep
        (the caller then wakes the namespaces that really changed).
        """
        # Store first, then look for sleepers: a sleeper registers before it re-checks its
        # mark, so either it sees the new tick or we see it (no lost wake-up, no lock when
        # idle). Ticks are unique, so concurrent notifications cannot store a stale value.
        tick = next(self._ticks)
        self._seq = tick
        if ns is None:
            self._all = tick
        else:
            marks = self._marks
            if ns not in marks and len(marks) >= self.MAX_MARKS:
                marks.clear()
                self._all = tick
            marks[ns] = tick
        if not self._count:
            return
        with self._lock:
            if not wake:
                woken = list(self._sleepers.get(None, ()))
            elif ns is None:
                woken = [s for group in self._sleepers.values() for s in group]
            else:
                woken = [*self._sleepers.get(ns, ()), *self._sleepers.get(None, ())]
            self.wakeups += len(woken)
        for sleeper in woken:
            sleeper.wake()

    def notify_events(self, events: Iterable[Event]) -> None:
        """Wake the waiters of each namespace the events changed (once per namespace)."""
        last = None
        for event in events:
            if event.namespace != last:  # a batch's events run by namespace mostly
                last = event.namespace
                self.notify(last)

    def _register(self, ns: str | None, mark: Mark, sleeper: _Sleeper) -> bool:
        with self._lock:
            if self.mark(ns) != mark:
                return False
            self._sleepers.setdefault(ns, set()).add(sleeper)
            self._count += 1
            return True

    def _unregister(self, ns: str | None, sleeper: _Sleeper) -> None:
        with self._lock:
            group = self._sleepers.get(ns)
            if group is not None and sleeper in group:
                group.discard(sleeper)
                self._count -= 1
                if not group:
                    del self._sleepers[ns]

    def wait(self, mark: Mark | int, timeout: float, ns: str | None = None) -> None:
        """Block until ``ns``'s mark moves past ``mark`` or ``timeout`` seconds pass.

        ``mark`` is what :meth:`mark` returned (an int from :attr:`seq` for ``ns=None``).
        """
        mark = self._as_mark(mark, ns)
        sleeper = _Sleeper()
        if not self._register(ns, mark, sleeper):
            return
        try:
            sleeper.lock.acquire(timeout=max(timeout, 0.0))
        finally:
            self._unregister(ns, sleeper)

    async def await_change(self, mark: Mark | int, timeout: float, ns: str | None = None) -> None:
        """Async twin of :meth:`wait`."""
        import asyncio

        mark = self._as_mark(mark, ns)
        sleeper = _Sleeper(asyncio.get_running_loop().create_future())
        if not self._register(ns, mark, sleeper):
            return
        try:
            await asyncio.wait_for(sleeper.fut, timeout)
        except TimeoutError:
            pass
        finally:
            self._unregister(ns, sleeper)

    @staticmethod
    def _as_mark(mark: Mark | int, ns: str | None) -> Mark:
        return (mark, 0) if isinstance(mark, int) else mark


def _resolve(fut: Any) -> None:
    if not fut.done():
        fut.set_result(None)


class Backend(abc.ABC):
    """A store: runs ops atomically and serves event streams.

    Capabilities: what a backend can do is declared here, as class flags (read them instead
    of ``isinstance``) and as methods with a default every backend may keep; nothing above
    the backend layer probes a backend with ``getattr``/``hasattr``.

    Errors come back one way: :meth:`execute`, :meth:`aexecute` and :meth:`execute_many`
    never raise an :class:`Exception`. Every failure of an op is its
    :attr:`Result.error <hivemem.engine.txn.Result.error>`, a
    :class:`~hivemem.errors.HivememError`: the engine's refusals, ``BackendUnavailable``
    for a store that is down or closed (reads and writes alike), ``InternalError`` for a
    bug. The caller raises it (:meth:`~hivemem.engine.txn.Result.unwrap`). The other
    methods (streams, :meth:`change_token`, :meth:`apeek`...) raise a ``HivememError``.
    """

    name = "base"
    #: Whether several processes may share this store.
    shared_between_processes: ClassVar[bool] = False
    #: Whether ops go to a hivemem server that runs the engine (and the memories' plans).
    remote: ClassVar[bool] = False
    #: Whether callable conflict resolvers run in this client (the store keeps their names,
    #: prefixed ``client:``) rather than in the engine, and resolver names are checked by
    #: the store.
    client_resolvers: ClassVar[bool] = False
    #: Whether :meth:`change_token` tells when another process changed the store: a server
    #: then polls it to wake its event streams (:meth:`hivemem.server.app.Hub.poll_changes`).
    supports_change_token: ClassVar[bool] = False
    #: Whether the store may be a cluster (its keys spread over several nodes).
    supports_cluster: ClassVar[bool] = False
    #: Seconds between polls of the event log for changes made by other processes.
    poll_interval = 0.25

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.notifier = Notifier()
        self._epoch = 0
        #: Ops per commit of a backend that group-commits (SQLite), for the server's
        #: ``/metrics``; ``None`` for the others.
        self.group_commits: Histogram | None = None

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
        notifier = self.notifier
        last, idle, poll = since, 0.0, self.poll_interval
        while not stop.is_set():
            mark = notifier.mark(ns)
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
            notifier.wait(mark, wait, ns)
            idle += wait

    async def afollow(
        self, agent: str, ns: str, since: int, timeout: float | None, stop: threading.Event
    ) -> AsyncIterator[Event]:
        """Async twin of :meth:`follow` (cancel the consuming task to stop it early)."""
        notifier = self.notifier
        last, idle, poll = since, 0.0, self.poll_interval
        while not stop.is_set():
            mark = notifier.mark(ns)
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
            await notifier.await_change(mark, wait, ns)
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

    # -- optional capabilities (defaults for a store that lacks them)
    def change_token(self) -> int:
        """A number that moves when another process commits (see :attr:`supports_change_token`).

        By default a constant: the store cannot tell, so nothing polls it.
        """
        return 0

    async def apeek(self, ns: str, key: str) -> Any:
        """The value of a live entry, or ``None``: no permission check, no audit record.

        For the server's token lookup on every request. By default an internal ``Get`` op;
        a store that can read directly (SQLite: one indexed read) answers without the engine.
        """
        op = Get(agent=SYSTEM_AGENT, admin=True, internal=True, ns=ns, key=key)
        entry = (await self.aexecute(op)).unwrap()
        return None if entry is None else entry.value

    def breaker_status(self) -> dict[str, Any]:
        """The circuit breaker in front of the store (an embedded one has none: closed)."""
        return {"state": "closed", "failures": 0, "opened_at": None}

    def reset_breaker(self) -> None:
        """Close the circuit breaker and forget its failures (by default there is none)."""
        return None

    def cache_stats(self) -> dict[str, Any] | None:
        """The near-cache's counters, or ``None`` without a near-cache (the default)."""
        return None

    def clear_cache(self) -> None:
        """Empty the near-cache (by default there is none)."""
        return None

    async def aclose(self) -> None:
        """Release what must be released from the running event loop, before :meth:`close`.

        A remote store closes its asyncio connections here. By default nothing.
        """
        return None

    def notify_foreign(self) -> None:
        """Wake watchers after another process changed the store (its poller saw it).

        By default every watcher: which namespaces changed is not known. A backend that can
        tell cheaply wakes only theirs.
        """
        self.notifier.notify()

    def wake(self, stop: threading.Event) -> None:
        """Make the :meth:`follow` that ``stop`` belongs to notice it was set."""
        self.notifier.notify()

    @abc.abstractmethod
    def close(self) -> None:
        """Release every resource; idempotent."""
