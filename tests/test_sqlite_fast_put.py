"""SQLite decides plain puts in the writer's transaction (``_WriteTxn.fast_put``), from the
entry versions it remembers; everything else goes through the engine. The outcome must be
the engine's, to the event and the audit record, and what it remembers must never be stale."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

import hivemem
from hivemem.backends.sqlite import SQLiteBackend, _WriteTxn
from hivemem.engine import ops as o
from hivemem.errors import ConflictError, HivememError
from tests.test_sqlite_batches import _one_batch
from tests.test_sqlite_schema import run_spawned

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def _script(mem: hivemem.Memory, tick: Callable[[float], None]) -> list[Any]:
    """Every kind of write a fast path might take or hand on; what each call returned."""
    out: list[Any] = []

    def call(fn: Callable[..., Any], *args: Any, **kw: Any) -> None:
        try:
            got = fn(*args, **kw)
        except HivememError as exc:
            out.append(("error", exc.code, str(exc)))
        else:
            out.append(("ok", got))

    mem.create_namespace("lw", default_permission="read", permissions={"bob": "write"})
    mem.create_namespace("fw", conflict_strategy="first-wins", default_permission="write")
    mem.create_namespace("ver", conflict_strategy="version", default_permission="write")
    mem.create_namespace("ttl", ttl=5, default_permission="write")
    mem.create_namespace("full", max_entries=2, default_permission="write")
    mem.create_namespace("merge", conflict_strategy="merge", default_permission="write")
    for agent in ("alice", "bob", "eve"):
        call(mem.write, "lw", "k", {"by": agent}, agent)  # alice admin, bob write, eve read
        tick(1)
    call(mem.write, "lw", "k", 1, "bob", expected_version=2)
    call(mem.write, "lw", "k", 2, "bob", expected_version=2)  # stale
    call(mem.write, "lw", "new", 0, "bob", expected_version=0)
    call(mem.write, "lw", "new", 0, "bob", expected_version=0)  # exists now
    call(mem.write, "lw", "t", "short", "bob", ttl=2)
    tick(3)
    call(mem.write, "lw", "t", "again", "bob")  # over an expired entry
    call(mem.write, "lw", "i", 1, "bob", idempotency_key="once")
    call(mem.write, "lw", "i", 2, "bob", idempotency_key="once")
    call(mem.write, "fw", "k", "first", "bob")
    call(mem.write, "fw", "k", "second", "eve")
    call(mem.write, "ver", "k", 1, "bob")
    call(mem.write, "ver", "k", 1, "bob", expected_version=0)
    call(mem.write, "ver", "k", 2, "bob", expected_version=1)
    call(mem.write, "ver", "k", 3, "bob", expected_version=1)
    call(mem.write, "ttl", "k", "ns ttl", "bob")
    call(mem.write, "ttl", "j", "own ttl", "bob", ttl=60)
    tick(6)
    call(mem.write, "ttl", "k", "after expiry", "bob")
    for key in ("a", "b", "c", "a"):
        call(mem.write, "full", key, key, "bob")
    call(mem.write, "merge", "k", {"x": 1}, "bob")
    call(mem.write, "merge", "k", {"y": 2}, "bob")
    call(mem.write, "auto", "k", "creates the namespace", "bob")
    # Entries the SQLite writer does not remember (clearing a namespace forgets them all).
    call(mem.write, "lw", "gone", 1, "bob", ttl=1)
    tick(2)
    call(mem.clear_namespace, "merge", "alice")
    call(mem.write, "lw", "gone", 2, "bob")  # an expired entry: the engine replaces it
    call(mem.write, "lw", "new", 5, "bob")  # a live one: the upsert finds its version
    call(mem.write, "lw", "k", {"deep": [1, {"x": None}], "s": "é\u2028"}, "bob")
    for ns in ("lw", "fw", "ver", "ttl", "full", "merge", "auto", "default"):
        events = mem._c.backend.execute(o.EventsAfter(agent="alice", ns=ns, since=0)).unwrap()
        out.append((ns, [e.to_dict() for e in events]))
        page = mem.list_entries(ns, "alice", limit=1000)
        out.append((ns, [e.to_dict() for e in page.items]))
    out.append([r.to_dict() for r in mem.access_log(limit=1000)])
    return out


def test_fast_puts_end_as_the_engine_ends_them(tmp_path: Path) -> None:
    """Rule: a plain put decided by SQLite's fast path returns, stores, emits and audits
    exactly what the engine does (memory:// has no fast path): outcomes, errors, entries,
    event streams and the audit log of a script of every kind of write are equal."""
    taken = [0]
    real = _WriteTxn.fast_put

    def counted(self: _WriteTxn, op: o.Put) -> Any:
        result = real(self, op)
        taken[0] += result is not None
        return result

    outcomes = []
    for url in ("memory://", f"sqlite:///{tmp_path / 'f.db'}"):
        now = [1_000.0]

        def tick(dt: float, now: list[float] = now) -> None:
            now[0] += dt

        mem = hivemem.connect(url, agent="alice", clock=lambda now=now: now[0], cleanup_interval=0)
        try:
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(_WriteTxn, "fast_put", counted)
                outcomes.append(_script(mem, tick))
        finally:
            mem.close()
    memory, sqlite = outcomes
    for a, b in zip(memory, sqlite, strict=True):
        assert a == b
    # The fast path decided the 16 plain writes; the engine the refusals, the idempotent
    # and merge writes, the writes over expired entries and into a full or missing namespace.
    assert taken[0] == 16


def test_remembered_versions_yield_to_another_connections_commit(tmp_path: Path) -> None:
    """Rule: compare-and-set stays exact when another connection (process) changed the
    entry since this writer last wrote it: what the writer remembers is dropped."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    one = hivemem.connect(url, agent="a", cleanup_interval=0)
    two = hivemem.connect(url, agent="a", cleanup_interval=0)
    try:
        assert one.write("default", "k", 1).version == 1
        assert two.write("default", "k", 2, expected_version=1).version == 2
        with pytest.raises(ConflictError):
            one.write("default", "k", 3, expected_version=1)
        assert one.write("default", "k", 3, expected_version=2).version == 3
        assert two.delete("default", "k")
        with pytest.raises(ConflictError):
            one.write("default", "k", 4, expected_version=3)
        entry = one.write("default", "k", 4, expected_version=0)
        assert (entry.version, entry.created_at) == (1, entry.updated_at)
        revisions = [e.revision for e in one.watch("default", since=0, timeout=0.01)]
        assert revisions == list(range(1, revisions[-1] + 1))
    finally:
        one.close()
        two.close()


def test_remembered_versions_are_dropped_with_an_undone_op(tmp_path: Path) -> None:
    """Rule: an op undone after it wrote (here a write_many that overflows max_entries,
    in a batch after a put) leaves no remembered version behind: the next put of its key
    starts at version 1."""
    mem = hivemem.connect(f"sqlite:///{tmp_path / 'u.db'}", agent="a", cleanup_interval=0)
    try:
        backend = mem._c.backend
        assert isinstance(backend, SQLiteBackend)
        mem.create_namespace("n", max_entries=2)
        mem.write("n", "x", 0)
        put = o.Put(agent="a", ns="n", key="x", value_json="1")
        many = o.PutMany(agent="a", ns="n", items=(("y", "1"), ("z", "1")))
        got = _one_batch(backend, [put, many])
        assert got[0].version == 2
        assert isinstance(got[1], HivememError)
        assert mem.read("n", "y") is None
        assert mem.write("n", "y", 2).version == 1
        assert mem.write("n", "x", 3).version == 3
    finally:
        mem.close()


def _blind_writer(url: str, worker: int, writes: int) -> None:
    mem = hivemem.connect(url, agent=f"w{worker}", cleanup_interval=0)
    try:
        for i in range(writes):  # latest-wins, no expected_version: the upsert decides
            mem.write("default", "k", {"worker": worker, "i": i})
    finally:
        mem.close()


def test_plain_puts_from_processes_sharing_a_file_count_every_version(tmp_path: Path) -> None:
    """Rule: revisions stay gap-free and versions exact when processes sharing one file
    write the same key at once without compare-and-set (each writer's remembered versions
    are dropped by the others' commits, so most puts find the entry in the upsert): the
    final version is the number of writes, and the stream holds each version once, in
    order, with each worker's values in its own order."""
    url = f"sqlite:///{tmp_path / 'blind.db'}"
    hivemem.connect(url, cleanup_interval=0).close()
    workers, writes = 4, 150
    run_spawned(_blind_writer, [(url, w, writes) for w in range(workers)])
    mem = hivemem.connect(url, agent="a", cleanup_interval=0)
    try:
        entry = mem.get_entry("default", "k")
        assert entry is not None and entry.version == workers * writes
        events = [
            e
            for e in mem._c.backend.execute(
                o.EventsAfter(agent="a", ns="default", since=0, limit=10_000)
            ).unwrap()
            if e.type == "memory:write"
        ]
        assert [e.version for e in events] == list(range(1, workers * writes + 1))
        revisions = [e.revision for e in events]
        assert revisions == sorted(set(revisions))
        for w in range(workers):
            mine = [e.value["i"] for e in events if e.value["worker"] == w]
            assert mine == list(range(writes))
        assert entry.created_at == events[0].timestamp
    finally:
        mem.close()
