"""Retrieval quality on the labelled set (issue 6, acceptance 2), with the real MiniLM.

The set (``benchmarks/data/retrieval``: 2,486 memories, 240 queries, written for this
purpose) goes into an embedded store; hivemem's keyword, vector and hybrid searches are
scored by recall@5 and MRR. Hybrid must beat both of its parts on recall@5.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def result() -> dict:
    sys.path.insert(0, str(BENCH))
    try:
        from memories_retrieval import run

        return run("memory://")
    finally:
        sys.path.remove(str(BENCH))


def test_the_set_is_big_enough(result: dict) -> None:
    """At least 200 queries over at least 2,000 memories."""
    assert result["n_queries"] >= 200
    assert result["n_memories"] >= 2000


def test_hybrid_beats_both_parts_on_recall_at_5(result: dict) -> None:
    """Hybrid recall@5 is above keyword's and vector's; so is its MRR."""
    hybrid, keyword, vector = (result[m] for m in ("hybrid", "keyword", "vector"))
    print(
        f"\nrecall@5 keyword {keyword['recall@5']:.3f} vector {vector['recall@5']:.3f} "
        f"hybrid {hybrid['recall@5']:.3f}; MRR {keyword['mrr']:.3f} {vector['mrr']:.3f} "
        f"{hybrid['mrr']:.3f}"
    )
    assert hybrid["recall@5"] > keyword["recall@5"]
    assert hybrid["recall@5"] > vector["recall@5"]
    assert hybrid["mrr"] > max(keyword["mrr"], vector["mrr"])


def test_each_part_wins_where_it_should(result: dict) -> None:
    """Keyword is strongest on exact identifiers, vectors on paraphrases: the set tests both."""
    kinds = result["by_kind"]
    assert kinds["exact"]["keyword"]["recall@5"] > kinds["exact"]["vector"]["recall@5"]
    assert kinds["paraphrase"]["vector"]["recall@5"] > kinds["paraphrase"]["keyword"]["recall@5"]
