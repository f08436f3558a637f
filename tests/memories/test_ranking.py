"""How search ranks (SPEC §10, issue 16 item 2): deterministic ties, calibrated keyword part,
the match of the previous turn, BM25 over content only."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

import hivemem
from hivemem.memories.rank import KEYWORD_CAP, KEYWORD_SPREAD, KeywordScale
from hivemem.testing.embedders import HashEmbedder

if TYPE_CHECKING:
    from pathlib import Path

WORDS = ("alpha", "beta", "gamma", "delta")
QUERIES = ("alpha", "alpha beta", "gamma delta alpha", "beta")


def _load(url: str) -> Any:
    """A store with many exact ties: word permutations (same BM25, same hash vector),
    duplicated contents, three sessions, all added at one instant."""
    mem = hivemem.connect(url, embedder=HashEmbedder(), clock=lambda: 1_000.0)
    lt = mem.memories("ties")
    texts = [" ".join(p) for p in itertools.permutations(WORDS, 2)]
    texts += [" ".join(p) for p in itertools.permutations(WORDS, 3)]
    specs = [
        {"content": text, "session_id": f"s{i % 3}"} for i, text in enumerate(texts + texts[:6])
    ]
    lt.add_many(specs)
    return mem


def _rankings(mem: Any) -> list[list[tuple[str, str | None]]]:
    lt = mem.memories("ties")
    out = []
    for query in QUERIES:
        for hits in (lt.search(query, limit=10), lt.semantic_search(query, k=10)):
            out.append([(h.memory.content, h.memory.session_id) for h in hits])
    return out


@pytest.mark.parametrize("scheme", ["memory", "sqlite"])
def test_two_identical_runs_rank_alike(scheme: str, tmp_path: Path) -> None:
    """Two stores loaded alike (their record ids differ: they are random) give the same
    rankings for keyword and hybrid search, ties included; on sqlite:// so does the same
    file reopened, whose index is rebuilt by a scan in another order."""

    def url(name: str) -> str:
        return "memory://" if scheme == "memory" else f"sqlite:///{tmp_path / name}"

    first = _load(url("a.db"))
    second = _load(url("b.db"))
    try:
        ranked = _rankings(first)
        assert all(len(r) == 10 for r in ranked)
        assert any(len({c for c, _ in r}) < len(r) for r in ranked)  # duplicates do tie
        assert _rankings(second) == ranked
    finally:
        first.close()
        second.close()
    if scheme == "sqlite":
        again = hivemem.connect(url("a.db"), embedder=HashEmbedder(), clock=lambda: 1_000.0)
        try:
            assert _rankings(again) == ranked
        finally:
            again.close()


def test_the_best_keyword_match_does_not_get_the_full_weight() -> None:
    """The keyword signal is a z-score over the allowed records (not the share of the
    query's best score), floored at 0 and capped."""
    scores = np.zeros(100)
    scores[[1, 2, 3]] = [4.0, 2.0, 1.0]
    scale = KeywordScale(scores, np.array([1, 2, 3]), 100)
    mean = 7.0 / 100
    std = float(np.sqrt(21.0 / 100 - mean * mean))
    assert scale.signal(1) == pytest.approx((4.0 - mean) / std / KEYWORD_SPREAD)
    assert scale.signal(1) > scale.signal(2) > scale.signal(3) > 0
    assert scale.signal(0) == 0.0  # no match
    assert scale.signal(500) == 0.0  # past the label space
    rare = np.zeros(1_000_000)
    rare[7] = 9.0
    assert KeywordScale(rare, np.array([7]), 1_000_000).signal(7) == KEYWORD_CAP
    assert KeywordScale(rare, np.array([], dtype=np.int64), 0).signal(7) == 0.0


def test_the_answer_after_a_matching_question_gets_context() -> None:
    """A turn whose previous turn in the session matches the query gets a ``previous`` part
    (the answer that shares no word with the question surfaces); weight 0 turns it off."""
    clock = [0.0]
    with hivemem.connect("memory://", embedder=HashEmbedder(), clock=lambda: clock[0]) as mem:
        lt = mem.memories("chat")
        for i, text in enumerate(
            [
                "Nora: how was the trip to Oaxaca?",
                "Felix: brilliant, hot springs after walking in the snow",
                "Nora: lovely",
                "Felix: the weather is grey again",
            ]
        ):
            clock[0] = 100.0 + i  # turns stored as said
            lt.add(text, session_id="s1")
        hits = lt.semantic_search("Oaxaca trip", k=4)
        answer = next(h for h in hits if "springs" in h.memory.content)
        assert answer.parts["previous"] > 0
        assert all(h.parts["previous"] == 0 for h in hits if "how was" in h.memory.content)
        assert answer.score == pytest.approx(sum(answer.parts.values()))
        off = lt.semantic_search("Oaxaca trip", k=4, weights={"previous": 0.0})
        assert all(h.parts["previous"] == 0 for h in off)


def test_keyword_search_reads_content_only() -> None:
    """Tags are filters, not keyword text; contraction stubs are not terms; question words
    such as "not" are."""
    with hivemem.connect("memory://") as mem:
        lt = mem.memories("kw")
        tagged = lt.add("the deploy finished", tags=["urgent"])
        other = lt.add("it's not broken, it's slow")
        assert lt.search("urgent") == []
        assert [h.memory.id for h in lt.search("urgent", tags=["urgent"])] == []
        assert [h.memory.id for h in lt.search("deploy", tags=["urgent"])] == [tagged.id]
        assert lt.search("s") == []
        assert [h.memory.id for h in lt.search("not")] == [other.id]
