"""BM25 over numpy postings (the same scores as the textbook formula) and filter columns."""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np
import pytest

from hivemem.memories.bm25 import BM25, best, tokenize

WORDS = [f"w{i}" for i in range(40)] + ["INC-4821", "v2.3.1", "the", "déjà"]


def reference(docs: dict[int, str], query: str, allowed: set[int] | None) -> dict[int, float]:
    """Okapi BM25 computed from scratch over the live documents."""
    tfs = {label: Counter(tokenize(text)) for label, text in docs.items()}
    n = len(docs)
    if not n:
        return {}
    avgdl = sum(sum(c.values()) for c in tfs.values()) / n or 1.0
    out: dict[int, float] = {}
    for term in set(tokenize(query)):
        df = sum(1 for c in tfs.values() if term in c)
        if not df:
            continue
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        for label, c in tfs.items():
            tf = c.get(term, 0)
            if not tf or (allowed is not None and label not in allowed):
                continue
            dl = sum(c.values())
            out[label] = out.get(label, 0.0) + idf * tf * 2.2 / (
                tf + 1.2 * (0.25 + 0.75 * dl / avgdl)
            )
    return out


@pytest.mark.parametrize("seed", range(6))
def test_scores_match_the_formula_through_upserts_and_removals(seed: int) -> None:
    """Re-indexed and removed documents never score; compaction keeps the live postings."""
    rng = random.Random(seed)
    index, docs = BM25(), {}
    for step in range(1500):
        label = rng.randrange(300)
        if rng.random() < 0.3:
            index.remove(label)
            docs.pop(label, None)
        else:
            text = " ".join(rng.choices(WORDS, k=rng.randint(0, 12)))
            index.upsert(label, text)
            docs[label] = text
        if step % 100 == 99:
            query = " ".join(rng.choices(WORDS, k=3))
            mask = np.array([rng.random() < 0.5 for _ in range(300)])
            allowed = {i for i in range(300) if mask[i]}
            for m, a in ((None, None), (mask, allowed)):
                want = reference(docs, query, a)
                got = index.scores(query, m)
                assert got.keys() == want.keys()
                for label, score in want.items():
                    assert got[label] == pytest.approx(score, rel=1e-9)
                ranked = sorted(want.items(), key=lambda kv: (-kv[1], kv[0]))[:7]
                top = index.top(query, 7, m)
                assert [label for label, _ in top] == [label for label, _ in ranked]
    assert len(index) == len(docs)
    terms = Counter(t for text in docs.values() for t in set(tokenize(text)))
    assert {t: p.df for t, p in index.postings.items()} == terms
    for posting in index.postings.values():  # dead postings are bounded
        posting.arrays()
        assert posting.dead <= max(32, posting.size // 2 + 1)


def test_best_breaks_ties_by_label() -> None:
    """Equal scores at the cut keep the lower labels, whatever the partition picks."""
    scores = np.array([0.0, 1.0, 2.0, 1.0, 1.0, 3.0, 1.0])
    labels = np.array([1, 2, 3, 4, 5, 6])
    assert best(scores, labels, 3) == [(5, 3.0), (2, 2.0), (1, 1.0)]
    assert best(scores, labels, 0) == []
    assert best(scores, np.zeros(0, dtype=np.int64), 3) == []


def test_identifiers_are_whole_terms() -> None:
    """A ticket id matches as one rare term, not only through its parts."""
    index = BM25()
    index.upsert(0, "INC-4821 broke the build")
    index.upsert(1, "INC 4822 and 4821 are unrelated")
    assert index.top("INC-4821", 1) == [(0, pytest.approx(index.scores("INC-4821")[0]))]


@pytest.mark.parametrize("chosen", [0, 1, 3, 8, 9, 20])
def test_filter_codes_match_isin(chosen: int) -> None:
    """The coded-column filter agrees with ``np.isin``, with and without its lookup table."""
    from hivemem.memories.index import _among

    rng = np.random.default_rng(chosen)
    col = rng.integers(-1, 30, 5000).astype(np.int32)  # -1: no value
    codes = rng.choice(30, chosen, replace=False).tolist()
    assert np.array_equal(_among(col, codes, 30), np.isin(col, codes))


def test_compound_terms_cost_linear_time_on_long_words() -> None:
    """A value of one long word (or many joined ones) tokenizes at once: the identifier
    pattern once retried a long word from each of its positions (quadratic; 20,000
    characters held the GIL for 17 s). Same terms as before on ordinary text."""
    import threading

    from hivemem.memories.bm25 import tokenize

    done = threading.Event()
    result: list[list[str]] = []

    def run() -> None:
        result.append(tokenize("x" * 1_000_000 + " ab-cd " + "y-" * 200_000))
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(20), "tokenize took too long: quadratic again?"
    assert "ab-cd" in result[0]
    assert tokenize("see api/v2 and x_y-z, U.S.A. then foo") == [
        "see",
        "api",
        "v2",
        "x",
        "y",
        "z",
        "u",
        "s",
        "foo",
        "api/v2",
        "y-z",
        "u.s.a",
    ]
