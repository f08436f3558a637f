"""Long-term memories: the in-process vector index (hivemem/memories/vectors.py).

    .venv/bin/python benchmarks/memories_vectors.py [--n 100000] [--queries 1000] [--runs 3]
        [--dim 384] [--ef-search N] [--vectors FILE.npy] [--json FILE]

Prints a markdown table: index build time, search latency (p50/p99 over ``--queries``
queries, median over ``--runs`` passes) and recall@10 against exact search, unfiltered and
with filter masks applied; memory (RSS delta of building the index); save and load
(restart) times.

Data. Uniform-random vectors have no structure: every point is about equally far from
every other, unlike sentence embeddings, and HNSW recall collapses on them. The vectors
here are clustered instead, in two levels so that similarity falls off gradually as in
real embeddings: ``--topics`` (50) gaussian topic directions; ``--clusters`` (2,000)
cluster centres, each a topic plus gaussian noise of norm ``--topic-noise`` (0.8); each
point its cluster's centre plus isotropic gaussian noise of a norm drawn uniformly from
``--noise`` (0.4 to 1.6: some points tight around their centre, some diffuse), plus a
small shared direction (``--shared``, 0.3; real embeddings share one: the median cosine of
two unrelated sentences is above 0), L2-normalised. Queries are fresh points from the
same distribution (not stored ones). Calibration: 60,000 real all-MiniLM-L6-v2 embeddings
of Python docstrings have a query's cosine to its 1st / 10th / 100th / 1,000th nearest
neighbour and to the median vector of 0.72 / 0.55 / 0.43 / 0.31 / 0.07; this generator at
the same size gives 0.67 / 0.57 / 0.44 / 0.26 / 0.05 (a one-level model, ``--topics 0
--noise 0.75 0.75 --shared 0``, gives 0.69 / 0.65 / 0.15 / 0.11 / 0.00: the 10 nearest are
near-ties and, past its own cluster, every vector is about as far as any other, so a
filter that leaves fewer than 10 allowed vectors in the query's cluster asks for
meaningless neighbours). ``--vectors FILE.npy`` benchmarks real embeddings instead (the
first ``--queries`` rows of a shuffle are the queries, the rest are indexed).

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


class Clustered:
    """Two-level clustered unit vectors: topics, cluster centres around them, points."""

    def __init__(
        self,
        rng: np.random.Generator,
        dim: int,
        clusters: int,
        topics: int,
        topic_noise: float,
        noise: tuple[float, float],
        shared: float,
    ) -> None:
        self.rng, self.dim, self.noise = rng, dim, noise
        centres = rng.standard_normal((clusters, dim), dtype=np.float32)
        if topics:
            tops = unit(rng.standard_normal((topics, dim), dtype=np.float32))
            centres *= np.float32(topic_noise / np.sqrt(dim))
            centres += tops[rng.integers(0, topics, clusters)]
        self.centres = unit(centres)
        self.shared = np.float32(shared) * unit(rng.standard_normal((1, dim), dtype=np.float32))

    def sample(self, n: int, chunk: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points and their cluster ids."""
        rng, dim = self.rng, self.dim
        out = np.empty((n, dim), dtype=np.float32)
        cluster = rng.integers(0, self.centres.shape[0], n)
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            block = rng.standard_normal((stop - start, dim), dtype=np.float32)
            scale = rng.uniform(*self.noise, (stop - start, 1)).astype(np.float32)
            block *= scale / np.float32(np.sqrt(dim))
            block += self.centres[cluster[start:stop]]
            block += self.shared
            out[start:stop] = unit(block)
        return out, cluster


def unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


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
    ap.add_argument("--topics", type=int, default=50)
    ap.add_argument("--topic-noise", type=float, default=0.8)
    ap.add_argument("--noise", type=float, nargs=2, default=(0.4, 1.6), metavar=("LO", "HI"))
    ap.add_argument("--shared", type=float, default=0.3)
    ap.add_argument("--vectors", type=Path, default=None, help="real embeddings (.npy)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ef-search", type=int, default=None, help="VectorIndex ef_search")
    ap.add_argument(
        "--ef-sweep", default="", help="also time unfiltered and 50%% searches at these ef_search"
    )
    ap.add_argument("--exact-queries", type=int, default=100, help="queries timed exactly")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    t = time.perf_counter()
    if args.vectors is not None:
        real = np.load(args.vectors).astype(np.float32)
        real = unit(real[rng.permutation(real.shape[0])])
        queries, data = real[: args.queries], real[args.queries :]
        args.n, args.dim = data.shape
        cluster = None
        source = f"real embeddings `{args.vectors.name}`"
    else:
        gen = Clustered(
            rng,
            args.dim,
            args.clusters,
            args.topics,
            args.topic_noise,
            tuple(args.noise),
            args.shared,
        )
        data, cluster = gen.sample(args.n)
        queries, _ = gen.sample(args.queries)
        source = (
            f"{args.topics} topics, {args.clusters:,} clusters, topic noise {args.topic_noise}, "
            f"noise {args.noise[0]}-{args.noise[1]}, shared {args.shared}"
        )
    print(f"data {args.n:,} x {args.dim} in {time.perf_counter() - t:.1f} s", file=sys.stderr)

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
    if cluster is not None:
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

    sweep: list[dict[str, Any]] = []
    default_ef = index.ef_search
    for ef in [int(x) for x in args.ef_sweep.split(",") if x]:
        index.ef_search = ef
        for name in ("unfiltered", "random 50%"):
            mask = masks[name]
            truth = exact_topk(data, queries, mask)
            p50, p99, found = time_searches(index, queries, mask, args.runs)
            sweep.append(
                {
                    "ef": ef,
                    "filter": name,
                    "p50_ms": p50,
                    "p99_ms": p99,
                    "recall10": recall(found, truth),
                }
            )
            print(sweep[-1], file=sys.stderr)
    index.ef_search = default_ef

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
        "source": source,
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
        "sweep": sweep,
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
        f"**{f['n']:,} vectors x {f['dim']}** ({f['source']}); index kind `{f['kind']}` "
        f"(ef_search {f['ef_search']}), {f['queries']:,} queries x {f['runs']} runs, "
        f"top-{K}, {f['cpus']} CPUs",
        "",
        "| filter | allowed | p50 | p99 | recall@10 | exact p50 | exact p99 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in f["rows"]:
        lines.append(
            f"| {r['filter']} | {r['allowed']:,} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms "
            f"| {r['recall10']:.4f} | {r['exact_p50_ms']:.1f} ms | {r['exact_p99_ms']:.1f} ms |"
        )
    if f["sweep"]:
        lines += ["", "| ef_search | filter | p50 | p99 | recall@10 |", "|---:|---|---:|---:|---:|"]
        for r in f["sweep"]:
            lines.append(
                f"| {r['ef']} | {r['filter']} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms "
                f"| {r['recall10']:.4f} |"
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
