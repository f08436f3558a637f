"""The near-cache of a remote client (``connect("http://…", cache=True)``).

Reads of single entries (``read``/``get_entry``) are answered from a local cache kept
coherent by the namespace's event stream:

- the first read in a namespace starts a follower (one thread per agent and namespace)
  on the server's SSE stream, from the namespace's current revision;
- a read that misses asks the server and caches the answer, unless an event for that key
  arrived while the request was in flight (a per-key generation counter tells);
- the client's own successful writes and deletes update the cache at once (a client always
  reads its own writes); another agent's change evicts the entry when its event arrives,
  so staleness is bounded by event delivery latency;
- namespace-wide events (cleared, deleted, permissions or config updated) drop the
  namespace's cached entries for every agent; a follower that stops (permission lost, the
  client closing) drops its namespace and stops caching it;
- an entry is never served past its ``expires_at``.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from hivemem.engine import ops as o
from hivemem.errors import HivememError

if TYPE_CHECKING:
    from collections.abc import Callable

    from hivemem.backends.base import Backend
    from hivemem.engine.txn import Result
    from hivemem.types import Entry, Event

__all__ = ["MISSING", "NearCache"]

log = logging.getLogger("hivemem")

#: What :meth:`NearCache.lookup` returns on a miss.
MISSING: Any = object()
_Key = tuple[str, str, str]  # agent, namespace, key


class NearCache:
    """Entries by (agent, namespace, key), evicted by the namespace's events."""

    def __init__(
        self, backend: Backend, clock: Callable[[], float], max_entries: int = 100_000
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[_Key, Entry | None] = OrderedDict()
        self._generation: dict[tuple[str, str], int] = {}
        self._followers: dict[tuple[str, str], threading.Event] = {}
        self._live: set[tuple[str, str]] = set()

    # ------------------------------------------------------------ reads
    def lookup(self, op: o.Get) -> Any:
        """The cached entry (or ``None`` for a cached absence), else a miss marker."""
        with self._lock:
            value = self._entries.get((op.agent, op.ns, op.key), MISSING)
            if value is not MISSING:
                expires = value.expires_at if value is not None else None
                if expires is not None and expires <= self.clock():
                    value = None
                self.hits += 1
                return value
            self.misses += 1
        return MISSING

    def generation(self, op: o.Get) -> int:
        """A counter of the events seen for the op's key (taken before asking the server)."""
        self._ensure_follower(op.agent, op.ns)
        return self._generation.get((op.ns, op.key), 0)

    def store(self, op: o.Get, generation: int, entry: Entry | None) -> None:
        """Cache a read's answer unless an event for the key arrived meanwhile."""
        with self._lock:
            if (op.agent, op.ns) not in self._live:
                return
            if self._generation.get((op.ns, op.key), 0) != generation:
                return
            self._put((op.agent, op.ns, op.key), entry)

    def _put(self, key: _Key, entry: Entry | None) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
            self.evictions += 1

    # ------------------------------------------------------------ the client's own writes
    def after(self, op: o.Op[Any], result: Result) -> None:
        """Apply the outcome of one of the client's own ops."""
        if result.error is not None:
            if isinstance(op, o.Put | o.Delete):
                self._bump(op.ns, op.key)  # the outcome is unknown: read it fresh next time
            return
        if isinstance(op, o.Put):
            with self._lock:
                self._bump_locked(op.ns, op.key)
                if (op.agent, op.ns) in self._live:
                    self._put((op.agent, op.ns, op.key), result.value)
        elif isinstance(op, o.Delete):
            with self._lock:
                self._bump_locked(op.ns, op.key)
                if (op.agent, op.ns) in self._live:
                    self._put((op.agent, op.ns, op.key), None)
        elif isinstance(op, o.PutMany):
            for key, _ in op.items:
                self._bump(op.ns, key)
        elif isinstance(
            op, o.ClearNamespace | o.DeleteNamespace | o.UpdatePermissions | o.UpdateNamespace
        ):
            self._drop_namespace(op.ns)

    # ------------------------------------------------------------ events
    def _bump(self, ns: str, key: str) -> None:
        with self._lock:
            self._bump_locked(ns, key)

    def _bump_locked(self, ns: str, key: str) -> None:
        self._generation[ns, key] = self._generation.get((ns, key), 0) + 1
        for k in [k for k in self._entries if k[1] == ns and k[2] == key]:
            del self._entries[k]

    def _drop_namespace(self, ns: str) -> None:
        with self._lock:
            for k in [k for k in self._entries if k[1] == ns]:
                del self._entries[k]
            for gk in [gk for gk in self._generation if gk[0] == ns]:
                self._generation[gk] += 1

    def on_event(self, event: Event) -> None:
        """Evict what an event from the stream makes stale."""
        if event.key is not None:
            with self._lock:
                cached = [k for k in self._entries if k[1] == event.namespace and k[2] == event.key]
                fresh = all(
                    (entry := self._entries[k]) is not None and entry.revision >= event.revision
                    for k in cached
                )
                if cached and fresh:
                    return  # our own write, already applied
                self._bump_locked(event.namespace, event.key)
        elif event.type.startswith("namespace:"):
            self._drop_namespace(event.namespace)

    # ------------------------------------------------------------ followers
    def _ensure_follower(self, agent: str, ns: str) -> None:
        if (agent, ns) in self._followers:
            return
        with self._lock:
            if (agent, ns) in self._followers:
                return
            stop = threading.Event()
            self._followers[agent, ns] = stop
        try:
            start = self.backend.execute(o.StartWatch(agent=agent, ns=ns)).unwrap()
        except HivememError:
            with self._lock:
                self._followers.pop((agent, ns), None)
            return
        with self._lock:
            self._live.add((agent, ns))
        thread = threading.Thread(
            target=self._follow, args=(agent, ns, start, stop), daemon=True, name="hivemem-cache"
        )
        thread.start()

    def _follow(self, agent: str, ns: str, start: int, stop: threading.Event) -> None:
        try:
            for event in self.backend.follow(agent, ns, start, None, stop):
                self.on_event(event)
        except HivememError as exc:
            log.info("hivemem: near-cache of %r stops: %s", ns, exc)
        finally:
            with self._lock:
                self._live.discard((agent, ns))
                self._followers.pop((agent, ns), None)
            self._drop_namespace(ns)

    # ------------------------------------------------------------ control
    def clear(self) -> None:
        """Forget every cached entry (followers keep running)."""
        with self._lock:
            self._entries.clear()
            for gk in self._generation:
                self._generation[gk] += 1

    def close(self) -> None:
        """Stop every follower."""
        with self._lock:
            stops = list(self._followers.values())
            self._followers.clear()
            self._live.clear()
        for stop in stops:
            stop.set()
            self.backend.wake(stop)

    def stats(self) -> dict[str, Any]:
        """Hits, misses, hit rate, size, evictions, followed namespaces."""
        total = self.hits + self.misses
        return {
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": self.hits / total if total else 0.0,
            "size": len(self._entries),
            "evictions": self.evictions,
            "namespaces": len(self._live),
        }
