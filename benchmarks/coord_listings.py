"""The reads behind the web UI's coordination tab (issue 19): ``locks(ns)`` and ``queues(ns)``.

One namespace holds ``--queues`` queues of ``--tasks`` tasks each and ``--locks`` held
locks; each listing's first page (``limit`` = all of them, at most 100) is timed
``--samples`` times on memory://, sqlite:// and redis:// (a redis-server started here),
beside one queue's ``stats()`` (one record read) as the anchor.

Usage: ``python benchmarks/coord_listings.py [--queues 100 --tasks 20 --locks 100]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hivemem
from hivemem.testing.redis import RedisServer

if TYPE_CHECKING:
    from collections.abc import Callable


def _time(fn: Callable[[], Any], samples: int) -> tuple[float, float]:
    fn()
    ts = []
    for _ in range(samples):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000)
    ts.sort()
    return statistics.median(ts), ts[min(len(ts) - 1, int(0.9 * len(ts)))]


def run(url: str, label: str, args: argparse.Namespace) -> None:
    mem = hivemem.connect(url, agent="a", cleanup_interval=0)
    for i in range(args.queues):
        q = mem.queue("team", f"q{i:03d}")
        for j in range(args.tasks):
            q.put({"n": j})
    for i in range(args.locks):
        mem.try_lock("team", f"lock/{i:03d}", ttl=600)
    cases: list[tuple[str, Callable[[], Any]]] = [
        (
            f"queues(limit={min(args.queues, 100)})",
            lambda: mem.queues("team", limit=min(args.queues, 100)),
        ),
        (
            f"locks(limit={min(args.locks, 100)})",
            lambda: mem.locks("team", limit=min(args.locks, 100)),
        ),
        ("one queue's stats()", lambda: mem.queue("team", "q000").stats()),
    ]
    for name, fn in cases:
        p50, p90 = _time(fn, args.samples)
        print(f"| {label} | {name} | {p50:.2f} | {p90:.2f} |")
    mem.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queues", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--locks", type=int, default=100)
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    print("| store | read | p50 ms | p90 ms |\n|---|---|---|---|")
    run("memory://", "memory", args)
    run(f"sqlite:///{tmp}/bench.db", "sqlite", args)
    with RedisServer(tmp) as redis:
        run(redis.url, "redis", args)


if __name__ == "__main__":
    main()
