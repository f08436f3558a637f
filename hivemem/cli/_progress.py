"""A plain-stdlib progress bar on stderr (shown on a terminal, or when asked)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Count work done and redraw one status line at most every ``interval`` seconds.

    Args:
        label: What is being done (``export``, ``import``).
        total: How many items to expect, or ``None`` when unknown (no bar, just a count).
        enabled: Draw at all (``None``: only when the stream is a terminal).
        stream: Where to draw (stderr).
        interval: Least seconds between redraws.
    """

    WIDTH = 30

    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        enabled: bool | None = None,
        stream: TextIO | None = None,
        interval: float = 0.1,
    ) -> None:
        self.label = label
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.interval = interval
        self.done = 0
        self._start = time.monotonic()
        self._drawn = 0.0

    def advance(self, count: int = 1) -> None:
        """Record ``count`` more items done; redraw if it is time."""
        self.done += count
        now = time.monotonic()
        if self.enabled and now - self._drawn >= self.interval:
            self._drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed
        if self.total:
            frac = min(self.done / self.total, 1.0)
            filled = int(frac * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            text = f"{self.label} [{bar}] {frac:4.0%} {self.done}/{self.total}"
        else:
            text = f"{self.label} {self.done}"
        self.stream.write(f"\r{text}  {rate:,.0f}/s ")
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
