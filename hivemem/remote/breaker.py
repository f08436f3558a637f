"""A circuit breaker: fail fast while the server is down, probe, recover by itself.

``closed`` lets every call through and counts consecutive failures; at ``threshold`` it
turns ``open`` and refuses calls with :class:`~hivemem.errors.CircuitOpen` for
``reset_timeout`` seconds; then ``half_open`` lets one probe call through: its success
closes the circuit, its failure opens it again.
"""

from __future__ import annotations

import enum
import threading
import time
from typing import Any

from hivemem.errors import CircuitOpen

__all__ = ["BreakerState", "CircuitBreaker"]


class BreakerState(enum.Enum):
    """The breaker's states."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Counts failures of calls to one server; thread-safe."""

    def __init__(self, threshold: int = 5, reset_timeout: float = 5.0) -> None:
        self.threshold = threshold
        self.reset_timeout = reset_timeout
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    def before(self) -> None:
        """Call before each request.

        Raises:
            CircuitOpen: the circuit is open (or a probe is already in flight).
        """
        if self._state is BreakerState.CLOSED:
            return
        with self._lock:
            if self._state is BreakerState.OPEN:
                assert self._opened_at is not None
                waited = time.monotonic() - self._opened_at
                if waited < self.reset_timeout:
                    raise CircuitOpen(
                        f"the server failed {self._failures} times in a row; calls fail fast "
                        f"for {self.reset_timeout - waited:.1f} s more, then one probe is sent",
                        failures=self._failures,
                    )
                self._state = BreakerState.HALF_OPEN
                self._probing = False
            if self._probing:
                raise CircuitOpen("the circuit is half open: a probe call is in flight")
            self._probing = True

    def success(self) -> None:
        """Record a call that reached the server."""
        if self._state is BreakerState.CLOSED and not self._failures:
            return
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._opened_at = None
            self._probing = False

    def failure(self) -> None:
        """Record a call that could not reach the server (or got 503)."""
        with self._lock:
            self._failures += 1
            self._probing = False
            if self._state is BreakerState.HALF_OPEN or self._failures >= self.threshold:
                self._state = BreakerState.OPEN
                self._opened_at = time.monotonic()

    def status(self) -> dict[str, Any]:
        """``{state, failures, opened_at}`` (``opened_at`` in Unix seconds, or ``None``)."""
        with self._lock:
            state = self._state
            if (
                state is BreakerState.OPEN
                and self._opened_at is not None
                and time.monotonic() - self._opened_at >= self.reset_timeout
            ):
                state = BreakerState.HALF_OPEN
            opened = None
            if self._opened_at is not None:
                opened = time.time() - (time.monotonic() - self._opened_at)
            return {"state": state.value, "failures": self._failures, "opened_at": opened}

    def reset(self) -> None:
        """Close the circuit and forget the failures."""
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._opened_at = None
            self._probing = False
