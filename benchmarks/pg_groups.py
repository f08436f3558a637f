"""Group commit over PostgreSQL: writes/s, ops per commit and CPU per write, 1 vs 16 threads.

One PostgreSQL of its own (``initdb`` + ``pg_ctl``, fsync and ``synchronous_commit`` on), one
``Memory`` shared by the threads; each thread updates its own 1,000 keys, in one namespace
(all writers queue on its advisory lock) or in a namespace per thread. The runs alternate
(1 thread, 16 in one namespace, 16 in their own) ``--rounds`` times. Ops per commit are read
from the backend's group-commit counters (``ops`` / ``groups``, a private attribute: the
server's ``/metrics`` exports SQLite's group sizes only). CPU: this process
(``time.process_time``) and PostgreSQL's process tree (``/proc``), per write.

    PYTHONPATH=. .venv/bin/python benchmarks/pg_groups.py
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h
from server import cpu_seconds

import hivemem
from hivemem.testing.postgres import PostgresServer


def _run(mem: Any, pg_pid: int, threads: int, seconds: float, own_ns: bool) -> dict[str, float]:
    group = mem._b._group  # the PostgreSQL backend's _GroupCommit
    value = h.make_value()
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def writer(t: int) -> None:
        ns = f"bench{t}" if own_ns else "bench"
        i = 0
        while time.perf_counter() < stop:
            mem.write(ns, f"t{t:02d}-{i % 1000:04d}", value)
            i += 1
        counts[t] = i

    g0, o0 = group.groups, group.ops
    c0, p0, t0 = time.process_time(), cpu_seconds(pg_pid), time.perf_counter()
    pool = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    n = sum(counts)
    return {
        "writes_s": n / (time.perf_counter() - t0),
        "ops_per_commit": (group.ops - o0) / max(1, group.groups - g0),
        "client_us": (time.process_time() - c0) / n * 1e6,
        "pg_us": (cpu_seconds(pg_pid) - p0) / n * 1e6,
        "load": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--threads", type=int, default=16)
    cfg = p.parse_args(argv)
    with PostgresServer() as pg:
        pid = pg.postmaster_pid()
        assert pid is not None
        mem = hivemem.connect(f"{pg.url}?schema=bench", agent="bench", cleanup_interval=0)
        try:
            for ns in ["bench", *(f"bench{t}" for t in range(cfg.threads))]:
                mem.create_namespace(ns)
            _run(mem, pid, 1, 1.0, False)  # warm-up
            cases = [(1, False), (cfg.threads, False), (cfg.threads, True)]
            for _ in range(cfg.rounds):
                for threads, own in cases:
                    r = _run(mem, pid, threads, cfg.seconds, own)
                    print(
                        f"{threads:2d} thread(s), {'a namespace each' if own else 'one namespace'}"
                        f": {r['writes_s']:,.0f} writes/s, {r['ops_per_commit']:.2f} ops per "
                        f"commit, client CPU {r['client_us']:,.0f} us/write, PostgreSQL CPU "
                        f"{r['pg_us']:,.0f} us/write, load {r['load']:.1f}",
                        flush=True,
                    )
        finally:
            mem.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
