"""Adding long-term memories with embedding, against the embedding model alone (issue 6).

    .venv/bin/python benchmarks/memories_add.py [--url sqlite:///...] [--n 1024] [--batch 64]
        [--runs 5] [--single 200] [--warmup 3] [--json FILE]

Acceptance: adding records with embedding at >= 300 records/s (batched), i.e. >= 80% of
the model's own rate; a single add with embedding <= 15 ms p50.

Measures, in one process, on the same embedder object the store uses (the bundled MiniLM,
``embedder="minilm"``), warm:

1. model alone, batched: ``embedder.embed`` of ``--n`` texts in calls of ``--batch`` texts
   (texts/s);
2. hivemem, batched: ``lt.add_many`` of the same ``--n`` texts in calls of ``--batch``
   records, into a fresh namespace (records/s); ratio = hivemem / model, per round;
3. single: ``--single`` calls of ``lt.add(text)``, one record each (p50/p99 ms), and, call
   for call, ``embedder.embed([text])`` alone (p50 ms), so the difference is the store's
   own cost of one add.

The store's own calls of the embedder are timed too, so hivemem's own cost (validation,
encoding, the SQLite transaction and its commit: everything but the embedding) is also
reported directly, per record batched and per single add, free of the noise of comparing
two separately timed passes.

Load changes (this runs on small shared machines) hit both sides alike: each of ``--runs``
rounds runs a model pass then a hivemem pass (and the single adds alternate call by call);
the table shows the median over the rounds of each figure, and of the per-round ratio.
Texts are the contents of the labelled set (``benchmarks/data/retrieval``: 2,486 memories
written to be realistic, 72 characters on average), each round a different stretch of them
(cycled), so the texts of a round are distinct. Nothing caches embeddings, in hivemem or in
the model, so a text repeated across rounds costs what it cost the first time. (An
earlier version appended a "(r0.517)" tag to every text, about 7 more tokens on texts of
about 18: that measured the model on texts 40% longer than the set's.)
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
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from retrieval_eval import load_set

import hivemem

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

#: Issue 6's targets.
TARGET_RATE = 300.0
TARGET_RATIO = 0.8
TARGET_SINGLE_MS = 15.0
VECTOR_ONLY = {"vector": 1.0, "keyword": 0.0, "strength": 0.0, "recency": 0.0}


def texts_for(contents: list[str], n: int, start: int) -> list[str]:
    """``n`` of the set's contents from position ``start`` on (cycled; distinct if n <= len)."""
    return [contents[(start + i) % len(contents)] for i in range(n)]


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def timed_rate(fn: Callable[[list[str]], Any], texts: list[str], batch: int) -> float:
    """Items per second of ``fn`` over ``texts`` in calls of ``batch``."""
    gc.collect()
    started = time.perf_counter()
    for chunk in chunks(texts, batch):
        fn(chunk)
    return len(texts) / (time.perf_counter() - started)


def pct(values: list[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank, linear between) of ``values``."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def loadavg() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


@contextmanager
def store(url: str | None) -> Iterator[tuple[Any, str]]:
    """A store opened with the bundled MiniLM, and its URL (a temporary SQLite file by default)."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        url = url or f"sqlite:///{tmp}/bench.db"
        mem = hivemem.connect(url, embedder="minilm", cleanup_interval=0)
        try:
            yield mem, url
        finally:
            mem.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    memories, _ = load_set()
    contents = [m["content"] for m in memories]
    load_start = loadavg()
    with store(args.url) as (mem, url):
        embedder = mem._c.settings.embedder  # the very object the store's plans embed with
        if embedder is None:
            raise SystemExit("the store has no embedder")
        if hasattr(embedder, "load"):
            embedder.load()
        torch = sys.modules.get("torch")

        # The store's calls of the embedder are timed, so its own cost (everything but the
        # embedding) is measured directly as well as by difference with the model's passes.
        raw_embed = embedder.embed
        in_store = [0.0]

        def clocked(texts: Any) -> Any:
            t = time.perf_counter()
            try:
                return raw_embed(texts)
            finally:
                in_store[0] += time.perf_counter() - t

        embedder.embed = clocked
        added = 0

        def model_batch(chunk: list[str]) -> None:
            raw_embed(chunk)

        def store_batch(chunk: list[str]) -> None:
            nonlocal added
            added += len(lt.add_many([{"content": text} for text in chunk]))

        # Warm up both sides: model, store (namespace creation, marker, SQLite caches), singles.
        warm = texts_for(contents, args.warmup * args.batch, len(contents) // 2)
        timed_rate(model_batch, warm, args.batch)
        lt = mem.memories("bench-add-warm")
        timed_rate(store_batch, warm, args.batch)
        for text in warm[: min(len(warm), 10)]:
            raw_embed([text + " single"])
            lt.add(text + " single")

        rounds: list[dict[str, Any]] = []
        for r in range(args.runs):
            texts = texts_for(contents, args.n, r * args.n)
            model_rate = timed_rate(model_batch, texts, args.batch)
            lt = mem.memories(f"bench-add-r{r}")
            added, in_store[0] = 0, 0.0
            store_rate = timed_rate(store_batch, texts, args.batch)
            store_own_ms = (len(texts) / store_rate - in_store[0]) / len(texts) * 1e3
            if added != len(texts):
                raise SystemExit(f"add_many added {added} records of {len(texts)}")

            singles = texts_for(contents[::-1], args.single, r * args.single)
            model_ms: list[float] = []
            store_ms: list[float] = []
            own_ms: list[float] = []
            gc.collect()
            for text in singles:
                t = time.perf_counter()
                raw_embed([text])
                model_ms.append((time.perf_counter() - t) * 1e3)
                in_store[0] = 0.0
                t = time.perf_counter()
                lt.add(text)
                store_ms.append((time.perf_counter() - t) * 1e3)
                own_ms.append(store_ms[-1] - in_store[0] * 1e3)
            row = {
                "round": r,
                "model_rate": model_rate,
                "store_rate": store_rate,
                "ratio": store_rate / model_rate,
                "store_own_ms_per_record": store_own_ms,
                "model_single_p50_ms": pct(model_ms, 50),
                "model_single_p99_ms": pct(model_ms, 99),
                "store_single_p50_ms": pct(store_ms, 50),
                "store_single_p99_ms": pct(store_ms, 99),
                "single_own_p50_ms": pct(own_ms, 50),
                "single_own_p99_ms": pct(own_ms, 99),
                "loadavg": loadavg(),
            }
            rounds.append(row)
            print(
                f"round {r}: model {model_rate:.0f}/s, hivemem {store_rate:.0f}/s "
                f"(ratio {row['ratio']:.2f}, own {store_own_ms:.2f} ms/record); single p50 model "
                f"{row['model_single_p50_ms']:.1f} ms, hivemem {row['store_single_p50_ms']:.1f} ms "
                f"(p99 {row['store_single_p99_ms']:.1f} ms, own p50 "
                f"{row['single_own_p50_ms']:.2f} ms); load {row['loadavg']}",
                file=sys.stderr,
            )
        # Sanity (untimed): the last round's records are there, with their vectors.
        probe = texts[len(texts) // 2]
        hits = lt.semantic_search(probe, k=1, weights=VECTOR_ONLY)
        found = bool(hits) and hits[0].memory.content == probe
        print(f"check: vector search finds an added text: {found}", file=sys.stderr)
        if not found:
            raise SystemExit("the added records are not found by vector search")
        del embedder.embed  # the class's method again

    def med(key: str) -> float:
        return statistics.median(row[key] for row in rounds)

    return {
        "url": url,
        "n": args.n,
        "batch": args.batch,
        "runs": args.runs,
        "single": args.single,
        "embedder": repr(embedder),
        "embedder_name": getattr(embedder, "name", "?"),
        "model_rate": med("model_rate"),
        "store_rate": med("store_rate"),
        "ratio": med("ratio"),
        "model_single_p50_ms": med("model_single_p50_ms"),
        "model_single_p99_ms": med("model_single_p99_ms"),
        "store_single_p50_ms": med("store_single_p50_ms"),
        "store_single_p99_ms": med("store_single_p99_ms"),
        "store_own_ms_per_record": med("store_own_ms_per_record"),
        "single_own_p50_ms": med("single_own_p50_ms"),
        "single_own_p99_ms": med("single_own_p99_ms"),
        "rounds": rounds,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": getattr(torch, "__version__", "n/a"),
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "loadavg_start": load_start,
        "loadavg_end": loadavg(),
    }


def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def table(f: dict[str, Any]) -> str:
    rate_ok = f["store_rate"] >= TARGET_RATE and f["ratio"] >= TARGET_RATIO
    single_ok = f["store_single_p50_ms"] <= TARGET_SINGLE_MS
    lines = [
        f"**{f['n']:,} texts in batches of {f['batch']}, {f['single']} single adds, "
        f"median of {f['runs']} interleaved rounds**; store `{f['url']}`, "
        f"embedder `{f['embedder_name']}`; {f['cpus']} CPUs ({f['platform']}), "
        f"Python {f['python']}, torch {f['torch']} ({f['torch_threads']} threads); "
        f"load average (1/5/15 min) {f['loadavg_start']} at start, {f['loadavg_end']} at end",
        "",
        "| measure | model alone | hivemem | ratio | target |",
        "|---|---:|---:|---:|---|",
        f"| batched add, records/s | {f['model_rate']:.0f} | {f['store_rate']:.0f} "
        f"| {f['ratio']:.2f} | >= {TARGET_RATE:.0f}/s and >= {TARGET_RATIO:.0%} of the model: "
        f"{verdict(rate_ok)} |",
        f"| single add, p50 | {f['model_single_p50_ms']:.1f} ms "
        f"| {f['store_single_p50_ms']:.1f} ms "
        f"| {f['store_single_p50_ms'] / f['model_single_p50_ms']:.2f} "
        f"| <= {TARGET_SINGLE_MS:.0f} ms: {verdict(single_ok)} |",
        f"| single add, p99 | {f['model_single_p99_ms']:.1f} ms "
        f"| {f['store_single_p99_ms']:.1f} ms "
        f"| {f['store_single_p99_ms'] / f['model_single_p99_ms']:.2f} | |",
        f"| hivemem's own cost (outside its embed call): batched, per record "
        f"| | {f['store_own_ms_per_record']:.2f} ms | | |",
        f"| hivemem's own cost (outside its embed call): single add, p50 / p99 "
        f"| | {f['single_own_p50_ms']:.2f} / {f['single_own_p99_ms']:.2f} ms | | |",
        "",
        "| round | model/s | hivemem/s | ratio | own ms/record | single p50 model "
        "| single p50 hivemem | single p99 hivemem | single own p50 | load after |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in f["rounds"]:
        lines.append(
            f"| {r['round']} | {r['model_rate']:.0f} | {r['store_rate']:.0f} | {r['ratio']:.2f} "
            f"| {r['store_own_ms_per_record']:.2f} | {r['model_single_p50_ms']:.1f} ms "
            f"| {r['store_single_p50_ms']:.1f} ms | {r['store_single_p99_ms']:.1f} ms "
            f"| {r['single_own_p50_ms']:.2f} ms | {r['loadavg']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default=None, help="store URL (default: a temporary SQLite file)")
    ap.add_argument("--n", type=int, default=1024, help="texts per batched pass")
    ap.add_argument("--batch", type=int, default=64, help="texts per embed / add_many call")
    ap.add_argument("--runs", type=int, default=5, help="interleaved rounds")
    ap.add_argument("--single", type=int, default=200, help="single adds per round")
    ap.add_argument("--warmup", type=int, default=3, help="warm-up batches per side")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    if min(args.n, args.batch, args.runs, args.single, args.warmup) < 1:
        ap.error("--n, --batch, --runs, --single and --warmup must be >= 1")
    figures = run(args)
    print(table(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
