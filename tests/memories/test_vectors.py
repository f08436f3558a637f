"""The in-process vector index: exact search, the HNSW graph past the threshold, masks,
persistence and concurrent searches during writes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import numpy as np
import pytest

from hivemem.memories.vectors import VectorIndex

if TYPE_CHECKING:
    from pathlib import Path

DIM = 32


def normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def clustered(
    rng: np.random.Generator, n: int, centres: int = 40, noise: float = 0.6
) -> np.ndarray:
    c = normalise(rng.standard_normal((centres, DIM)))
    pts = c[rng.integers(0, centres, n)] + rng.standard_normal((n, DIM)) * (noise / np.sqrt(DIM))
    return normalise(pts)


def reference(
    vectors: dict[int, np.ndarray], q: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> tuple[list[int], list[float]]:
    """Brute force over a dict, ties by label."""
    scored = [
        (float(v @ q), label)
        for label, v in vectors.items()
        if allowed is None or (label < allowed.shape[0] and allowed[label])
    ]
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [lb for _, lb in scored[:k]], [s for s, _ in scored[:k]]


def recall(got: np.ndarray, want: np.ndarray) -> float:
    if not len(want):
        return 1.0
    return len(set(got.tolist()) & set(want.tolist())) / len(want)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def spy_on(index: VectorIndex, *names: str) -> list[str]:
    """Record the calls of ``index``'s methods ``names`` (by name, in order)."""
    calls: list[str] = []
    for name in names:
        method = getattr(index, name)

        def spy(*a: object, _m: object = method, _n: str = name) -> object:
            calls.append(_n)
            return _m(*a)  # type: ignore[operator]

        setattr(index, name, spy)
    return calls


def filled(rng: np.random.Generator, n: int, **kw: int) -> tuple[VectorIndex, np.ndarray]:
    data = clustered(rng, n)
    index = VectorIndex(DIM, **kw)
    index.upsert(np.arange(n), data)
    return index, data


# ---------------------------------------------------------------- exact
def test_exact_search_matches_brute_force(rng: np.random.Generator) -> None:
    index, data = filled(rng, 300)
    assert len(index) == 300
    assert index.stats()["kind"] == "exact"
    ref = dict(enumerate(data))
    for q in normalise(rng.standard_normal((20, DIM))):
        for k in (1, 5, 50):
            labels, scores = index.search(q, k)
            want_l, want_s = reference(ref, q, k)
            assert labels.dtype == np.int64
            assert scores.dtype == np.float32
            assert labels.tolist() == want_l
            np.testing.assert_allclose(scores, want_s, rtol=1e-5, atol=1e-6)
            assert np.all(np.diff(scores) <= 0)


def test_k_larger_than_count_and_empty_index(rng: np.random.Generator) -> None:
    index = VectorIndex(DIM)
    q = normalise(rng.standard_normal(DIM))
    assert [a.size for a in index.search(q, 5)] == [0, 0]
    index.upsert([3, 9], normalise(rng.standard_normal((2, DIM))))
    labels, _ = index.search(q, 10)
    assert sorted(labels.tolist()) == [3, 9]
    assert index.search(q, 0)[0].size == 0


def test_upsert_replaces_and_last_duplicate_wins(rng: np.random.Generator) -> None:
    index, data = filled(rng, 100)
    new = normalise(rng.standard_normal((2, DIM)))
    index.upsert([5, 5], new)
    assert len(index) == 100
    got = index.get(5)
    assert got is not None
    np.testing.assert_array_equal(got, new[1])
    labels, scores = index.search(new[1], 1)
    assert labels.tolist() == [5]
    assert scores[0] == pytest.approx(1.0, abs=1e-5)
    # A label beyond the capacity grows the matrix; the others are kept.
    index.upsert([5000], data[:1])
    assert len(index) == 101
    np.testing.assert_array_equal(index.get(7), data[7])
    assert index.get(4999) is None


def test_remove(rng: np.random.Generator) -> None:
    index, data = filled(rng, 200)
    index.remove([1, 2, 2, 3, 999, -1])  # repeats, unknown and negative labels are ignored
    assert len(index) == 197
    assert index.get(2) is None
    index.remove([1])  # already removed
    assert len(index) == 197
    for q in data[:10]:
        labels, _ = index.search(q, 200)
        assert not {1, 2, 3} & set(labels.tolist())
        assert len(labels) == 197
    index.upsert([2], data[2:3])  # a label removed, then given a vector again
    assert len(index) == 198
    assert index.search(data[2], 1)[0].tolist() == [2]


def test_allowed_masks(rng: np.random.Generator) -> None:
    index, data = filled(rng, 400)
    ref = dict(enumerate(data))
    index.remove([10, 11])
    del ref[10], ref[11]
    for q in data[100:110]:
        for allowed in (
            rng.random(400) < 0.5,
            rng.random(400) < 0.02,
            rng.random(150) < 0.5,  # shorter: labels from 150 on are not allowed
            np.ones(1000, dtype=bool),  # longer than the label space
            np.zeros(400, dtype=bool),
        ):
            labels, scores = index.search(q, 10, allowed)
            want_l, want_s = reference(ref, q, 10, allowed)
            assert labels.tolist() == want_l
            np.testing.assert_allclose(scores, want_s, rtol=1e-5, atol=1e-6)


def test_rejects_bad_shapes(rng: np.random.Generator) -> None:
    index = VectorIndex(DIM)
    with pytest.raises(ValueError):
        index.upsert([1, 2], normalise(rng.standard_normal((3, DIM))))
    with pytest.raises(ValueError):
        index.upsert([1], normalise(rng.standard_normal((1, DIM + 1))))
    with pytest.raises(ValueError):
        index.upsert([-1], normalise(rng.standard_normal((1, DIM))))
    with pytest.raises(ValueError):
        index.search(np.ones(DIM + 1, dtype=np.float32), 3)


def test_hnswlib_is_imported_lazily() -> None:
    code = (
        "import sys, numpy as np\n"
        "from hivemem.memories.vectors import VectorIndex\n"
        "v = VectorIndex(4, hnsw_threshold=10)\n"
        "v.upsert(range(5), np.eye(5, 4, dtype=np.float32))\n"
        "v.search(np.eye(4, dtype=np.float32)[0], 2)\n"
        "assert 'hnswlib' not in sys.modules\n"
        "v.upsert(range(5, 10), np.eye(5, 4, dtype=np.float32))\n"
        "assert 'hnswlib' in sys.modules and v.stats()['kind'] == 'hnsw'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- hnsw
def test_crossing_the_threshold_keeps_results_close_to_exact(rng: np.random.Generator) -> None:
    index, _ = filled(rng, 499, hnsw_threshold=500)
    assert index.stats()["kind"] == "exact"
    more = clustered(rng, 2501)
    index.upsert(np.arange(499, 3000), more)
    stats = index.stats()
    assert stats["kind"] == "hnsw"
    assert stats["count"] == 3000
    assert stats["bytes"] > 3000 * DIM * 4
    queries = clustered(rng, 50)
    index.gather_max, index.gather_per_fetch = 100, 1  # the over-fetching graph path, at 3,000
    masks = [None, rng.random(3000) < 0.5, rng.random(3000) < 0.1, rng.random(3000) < 0.01]
    for allowed in masks:
        recalls = []
        for q in queries:
            got, got_s = index.search(q, 10, allowed)
            want, _ = index.search(q, 10, allowed, exact=True)
            assert len(got) == len(want)
            if allowed is not None:
                assert allowed[got].all()
            assert np.all(np.diff(got_s) <= 0)
            recalls.append(recall(got, want))
        assert np.mean(recalls) >= 0.95, (allowed is None, np.mean(recalls))


def test_graph_updates_removals_and_fallback(rng: np.random.Generator) -> None:
    index, data = filled(rng, 1500, hnsw_threshold=500)
    assert index.stats()["kind"] == "hnsw"
    index.gather_max, index.gather_per_fetch = 20, 0
    # Re-upserting a label moves it (hnswlib updates the element in place).
    far = normalise(rng.standard_normal(DIM))
    index.upsert([42], far[None, :])
    assert index.search(far, 1)[0].tolist() == [42]
    # Removed labels are never returned; removed then re-added ones are.
    gone = list(range(100, 400))
    index.remove(gone)
    for q in data[100:130]:
        labels, _ = index.search(q, 20)
        assert not set(gone) & set(labels.tolist())
    index.upsert([150], data[150:151])
    assert index.search(data[150], 1)[0].tolist() == [150]
    # A filter of vectors far from the query: the over-fetch finds too few, exact fallback.
    q = data[0]
    sims = data @ q
    allowed = sims < np.quantile(sims, 0.3)
    allowed[list(range(100, 400))] = False
    calls = spy_on(index, "_graph", "_exact")
    got = index.search(q, 10, allowed)
    assert calls == ["_graph", "_exact"]
    want = index.search(q, 10, allowed, exact=True)
    assert got[0].tolist() == want[0].tolist()
    del index._graph, index._exact  # type: ignore[attr-defined]
    # Growing past the graph's capacity resizes it.
    index.upsert(np.arange(1500, 4500), clustered(rng, 3000))
    assert index.stats()["hnsw_elements"] == 4500
    assert len(index) == 4500 - 299
    # Falling below half the threshold drops the graph.
    index.remove(range(4500))
    assert len(index) == 0 and index.stats()["kind"] == "exact"
    assert index.search(q, 5)[0].size == 0


def test_a_filter_excluding_the_neighbourhood_walks_the_graph(rng: np.random.Generator) -> None:
    """Large filters that the over-fetch misses are walked with hnswlib's filter, not gathered."""
    index, data = filled(rng, 3000, hnsw_threshold=500)
    index.gather_max, index.gather_per_fetch, index.walk_min = 20, 0, 100
    calls = spy_on(index, "_walk", "_exact")
    recalls = []
    for q in data[:30]:
        sims = data @ q
        allowed = sims < np.quantile(sims, 0.6)  # the nearest 40% are excluded
        calls.clear()
        got, scores = index.search(q, 10, allowed)
        assert calls == ["_walk"]
        assert allowed[got].all() and len(got) == 10
        assert np.allclose(scores, data[got] @ q, atol=1e-5)  # rescored exactly
        want = reference(dict(enumerate(data)), q, 10, allowed)[0]
        recalls.append(recall(got, np.asarray(want)))
    assert np.mean(recalls) >= 0.9


# ---------------------------------------------------------------- persistence
@pytest.mark.parametrize("n", [0, 300, 1200])
def test_save_load_round_trip(rng: np.random.Generator, tmp_path: Path, n: int) -> None:
    index = VectorIndex(DIM, hnsw_threshold=1000, ef_search=40)
    data = clustered(rng, max(n, 1))
    if n:
        index.upsert(np.arange(n), data[:n])
        index.remove([3, 4])
    path = tmp_path / "vectors.idx"
    path.write_bytes(b"an older file, replaced")
    index.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["vectors.idx"]  # no temporary left
    loaded = VectorIndex.load(path)
    assert loaded.stats() == index.stats()
    assert (loaded.dim, loaded.ef_search, loaded.hnsw_threshold) == (DIM, 40, 1000)
    mask = rng.random(n + 5) < 0.5
    for q in clustered(rng, 20):
        for allowed in (None, mask):
            a, sa = index.search(q, 10, allowed)
            b, sb = loaded.search(q, 10, allowed)
            assert a.tolist() == b.tolist()
            np.testing.assert_array_equal(sa, sb)
    # The loaded index keeps working: updates, growth, removals.
    loaded.upsert(np.arange(n, n + 100), clustered(rng, 100))
    loaded.remove([n + 1])
    assert len(loaded) == len(index) + 99
    assert loaded.search(loaded.get(n + 5), 1)[0].tolist() == [n + 5]  # type: ignore[arg-type]


def test_load_rejects_other_files(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"not an index at all")
    with pytest.raises(ValueError):
        VectorIndex.load(path)


# ---------------------------------------------------------------- threads
def test_concurrent_searches_during_writes(rng: np.random.Generator) -> None:
    """One writer (adds, replaces, removes, crosses the threshold) and four searchers."""
    start = clustered(rng, 450)
    index = VectorIndex(DIM, hnsw_threshold=600)
    index.upsert(np.arange(450), start)
    never = set(range(450, 1000))  # never given a vector
    removed: set[int] = set()  # removal completed (labels 0..99, one by one)
    errors: list[BaseException] = []
    stop = threading.Event()
    searches = [0]

    def writer() -> None:
        try:
            w = np.random.default_rng(1)
            for step in range(60):
                new = np.arange(1000 + 40 * step, 1040 + 40 * step)
                index.upsert(new, clustered(w, 40))
                index.upsert(w.integers(100, 450, 10), clustered(w, 10))  # replacements
                for label in (2 * step, 2 * step + 1) if step < 50 else ():
                    index.remove([label])
                    removed.add(label)
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    def searcher(seed: int) -> None:
        r = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                done = set(removed)
                q = clustered(r, 1)[0]
                allowed = r.random(4000) < 0.5 if r.random() < 0.5 else None
                labels, scores = index.search(q, 10, allowed)
                got = set(labels.tolist())
                assert len(got) == len(labels)
                assert not got & never
                assert not got & done
                assert np.all(np.diff(scores) <= 0)
                if allowed is not None:
                    assert allowed[labels].all()
                searches[0] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=searcher, args=(i,)) for i in range(4)]
    threads.append(threading.Thread(target=writer))
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert time.monotonic() - t0 < 60
    assert searches[0] > 20
    assert index.stats()["kind"] == "hnsw"
    assert len(index) == 450 + 60 * 40 - 100
