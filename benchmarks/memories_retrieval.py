"""Retrieval quality of hivemem's own searches on the labelled set (issue 6, acceptance 2).

Loads ``benchmarks/data/retrieval`` into a store's long-term memories (embedded with the
bundled MiniLM, in batches), then scores hivemem's three searches with
:func:`retrieval_eval.evaluate`: keyword (``search``, BM25), vector (``semantic_search``
with only the vector weight) and hybrid (``semantic_search`` with the default weights).

    python benchmarks/memories_retrieval.py [--url memory://]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from retrieval_eval import evaluate, load_set, markdown_table

import hivemem

VECTOR_ONLY = {"vector": 1.0, "keyword": 0.0, "strength": 0.0, "recency": 0.0}


def load(lt: Any, memories: list[dict[str, Any]], batch: int = 256) -> dict[str, str]:
    """Add the set's memories; return {record id: the set's id}."""
    ids: dict[str, str] = {}
    for start in range(0, len(memories), batch):
        chunk = memories[start : start + batch]
        specs = [
            {
                "content": m["content"],
                "memory_type": m["memory_type"],
                "tags": m["tags"],
                "importance": m["importance"],
            }
            for m in chunk
        ]
        for m, rec in zip(chunk, lt.add_many(specs), strict=True):
            ids[rec.id] = m["id"]
    return ids


def run(url: str = "memory://", k: int = 5) -> dict[str, Any]:
    """Load the set into a fresh store at ``url`` and evaluate the three searches."""
    memories, queries = load_set()
    mem = hivemem.connect(url, embedder="minilm", cleanup_interval=0)
    try:
        lt = mem.memories("retrieval-eval")
        started = time.perf_counter()
        ids = load(lt, memories)
        loaded = time.perf_counter() - started

        def keyword(q: str, n: int) -> list[str]:
            return [ids[h.memory.id] for h in lt.search(q, limit=n)]

        def vector(q: str, n: int) -> list[str]:
            return [ids[h.memory.id] for h in lt.semantic_search(q, k=n, weights=VECTOR_ONLY)]

        def hybrid(q: str, n: int) -> list[str]:
            return [ids[h.memory.id] for h in lt.semantic_search(q, k=n)]

        result = evaluate(keyword, vector, hybrid, memories, queries, k)
        result["load_seconds"] = loaded
        return result
    finally:
        mem.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="memory://")
    args = parser.parse_args()
    result = run(args.url)
    print(
        f"{result['n_memories']} memories, {result['n_queries']} queries, url {args.url}, "
        f"loaded (embedded) in {result['load_seconds']:.1f} s\n"
    )
    print(markdown_table(result))


if __name__ == "__main__":
    main()
