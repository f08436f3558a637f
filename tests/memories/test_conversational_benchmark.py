"""The conversational retrieval benchmark (issue 16, build item 4), with the real MiniLM.

The set (``benchmarks/data/conversations_v1*.jsonl``) must be what its generator writes,
big enough and split as documented; the benchmark runs the test split through hivemem's
three searches and the two plain baselines, and today's figures are floors, so a ranking
change that loses quality fails here. Raise the floors when the ranking improves (see
docs/benchmarks.md, "Conversational retrieval (own set)").
"""

from __future__ import annotations

import collections
import importlib.util
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"

#: Test split, content "<speaker>: <text>", measured 2026-12-07 (issue 16 item 2: calibrated
#: keyword part, previous-turn part, weights fitted on train): keyword R@10 0.183 / MRR 0.107,
#: vector 0.232 / 0.167, hybrid 0.502 / 0.340 (hit@10 0.526), cosine baseline 0.232 / 0.167,
#: BM25 baseline 0.108 / 0.053; 2026-12-08: hybrid + expand=1, first ten items, 0.465 / 0.327
#: (hit@10 0.493: below hybrid's, see docs/benchmarks.md). Each floor is the figure minus 0.02.
FLOORS = {
    "keyword": {"r@10": 0.163, "mrr": 0.087},
    "vector": {"r@10": 0.212, "mrr": 0.147},
    "hybrid": {"r@10": 0.482, "hit@10": 0.506, "mrr": 0.320},
    "hybrid_expand": {"r@10": 0.445, "hit@10": 0.473, "mrr": 0.307},
    "minilm_cosine": {"r@10": 0.212, "mrr": 0.147},
    "rank_bm25": {"r@10": 0.088, "mrr": 0.033},
}
BASELINES = ("minilm_cosine", "rank_bm25")
#: Issue 16's bar: hybrid's lead over the better plain baseline, overall, on the test split.
MARGINS = {"r@10": 0.15, "mrr": 0.10}
#: Where hybrid is below a baseline on the test split (figures of 2026-12-07): distractor MRR
#: 0.030 against the cosine baseline's 0.033 (15 questions). Held to its figure minus 0.02.
KNOWN_GAPS = {("distractor", "mrr"): 0.010}


def _module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_committed_files_are_the_generators_output() -> None:
    """The data cannot drift from the generator (rerun it after changing it)."""
    gen = _module(BENCH / "convdata" / "generate.py", "_conv_generate")
    for name, text in gen.build().items():
        committed = (BENCH / "data" / name).read_text(encoding="utf-8")
        assert committed == text, f"{name} differs: run benchmarks/convdata/generate.py"


def test_the_set_is_as_documented() -> None:
    """>= 2,500 turns, >= 30 sessions over >= 6 months, >= 4 speakers, >= 400 questions in
    the six categories, each category split half train, half test."""
    sys.path.insert(0, str(BENCH))
    try:
        from conversational_retrieval import CATEGORIES, load_set
    finally:
        sys.path.remove(str(BENCH))
    turns, questions = load_set("all")
    assert len(turns) >= 2500
    assert len({t["speaker"] for t in turns}) >= 4
    sessions = {t["session"] for t in turns}
    assert len(sessions) >= 30
    times = sorted(datetime.fromisoformat(t["time"].replace("Z", "+00:00")) for t in turns)
    assert (times[-1] - times[0]).days >= 180
    assert len(questions) >= 400
    assert len({q["id"] for q in questions}) == len(questions)
    by_cat = collections.Counter((q["category"], q["split"]) for q in questions)
    assert {c for c, _ in by_cat} == set(CATEGORIES)
    for cat in CATEGORIES:
        train, test = by_cat[(cat, "train")], by_cat[(cat, "test")]
        assert abs(train - test) <= 1, (cat, train, test)
    turn_session = {t["id"]: t["session"] for t in turns}
    for q in questions:
        if q["category"] == "multi_hop":  # evidence from two different sessions
            assert len({turn_session[e] for e in q["evidence"]}) == 2, q


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    sys.path.insert(0, str(BENCH))
    try:
        from conversational_retrieval import run

        out: dict[str, Any] = run("test")
        return out
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.slow
@pytest.mark.timeout(900)  # embedding ~2,700 turns: ~10 s on a quiet 2-core box, minutes under load
def test_todays_figures_are_floors(result: dict[str, Any]) -> None:
    """No searcher falls below today's R@10 and MRR on the test split (minus 0.02)."""
    overall = result["overall"]
    print()
    for method, floors in FLOORS.items():
        got = overall[method]
        print(f"{method:14} R@5 {got['r@5']:.3f} R@10 {got['r@10']:.3f} MRR {got['mrr']:.3f}")
        for metric, floor in floors.items():
            assert got[metric] >= floor, (method, metric, got[metric], floor)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_expand_lists_the_turn_after_each_hit(result: dict[str, Any]) -> None:
    """hybrid + expand=1 is scored on the first ten items of its list: about five hits, each
    followed by the turn said after it, so its top ten holds turns hybrid's does not."""
    rows = result["per_question"]
    differ = sum(r["hybrid_expand"]["ranked"] != r["hybrid"]["ranked"] for r in rows)
    assert differ > len(rows) // 2
    for r in rows:
        assert len(r["hybrid_expand"]["ranked"]) == 10
        assert len(set(r["hybrid_expand"]["ranked"])) == 10
        assert r["hybrid_expand"]["ranked"][0] == r["hybrid"]["ranked"][0]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_both_baselines_are_computed(result: dict[str, Any]) -> None:
    """The plain baselines ran over the same turns and found something."""
    assert result["n_questions"] > 200
    assert result["overall"]["minilm_cosine"]["r@10"] > 0
    assert result["overall"]["rank_bm25"]["r@10"] > 0
    for cat, stats in result["by_category"].items():
        assert stats["n"] > 0, cat


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_vector_only_search_ranks_like_the_cosine_baseline(result: dict[str, Any]) -> None:
    """Both rank the very same vectors exactly (below the HNSW threshold): the comparison
    is of the ranking, not of the embeddings."""
    vector, cosine = result["overall"]["vector"], result["overall"]["minilm_cosine"]
    for metric in ("r@5", "r@10", "mrr"):
        assert abs(vector[metric] - cosine[metric]) <= 0.01, (metric, vector, cosine)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_hybrid_beats_both_baselines(result: dict[str, Any]) -> None:
    """Issue 16: hybrid leads both plain baselines by >= 15 points of R@10 and >= 10 of MRR
    overall, and is not below either in any category (but the known gaps, held to floors)."""
    overall = result["overall"]
    for metric, margin in MARGINS.items():
        lead = overall["hybrid"][metric] - max(overall[b][metric] for b in BASELINES)
        assert lead >= margin, (metric, lead)
    for cat, stats in result["by_category"].items():
        for metric in ("r@10", "mrr"):
            got = stats["hybrid"][metric]
            if (cat, metric) in KNOWN_GAPS:
                assert got >= KNOWN_GAPS[(cat, metric)], (cat, metric, got)
                continue
            for base in BASELINES:
                assert got >= stats[base][metric], (cat, metric, base, got, stats[base][metric])
