"""Vector index snapshots: a restart reuses the saved graph, and never answers from stale data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

import hivemem
from hivemem.memories import snapshot
from hivemem.memories.index import NamespaceIndex
from hivemem.memories.registry import indexes_for
from hivemem.memories.vectors import VectorIndex
from hivemem.testing.embedders import HashEmbedder

if TYPE_CHECKING:
    from pathlib import Path

NS = "notes"
WORDS = [f"w{i}" for i in range(300)]


@pytest.fixture(autouse=True)
def small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Graphs from 200 vectors, so a few hundred records exercise the HNSW path."""
    monkeypatch.setattr(NamespaceIndex, "hnsw_threshold", 200)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per HNSW graph built from scratch."""
    calls: list[int] = []
    original = VectorIndex._build

    def counting(self: VectorIndex) -> Any:
        calls.append(self._count)
        return original(self)

    monkeypatch.setattr(VectorIndex, "_build", counting)
    return calls


def text(i: int) -> str:
    return " ".join(WORDS[(i * k) % len(WORDS)] for k in (1, 7, 13, 29))


def open_store(path: Path, **options: Any) -> hivemem.Memory:
    return hivemem.connect(
        f"sqlite:///{path}", embedder=HashEmbedder(32), cleanup_interval=0, **options
    )


def answers(mem: hivemem.Memory, queries: list[str]) -> list[list[str]]:
    lt = mem.memories(NS)
    weights = {"vector": 1.0, "keyword": 0.0, "strength": 0.0, "recency": 0.0}
    return [[h.memory.id for h in lt.semantic_search(q, k=10, weights=weights)] for q in queries]


def scores(mem: hivemem.Memory, query: str, ids: list[str]) -> list[float]:
    """The vector similarity of each of ``ids`` to ``query``, as ``mem``'s index holds it."""
    idx = indexes_for(mem._b).get(NS)
    assert idx is not None and idx.vectors is not None
    q = HashEmbedder(32).embed([query])[0]
    out = []
    for rid in ids:
        vec = idx.vectors.get(idx.labels[rid])
        assert vec is not None
        out.append(round(float(vec @ q), 5))
    return out


def vector_count(mem: hivemem.Memory) -> int:
    idx = indexes_for(mem._b).get(NS)
    assert idx is not None and idx.vectors is not None
    return len(idx.vectors)


QUERIES = [text(i) for i in (3, 50, 77, 123, 260, 401)]


def test_a_restart_loads_the_saved_graph_instead_of_building_one(
    tmp_path: Path, builds: list[int]
) -> None:
    """Closing a SQLite store snapshots its graphs beside the file; reopening uses them."""
    db = tmp_path / "store.db"
    mem = open_store(db)
    mem.memories(NS).add_many([{"content": text(i)} for i in range(500)])
    before = answers(mem, QUERIES)
    assert builds  # the graph was built once the namespace passed the threshold
    mem.close()
    saved = snapshot.path_for(f"{db}.index", NS)
    assert saved.is_file()
    builds.clear()
    mem = open_store(db)
    written = saved.stat().st_mtime_ns
    try:
        assert answers(mem, QUERIES) == before
        assert builds == []  # loaded, not rebuilt
        assert vector_count(mem) == 500
    finally:
        mem.close()
    assert saved.stat().st_mtime_ns == written  # unchanged: not rewritten at close


def test_a_stale_snapshot_is_corrected_by_the_store(tmp_path: Path, builds: list[int]) -> None:
    """Records changed, deleted or added after the snapshot answer as the store says."""
    db = tmp_path / "store.db"
    mem = open_store(db)
    lt = mem.memories(NS)
    ids = [r.id for r in lt.add_many([{"content": text(i)} for i in range(400)])]
    answers(mem, QUERIES)  # builds the index, which close() then saves
    mem.close()
    assert snapshot.path_for(f"{db}.index", NS).is_file()
    # Change the store behind the snapshot's back (a process without snapshots).
    other = open_store(db, index_dir="")
    lt = other.memories(NS)
    for rid in ids[:40]:
        lt.delete(rid)
    for i, rid in enumerate(ids[40:80]):
        lt.update(rid, content=f"rewritten {text(1000 + i)}")
    lt.add_many([{"content": f"fresh {text(2000 + i)}"} for i in range(60)])
    truth_queries = [*QUERIES, f"rewritten {text(1005)}", f"fresh {text(2010)}"]
    mem = open_store(db)
    fresh = open_store(db, index_dir="")
    builds.clear()
    try:
        got = answers(mem, truth_queries)
        assert builds == []  # the snapshot's graph, corrected in place
        want = answers(fresh, truth_queries)
        assert builds == [420]  # the reference built its own
        # Equal scores may come in another order (labels differ): compare the scores, and
        # each id's score with the reference index's exact score for it.
        assert [scores(mem, q, row) for q, row in zip(truth_queries, got, strict=True)] == [
            scores(fresh, q, row) for q, row in zip(truth_queries, want, strict=True)
        ]
        for q, row in zip(truth_queries, got, strict=True):
            assert scores(mem, q, row) == scores(fresh, q, row)
        deleted = set(ids[:40])
        assert not deleted & {rid for row in got for rid in row}
        assert got[-2][0] == ids[45] and got[-1][0] not in ids
        assert vector_count(mem) == vector_count(fresh) == 420
    finally:
        mem.close()
        fresh.close()
        other.close()


def test_a_damaged_snapshot_is_ignored(tmp_path: Path) -> None:
    """A truncated or foreign file is a cache miss: the index is rebuilt from the store."""
    db = tmp_path / "store.db"
    mem = open_store(db)
    mem.memories(NS).add_many([{"content": text(i)} for i in range(300)])
    before = answers(mem, QUERIES)
    mem.close()
    saved = snapshot.path_for(f"{db}.index", NS)
    saved.write_bytes(saved.read_bytes()[:5000])
    mem = open_store(db)
    try:
        assert answers(mem, QUERIES) == before
    finally:
        mem.close()
    assert snapshot.load(f"{db}.index", "another-namespace") is None


def test_no_snapshot_below_the_graph_threshold_or_when_disabled(tmp_path: Path) -> None:
    """Exact-search indexes rebuild in milliseconds: nothing is written for them."""
    db = tmp_path / "store.db"
    mem = open_store(db)
    mem.memories(NS).add_many([{"content": text(i)} for i in range(50)])
    answers(mem, QUERIES)
    mem.close()
    assert not snapshot.path_for(f"{db}.index", NS).exists()
    mem = open_store(db, index_dir="")
    mem.memories(NS).add_many([{"content": text(i)} for i in range(300)])
    answers(mem, QUERIES)
    mem.close()
    assert not snapshot.path_for(f"{db}.index", NS).exists()
