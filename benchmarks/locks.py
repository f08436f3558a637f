"""Lock acquire + release on ``redis://`` against a raw redis-py ``SET NX PX`` + ``DEL`` pair.

Issue 19's bar: hivemem's ``try_lock`` + ``unlock`` (fencing token, lease, events, audit)
costs at most 2x the raw pair. One process, one client, a fresh ``redis-server`` on a free
port; the two sides alternate in blocks so drift hits both; medians of per-block rates.

    PYTHONPATH=. python benchmarks/locks.py [--cycles 2000] [--blocks 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import redis

import hivemem
from hivemem.testing.redis import RedisServer


def _hivemem_block(mem: hivemem.Memory, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        lk = mem.try_lock("bench", "L", ttl=30.0)
        assert lk is not None
        mem.unlock(lk)
    return n / (time.perf_counter() - start)


def _raw_block(client: redis.Redis, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        assert client.set("raw:lock", uuid.uuid4().hex, nx=True, px=30_000)
        client.delete("raw:lock")
    return n / (time.perf_counter() - start)


def main() -> None:
    """Run both sides, alternating, and print cycles/s and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cycles", type=int, default=2000, help="cycles per block")
    ap.add_argument("--blocks", type=int, default=5)
    args = ap.parse_args()
    server = RedisServer(Path(tempfile.mkdtemp()) / "redis", aof=False).start()
    try:
        mem = hivemem.connect(server.url, agent="bench", cleanup_interval=0)
        raw = redis.Redis.from_url(server.url)
        _hivemem_block(mem, 200)
        _raw_block(raw, 200)
        ours, theirs = [], []
        for _ in range(args.blocks):
            ours.append(_hivemem_block(mem, args.cycles))
            theirs.append(_raw_block(raw, args.cycles))
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"hivemem try_lock+unlock on redis://: {a:,.0f} cycles/s ({1e6 / a:.0f} us/cycle)")
        print(f"redis-py SET NX PX + DEL:            {b:,.0f} cycles/s ({1e6 / b:.0f} us/cycle)")
        print(f"cost ratio (raw rate / hivemem rate): {b / a:.2f}x (target <= 2x)")
        mem.close()
    finally:
        server.kill()


if __name__ == "__main__":
    main()
