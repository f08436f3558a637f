"""A fixed-bucket histogram cheap enough for a hot path: one ``bisect`` and two additions.

Used where a count is kept by one writer at a time without a lock (the SQLite writer's
group commits, the server's requests on its event loop) and read by ``/metrics``, which
renders it in Prometheus form (cumulative buckets, ``_sum``, ``_count``).
"""

from __future__ import annotations

from bisect import bisect_left

__all__ = ["Histogram"]


class Histogram:
    """Counts of observations per bucket (upper bounds, inclusive), and their sum.

    Args:
        bounds: Increasing upper bounds; one more bucket (``+Inf``) takes the rest.
    """

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        #: Observations per bucket (not cumulative); the last one is ``+Inf``'s.
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Count one observation."""
        # bisect_left: the first bound >= value, so a value equal to a bound is in its bucket.
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        """Observations so far."""
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, observations <= le)`` per bucket, in Prometheus' ``le`` spelling."""
        out: list[tuple[str, int]] = []
        total = 0
        for bound, n in zip((*self.bounds, None), self.counts, strict=True):
            total += n
            out.append(("+Inf" if bound is None else repr(float(bound)), total))
        return out
