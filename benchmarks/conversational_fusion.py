"""How hybrid search's fusion was chosen: candidate fusions on the TRAIN split of the
conversational set (issue 16, build item 2), in numpy over the same signals.

    .venv/bin/python benchmarks/conversational_fusion.py [--split train]

Every turn of ``benchmarks/data/conversations_v1.jsonl`` is embedded once by the bundled
MiniLM (content ``"<speaker>: <text>"``, as ``conversational_retrieval.py`` stores it) and
indexed by hivemem's BM25; each fusion below ranks the turns for every question of the split
from the same cosine and BM25 scores, with candidates as hivemem takes them (the best 50 by
each signal, plus, for the context fusions, the turn after each). Strength is left out (it
is nearly the same for every turn here). The test split is for ``conversational_retrieval.py``
only: run this on ``train``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conversational_retrieval import CATEGORIES, content, load_set
from conversational_retrieval import tokenize as plain_tokens

POOL = 50
Scorer = Callable[[int], np.ndarray]


def _signals(split: str) -> dict[str, Any]:
    from rank_bm25 import BM25Okapi

    from hivemem.memories.bm25 import BM25
    from hivemem.memories.embed import MiniLMEmbedder

    turns, questions = load_set(split)
    texts = [content(t) for t in turns]
    embedder = MiniLMEmbedder()
    vectors = embedder.embed(texts)
    queries = embedder.embed([q["question"] for q in questions])
    bm25 = BM25()
    for i, text in enumerate(texts):
        bm25.upsert(i, text)
    okapi = BM25Okapi([plain_tokens(x) for x in texts])
    n = len(turns)
    prev = np.array(
        [
            i - 1 if i and turns[i - 1]["session"] == t["session"] else -1
            for i, t in enumerate(turns)
        ]
    )
    after = np.array(
        [
            i + 1 if i + 1 < n and turns[i + 1]["session"] == t["session"] else -1
            for i, t in enumerate(turns)
        ]
    )
    times = np.array(
        [datetime.fromisoformat(t["time"].replace("Z", "+00:00")).timestamp() for t in turns]
    )
    return {
        "turns": turns,
        "questions": questions,
        "cos": queries @ vectors.T,
        "bm25": [bm25.dense(q["question"])[0][:n] for q in questions],
        "okapi": [np.asarray(okapi.get_scores(plain_tokens(q["question"]))) for q in questions],
        "prev": prev,
        "after": after,
        "recency": 2.0 ** (-(times.max() + 86_400.0 - times) / (30 * 86_400.0)),
    }


def _pool(c: np.ndarray, k: np.ndarray) -> np.ndarray:
    matched = np.flatnonzero(k > 0)
    by_kw = matched[np.lexsort((matched, -k[matched]))][:POOL]
    return np.union1d(np.argsort(-c, kind="stable")[:POOL], by_kw)


def fusions(s: dict[str, Any]) -> dict[str, Scorer]:
    """Name -> scorer(question index) -> score per turn (-inf outside the candidates)."""
    prev, after = s["prev"], s["after"]

    def only(pool: np.ndarray, values: np.ndarray) -> np.ndarray:
        out = np.full(values.shape[0], -np.inf)
        out[pool] = values[pool]
        return out

    def best_share(i: int) -> np.ndarray:  # the fusion before issue 16
        c, k = s["cos"][i], s["bm25"][i]
        pool = _pool(c, k)
        top = k[pool].max()
        return only(pool, 0.6 * np.maximum(c, 0) + 0.3 * (k / top if top > 0 else 0))

    def rrf(kk: int) -> Scorer:
        def score(i: int) -> np.ndarray:
            c, k = s["cos"][i], s["bm25"][i]
            n = c.shape[0]
            rc, rk = np.empty(n), np.empty(n)
            rc[np.argsort(-c, kind="stable")] = np.arange(1, n + 1)
            rk[np.lexsort((np.arange(n), -k))] = np.arange(1, n + 1)
            return only(_pool(c, k), 1 / (kk + rc) + np.where(k > 0, 1 / (kk + rk), 0))

        return score

    def zfuse(a: float) -> Scorer:
        def score(i: int) -> np.ndarray:
            c, k = s["cos"][i], s["bm25"][i]
            z = (1 - a) * (c - c.mean()) / c.std() + a * (k - k.mean()) / (k.std() or 1)
            return only(_pool(c, k), z)

        return score

    def calibrated(wk: float, wc: float, r: float, wr: float = 0.0) -> Scorer:
        def score(i: int) -> np.ndarray:
            c, k = s["cos"][i], s["bm25"][i]
            pool = _pool(c, k)
            kz = np.minimum(np.maximum(0, (k - k.mean()) / (k.std() or 1)) / 10, 2.0)
            v = np.maximum(c, 0)
            base = 0.6 * v + wk * kz + wr * s["recency"]
            if wc <= 0:
                return only(pool, base)
            pool = np.union1d(pool, after[pool][after[pool] >= 0])
            ctx = np.where(prev >= 0, v[prev] + r * kz[prev], 0.0)
            return only(pool, base + wc * ctx)

        return score

    return {
        "cosine (baseline)": lambda i: s["cos"][i],
        "rank_bm25 (baseline)": lambda i: np.where(s["okapi"][i] > 0, s["okapi"][i], -np.inf),
        "0.6 cos + 0.3 BM25/best (before)": best_share,
        "RRF k=60": rrf(60),
        "RRF k=10": rrf(10),
        "z-scores 0.8 / 0.2": zfuse(0.2),
        "calibrated: 0.6 cos + 0.1 K": calibrated(0.1, 0.0, 2.0),
        "calibrated + context 0.12 (chosen)": calibrated(0.1, 0.12, 2.0),
        "calibrated + context + recency 0.05": calibrated(0.1, 0.12, 2.0, 0.05),
        "calibrated + context 0.1, K x3 in context": calibrated(0.1, 0.1, 3.0),
    }


def evaluate(s: dict[str, Any], scorer: Scorer) -> dict[str, tuple[float, float]]:
    """``{category or "all": (R@10, MRR)}``."""
    ids = [t["id"] for t in s["turns"]]
    rows: dict[str, list[tuple[float, float]]] = {}
    for i, q in enumerate(s["questions"]):
        score = scorer(i)
        order = np.lexsort((np.arange(score.shape[0]), -score))[:10]
        ranked = [ids[j] for j in order if np.isfinite(score[j])]
        want = set(q["evidence"])
        rr = next((1 / r for r, x in enumerate(ranked, 1) if x in want), 0.0)
        for key in ("all", q["category"]):
            rows.setdefault(key, []).append((len(want & set(ranked)) / len(want), rr))
    return {
        k: (float(np.mean([r for r, _ in v])), float(np.mean([m for _, m in v])))
        for k, v in rows.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("train", "test", "all"), default="train")
    args = parser.parse_args(argv)
    s = _signals(args.split)
    results = {name: evaluate(s, f) for name, f in fusions(s).items()}
    floor = {
        c: tuple(
            max(results[b][c][j] for b in ("cosine (baseline)", "rank_bm25 (baseline)"))
            for j in (0, 1)
        )
        for c in CATEGORIES
    }
    print(
        f"| fusion ({len(s['questions'])} {args.split} questions) | R@10 | MRR "
        "| categories below a baseline |"
    )
    print("|---|---:|---:|---|")
    for name, res in results.items():
        below = [
            c
            for c in CATEGORIES
            if res[c][0] < floor[c][0] - 1e-9 or res[c][1] < floor[c][1] - 1e-9
        ]
        worse = ", ".join(below) if "baseline" not in name else ""
        print(f"| {name} | {res['all'][0]:.3f} | {res['all'][1]:.3f} | {worse} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
