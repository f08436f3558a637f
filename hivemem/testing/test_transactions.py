"""Transactions (SPEC §19): compares, then one branch, atomically across namespaces.

Namespaces used together are created with one ``group=`` (on Redis Cluster that puts them
in one hash slot; elsewhere it is only recorded), so every rule runs unchanged everywhere.
"""

from __future__ import annotations

from typing import Any

import pytest

from hivemem import ConflictError, InvalidArgument, PermissionDenied
from hivemem.engine import ops as o
from hivemem.engine.transactions import MAX_TXN_OPS
from hivemem.testing.helpers import snapshot
from hivemem.types import Entry

A, B = "bank", "shop"
GROUP = "txg"


def _two(mem: Any, **config: Any) -> None:
    mem.create_namespace(A, group=GROUP, **config)
    mem.create_namespace(B, group=GROUP, **config)


def test_txn_success_branch_writes_every_namespace(mem: Any) -> None:
    """All compares hold: the success ops run, each an ordinary write with its revision."""
    _two(mem)
    mem.write(A, "alice", 10)
    mem.write(B, "bob", 0)
    txn = mem.transaction()
    txn.compare(A, "alice", version=1).compare(B, "bob", value=0)
    txn.on_success.write(A, "alice", 7).write(B, "bob", 3)
    txn.on_failure.read(A, "alice")
    result = txn.commit()
    assert result.succeeded
    assert [(e.namespace, e.key, e.value, e.version) for e in result.results] == [
        (A, "alice", 7, 2),
        (B, "bob", 3, 2),
    ]
    assert mem.read(A, "alice") == 7 and mem.read(B, "bob") == 3
    assert result.revisions == {
        A: mem.get_namespace(A).revision,
        B: mem.get_namespace(B).revision,
    }
    assert result.results[0].revision == result.revisions[A]


def test_txn_failure_branch_runs_when_a_compare_fails(mem: Any) -> None:
    """One compare fails: the failure ops run (reads here) and nothing else changes."""
    _two(mem)
    mem.write(A, "alice", 10)
    mem.write(B, "bob", 0)
    before = snapshot(mem, A), snapshot(mem, B)
    txn = mem.transaction()
    txn.compare(A, "alice", version=1).compare(B, "bob", version=5)
    txn.on_success.write(A, "alice", 0)
    txn.on_failure.read(A, "alice").read(B, "missing")
    result = txn.commit()
    assert not result.succeeded
    assert isinstance(result.results[0], Entry) and result.results[0].value == 10
    assert result.results[1] is None
    assert (snapshot(mem, A), snapshot(mem, B)) == before


@pytest.mark.parametrize(
    ("stored", "compare", "holds"),
    [
        (10, {"value": 10}, True),
        (10, {"value": 10.0}, True),
        (1, {"value": True}, False),
        ({"a": [1, None]}, {"value": {"a": [1, None]}}, True),
        ({"a": [1]}, {"value": {"a": [2]}}, False),
        (10, {"exists": True}, True),
        (10, {"exists": False}, False),
        (None, {"exists": False}, True),
        (None, {"version": 0}, True),
        (None, {"value": None}, False),
        ("x", {"version": 1, "value": "x", "exists": True}, True),
        ("x", {"version": 1, "value": "y"}, False),
    ],
)
def test_txn_compare_targets(mem: Any, stored: Any, compare: dict[str, Any], holds: bool) -> None:
    """version (0: no entry), value (JSON equality: 1 == 1.0, true != 1) and exists."""
    mem.create_namespace(A)
    if stored is not None:
        mem.write(A, "k", stored)
    txn = mem.transaction()
    txn.compare(A, "k", **compare)
    assert txn.commit().succeeded is holds


def test_txn_compare_on_a_missing_namespace_sees_no_entry(mem: Any) -> None:
    """A compare on a namespace that does not exist yet sees no entry; a write creates it."""
    txn = mem.transaction()
    txn.compare("fresh", "k", exists=False)
    txn.on_success.write("fresh", "k", 1)
    assert txn.commit().succeeded
    assert mem.read("fresh", "k") == 1


def test_txn_expired_entry_is_no_entry(make_mem: Any, clock: Any) -> None:
    """An entry past its TTL compares as absent."""
    mem = make_mem()
    mem.write(A, "k", 1, ttl=5)
    clock.advance(6)
    txn = mem.transaction()
    txn.compare(A, "k", version=0)
    assert txn.commit().succeeded


def test_txn_delete_in_a_branch(mem: Any) -> None:
    """A delete's result says whether a live entry was removed; events as mem.delete."""
    mem.write(A, "k", 1)
    txn = mem.transaction()
    txn.on_success.delete(A, "k").delete(A, "none")
    result = txn.commit()
    assert result.results == [True, False]
    assert mem.read(A, "k") is None
    events = list(mem.watch(A, since=0, timeout=0))
    assert [e.type for e in events][-1] == "memory:delete"


def test_txn_events_and_audit_of_each_op(mem: Any) -> None:
    """Each write emits its memory:write in its namespace and has its own audit record."""
    _two(mem)
    txn = mem.transaction()
    txn.on_success.write(A, "x", 1).write(B, "y", 2)
    result = txn.commit()
    writes_a = [e for e in mem.watch(A, since=0, timeout=0) if e.type == "memory:write"]
    writes_b = [e for e in mem.watch(B, since=0, timeout=0) if e.type == "memory:write"]
    assert [(e.key, e.revision) for e in writes_a] == [("x", result.revisions[A])]
    assert [(e.key, e.revision) for e in writes_b] == [("y", result.revisions[B])]
    log = mem.access_log(limit=10)
    actions = [(r.action, r.namespace, r.key) for r in log if r.action in ("transaction", "write")]
    assert actions[:3] == [("transaction", A, None), ("write", B, "y"), ("write", A, "x")]


def test_txn_strategy_and_refusal_undo_everything(mem: Any) -> None:
    """A refused write (first-wins here) fails the transaction: nothing of it is kept."""
    mem.create_namespace(A, group=GROUP)
    mem.create_namespace(B, group=GROUP, conflict_strategy="first-wins")
    mem.write(B, "k", "first")
    before = snapshot(mem, A), snapshot(mem, B)
    revs = mem.get_namespace(A).revision, mem.get_namespace(B).revision
    txn = mem.transaction()
    txn.on_success.write(A, "a", 1).write(B, "k", "second")
    with pytest.raises(ConflictError):
        txn.commit()
    assert (snapshot(mem, A), snapshot(mem, B)) == before
    assert (mem.get_namespace(A).revision, mem.get_namespace(B).revision) == revs


def test_txn_expected_version_of_a_write(mem: Any) -> None:
    """A write's own expected_version is checked as in mem.write."""
    mem.write(A, "k", 1)
    txn = mem.transaction()
    txn.on_success.write(A, "k", 2, expected_version=5)
    with pytest.raises(ConflictError):
        txn.commit()
    assert mem.read(A, "k") == 1


def test_txn_permissions_of_each_op(mem: Any) -> None:
    """Read where a compare or read looks, write where a branch writes, either branch."""
    mem.create_namespace(A, group=GROUP, default_permission="write")
    mem.create_namespace(B, group=GROUP, default_permission="read")
    mem.create_namespace("hidden", group=GROUP, default_permission=None)
    mem.write(A, "k", 1)
    before = snapshot(mem, A)
    other = mem.as_agent("other")
    txn = other.transaction()
    txn.compare(A, "k", version=1)
    txn.on_success.write(A, "k", 2)
    txn.on_failure.write(B, "k", 2)  # (would not run: still refused)
    with pytest.raises(PermissionDenied):
        txn.commit()
    txn = other.transaction()
    txn.compare("hidden", "k", exists=False)
    txn.on_success.write(A, "k", 2)
    with pytest.raises(PermissionDenied):
        txn.commit()
    assert snapshot(mem, A) == before
    txn = other.transaction()
    txn.compare(B, "k", exists=False)
    txn.on_success.write(A, "k", 2).read(B, "k")
    assert txn.commit().succeeded
    assert mem.read(A, "k") == 2


def test_txn_bad_input(mem: Any) -> None:
    """Too many ops, a key written twice in a branch, an empty compare, an unknown op."""
    mem.create_namespace(A)
    txn = mem.transaction()
    for i in range(MAX_TXN_OPS + 1):
        txn.on_success.write(A, f"k{i}", i)
    with pytest.raises(InvalidArgument) as too_many:
        txn.commit()
    assert too_many.value.details["reason"] == "too_many_ops"
    txn = mem.transaction()
    txn.on_success.write(A, "k", 1).delete(A, "k")
    with pytest.raises(InvalidArgument) as twice:
        txn.commit()
    assert twice.value.details["reason"] == "duplicate_key"
    with pytest.raises(InvalidArgument):
        mem.transaction().compare(A, "k")
    with pytest.raises(InvalidArgument):
        mem.transaction().compare(A, "k", version=-1)
    with pytest.raises(InvalidArgument):
        mem.transaction().on_success.write(A, "k", float("nan"))
    bogus = o.Transaction(agent="local", success=(o.TxnStep("bogus", A, "k"),))
    with pytest.raises(InvalidArgument) as unknown:
        mem._run(bogus)
    assert unknown.value.details["reason"] == "unknown_op"
    assert mem.read(A, "k0") is None


def test_txn_group_is_recorded(mem: Any) -> None:
    """create_namespace(group=) is kept in the namespace's info."""
    assert mem.create_namespace(A, group=GROUP).group == GROUP
    assert mem.get_namespace(A).group == GROUP
    assert mem.create_namespace(B).group is None
    with pytest.raises(InvalidArgument):
        mem.create_namespace("c", group="no spaces")


def test_txn_cross_slot_needs_a_group(mem: Any, backend: Any) -> None:
    """Ungrouped namespaces in different cluster slots cannot join; elsewhere they can."""
    # "a" and "b" hash to different slots (15495 and 3300).
    mem.write("a", "k", 1)
    mem.write("b", "k", 1)
    txn = mem.transaction()
    txn.on_success.write("a", "k", 2).write("b", "k", 2)
    if backend.name == "redis-cluster":
        with pytest.raises(InvalidArgument) as refused:
            txn.commit()
        assert refused.value.details["reason"] == "cross_slot"
        assert mem.read("a", "k") == 1
    else:
        assert txn.commit().succeeded
        assert mem.read("a", "k") == 2


async def test_txn_async_transaction(amem: Any) -> None:
    """The async twin: same builder, ``await txn.commit()``."""
    await amem.create_namespace(A, group=GROUP)
    await amem.create_namespace(B, group=GROUP)
    await amem.write(A, "k", 1)
    txn = amem.transaction()
    txn.compare(A, "k", value=1)
    txn.on_success.write(B, "k", 2)
    result = await txn.commit()
    assert result.succeeded and result.results[0].value == 2
    assert await amem.read(B, "k") == 2


def test_txn_empty_and_read_only(mem: Any) -> None:
    """An empty transaction succeeds with nothing; a read-only one changes no revision."""
    empty = mem.transaction().commit()
    assert (empty.succeeded, empty.results, empty.revisions) == (True, [], {})
    mem.write(A, "k", 1)
    revision = mem.get_namespace(A).revision
    txn = mem.transaction()
    txn.compare(A, "k", exists=True)
    txn.on_success.read(A, "k").read(A, "k")
    result = txn.commit()
    assert [e.value for e in result.results] == [1, 1]
    assert result.revisions == {A: revision} == {A: mem.get_namespace(A).revision}
