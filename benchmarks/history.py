"""Entry history at scale (SPEC §20, issue 20): ``history(limit=50)`` and ``as_of`` reads.

Fills one namespace of a fresh SQLite file with ``--events`` write events (``write_many`` of
``--batch`` keys at a time over ``--keys`` keys, so each key has events/keys versions; the
namespace retains them all), then measures, side by side in one run:

- ``history(ns, key, limit=50)`` of random keys (p50, p99);
- a plain ``read`` of a key and an ``as_of`` read of it at a random retained revision,
  interleaved, and their ratio of medians (the anchor is the plain read);
- an ``as_of`` read at a time (a binary search over the log's timestamps).

Usage: ``python benchmarks/history.py --events 1000000``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import hivemem


def _p(samples: list[float], q: float) -> float:
    samples = sorted(samples)
    return samples[min(len(samples) - 1, int(q * len(samples)))] * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'h.db'}"
        mem = hivemem.connect(
            url, agent="bench", event_retention=args.events + 100, durability="normal"
        )
        start = time.perf_counter()
        written = 0
        rnd = random.Random(1)
        while written < args.events:
            n = min(args.batch, args.events - written)
            keys = {f"key-{rnd.randrange(args.keys):06d}": written + i for i in range(n)}
            mem.write_many("ns", keys)
            written += len(keys)
        fill = time.perf_counter() - start
        rev = mem.get_namespace("ns").revision
        print(
            f"filled {written} write events in {fill:.1f} s ({written / fill:,.0f}/s), "
            f"revision {rev}"
        )
        keys = [f"key-{i:06d}" for i in range(args.keys)]
        hist: list[float] = []
        for _ in range(args.samples):
            key = rnd.choice(keys)
            t = time.perf_counter()
            mem.history("ns", key, limit=50)
            hist.append(time.perf_counter() - t)
        plain: list[float] = []
        asof: list[float] = []
        for _ in range(args.samples):
            key = rnd.choice(keys)
            at = rnd.randrange(rev // 2, rev)
            t = time.perf_counter()
            mem.read("ns", key)
            plain.append(time.perf_counter() - t)
            t = time.perf_counter()
            mem.read("ns", key, as_of=at)
            asof.append(time.perf_counter() - t)
        first = mem.history("ns", keys[0], limit=1)[0].updated_at
        now = time.time()
        timed: list[float] = []
        for _ in range(args.samples // 4):
            t = time.perf_counter()
            mem.read("ns", rnd.choice(keys), as_of=rnd.uniform(first, now))
            timed.append(time.perf_counter() - t)
        mem.close()
    print(f"history(limit=50): p50 {_p(hist, 0.5):.0f} us, p99 {_p(hist, 0.99):.0f} us")
    print(
        f"read: p50 {_p(plain, 0.5):.1f} us; read(as_of=revision): p50 {_p(asof, 0.5):.1f} us;"
        f" ratio {statistics.median(asof) / statistics.median(plain):.2f}"
    )
    print(f"read(as_of=time): p50 {_p(timed, 0.5):.0f} us")


if __name__ == "__main__":
    main()
