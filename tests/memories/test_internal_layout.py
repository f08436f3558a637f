"""Internal records of memories (SPEC §10, last paragraph) across processes and versions.

The conformance rules (``hivemem/testing/test_memory_layout.py``) cover one store handle
on every backend. Here: a second handle of the same store (another process, as far as the
search index knows: every handle of its own backend object has its own index) sees the
vectors the first one writes, though vectors are internal records that emit no events;
and a SQLite file in an earlier version's layout is upgraded exactly once when several
processes open it at the same moment.
"""

from __future__ import annotations

import base64
import itertools
import multiprocessing
import uuid
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

import hivemem
from hivemem._plan import drive
from hivemem.engine import ops as o
from hivemem.engine.reserved import internal_key
from hivemem.memories import layout
from hivemem.memories.api import plans_for
from hivemem.memories.registry import indexes_for
from hivemem.testing.redis import RedisServer, redis_available

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

NS = "facts"
PROCESSES = 4
TIMEOUT = 300.0
_prefixes = itertools.count()


def test_the_layout_prefix_is_an_engine_internal_key() -> None:
    assert internal_key(layout.KIND, "") == layout.PREFIX
    assert all(new.startswith(layout.PREFIX) for new in layout.OLD_KEYS.values())
    assert layout.upgraded_key("_v/abc") == layout.VECTOR + "abc"
    assert layout.upgraded_key("_memories") == layout.MARKER
    assert layout.upgraded_key("_v/") is None
    assert layout.upgraded_key("_notes") is None
    assert layout.upgraded_key("abc") is None


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not redis_available():
        pytest.skip("redis-server is not installed")
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    url: str = request.getfixturevalue("redis_url")
    return f"{url}?prefix=layout{next(_prefixes)}:"


def _vector_part(hits: list[Any], rid: str) -> float | None:
    for hit in hits:
        if hit.memory.id == rid:
            return float(hit.parts.get("vector", 0.0))
    return None


def test_an_index_follows_the_vectors_another_handle_writes(store_url: str) -> None:
    """Adds, content changes (re-embedded, or with no embedder: vector dropped) and deletes
    by other handles reach this handle's index through the records' events, without a
    rebuild, and its answers equal a freshly built index's."""
    options: dict[str, Any] = {"cleanup_interval": 0, "index_dir": ""}
    mine = hivemem.connect(store_url, agent="mine", **options)
    theirs = hivemem.connect(store_url, agent="theirs", **options)
    plain = hivemem.connect(store_url, agent="plain", embedder="none", **options)
    try:
        lt = mine.memories(NS)
        lt.add("Priya always starts her day with a flat white from the corner cafe")
        assert lt.semantic_search("coffee in the morning", k=1)
        idx = indexes_for(mine._b).get(NS)
        assert idx is not None

        other = theirs.memories(NS)
        added = other.add_many(
            [
                {"content": "The staging cluster runs in the Frankfurt region"},
                {"content": "Marco prefers to receive status reports as short bullet lists"},
                {"content": "The billing service retries card payments three times"},
                {"content": "Release 2.3.1 shipped on a Friday and broke the export button"},
            ]
        )
        cluster, marco, billing, release = (r.id for r in added)
        hits = lt.semantic_search("in which data centre are the servers hosted", k=5)
        assert hits[0].memory.id == cluster and hits[0].parts["vector"] > 0.05
        assert indexes_for(mine._b).get(NS) is idx  # caught up by events, not rebuilt
        assert idx.stats()["vectors"] == 5

        other.update(marco, content="The office coffee machine broke down on Monday")
        hits = lt.semantic_search("the espresso maker at work stopped working", k=5)
        assert hits[0].memory.id == marco
        plain.memories(NS).update(billing, content="Payments are retried three times")
        hits = lt.semantic_search("card payments are attempted again", k=5)
        assert _vector_part(hits, billing) in (None, 0.0)  # its old vector is gone
        other.delete(release)
        hits = lt.semantic_search("a release broke the export button", k=5)
        assert release not in {h.memory.id for h in hits}
        assert indexes_for(mine._b).get(NS) is idx
        assert idx.stats()["vectors"] == 3

        fresh = hivemem.connect(store_url, agent="fresh", **options)
        try:
            for query in ("servers hosted", "coffee", "payments retried", "bullet lists"):
                got = [(h.memory.id, round(h.score, 6)) for h in lt.semantic_search(query)]
                want = [
                    (h.memory.id, round(h.score, 6))
                    for h in fresh.memories(NS).semantic_search(query)
                ]
                assert got == want, query
        finally:
            fresh.close()
        # What a watcher of the namespace saw: the records, never an internal record.
        keys = {e.key for e in mine.watch(NS, since=0, timeout=0.5) if e.key is not None}
        assert keys <= {r.id for r in lt.get_many(list(keys))} | {release}
    finally:
        for m in (mine, theirs, plain):
            m.close()


# ---------------------------------------------------------------- an old file, processes


def _old_store(url: str, n: int) -> dict[str, Any]:
    """A namespace as an earlier version stored it: ``n`` records under one root, each with
    a vector, a child link, a relationship to the next and a group membership."""
    mem = hivemem.connect(url, agent="old-agent", cleanup_interval=0, embedder="none")
    rng = np.random.default_rng(7)
    ids = [uuid.uuid4().hex for _ in range(n)]
    root = ids[0]
    entries: dict[str, Any] = {"_memories": {"kind": "memories"}, "_g/g": {
        "id": "g", "name": "all", "description": None, "created_at": 1.0}}  # fmt: skip
    for i, rid in enumerate(ids):
        vec = rng.standard_normal(384).astype("<f4")
        entries[rid] = {
            "id": rid,
            "content": f"old note number {i}",
            "memory_type": "general",
            "tier": "short",
            "importance": 0.5,
            "strength": 1.0,
            "metadata": {},
            "tags": [],
            "parent_id": root if i else None,
            "session_id": None,
            "agent_id": "old-agent",
            "created_at": 1.0 + i,
            "updated_at": 1.0 + i,
            "last_accessed_at": 1.0 + i,
            "access_count": 0,
        }
        entries[f"_v/{rid}"] = {"m": "some-model", "d": 384, "v": base64.b64encode(
            vec.tobytes()).decode()}  # fmt: skip
        if i:
            entries[f"_p/{root}/{rid}"] = {}
        if i + 1 < n:
            rel = {"source_id": rid, "target_id": ids[i + 1], "relationship_type": "next",
                   "strength": 1.0, "created_at": 1.0, "agent_id": "old-agent"}  # fmt: skip
            entries[f"_r/{rid}/{ids[i + 1]}/next"] = rel
            entries[f"_ri/{ids[i + 1]}/{rid}/next"] = rel
        entries[f"_gm/g/{rid}"] = {}
        entries[f"_mg/{rid}/g"] = {}
    items = list(entries.items())
    for start in range(0, len(items), 500):
        mem.write_many(NS, dict(items[start : start + 500]))
    mem.close()
    return entries


def _open_at_once(url: str, root: str, probe: str, ready: Any, go: Any, out: Any) -> None:
    """One process: open the store, wait for the others, then use the namespace."""
    try:
        mem = hivemem.connect(url, agent="reader", cleanup_interval=0, embedder="none")
        try:
            lt = mem.memories(NS)
            ready.release()
            go.wait(TIMEOUT)
            children = lt.children(root, limit=10_000)
            related = lt.get_related(probe)
            group = lt.get_group("g")[1]
            out.put((len(children), len(related), len(group), None))
        finally:
            mem.close()
    except BaseException as exc:
        out.put((0, 0, 0, repr(exc)))
        raise


def test_an_old_file_is_upgraded_once_by_processes_opening_it_at_once(tmp_path: Path) -> None:
    """4 processes first use an old file's namespace at the same moment: each sees every
    child, relationship and member; every old entry moved exactly once (one delete event
    each), none is left, and each internal record exists once."""
    n = 400  # (its writes and the moves' deletes stay within the retained events)
    url = f"sqlite:///{tmp_path}/old.db"
    entries = _old_store(url, n)
    ids = [k for k, val in entries.items() if isinstance(val, dict) and val.get("id") == k]
    old_keys = sorted(k for k in entries if k.startswith("_"))
    root, probe = ids[0], ids[n // 2]
    # A reader may not write: the upgrade is the store's own step, not the caller's.
    admin = hivemem.connect(url, agent="old-agent", cleanup_interval=0, embedder="none")
    admin.update_namespace(NS, default_permission="read")
    admin.close()

    ctx = multiprocessing.get_context("spawn")
    ready, go, out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_open_at_once, args=(url, root, probe, ready, go, out))
        for _ in range(PROCESSES)
    ]
    reports = []
    try:
        for p in procs:
            p.start()
        for _ in procs:
            assert ready.acquire(timeout=TIMEOUT), "a child never opened the store"
        go.set()
        reports = [out.get(timeout=TIMEOUT) for _ in procs]
        for p in procs:
            p.join(TIMEOUT)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)
    assert [r[3] for r in reports] == [None] * PROCESSES, reports
    assert [r[:3] for r in reports] == [(n - 1, 2, n)] * PROCESSES
    assert [p.exitcode for p in procs] == [0] * PROCESSES

    mem = hivemem.connect(url, agent="old-agent", cleanup_interval=0, embedder="none")
    try:
        assert sorted(mem.get_keys(NS)) == sorted(ids)
        internal = mem._run(
            o.ListEntries(agent="old-agent", ns=NS, prefix=layout.PREFIX, limit=None, memories=True)
        )
        moved = sorted(e.key for e in internal.items)
        assert moved == sorted(layout.upgraded_key(k) for k in old_keys)
        for key in old_keys:  # each value moved as it was
            new = layout.upgraded_key(key)
            assert new is not None
            assert next(e.value for e in internal.items if e.key == new) == entries[key]
        deletes = [e.key for e in mem.watch(NS, since=0, timeout=0.5) if e.type == "memory:delete"]
        assert sorted(deletes) == old_keys  # each moved once, by one of the processes
        assert mem.get_namespace(NS).kind == "memories"
    finally:
        mem.close()


def test_only_the_memories_plans_write_internal_records() -> None:
    """A transaction below the doors naming an internal key is refused, and changes nothing;
    a listing with an internal prefix finds nothing unless the memories plans ask."""
    with hivemem.connect("memory://", agent="a", embedder="none") as mem:
        mem.memories(NS).add("a record")
        puts = ((layout.MARKER, '{"kind": "memories", "forget": null}', None),)
        with pytest.raises(hivemem.WrongType):  # (a memories namespace: the API's alone)
            mem._run(o.Transact(agent="a", ns=NS, puts=puts))
        with pytest.raises(hivemem.InvalidArgument, match="engine's own"):
            mem._run(o.Transact(agent="a", ns="plain", puts=puts))
        assert "plain" not in {info.name for info in mem.list_namespaces()}
        assert mem.memories(NS).config() == {"forget": None}
        assert mem._run(o.ListEntries(agent="a", ns=NS, prefix=layout.PREFIX)).items == []
        own = mem._run(o.ListEntries(agent="a", ns=NS, prefix=layout.PREFIX, memories=True))
        assert [e.key for e in own.items] == [layout.MARKER]


def test_an_upgrade_that_loses_a_race_reads_its_page_again(tmp_path: Path) -> None:
    """Two stores' upgrades of one file, interleaved: the second moves everything between
    the first's read and its write; the first's write is refused whole, it reads the page
    again, finds nothing left and moves nothing. Every entry moved once."""
    url = f"sqlite:///{tmp_path}/race.db"
    entries = _old_store(url, 120)
    old_keys = sorted(k for k in entries if k.startswith("_"))
    first = hivemem.connect(url, agent="first", cleanup_interval=0, embedder="none")
    second = hivemem.connect(url, agent="second", cleanup_interval=0, embedder="none")
    try:
        ahead: list[int] = []
        writes: list[str] = []

        def run(op: Any) -> Any:
            if isinstance(op, o.Transact) and not ahead:  # the first's write, not yet sent
                ahead.append(drive(second._run, plans_for(second._c, "second", NS, None).upgrade()))
            if isinstance(op, o.Transact):
                writes.append("sent")
            return first._run(op)

        moved = drive(run, plans_for(first._c, "first", NS, None).upgrade())
        assert ahead == [len(old_keys)] and moved == 0
        assert len(writes) == 1  # its one write was refused (ConflictError), none more
        events = list(first.watch(NS, since=0, timeout=0.5))
        deletes = sorted(e.key for e in events if e.type == "memory:delete")
        assert deletes == old_keys
        internal = first._run(
            o.ListEntries(agent="first", ns=NS, prefix=layout.PREFIX, limit=None, memories=True)
        )
        assert len(internal.items) == len(old_keys)
        assert len(first.memories(NS).children(_root(entries), limit=1000)) == 119
    finally:
        first.close()
        second.close()


def _root(entries: dict[str, Any]) -> str:
    """The id of the record without a parent in :func:`_old_store`'s entries."""
    return next(
        k for k, val in entries.items()
        if isinstance(val, dict) and val.get("id") == k and val.get("parent_id") is None
    )  # fmt: skip
