"""An unexpected exception in a SQLite group commit fails the op that raised it alone.

Whatever raises (an op's handler after it wrote, the batch's flush, the commit), every
waiter of the batch gets an answer, innocent ops land exactly once, revisions stay
gap-free, and the writer keeps working. (Issue 15, item 2.)
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

import hivemem
from hivemem.backends import sqlite as sqlite_mod
from hivemem.backends.sqlite import SQLiteBackend
from hivemem.engine import apply
from hivemem.engine import ops as o
from hivemem.engine.txn import Settings
from hivemem.errors import BackendUnavailable, InternalError
from tests.test_sqlite_batches import _one_batch

if TYPE_CHECKING:
    from pathlib import Path


def _store(tmp_path: Path) -> tuple[hivemem.Memory, SQLiteBackend]:
    mem = hivemem.connect(f"sqlite:///{tmp_path / 's.db'}", cleanup_interval=0)
    backend = mem._c.backend
    assert isinstance(backend, SQLiteBackend)
    mem.create_namespace("a")
    return mem, backend


def _put(key: str, value: str) -> o.Put:
    return o.Put(agent="a", ns="a", key=key, value_json=value)


def _put_many(*keys: str) -> o.PutMany:
    return o.PutMany(agent="a", ns="a", items=[(k, "1") for k in keys])


def _revisions(backend: SQLiteBackend) -> list[int]:
    events = backend.execute(o.EventsAfter(agent="a", ns="a", since=0)).unwrap()
    return [e.revision for e in events]


@pytest.fixture
def boom_after_writing(monkeypatch: pytest.MonkeyPatch) -> None:
    """``write_many`` of a key named ``boom`` writes its items, then raises a bug."""
    real = apply.HANDLERS[o.PutMany]

    def faulty(ctx: Any, op: Any) -> Any:
        value = real(ctx, op)
        if any(k == "boom" for k, _ in op.items):
            raise RuntimeError("a bug after writing")
        return value

    monkeypatch.setitem(apply.HANDLERS, o.PutMany, faulty)


def test_an_op_raising_after_writing_fails_alone(
    tmp_path: Path, boom_after_writing: None, caplog: pytest.LogCaptureFixture
) -> None:
    mem, backend = _store(tmp_path)
    try:
        with caplog.at_level(logging.ERROR, logger="hivemem"):
            results = _one_batch(
                backend,
                [_put("x", "1"), _put_many("y", "boom"), _put("z", "2"), _put("x", "3")],
            )
        assert isinstance(results[1], InternalError)
        assert results[1].code == "internal" and results[1].status == 500
        assert "RuntimeError: a bug after writing" in results[1].message
        assert [results[0].version, results[2].version, results[3].version] == [1, 1, 2]
        assert mem.get_all("a") == {"x": 3, "z": 2}  # nothing of the faulty op
        revisions = _revisions(backend)
        assert revisions == list(range(1, len(revisions) + 1))
        assert len(revisions) == 1 + 3  # the namespace's creation, then the 3 writes
        logged = [r for r in caplog.records if r.exc_info and "a bug after" in str(r.exc_info[1])]
        assert len(logged) == 1  # once, with its traceback
    finally:
        mem.close()


def test_concurrent_writers_are_answered_when_one_op_raises(
    tmp_path: Path, boom_after_writing: None, caplog: pytest.LogCaptureFixture
) -> None:
    """17 threads write while one keeps writing the faulty op: everyone is answered
    within a second per write, innocent writes land exactly once."""
    mem, backend = _store(tmp_path)
    try:
        errors: list[BaseException] = []
        slow: list[float] = []

        def work(t: int) -> None:
            for i in range(20):
                started = time.monotonic()
                try:
                    if t == 0:
                        mem.write_many("a", {"boom": i, f"b{i}": i})
                    else:
                        mem.write("a", f"t{t}", i)
                except Exception as exc:
                    errors.append(exc)
                slow.append(time.monotonic() - started)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(18)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=30)
        assert not any(th.is_alive() for th in threads), "a writer hung"
        assert max(slow) < 1.0
        assert len(errors) == 20 and all(isinstance(e, InternalError) for e in errors)
        assert mem.get_all("a") == {f"t{t}": 19 for t in range(1, 18)}
        assert all(mem.get_entry("a", f"t{t}").version == 20 for t in range(1, 18))
        revisions = _revisions(backend)
        assert revisions == list(range(1, 1 + 17 * 20 + 1))
    finally:
        mem.close()


def test_a_failing_flush_commits_the_batch_op_by_op(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception outside any op (here the batch's flush, once): the batch is rolled
    back and its ops committed one by one, each exactly once."""
    mem, backend = _store(tmp_path)
    try:
        real = sqlite_mod._WriteTxn.flush
        calls = [0]

        def flaky(self: Any) -> None:
            calls[0] += 1
            if calls[0] == 1:
                raise TypeError("a bug in the flush")
            real(self)

        monkeypatch.setattr(sqlite_mod._WriteTxn, "flush", flaky)
        results = _one_batch(backend, [_put("x", "1"), _put("y", "2"), _put("x", "3")])
        assert [r.version for r in results] == [1, 1, 2]
        assert mem.get_all("a") == {"x": 3, "y": 2}
        assert _revisions(backend) == [1, 2, 3, 4]
    finally:
        mem.close()


def test_a_commit_that_keeps_failing_answers_every_waiter_and_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    mem, backend = _store(tmp_path)
    try:
        real = sqlite_mod._WriteTxn.flush

        def broken(self: Any) -> None:
            raise TypeError("the flush is broken")

        monkeypatch.setattr(sqlite_mod._WriteTxn, "flush", broken)
        with caplog.at_level(logging.ERROR, logger="hivemem"):
            results = _one_batch(backend, [_put("x", "1"), _put("y", "2")])
        assert all(isinstance(r, InternalError) for r in results)
        assert any(r.exc_info for r in caplog.records)
        monkeypatch.setattr(sqlite_mod._WriteTxn, "flush", real)
        assert mem.get_all("a") == {}
        assert mem.write("a", "x", 5).version == 1  # the writer recovered
        assert _revisions(backend) == [1, 2]
    finally:
        mem.close()


async def test_asyncio_waiters_are_answered_when_one_op_raises(
    tmp_path: Path, boom_after_writing: None
) -> None:
    import asyncio

    backend = SQLiteBackend(str(tmp_path / "s.db"), Settings())
    try:
        backend.execute(o.CreateNamespace(agent="a", ns="a"))
        ops: list[o.Op[Any]] = [_put(f"k{i}", str(i)) for i in range(16)]
        ops.insert(5, _put_many("boom"))
        results = await asyncio.wait_for(
            asyncio.gather(*(backend.aexecute(op) for op in ops)), timeout=5
        )
        assert isinstance(results[5].error, InternalError)
        assert all(r.error is None for i, r in enumerate(results) if i != 5)
        assert len(_revisions(backend)) == 1 + 16
    finally:
        backend.close()


async def test_a_read_the_driver_fails_comes_back_in_its_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SQLite error in a read is the op's ``BackendUnavailable`` result, as in a commit
    (one way for every error: the backend returns it, the caller raises it)."""
    mem, backend = _store(tmp_path)
    try:
        mem.write("a", "k", 1)

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(sqlite_mod, "execute", broken)
        read = o.Get(agent="a", ns="a", key="k")
        for result in (backend.execute(read), await backend.aexecute(read)):
            assert isinstance(result.error, BackendUnavailable)
            assert "disk I/O error" in result.error.message
            assert isinstance(result.error.__cause__, sqlite3.OperationalError)
        with pytest.raises(BackendUnavailable, match="disk I/O error"):
            mem.read("a", "k")
    finally:
        mem.close()


def test_a_read_of_a_closed_store_comes_back_in_its_result(tmp_path: Path) -> None:
    """Reading a closed store answers ``BackendUnavailable`` in the result, as a write does;
    the API raises it."""
    mem, backend = _store(tmp_path)
    mem.close()
    for op in (o.Get(agent="a", ns="a", key="k"), _put("k", "1")):
        result = backend.execute(op)
        assert isinstance(result.error, BackendUnavailable), op
    with pytest.raises(BackendUnavailable):
        mem.read("a", "k")
