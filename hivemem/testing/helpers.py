"""Small helpers the conformance tests share (no fixtures here: see the conftest)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Recorder", "snapshot", "wait_until"]


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.005) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds.

    For background delivery (subscriptions, the sweeper): returns as soon as the condition
    holds, so tests never sleep longer than needed.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate}")
        time.sleep(interval)


class Recorder:
    """A callback that records every event it gets (thread-safe enough for list appends)."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def __call__(self, event: Any) -> None:
        self.events.append(event)

    def of(self, *types: str) -> list[Any]:
        """The recorded events of the given types, in arrival order."""
        return [e for e in self.events if e.type in types]

    @property
    def types(self) -> list[str]:
        """The types of the recorded events, in arrival order."""
        return [e.type for e in self.events]


def snapshot(mem: Any, agent: str | None = None) -> dict[str, Any]:
    """Everything observable about a store's data: namespace configs with their revisions,
    every live entry of each namespace ``agent`` can read, and per-namespace counters.

    Compare a snapshot taken before and after a refused operation to prove it left nothing
    behind (no entry, no config change, no revision taken). The audit log is left out: a
    refused attempt is supposed to be logged.
    """
    stats = mem.stats()
    data: dict[str, Any] = {
        "per_namespace": stats["per_namespace"],
        "total_entries": stats["total_entries"],
    }
    for info in mem.list_namespaces(agent):
        page = mem.list_entries(info.name, agent, limit=10_000)
        data[info.name] = (info, list(page.items))
    return data
