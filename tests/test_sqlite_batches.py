"""A group commit runs its ops without savepoints and redoes the batch carefully when an op
fails after writing: either way each op is all-or-nothing and revisions stay gap-free."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import hivemem
from hivemem.backends.sqlite import SQLiteBackend, _Waiter
from hivemem.engine import ops as o
from hivemem.errors import ConflictError, NamespaceNotFound

if TYPE_CHECKING:
    from pathlib import Path


def _one_batch(backend: SQLiteBackend, ops: list[o.Op[Any]]) -> list[Any]:
    """Commit ``ops`` as one group commit; return each op's value or error."""
    waiters = [_Waiter(op) for op in ops]
    with backend._queue_lock:
        backend._queue.extend(waiters)
        backend._leading = True
    try:
        backend._lead()
    finally:
        backend._pass_lead()
    out = []
    for w in waiters:
        assert w.result is not None
        out.append(w.result.error if w.result.error is not None else w.result.value)
    return out


def _revisions(backend: SQLiteBackend) -> list[int]:
    events = backend.execute(o.EventsAfter(agent="a", ns="a", since=0)).unwrap()
    return [e.revision for e in events]


def _store(tmp_path: Path) -> tuple[hivemem.Memory, SQLiteBackend]:
    """A SQLite store with namespace "a" (namespaces are created on first write)."""
    mem = hivemem.connect(
        f"sqlite:///{tmp_path / 's.db'}", cleanup_interval=0, auto_create_namespaces=True
    )
    backend = mem._c.backend
    assert isinstance(backend, SQLiteBackend)
    mem.create_namespace("a")
    return mem, backend


def _put(ns: str, key: str, value: str, **kw: Any) -> o.Put:
    return o.Put(agent="a", ns=ns, key=key, value_json=value, **kw)


def test_an_op_that_fails_after_writing_is_undone_alone(tmp_path: Path) -> None:
    mem, backend = _store(tmp_path)
    try:
        mem.write("a", "k", 0)
        redone = [0]
        real = backend._run_batch

        def counting(batch: Any, *, careful: bool) -> Any:
            redone[0] += careful
            return real(batch, careful=careful)

        backend._run_batch = counting  # type: ignore[method-assign]
        results = _one_batch(
            backend,
            [
                _put("a", "k", "1"),
                # Creates namespace "fresh" (a write), then fails its compare-and-set.
                _put("fresh", "k", "2", expected_version=5),
                _put("a", "k2", "3"),
                _put("a", "k", "4", expected_version=1),  # fails before writing: k is at 2
                _put("a", "k", "5", expected_version=2),
            ],
        )
        assert redone == [1]  # the batch ran again, carefully
        assert isinstance(results[1], ConflictError) and isinstance(results[3], ConflictError)
        assert [r.version for r in (results[0], results[4])] == [2, 3]
        assert mem.read("a", "k") == 5 and mem.read("a", "k2") == 3
        try:
            mem.get_namespace("fresh")
            raise AssertionError("the refused op's namespace exists")
        except NamespaceNotFound:
            pass
        revisions = _revisions(backend)
        assert revisions == list(range(1, len(revisions) + 1))  # gap-free

        # A batch where nothing fails after writing commits on the first, optimistic run.
        results = _one_batch(
            backend, [_put("a", "k", "6"), _put("a", "x", "7", expected_version=3)]
        )
        assert redone == [1]
        assert results[0].version == 4 and isinstance(results[1], ConflictError)
        revisions = _revisions(backend)
        assert revisions == list(range(1, len(revisions) + 1))
    finally:
        mem.close()


def test_concurrent_batches_with_refusals_after_writes_stay_exact(tmp_path: Path) -> None:
    """8 threads share group commits where every other op creates a namespace and then
    fails its compare-and-set: every good write lands once, no refused op leaves its
    namespace behind, and the namespace's revisions stay gap-free."""
    import threading

    mem, backend = _store(tmp_path)
    try:
        refused: list[int] = []

        def work(t: int) -> None:
            for i in range(30):
                mem.write("a", f"t{t}-{i}", i)
                try:
                    mem.write(f"fresh-{t}-{i}", "k", 1, expected_version=5)
                except ConflictError:
                    refused.append(1)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert len(refused) == 240
        assert sorted(mem.get_keys("a")) == sorted(f"t{t}-{i}" for t in range(8) for i in range(30))
        assert [n.name for n in mem.list_namespaces()] == ["a", "default"]
        revisions = _revisions(backend)
        assert revisions == list(range(1, len(revisions) + 1))
        assert len(revisions) == 1 + 240  # the namespace's creation, then the writes
    finally:
        mem.close()
