"""Long-term memories end to end in a SQLite store: load, first search, restart, search latency.

    .venv/bin/python benchmarks/memories_restart.py [--n 100000] [--runs 3] [--queries 300]
        [--dir DIR] [--keep] [--json FILE]

Loads ``--n`` records through ``add_many`` (batches of 1,000) into ``sqlite:///DIR/bench.db``
with synthetic 384-d vectors (the clustered generator of ``memories_vectors.py``, through
an embedder object, so the model's time is not in these figures: see ``memories_add.py``),
then measures, each in a fresh process (a real restart):

* **cold**: first search with snapshots off (``index_dir=""``): one scan of the store
  (records and their stored vectors, no re-embedding) plus one HNSW build;
* **snapshot**: first search after a close that saved the index (``<file>.index``):
  the scan plus loading the saved graph (median of ``--runs`` restarts);
* then ``--queries`` searches through the API (``semantic_search``, k=10): vector-only
  weights and the default hybrid weights, each unfiltered and with a ``memory_type``
  filter (a quarter of the records); latency excludes nothing but the (synthetic)
  query embedding is a numpy draw, ~0.05 ms.

Peak RSS of each process is reported; the store file's and the snapshot's sizes too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from memories_vectors import Clustered

import hivemem

DIM = 384
TYPES = ["fact", "episode", "decision", "note"]
VECTOR_ONLY = {"vector": 1.0, "keyword": 0.0, "strength": 0.0, "recency": 0.0}


class SyntheticEmbedder:
    """Clustered unit vectors regardless of the text (the model's cost is measured apart)."""

    name = "bench/clustered-384"
    dim = DIM

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.gen = Clustered(rng, DIM, 2000, 50, 0.8, (0.4, 1.6), 0.3)

    def embed(self, texts: list[str]) -> np.ndarray:
        vecs, _ = self.gen.sample(len(texts))
        return vecs


def words(rng: np.random.Generator, vocab: int, n: int) -> str:
    """``n`` words of a Zipf(1.1) vocabulary whose 100 most frequent (stop words) are gone:
    the commonest word is then in about 1% of the texts, as content words of real notes."""
    ranks: list[int] = []
    while len(ranks) < n:
        draw = rng.zipf(1.1, 8 * n)
        ranks += draw[(draw > 100) & (draw <= vocab)].tolist()
    return " ".join(f"w{r}" for r in ranks[:n])


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_load(url: str, n: int) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    mem = hivemem.connect(url, embedder=SyntheticEmbedder(1), cleanup_interval=0, index_dir="")
    lt = mem.memories("bench")
    started = time.perf_counter()
    for start in range(0, n, 1000):
        count = min(1000, n - start)
        lt.add_many(
            [
                {
                    "content": f"record {start + i} {words(rng, 50_000, 12)}",
                    "memory_type": TYPES[(start + i) % 4],
                    "tags": [f"t{(start + i) % 10}"],
                }
                for i in range(count)
            ]
        )
        if start % 50_000 == 0:
            print(f"  loaded {start + count:,}", file=sys.stderr)
    load_s = time.perf_counter() - started
    mem.close()
    return {"load_s": load_s, "records_per_s": n / load_s}


def phase_open(url: str, index_dir: str, queries: int) -> dict[str, Any]:
    rng = np.random.default_rng(2)
    mem = hivemem.connect(
        url, embedder=SyntheticEmbedder(2), cleanup_interval=0, index_dir=index_dir
    )
    lt = mem.memories("bench")
    started = time.perf_counter()
    lt.semantic_search("first", k=10, weights=VECTOR_ONLY)
    first_s = time.perf_counter() - started
    out: dict[str, Any] = {"first_search_s": first_s, "rss_after_open_mb": peak_rss_mb()}
    for label, weights in (("vector", VECTOR_ONLY), ("hybrid", None)):
        for fname, filters in (("unfiltered", None), ("type 25%", {"memory_type": "decision"})):
            times = []
            for _ in range(queries):
                q = words(rng, 50_000, 6)
                t = time.perf_counter()
                hits = lt.semantic_search(q, k=10, filters=filters, weights=weights)
                times.append((time.perf_counter() - t) * 1000)
                assert len(hits) == 10
            times.sort()
            out[f"{label} {fname}"] = {
                "p50_ms": statistics.median(times),
                "p99_ms": times[int(0.99 * (len(times) - 1))],
            }
    started = time.perf_counter()
    mem.close()
    out["close_s"] = time.perf_counter() - started
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def run_phase(*args: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--phase", *args]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    sys.stderr.write(done.stderr)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--dir", type=Path, default=None, help="where the store goes (default tmp)")
    ap.add_argument("--keep", action="store_true", help="reuse / keep the store in --dir")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.phase:
        kind, url, *rest = args.phase
        if kind == "load":
            result = phase_load(url, int(rest[0]))
        else:
            result = phase_open(url, rest[0], int(rest[1]))
        print(json.dumps(result))
        return 0

    base = Path(args.dir or tempfile.mkdtemp(prefix="hivemem-restart-"))
    base.mkdir(parents=True, exist_ok=True)
    db = base / "bench.db"
    url = f"sqlite:///{db}"
    snap_dir = f"{db}.index"
    figures: dict[str, Any] = {"n": args.n, "runs": args.runs, "queries": args.queries}
    try:
        if not (args.keep and db.exists()):
            print(f"loading {args.n:,} records into {db}", file=sys.stderr)
            figures["load"] = run_phase("load", url, str(args.n))
        figures["store_mb"] = (
            sum(
                p.stat().st_size
                for p in base.iterdir()
                if p.name.startswith("bench.db") and p.is_file()
            )
            / 2**20
        )
        shutil.rmtree(snap_dir, ignore_errors=True)
        print("cold start (no snapshot)", file=sys.stderr)
        figures["cold"] = run_phase("open", url, "", str(args.queries))
        print("first start with snapshots (builds, saves at close)", file=sys.stderr)
        figures["saving"] = run_phase("open", url, snap_dir, str(args.queries))
        figures["snapshot_mb"] = sum(p.stat().st_size for p in Path(snap_dir).iterdir()) / 2**20
        figures["warm"] = []
        for i in range(args.runs):
            print(f"restart {i + 1} from the snapshot", file=sys.stderr)
            figures["warm"].append(run_phase("open", url, snap_dir, str(args.queries)))
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
    figures |= {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
    }
    print(table(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


def table(f: dict[str, Any]) -> str:
    warm = f["warm"]

    def med(key: str, sub: str | None = None) -> float:
        vals = [w[key] if sub is None else w[key][sub] for w in warm]
        return float(statistics.median(vals))

    rows: list[tuple[str, str]] = []
    if "load" in f:
        rate = f["load"]["records_per_s"]
        rows.append(("add_many (batches of 1,000, vectors given)", f"{rate:,.0f} records/s"))
    rows += [
        ("store file", f"{f['store_mb']:,.0f} MB"),
        ("first search, cold (scan + graph build)", f"{f['cold']['first_search_s']:.1f} s"),
        (
            f"first search from a snapshot (scan + load), median of {len(warm)}",
            f"{med('first_search_s'):.1f} s",
        ),
        (
            "snapshot written at close",
            f"{f['saving']['close_s']:.1f} s, {f['snapshot_mb']:,.0f} MB",
        ),
        (
            "peak RSS, cold / from snapshot",
            f"{f['cold']['peak_rss_mb']:,.0f} / {med('peak_rss_mb'):,.0f} MB",
        ),
    ]
    lines = [
        f"**{f['n']:,} records** in one SQLite store (synthetic 384-d vectors), {f['cpus']} CPUs, "
        f"load average at the end {f['load_avg'][0]:.1f}",
        "",
        "| measure | value |",
        "|---|---:|",
        *(f"| {k} | {v} |" for k, v in rows),
        "",
        "| search through the API (k=10) | p50 | p99 |",
        "|---|---:|---:|",
    ]
    for key in ("vector unfiltered", "vector type 25%", "hybrid unfiltered", "hybrid type 25%"):
        lines.append(f"| {key} | {med(key, 'p50_ms'):.2f} ms | {med(key, 'p99_ms'):.2f} ms |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
