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
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
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


def rates(
    calls: dict[Any, Callable[[Any], object]], items: Sequence[Any], cfg: Config
) -> dict[Any, list[float]]:
    """Measure several calls in alternation, so that load from elsewhere on the machine hits
    them alike: a warm-up run of each, then ``cfg.runs`` rounds of one timed run of each
    (the order rotates every round). Return every run's ops/s, by name."""
    gc.collect()
    names = list(calls)
    for name in names:
        _loop(calls[name], items, cfg.warmup)
    out: dict[Any, list[float]] = {name: [] for name in names}
    for r in range(cfg.runs):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            out[name].append(_loop(calls[name], items, cfg.duration))
    return out


def rate(call: Callable[[Any], object], items: Sequence[Any], cfg: Config) -> list[float]:
    """Measure one call ``cfg.runs`` times (after a warm-up); return ops/s of each run."""
    return rates({"": call}, items, cfg)[""]


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


def mixed_rates(
    sync_calls: dict[str, Callable[[Any], object]],
    open_async: Callable[
        [],
        Awaitable[
            tuple[dict[str, Callable[[Any], Awaitable[object]]], Callable[[], Awaitable[None]]]
        ],
    ],
    items: Sequence[Any],
    cfg: Config,
) -> dict[str, list[float]]:
    """Like :func:`rates` for sync and async calls together, all on one event loop's thread:
    ``open_async()`` opens the async stores and returns ``(calls, close)``."""

    async def main() -> dict[str, list[float]]:
        acalls, close = await open_async()
        try:
            names = [*sync_calls, *acalls]

            async def one(name: str, duration: float) -> float:
                if name in sync_calls:
                    return _loop(sync_calls[name], items, duration)
                return await _aloop(acalls[name], items, duration)

            for name in names:
                await one(name, cfg.warmup)
            out: dict[str, list[float]] = {name: [] for name in names}
            for r in range(cfg.runs):
                for name in names[r % len(names) :] + names[: r % len(names)]:
                    out[name].append(await one(name, cfg.duration))
            return out
        finally:
            await close()

    gc.collect()
    return asyncio.run(main())


def threaded_rates(
    makers: dict[str, Callable[[int], Callable[[int], object]]], threads: int, cfg: Config
) -> dict[str, list[float]]:
    """For each maker, ``threads`` threads each call ``maker(thread_index)(i)`` for
    i = 0, 1, ... until the run's deadline; makers alternate run by run as in :func:`rates`.
    Return the total acknowledged calls per second of each run, by name."""

    def one_run(make_call: Callable[[int], Callable[[int], object]], duration: float) -> float:
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
    names = list(makers)
    for name in names:
        one_run(makers[name], cfg.warmup)
    out: dict[str, list[float]] = {name: [] for name in names}
    for r in range(cfg.runs):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            out[name].append(one_run(makers[name], cfg.duration))
    return out


def load() -> str:
    """The 1-minute load average (other work on the machine skews figures)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


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

    commit = "unknown"
    try:
        root = Path(__file__).resolve().parent.parent
        git = ["git", "-C", str(root)]
        commit = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "hivemem"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.rstrip()
        if dirty:
            files = [line[3:] for line in dirty.splitlines()]
            more = f" and {len(files) - 4} more" if len(files) > 4 else ""
            commit += f"; uncommitted: {', '.join(files[:4])}{more}"
    except (OSError, subprocess.CalledProcessError):
        pass
    return {
        "cpus (nproc)": str(len(os.sched_getaffinity(0))),
        "cpu model": model,
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "sqlite": sqlite3.sqlite_version,
        "os": f"{platform.system()} {platform.release()}",
        "hivemem": f"{hivemem.__version__} (git {commit})",
        "peer": peer,
    }
