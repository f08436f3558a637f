"""Requests per second per caller: one token bucket per key, a bounded number of keys.

Each key (a token's id, or the client address of a request without a token) has a bucket
of ``burst`` requests refilled at ``rate`` per second. A request takes one; an empty bucket
answers how long until the next one is there (the server's 429 ``Retry-After``).

Buckets live in an LRU of at most ``max_keys`` entries: a key not seen for a while is
forgotten (it comes back with a full bucket, which is what an idle key would have anyway),
so callers cycling through many keys cannot grow the server's memory. The limits are per
server process (each ``--workers`` process keeps its own buckets).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from hivemem.server.limits import DEFAULT_BURST, DEFAULT_RATE

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["DEFAULT_BURST", "DEFAULT_MAX_KEYS", "DEFAULT_RATE", "MAX_DEBT_SECONDS", "RateLimiter"]

#: Most buckets kept (least recently used forgotten first).
DEFAULT_MAX_KEYS = 10_000
#: Deepest debt a charge leaves, in seconds of the key's rate (and at most ``burst``
#: requests): after its costliest read a token waits at most this long (plus one request's
#: 1/rate) before its next request is served (docs/server-load.md, "stacked waits").
MAX_DEBT_SECONDS = 3.0
#: One request's worth of tokens, less what float arithmetic on the clock can lose.
_ONE = 1.0 - 1e-9


class RateLimiter:
    """Token buckets per key.

    Args:
        rate: Requests per second per key (0 or less: no limit).
        burst: Bucket size (at least 1).
        max_keys: Most keys tracked at once.
        clock: Monotonic seconds (tests inject one).
    """

    __slots__ = ("_buckets", "burst", "clock", "debt", "limited", "max_keys", "rate")

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.max_keys = max(1, max_keys)
        self.clock = clock
        #: Deepest debt :meth:`charge` leaves (requests).
        self.debt = min(float(self.burst), max(0.0, rate) * MAX_DEBT_SECONDS)
        #: Requests refused so far.
        self.limited = 0
        #: key -> (tokens left, when they were counted).
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        """Whether requests are limited at all."""
        return self.rate > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """Take one request from ``key``'s bucket.

        Returns:
            0.0 when the request may go on, else the seconds until the bucket holds one.
        """
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        buckets = self._buckets
        held = buckets.get(key)
        if held is None:
            tokens = float(self.burst)
            if len(buckets) >= self.max_keys:
                buckets.popitem(last=False)
        else:
            tokens = min(float(self.burst), held[0] + (now - held[1]) * self.rate)
            buckets.move_to_end(key)
        if tokens >= _ONE:
            buckets[key] = (max(0.0, tokens - 1.0), now)
            return 0.0
        buckets[key] = (tokens, now)
        self.limited += 1
        return (1.0 - tokens) / self.rate

    def charge(self, key: str, count: float) -> None:
        """Take ``count`` more requests from ``key``'s bucket for the work a request did.

        For a request whose cost grows with what it reads (an event stream's backlog): the
        bucket may go into debt, at most :attr:`debt` deep (``burst`` requests, or
        :data:`MAX_DEBT_SECONDS` of the rate if less), and the key's next requests wait
        until it is paid back.
        """
        if self.rate <= 0 or count <= 0:
            return
        now = self.clock()
        held = self._buckets.get(key)
        tokens = float(self.burst) if held is None else held[0] + (now - held[1]) * self.rate
        if held is None and len(self._buckets) >= self.max_keys:
            self._buckets.popitem(last=False)
        self._buckets[key] = (max(-self.debt, min(float(self.burst), tokens) - count), now)
