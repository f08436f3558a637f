"""A controllable clock for TTL and timestamp tests.

Pass it to ``connect(url, clock=clock, cleanup_interval=0)``: the store then reads the
time from it, so a test moves time forward with :meth:`FakeClock.advance` instead of
sleeping, and every timestamp (``created_at``, ``updated_at``, ``expires_at``, event and
audit times) is an exact, predictable number.
"""

from __future__ import annotations

import threading

__all__ = ["FakeClock"]


class FakeClock:
    """A ``time.time`` stand-in that only moves when told to.

    Args:
        start: The initial Unix time in seconds (a round number keeps sums exact).
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        """Return the current fake time (what ``time.time()`` would)."""
        with self._lock:
            return self._now

    @property
    def now(self) -> float:
        """The current fake time."""
        return self()

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` and return the new time."""
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, when: float) -> None:
        """Jump to the Unix time ``when`` (not earlier than now)."""
        with self._lock:
            if when < self._now:
                raise ValueError("a clock only moves forward")
            self._now = float(when)

    def __repr__(self) -> str:
        return f"FakeClock({self._now!r})"
