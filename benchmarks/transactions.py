"""Transaction of 2 compares + 2 writes vs two plain writes (issue 19: target <= 1.5x).

    PYTHONPATH=. .venv/bin/python benchmarks/transactions.py [--seconds 1] [--rounds 5]

One process, one client, sync API, on ``sqlite://`` (a temporary file, durability full) and
``redis://`` (a redis-server started on a free port, AOF ``appendfsync always`` as the
tests run it). Side A writes two keys in two namespaces with ``mem.write``; side B commits
a transaction comparing both keys' versions and writing both. The sides alternate round by
round (A B B A ...) so drift of the machine falls on both; each figure is the median of its
side's rounds. Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import hivemem

NS = ("bench-a", "bench-b")


def _plain(mem: Any, state: dict[str, int], i: int) -> None:
    mem.write(NS[0], "x", i)
    mem.write(NS[1], "y", i)


def _txn(mem: Any, state: dict[str, int], i: int) -> None:
    txn = mem.transaction()
    txn.compare(NS[0], "x", version=state["x"]).compare(NS[1], "y", version=state["y"])
    txn.on_success.write(NS[0], "x", i).write(NS[1], "y", i)
    result = txn.commit()
    assert result.succeeded
    state["x"], state["y"] = result.results[0].version, result.results[1].version


def _round(mem: Any, fn: Any, seconds: float) -> float:
    """Pairs per second for ``seconds``."""
    x, y = mem.get_entry(NS[0], "x"), mem.get_entry(NS[1], "y")
    state = {"x": x.version, "y": y.version}
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        fn(mem, state, n)
        n += 1
        if n % 16 == 0 and time.perf_counter() >= deadline:
            break
    return n / (time.perf_counter() - start)


def measure(url: str, seconds: float, rounds: int, **options: Any) -> tuple[float, float]:
    """Median pairs/s of two plain writes and of the transaction on ``url``."""
    with hivemem.connect(url, agent="bench", **options) as mem:
        for ns in NS:
            mem.create_namespace(ns, group="bench", exist_ok=True)
        mem.write(NS[0], "x", 0)
        mem.write(NS[1], "y", 0)
        _round(mem, _plain, 0.3)  # warm-up
        _round(mem, _txn, 0.3)
        plain: list[float] = []
        txn: list[float] = []
        for r in range(rounds):
            order = [(_plain, plain), (_txn, txn)]
            for fn, out in order if r % 2 == 0 else order[::-1]:
                out.append(_round(mem, fn, seconds))
    return statistics.median(plain), statistics.median(txn)


def main() -> None:
    """Run both stores and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--rounds", type=int, default=5)
    cfg = p.parse_args()
    from hivemem.testing.redis import RedisServer

    load0 = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(("sqlite://", *measure(f"sqlite:///{tmp}/bench.db", cfg.seconds, cfg.rounds)))
        with RedisServer(Path(tmp) / "redis") as server:
            rows.append(("redis://", *measure(server.url, cfg.seconds, cfg.rounds)))
        # Without a sync per commit the engine's own cost shows.
        rows.append(
            (
                'sqlite:// durability="normal"',
                *measure(f"sqlite:///{tmp}/fast.db", cfg.seconds, cfg.rounds, durability="normal"),
            )
        )
        with RedisServer(Path(tmp) / "redis-noaof", aof=False) as server:
            rows.append(("redis:// (no AOF)", *measure(server.url, cfg.seconds, cfg.rounds)))
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print(
        f"`PYTHONPATH=. python benchmarks/transactions.py --seconds {cfg.seconds} "
        f"--rounds {cfg.rounds}`; {os.cpu_count()} cpus, {platform.python_implementation()} "
        f"{platform.python_version()}, git {git}, load average {load0:.2f} / "
        f"{os.getloadavg()[0]:.2f} (start / end)\n"
    )
    print(
        "| store | two plain writes (pairs/s) | transaction 2 compares + 2 writes (/s) "
        "| time ratio txn / two writes | target |"
    )
    print("|---|---:|---:|---:|---|")
    for name, plain, txn in rows:
        ratio = plain / txn
        print(
            f"| {name} | {plain:,.0f} | {txn:,.0f} | {ratio:.2f}x | <= 1.5x "
            f"{'met' if ratio <= 1.5 else 'NOT met'} |"
        )


if __name__ == "__main__":
    main()
