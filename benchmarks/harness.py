"""Timing primitives shared by both sides of the comparison.

Every figure is the median of several timed runs, each preceded by nothing but the
previous run (the first run of a case is preceded by a discarded warm-up run). hivemem and
LangGraph go through the same loops, so loop overhead is the same on both sides.
"""

from __future__ import annotations

import asyncio
import gc
import os
import platform
import random
import sqlite3
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

#: JSON size of the benchmark value, as LangGraph stores need an object.
VALUE_BYTES = 100


def make_value(n: int = 0, value_bytes: int = VALUE_BYTES) -> dict[str, Any]:
    """The value both sides store: a JSON object of about ``value_bytes`` bytes."""
    from hivemem.cli.bench import make_value as hm_make_value

    return hm_make_value(value_bytes, n)


def key_sequence(keys: Sequence[str], length: int = 1 << 16, seed: int = 7) -> list[str]:
    """A fixed pseudo-random access order over ``keys`` (the same for both sides)."""
    rng = random.Random(seed)
    return [keys[rng.randrange(len(keys))] for _ in range(length)]


@dataclass(slots=True)
class Config:
    """How long and how often each case is measured."""

    runs: int = 5
    duration: float = 1.0
    warmup: float = 0.3


def _loop(call: Callable[[Any], object], items: Sequence[Any], duration: float) -> float:
    """Call ``call(item)`` over ``items`` (cycling) for ``duration`` s; return calls/s."""
    n_items = len(items)
    n = 0
    chunk = 1
    t0 = time.perf_counter()
    while True:
        for j in range(n, n + chunk):
            call(items[j % n_items])
        n += chunk
        elapsed = time.perf_counter() - t0
        if elapsed >= duration:
            return n / elapsed
        if chunk < 512:
            chunk *= 2


def rate(call: Callable[[Any], object], items: Sequence[Any], cfg: Config) -> list[float]:
    """Measure ``call`` ``cfg.runs`` times (after a warm-up); return ops/s of each run."""
    gc.collect()
    _loop(call, items, cfg.warmup)
    return [_loop(call, items, cfg.duration) for _ in range(cfg.runs)]


async def _aloop(
    call: Callable[[Any], Awaitable[object]], items: Sequence[Any], duration: float
) -> float:
    n_items = len(items)
    n = 0
    chunk = 1
    t0 = time.perf_counter()
    while True:
        for j in range(n, n + chunk):
            await call(items[j % n_items])
        n += chunk
        elapsed = time.perf_counter() - t0
        if elapsed >= duration:
            return n / elapsed
        if chunk < 512:
            chunk *= 2


def arate(
    make_call: Callable[
        [], Awaitable[tuple[Callable[[Any], Awaitable[object]], Callable[[], Awaitable[None]]]]
    ],
    items: Sequence[Any],
    cfg: Config,
) -> list[float]:
    """Async twin of :func:`rate`: ``make_call()`` opens the store on the running loop and
    returns ``(call, close)``; all runs share one loop."""

    async def main() -> list[float]:
        call, close = await make_call()
        try:
            await _aloop(call, items, cfg.warmup)
            return [await _aloop(call, items, cfg.duration) for _ in range(cfg.runs)]
        finally:
            await close()

    gc.collect()
    return asyncio.run(main())


def threaded_rate(
    make_call: Callable[[int], Callable[[int], object]], threads: int, cfg: Config
) -> list[float]:
    """``threads`` threads each call ``make_call(thread_index)(i)`` for i = 0, 1, ... until
    the run's deadline; return the total acknowledged calls per second of each run."""

    def one_run(duration: float) -> float:
        counts = [0] * threads
        ready = threading.Barrier(threads + 1)
        deadline = [0.0]

        def worker(t: int) -> None:
            call = make_call(t)
            ready.wait()
            end = deadline[0]
            i = 0
            while time.perf_counter() < end:
                call(i)
                i += 1
            counts[t] = i

        pool = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(threads)]
        for th in pool:
            th.start()
        t0 = time.perf_counter()
        deadline[0] = t0 + duration
        ready.wait()
        for th in pool:
            th.join()
        return sum(counts) / (time.perf_counter() - t0)

    gc.collect()
    one_run(cfg.warmup)
    return [one_run(cfg.duration) for _ in range(cfg.runs)]


def median(values: Sequence[float]) -> float:
    """The median of a run's figures."""
    return statistics.median(values)


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:  # noqa: PTH123
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import importlib.metadata as md

        lg = md.version("langgraph")
        lgs = md.version("langgraph-checkpoint-sqlite")
        peer = f"langgraph {lg}, langgraph-checkpoint-sqlite {lgs}"
    except Exception:
        peer = "not installed"
    import hivemem

    return {
        "cpus (nproc)": str(os.cpu_count()),
        "cpu model": model,
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "sqlite": sqlite3.sqlite_version,
        "os": f"{platform.system()} {platform.release()}",
        "hivemem": hivemem.__version__,
        "peer": peer,
    }
