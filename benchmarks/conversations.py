"""Issue 5 benchmarks: message append cost at the 10th vs the 100,000th message, and
get_messages(limit=20) on a 100,000-message conversation (embedded SQLite and Redis).

    .venv/bin/python benchmarks/conversations.py [--messages 100000] [--runs 5]

The big conversation is filled with batches of 1,000 messages (one atomic list push
each); after a pause of ``SETTLE`` seconds (so that the SQLite store's background WAL
checkpoint of the bulk fill is not what gets timed: this measures steady state, not the
middle of an import), rounds alternate between 10 ``add_message`` calls around the 10th
message of a fresh conversation and 10 on the big one. Each append figure is the median
over ``--runs`` rounds of the mean of those 10 calls; ``get_messages(limit=20)`` the median
of ``--runs`` means of 50 calls. A real redis-server is started on a free port (no
persistence).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

import hivemem
from hivemem.engine.ops import ListPush
from hivemem.testing.redis import RedisServer

SETTLE = 2.0


def _mean_call(fn: Any, calls: int = 50) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def measure(mem: hivemem.Memory, total: int, runs: int) -> dict[str, float]:
    big = mem.conversation("bench-big")
    # Fill fast: append batches of 1,000 prepared messages to the conversation's message
    # list in one atomic op each (the layout of hivemem.conversations).
    key = f"c/{big.id}/msg"
    batch = tuple(
        orjson.dumps(
            {"id": str(i), "role": "user", "content": f"m{i}", "metadata": {}, "timestamp": 0.0}
        ).decode()
        for i in range(1000)
    )
    while big.get_message_count() < total - 10 * runs:
        mem._run(ListPush(agent=mem.agent, ns="conversations", key=key, items=batch))
    time.sleep(SETTLE)
    small: list[float] = []
    large: list[float] = []
    for _ in range(runs):  # the two sizes take turns, so the store's background work hits both
        mem.conversations.cleanup("bench-small")
        conv = mem.conversation("bench-small")
        for i in range(9):
            conv.add_message("user", f"warm {i}")
        small.append(_mean_call(lambda c=conv: c.add_message("user", "hello"), 10))
        large.append(_mean_call(lambda: big.add_message("user", "hello"), 10))
    count = big.get_message_count()
    reads = [_mean_call(lambda: big.get_messages(limit=20), 50) for _ in range(runs)]
    return {
        "messages": count,
        "append_10th_ms": statistics.median(small) * 1000,
        "append_100kth_ms": statistics.median(large) * 1000,
        "ratio": statistics.median(large) / statistics.median(small),
        "get_messages_20_ms": statistics.median(reads) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        results = {}
        for durability in ("normal", "full"):
            url = f"sqlite:///{d}/conv-{durability}.db?durability={durability}"
            with hivemem.connect(url, cleanup_interval=0, log_reads=False) as mem:
                results[f"sqlite ({durability})"] = measure(mem, args.messages, args.runs)
        with (
            RedisServer(Path(d) / "redis", aof=False) as server,
            hivemem.connect(server.url, cleanup_interval=0, log_reads=False) as mem,
        ):
            results["redis"] = measure(mem, args.messages, args.runs)
    for name, r in results.items():
        print(
            f"{name:16} messages={r['messages']:>7}  append@10 {r['append_10th_ms']:.3f} ms  "
            f"append@100k {r['append_100kth_ms']:.3f} ms  ratio {r['ratio']:.2f}x  "
            f"get_messages(20) {r['get_messages_20_ms']:.3f} ms"
        )


if __name__ == "__main__":
    main()
