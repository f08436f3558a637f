"""One event fetch shared by the event streams of a namespace that stand at the same point.

A commit wakes the open event streams of its namespace; each used to run its own
``EventsAfter`` (a query, the events decoded, then each encoded again as SSE frames), so N
streams of a namespace did N times the same work per commit. :class:`FanoutCache` fetches
the events after a revision once per change of the namespace (its notifier mark), as the
store itself, together with the namespace's configuration, and keeps them with their SSE
frames; each stream then only checks its own read permission against that configuration —
what ``EventsAfter`` checks — and writes the shared bytes.

A fetch is shared only by streams at the same ``(namespace, since, mark)``: a stream never
sees less than a fetch of its own would have shown at the same point. A store shared with
other processes that has no ``change_token`` to poll never moves the marks for their
commits, so there a fetch is also reused for at most the backend's ``poll_interval``.

The cache is bounded: an entry lives while a stream holds it (its last fetch, given back
on its next fetch or when it ends), and at most :attr:`FanoutCache.max_age` seconds;
the entries together hold at most :attr:`FanoutCache.max_bytes` (the oldest go first).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Protocol

from hivemem._validate import SYSTEM_AGENT
from hivemem.engine import ops as o
from hivemem.engine.permissions import READ, require
from hivemem.errors import NotFound
from hivemem.server.auth import Caller

if TYPE_CHECKING:
    import contextlib
    from collections.abc import Callable

    from hivemem._core import Core
    from hivemem.backends.base import Mark
    from hivemem.engine.ops import Op
    from hivemem.types import Event, NamespaceInfo

__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_BYTES",
    "FETCH_EVENTS",
    "FanoutCache",
    "Key",
]


class Hub(Protocol):
    """What the cache needs of the server's hub (:class:`hivemem.server.app.Hub`)."""

    core: Core

    def turn(self, caller: Caller) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold the caller's turn at costly calls."""

    def pay(self, caller: Caller, items: int) -> None:
        """Charge the caller's token for a costly read of ``items`` items."""

    async def run(self, caller: Caller, op: Op[Any]) -> Any:
        """Run an op for the caller."""


_STORE = Caller(SYSTEM_AGENT, admin=True)
#: Default bound of the bytes the cache holds (the entries' frames).
DEFAULT_MAX_BYTES = 32 << 20
#: Default longest life of an entry, in seconds.
DEFAULT_MAX_AGE = 5.0
#: Bytes counted for an entry besides its frames (objects, the key).
_OVERHEAD = 256
#: Most events one fetch reads: a stream reads a long backlog in steps of this many, each
#: in its caller's turn (:meth:`~hivemem.server.app.Hub.turn`), others served in between.
FETCH_EVENTS = 100

#: Where a stream stands: namespace, revision it has, the namespace's notifier mark.
Key = tuple[str, int, "Mark"]


class _Fetch:
    """One fetch: its frames and what a stream needs of its events (count, last revision).

    The decoded events are not kept: thousands of live objects per entry would lengthen
    every full garbage collection, which pauses the event loop.
    """

    __slots__ = ("at", "count", "frames", "holders", "info", "last", "size")

    def __init__(
        self, info: NamespaceInfo | None, count: int, last: int, frames: bytes, at: float
    ) -> None:
        self.info = info
        self.count = count
        self.last = last
        self.frames = frames
        self.at = at
        self.holders = 0
        self.size = len(frames) + _OVERHEAD


class FanoutCache:
    """Shared event fetches of the event streams, bounded in bytes, age and use.

    Attributes:
        max_bytes: Most bytes the entries hold together (their frames).
        max_age: Most seconds an entry lives.
        bytes: Bytes held now.
        peak_bytes: The most bytes held at once since the start (after each trim).
        hits: Fetches served from the cache.
        misses: Fetches that queried the store.
        evictions: Entries dropped by the bytes or age bound while still held.
    """

    def __init__(
        self, max_bytes: int = DEFAULT_MAX_BYTES, max_age: float = DEFAULT_MAX_AGE
    ) -> None:
        self.max_bytes = max_bytes
        self.max_age = max_age
        self._entries: OrderedDict[Key, _Fetch] = OrderedDict()
        self.bytes = 0
        self.peak_bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def gauges(self) -> dict[str, float]:
        """The cache's figures for ``/metrics``."""
        return {
            "fanout_cache_entries": float(len(self._entries)),
            "fanout_cache_bytes": float(self.bytes),
            "fanout_cache_peak_bytes": float(self.peak_bytes),
            "fanout_cache_hits_total": float(self.hits),
            "fanout_cache_misses_total": float(self.misses),
            "fanout_cache_evictions_total": float(self.evictions),
        }

    async def events_after(
        self,
        hub: Hub,
        caller: Caller,
        key: Key,
        frame: Callable[[Event], bytes],
    ) -> tuple[int, int, bytes]:
        """The events of the key's namespace after its revision the caller may read, framed.

        Returns how many there are, the revision of the last (the key's own when none)
        and their frames.

        ``key``'s mark is the namespace's notifier mark read before the call (as a stream
        reads it before it looks for events). The caller holds the entry until it calls
        :meth:`release` with the same key. Raises what ``EventsAfter`` raises:
        ``PermissionDenied`` when the caller may not read the namespace,
        ``RevisionCompacted`` for a revision no longer kept. The caller pays for the
        events read from the store for it (:meth:`~hivemem.server.app.Hub.pay`), not for
        those it shares.
        """
        now = time.monotonic()
        self._trim(now)
        hit = self._entries.get(key)
        backend = hub.core.backend
        if (
            hit is not None
            and backend.shared_between_processes
            and not backend.supports_change_token
            and now - hit.at >= backend.poll_interval
        ):
            self._drop(key)  # other processes commit unseen by the notifier
            hit = None
        if hit is None:
            async with hub.turn(caller):
                hit = self._entries.get(key)  # fetched by another stream meanwhile?
                if hit is None:
                    hit = await self._fetch(hub, key, frame)
                    hub.pay(caller, hit.count)
                else:
                    self.hits += 1
        else:
            self.hits += 1
        hit.holders += 1
        if hit.info is not None:  # as EventsAfter: a deleted namespace's last events stay readable
            require(hit.info, caller.agent, READ, caller.admin)
        return hit.count, hit.last, hit.frames

    async def _fetch(self, hub: Hub, key: Key, frame: Callable[[Event], bytes]) -> _Fetch:
        """Read the key's events from the store (at most ``FETCH_EVENTS``) and keep them."""
        ns, since, _ = key
        self.misses += 1
        info = await _namespace(hub, ns)
        op = o.EventsAfter(
            agent=_STORE.agent, admin=True, internal=True, ns=ns, since=since, limit=FETCH_EVENTS
        )
        events: list[Event] = await hub.run(_STORE, op)
        now = time.monotonic()
        last = events[-1].revision if events else since
        hit = _Fetch(info, len(events), last, b"".join(frame(e) for e in events), now)
        old = self._entries.pop(key, None)  # a concurrent fetch of the same point
        if old is not None:
            self.bytes -= old.size
            hit.holders = old.holders
        self._entries[key] = hit
        self.bytes += hit.size
        self._trim(now)
        self.peak_bytes = max(self.peak_bytes, self.bytes)
        return hit

    def release(self, key: Key) -> None:
        """Give back the entry a stream got for ``key``; dropped once no stream holds it."""
        hit = self._entries.get(key)
        if hit is not None:
            hit.holders -= 1
            if hit.holders <= 0:
                self._drop(key)

    def _drop(self, key: Key) -> None:
        hit = self._entries.pop(key, None)
        if hit is not None:
            self.bytes -= hit.size

    def _trim(self, now: float) -> None:
        """Drop the oldest entries while over the bytes bound or older than the age bound."""
        entries = self._entries
        while entries:
            key, oldest = next(iter(entries.items()))
            if self.bytes <= self.max_bytes and now - oldest.at < self.max_age:
                return
            self.evictions += 1
            self._drop(key)


async def _namespace(hub: Hub, ns: str) -> NamespaceInfo | None:
    op = o.GetNamespace(agent=_STORE.agent, admin=True, internal=True, ns=ns)
    try:
        info: Any = await hub.run(_STORE, op)
    except NotFound:
        return None
    return info  # type: ignore[no-any-return]
