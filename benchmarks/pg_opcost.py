"""CPU and SQL statements per op: hivemem's postgresql:// against LangGraph's ``PostgresStore``.

Why the single-writer put ratio of ``benchmarks/postgres.py`` moves with the machine: when a
WAL flush is slow (a loaded disk) both stores wait for it and tie; when it is fast, the CPU
per put decides. This measures, on one PostgreSQL of its own (fsync and
``synchronous_commit`` on), the two stores in alternation (3 rounds, medians): CPU time of
this process (``time.process_time``) and of PostgreSQL's process tree (``/proc``) per op,
ops/s, and the SQL statements each op sends (psycopg's ``Cursor.execute`` and
``executemany`` calls, counted by wrapping them).

    PYTHONPATH=. .venv/bin/python benchmarks/pg_opcost.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h
import postgres as pb
import psycopg
from server import cpu_seconds

import hivemem
from hivemem.testing.postgres import PostgresServer

if TYPE_CHECKING:
    from collections.abc import Callable

COUNT = {"statements": 0}


def _counting(fn: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        COUNT["statements"] += 1
        return fn(*args, **kwargs)

    return wrapper


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--writes", type=int, default=200, help="writes per side per round")
    p.add_argument("--reads", type=int, default=600, help="reads per side per round")
    p.add_argument("--rounds", type=int, default=3)
    cfg = p.parse_args(argv)
    psycopg.Cursor.execute = _counting(psycopg.Cursor.execute)  # type: ignore[method-assign]
    psycopg.Cursor.executemany = _counting(psycopg.Cursor.executemany)  # type: ignore[method-assign]
    value = h.make_value()
    load0 = os.getloadavg()[0]
    with PostgresServer() as pg:
        pid = pg.postmaster_pid()
        assert pid is not None
        mem = hivemem.connect(f"{pg.url}?schema=bench", agent="bench", cleanup_interval=0)
        store, pool = pb._lg_store(pg.url, 4)
        try:
            keys = [f"k{i:04d}" for i in range(1000)]
            pb._hive_fill(mem, keys, value)
            pb._lg_fill(store, [(pb.NST, k) for k in keys], value)
            sides: dict[str, tuple[Callable[[str], object], int]] = {
                "hivemem write": (lambda k: mem.write(pb.NS, k, value), cfg.writes),
                "PostgresStore put": (lambda k: store.put(pb.NST, k, value), cfg.writes),
                "hivemem read": (lambda k: mem.read(pb.NS, k), cfg.reads),
                "PostgresStore get": (lambda k: store.get(pb.NST, k), cfg.reads),
            }
            rows: dict[str, list[dict[str, float]]] = {s: [] for s in sides}
            for r in range(cfg.rounds + 1):  # round 0 warms up
                for name, (fn, n) in sides.items():
                    COUNT["statements"] = 0
                    c0, p0, t0 = time.process_time(), cpu_seconds(pid), time.perf_counter()
                    for i in range(n):
                        fn(keys[(i * 7919 + r) % 1000])
                    wall = time.perf_counter() - t0
                    if r:
                        rows[name].append(
                            {
                                "client_us": (time.process_time() - c0) / n * 1e6,
                                "pg_us": (cpu_seconds(pid) - p0) / n * 1e6,
                                "ops_s": n / wall,
                                "statements": COUNT["statements"] / n,
                            }
                        )
        finally:
            mem.close()
            pool.close()
    print("| op | ops/s | client CPU us / op | PostgreSQL CPU us / op | SQL statements / op |")
    print("|---|---:|---:|---:|---:|")
    for name, rs in rows.items():
        med = {f: statistics.median(x[f] for x in rs) for f in rs[0]}
        print(
            f"| {name} | {med['ops_s']:,.0f} | {med['client_us']:,.0f} | {med['pg_us']:,.0f} | "
            f"{med['statements']:.1f} |"
        )
    print(f"\nload average (1 min) start / end: {load0:.2f} / {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
