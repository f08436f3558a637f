"""Long-term memories: the in-process vector index (hivemem/memories/vectors.py).

    .venv/bin/python benchmarks/memories_vectors.py [--n 100000] [--queries 1000] [--runs 3]
                                                    [--dim 384] [--ef-search N] [--json FILE]

Prints a markdown table: index build time, search latency (p50/p99 over ``--queries``
queries, median over ``--runs`` passes) and recall@10 against exact search, unfiltered and
with filter masks applied; memory (RSS delta of building the index); save and load
(restart) times.

Data. Uniform-random vectors have no structure: every point is about equally far from
every other, unlike sentence embeddings, and HNSW recall collapses on them. The vectors
here are clustered instead: ``--clusters`` (2,000) gaussian centres on the unit sphere,
each point ``centre + noise`` with isotropic gaussian noise of total norm ``--noise``
(0.75: a point's cosine to its own centre is about 0.8, to another point of its cluster
about 0.64, to a point of another cluster about 0), L2-normalised. Cluster sizes are
uniform. Queries are fresh points from the same distribution (not stored ones). Within a
cluster the noise is isotropic, so the 10 nearest neighbours of a query are separated by
small margins (a harder case than real embeddings, which vary along few directions).

Filters. ``random 50% / 10% / 1%``: each label allowed independently with that
probability (a filter uncorrelated with the vectors, e.g. an agent id). ``10% clusters``:
the labels of a random tenth of the clusters (a filter correlated with the vectors, e.g.
a topic tag), queried from all clusters, so for 90% of the queries the allowed vectors are
not near the query and the graph's over-fetch finds none of them: the exact fallback.

Recall@10 is |returned ∩ exact top-10| / 10, averaged over the queries; exact top-10 is
computed by batched brute force with the same mask. Latency is one ``search`` call per
query (single thread, warm), including the mask's combination with the live mask.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from hivemem.memories.vectors import VectorIndex

K = 10


def rss_bytes() -> int:
    with Path("/proc/self/statm").open() as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def clustered(
    rng: np.random.Generator, centres: np.ndarray, n: int, noise: float, chunk: int = 100_000
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` normalised points ``centre + noise`` and their cluster ids."""
    dim = centres.shape[1]
    out = np.empty((n, dim), dtype=np.float32)
    cluster = rng.integers(0, centres.shape[0], n)
    sigma = np.float32(noise / np.sqrt(dim))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        block = rng.standard_normal((stop - start, dim), dtype=np.float32)
        block *= sigma
        block += centres[cluster[start:stop]]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:stop] = block
    return out, cluster


def exact_topk(data: np.ndarray, queries: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Ground truth: exact top-K labels per query (batched brute force)."""
    out = np.empty((queries.shape[0], K), dtype=np.int64)
    step = max(1, int(2e8 // data.shape[0]))  # ~800 MB of scores per batch
    for start in range(0, queries.shape[0], step):
        scores = queries[start : start + step] @ data.T
        if mask is not None:
            scores[:, ~mask] = -np.inf
        part = np.argpartition(scores, -K, axis=1)[:, -K:]
        best = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-best, axis=1, kind="stable")
        out[start : start + step] = np.take_along_axis(part, order, axis=1)
    return out


def recall(found: list[np.ndarray], truth: np.ndarray) -> float:
    hits = [len(set(f.tolist()) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits))


def time_searches(
    index: VectorIndex,
    queries: np.ndarray,
    mask: np.ndarray | None,
    runs: int,
    exact: bool = False,
) -> tuple[float, float, list[np.ndarray]]:
    """(p50 ms, p99 ms) as medians over the runs, and the labels of the first run."""
    p50s, p99s = [], []
    first: list[np.ndarray] = []
    for run in range(runs):
        lat = np.empty(queries.shape[0])
        for i, q in enumerate(queries):
            t = time.perf_counter()
            labels, _ = index.search(q, K, mask, exact=exact)
            lat[i] = time.perf_counter() - t
            if run == 0:
                first.append(labels)
        p50s.append(float(np.percentile(lat, 50)) * 1e3)
        p99s.append(float(np.percentile(lat, 99)) * 1e3)
    return statistics.median(p50s), statistics.median(p99s), first


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--clusters", type=int, default=2000)
    ap.add_argument("--noise", type=float, default=0.75)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ef-search", type=int, default=None, help="VectorIndex ef_search")
    ap.add_argument("--exact-queries", type=int, default=100, help="queries timed exactly")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    centres = rng.standard_normal((args.clusters, args.dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    t = time.perf_counter()
    data, cluster = clustered(rng, centres, args.n, args.noise)
    queries, _ = clustered(rng, centres, args.queries, args.noise)
    print(f"generated {args.n:,} x {args.dim} in {time.perf_counter() - t:.1f} s", file=sys.stderr)

    kwargs: dict[str, Any] = {}
    if args.ef_search is not None:
        kwargs["ef_search"] = args.ef_search
    gc.collect()
    rss0 = rss_bytes()
    t = time.perf_counter()
    index = VectorIndex(args.dim, **kwargs)
    index.upsert(np.arange(args.n), data)
    build_s = time.perf_counter() - t
    gc.collect()
    mem_mb = (rss_bytes() - rss0) / 2**20
    stats = index.stats()
    print(f"built in {build_s:.1f} s: {stats}", file=sys.stderr)

    masks: dict[str, np.ndarray | None] = {"unfiltered": None}
    for frac in (0.5, 0.1, 0.01):
        masks[f"random {frac:.0%}"] = rng.random(args.n) < frac
    chosen = rng.choice(args.clusters, max(1, args.clusters // 10), replace=False)
    masks["10% clusters"] = np.isin(cluster, chosen)

    rows: list[dict[str, Any]] = []
    for name, mask in masks.items():
        t = time.perf_counter()
        truth = exact_topk(data, queries, mask)
        truth_s = time.perf_counter() - t
        p50, p99, found = time_searches(index, queries, mask, args.runs)
        nq = min(args.exact_queries, args.queries)
        e50, e99, _ = time_searches(index, queries[:nq], mask, 1, exact=True)
        row = {
            "filter": name,
            "allowed": args.n if mask is None else int(mask.sum()),
            "p50_ms": p50,
            "p99_ms": p99,
            "recall10": recall(found, truth),
            "exact_p50_ms": e50,
            "exact_p99_ms": e99,
        }
        rows.append(row)
        print(f"{row} (truth {truth_s:.1f} s)", file=sys.stderr)

    # Save, drop, load (a restart), check the loaded index answers the same.
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        path = Path(tmp) / "vectors.idx"
        before = [index.search(q, K)[0] for q in queries[:100]]
        t = time.perf_counter()
        index.save(path)
        save_s = time.perf_counter() - t
        file_mb = path.stat().st_size / 2**20
        del index
        gc.collect()
        rss1 = rss_bytes()
        t = time.perf_counter()
        loaded = VectorIndex.load(path)
        load_s = time.perf_counter() - t
        gc.collect()
        load_mb = (rss_bytes() - rss1) / 2**20
        after = [loaded.search(q, K)[0] for q in queries[:100]]
        same = all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))

    figures = {
        "n": args.n,
        "dim": args.dim,
        "queries": args.queries,
        "runs": args.runs,
        "clusters": args.clusters,
        "noise": args.noise,
        "kind": stats["kind"],
        "ef_search": loaded.ef_search,
        "build_s": build_s,
        "memory_mb": mem_mb,
        "index_mb": stats["bytes"] / 2**20,
        "save_s": save_s,
        "file_mb": file_mb,
        "load_s": load_s,
        "load_memory_mb": load_mb,
        "loaded_same_results": same,
        "rows": rows,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
    }
    print(table(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def table(f: dict[str, Any]) -> str:
    lines = [
        f"**{f['n']:,} vectors x {f['dim']}**, {f['clusters']:,} clusters, noise {f['noise']}; "
        f"index kind `{f['kind']}` (ef_search {f['ef_search']}), {f['queries']:,} queries "
        f"x {f['runs']} runs, top-{K}, {f['cpus']} CPUs",
        "",
        "| filter | allowed | p50 | p99 | recall@10 | exact p50 | exact p99 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in f["rows"]:
        lines.append(
            f"| {r['filter']} | {r['allowed']:,} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms "
            f"| {r['recall10']:.4f} | {r['exact_p50_ms']:.1f} ms | {r['exact_p99_ms']:.1f} ms |"
        )
    lines += [
        "",
        "| measure | value |",
        "|---|---:|",
        f"| build (one `upsert` of all vectors) | {f['build_s']:.1f} s |",
        f"| memory (RSS delta of the build) | {f['memory_mb']:,.0f} MB |",
        f"| index bytes (`stats()`) | {f['index_mb']:,.0f} MB |",
        f"| save | {f['save_s']:.2f} s ({f['file_mb']:,.0f} MB file) |",
        f"| load (restart, no rebuild) | {f['load_s']:.2f} s "
        f"(RSS +{f['load_memory_mb']:,.0f} MB) |",
        f"| loaded index gives the same results | {'yes' if f['loaded_same_results'] else 'NO'} |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
