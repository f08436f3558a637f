"""Long-term memories: the cost of search filters in the index (hivemem/memories/index.py).

    .venv/bin/python benchmarks/memories_filters.py [--n 100000] [--runs 20]

Builds one namespace's index of ``--n`` records as a multi-agent run writes them (4 agents,
200 sessions, a source of run id (50 runs), conversation id (2,000), message id (unique)
and, for a third of them, a step number; ``occurred_at`` spread over a year), without
vectors, and prints a markdown table: the time of one filter mask (median of ``--runs``)
per filter, how many records it keeps, and the memory the source index takes (tracemalloc,
the index built with and without sources).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
import tracemalloc
from typing import Any

from hivemem.memories.index import NamespaceIndex, check_filters

T0 = 1_600_000_000.0
DAY = 86_400.0


def records(n: int, with_source: bool = True) -> list[dict[str, Any]]:
    rng = random.Random(16)
    out = []
    for i in range(n):
        source: dict[str, Any] = {}
        if with_source:
            source = {
                "run_id": f"run-{rng.randrange(50)}",
                "conversation_id": f"conv-{rng.randrange(2000):05d}",
                "message_id": f"msg-{i:08d}",
            }
            if i % 3 == 0:
                source["step"] = rng.randrange(10)
        t = T0 + rng.uniform(0, 365) * DAY
        out.append(
            {
                "id": f"{i:032x}",
                "content": f"ledger entry {i}",
                "tier": "short",
                "metadata": {"speaker": f"p{rng.randrange(20)}"},
                "tags": [],
                "agent_id": f"agent-{rng.randrange(4)}",
                "session_id": f"s{rng.randrange(200)}",
                "source": source,
                "created_at": t,
                "updated_at": t,
                "occurred_at": t,
                "decayed_at": t,
            }
        )
    return out


def build(recs: list[dict[str, Any]]) -> NamespaceIndex:
    idx = NamespaceIndex("bench")
    for r in recs:
        idx.put_record(r["id"], r)
    return idx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    plain, full = records(args.n, with_source=False), records(args.n)
    sizes = []
    for recs in (plain, full):
        gc.collect()
        tracemalloc.start()
        idx = build(recs)
        sizes.append(tracemalloc.get_traced_memory()[0])
        tracemalloc.stop()
    start = time.perf_counter()
    idx = build(full)
    built = time.perf_counter() - start
    mid = T0 + 180 * DAY
    cases = {
        "none": {},
        "source run_id (1 of 50)": {"source": {"run_id": "run-7"}},
        "source conversation_id (1 of 2,000)": {"source": {"conversation_id": "conv-00042"}},
        "source run_id + step": {"source": {"run_id": "run-7", "step": 3}},
        "source message_id (unique)": {"source": {"message_id": "msg-00000042"}},
        "occurred 30-day range": {"occurred_after": mid, "occurred_before": mid + 30 * DAY},
        "agent_id + session_id": {"agent_id": "agent-1", "session_id": ["s3", "s4"]},
        "source + occurred + agent": {
            "source": {"run_id": "run-7"},
            "occurred_after": mid,
            "agent_id": "agent-1",
        },
        "metadata speaker (for comparison)": {"metadata": {"speaker": "p3"}},
    }
    print(
        f"{args.n:,} records; index built in {built:.1f} s; source index "
        f"{(sizes[1] - sizes[0]) / 2**20:.0f} MiB of {sizes[1] / 2**20:.0f} MiB traced\n"
    )
    print("| filter | kept | mask (ms, median) |")
    print("|---|---:|---:|")
    for name, given in cases.items():
        f = check_filters(given)
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            kept = idx.mask(f)
            times.append(time.perf_counter() - start)
        print(f"| {name} | {int(kept.sum()):,} | {statistics.median(times) * 1e3:.2f} |")


if __name__ == "__main__":
    main()
