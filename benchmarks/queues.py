"""Task queues (issue 19): hivemem's queue cycle against Redis Streams, and SQLite workers.

    python benchmarks/queues.py --rounds 5 --cycles 300 --sqlite-tasks 4000

1. ``redis://``: one client does put + claim + ack cycles on a hivemem queue, against the
   same cycle on a Redis Stream through redis-py (``XADD``, ``XREADGROUP`` of one entry,
   ``XACK``), on one ``redis-server`` (free loopback port, AOF off) started here. The two
   sides alternate ``--rounds`` times; each figure is the median of its side's rounds.
   Target (issue 19): hivemem >= 50% of the Streams cycles/s.
2. ``sqlite://``: ``--sqlite-tasks`` tasks are put, then 8 workers claim + ack until the
   queue is empty; cycles/s = tasks / wall time of the drain. Workers as 8 processes on one
   file (timed from the moment every worker is ready) and as 8 threads of one process (one
   store, whose writer group-commits). With ``durability=full`` (the default: an fsync per
   commit) and ``normal``. Target: >= 5,000 claim+ack cycles/s.

Prints Markdown (machine, command, tables) for docs/benchmarks.md; nothing is typed in.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import hivemem
from hivemem.testing.redis import RedisServer

_WORKER = r"""
import sys, time, hivemem
url, go = sys.argv[1], float(sys.argv[2])
with hivemem.connect(url, agent="bench") as mem:
    q = mem.queue("bench", "jobs")
    while time.time() < go:
        time.sleep(0.001)
    n = 0
    while (t := q.claim(visibility=60)) is not None:
        q.ack(t)
        n += 1
    print(n, time.time())
"""


def _hivemem_cycles(url: str, cycles: int) -> float:
    with hivemem.connect(url, agent="bench") as mem:
        q = mem.queue("bench", f"jobs{time.monotonic_ns()}")
        for _ in range(20):  # warm-up
            q.ack(_one(q))
        start = time.perf_counter()
        for i in range(cycles):
            q.put({"i": i})
            t = q.claim(visibility=60)
            assert t is not None
            q.ack(t)
        return cycles / (time.perf_counter() - start)


def _one(q: hivemem.Queue) -> hivemem.Task:
    q.put({"warm": True})
    t = q.claim(visibility=60)
    assert t is not None
    return t


def _streams_cycles(url: str, cycles: int) -> float:
    import redis

    r = redis.Redis.from_url(url)
    stream = f"bench:stream:{time.monotonic_ns()}"
    r.xgroup_create(stream, "g", id="0", mkstream=True)
    for _ in range(20):
        r.xadd(stream, {"v": '{"warm":true}'})
        got = r.xreadgroup("g", "c", {stream: ">"}, count=1)
        r.xack(stream, "g", got[0][1][0][0])
    start = time.perf_counter()
    for i in range(cycles):
        r.xadd(stream, {"v": json.dumps({"i": i})})
        got = r.xreadgroup("g", "c", {stream: ">"}, count=1)
        r.xack(stream, "g", got[0][1][0][0])
    elapsed = time.perf_counter() - start
    r.close()
    return cycles / elapsed


def _sqlite_drain(tmp: Path, tasks: int, durability: str, workers: int = 8) -> float:
    url = f"sqlite:///{tmp}/q-{durability}-{time.monotonic_ns()}.db?durability={durability}"
    with hivemem.connect(url, agent="bench") as mem:
        q = mem.queue("bench", "jobs")
        for i in range(tasks):
            q.put({"i": i})
    go = time.time() + 3.0  # every worker connected and waiting by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, url, repr(go)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(workers)
    ]
    outs = [p.communicate(timeout=600)[0].split() for p in procs]
    done = sum(int(o[0]) for o in outs)
    assert done == tasks, (done, tasks)
    end = max(float(o[1]) for o in outs)
    return tasks / (end - go)


def _sqlite_threads(tmp: Path, tasks: int, durability: str, workers: int = 8) -> float:
    """The same drain by 8 threads of one process (one store: its writer group-commits)."""
    import threading

    url = f"sqlite:///{tmp}/t-{durability}-{time.monotonic_ns()}.db?durability={durability}"
    with hivemem.connect(url, agent="bench") as mem:
        q = mem.queue("bench", "jobs")
        for i in range(tasks):
            q.put({"i": i})
        done: list[int] = []

        def work() -> None:
            n = 0
            while (t := q.claim(visibility=60)) is not None:
                q.ack(t)
                n += 1
            done.append(n)

        threads = [threading.Thread(target=work) for _ in range(workers)]
        start = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - start
    assert sum(done) == tasks, (sum(done), tasks)
    return tasks / elapsed


def _machine() -> list[tuple[str, str]]:
    import redis

    server = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return [
        ("cpus (nproc)", str(os.cpu_count())),
        ("python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("redis-server", server.stdout.split("v=")[1].split()[0] if "v=" in server.stdout else "?"),
        ("redis-py", redis.__version__),
        ("hivemem", f"git {head.stdout.strip()}"),
        ("load average (1 min) at start", f"{os.getloadavg()[0]:.2f}"),
    ]


def main() -> None:
    """Run both benchmarks and print Markdown."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cycles", type=int, default=300)
    ap.add_argument("--sqlite-tasks", type=int, default=4000)
    args = ap.parse_args()
    machine = _machine()
    tmp = Path(tempfile.mkdtemp())
    hm: list[float] = []
    st: list[float] = []
    with RedisServer(tmp / "redis", aof=False) as server:
        for i in range(args.rounds):
            sides = [("h", _hivemem_cycles), ("s", _streams_cycles)]
            for side, fn in sides if i % 2 == 0 else sides[::-1]:
                (hm if side == "h" else st).append(fn(server.url, args.cycles))
    sq = {
        (kind, d): fn(tmp, args.sqlite_tasks, d)
        for kind, fn in (("processes", _sqlite_drain), ("threads of one process", _sqlite_threads))
        for d in ("full", "normal")
    }
    machine.append(("load average (1 min) at end", f"{os.getloadavg()[0]:.2f}"))
    h, s = statistics.median(hm), statistics.median(st)
    print("| | |\n|---|---|")
    for k, v in machine:
        print(f"| {k} | {v} |")
    print()
    print("| measure | hivemem | Redis Streams (redis-py) | hivemem / Streams | target | met |")
    print("|---|---:|---:|---:|---|---|")
    print(
        f"| put + claim + ack cycles/s, one client, redis:// | {h:,.0f} | {s:,.0f} | "
        f"{h / s:.0%} | >= 50% | {'yes' if h / s >= 0.5 else 'no'} |"
    )
    print()
    print("Per round (hivemem / Streams cycles/s): " + ", ".join(
        f"{a:,.0f} / {b:,.0f}" for a, b in zip(hm, st, strict=True)))  # fmt: skip
    print()
    print("| measure | cycles/s | target | met |")
    print("|---|---:|---|---|")
    for (kind, d), v in sq.items():
        print(
            f"| sqlite:// claim + ack, 8 worker {kind}, durability={d}, "
            f"{args.sqlite_tasks:,} tasks | {v:,.0f} | >= 5,000 | {'yes' if v >= 5000 else 'no'} |"
        )


if __name__ == "__main__":
    main()
