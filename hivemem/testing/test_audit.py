"""Audit log and statistics (SPEC §5)."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

import pytest

from hivemem import AccessLogEntry, ConflictError, PermissionDenied

if TYPE_CHECKING:
    from hivemem.testing.clock import FakeClock


def _activity(mem: Any, clock: FakeClock) -> float:
    """A small history in namespace 'team' by two agents; returns the time of the middle."""
    mem.create_namespace("team", "alice", default_permission="read")
    mem.write("team", "k1", 1, "alice")
    mem.read("team", "k1", "bob")
    middle = clock.advance(10)
    with pytest.raises(PermissionDenied):
        mem.write("team", "k2", 2, "bob")
    mem.delete("team", "k1", "alice")
    return middle


def test_access_log_newest_first_with_fields(mem, clock):
    """access_log returns records newest first with timestamp, agent, namespace, key,
    action, success and error."""
    t0 = clock.now
    middle = _activity(mem, clock)
    records = mem.access_log(namespace="team")
    assert [(r.agent_id, r.action, r.key, r.success) for r in records] == [
        ("alice", "delete", "k1", True),
        ("bob", "write", "k2", False),
        ("bob", "read", "k1", True),
        ("alice", "write", "k1", True),
        ("alice", "create_namespace", None, True),
    ]
    assert all(isinstance(r, AccessLogEntry) for r in records)
    assert [r.timestamp for r in records] == [middle, middle, t0, t0, t0]
    assert all(r.namespace == "team" for r in records)
    assert records[0].error is None


def test_access_log_records_denied_attempts(mem, clock):
    """A denied attempt is logged with success False and an error naming its code."""
    _activity(mem, clock)
    (denied,) = mem.access_log(success=False)
    assert (denied.agent_id, denied.namespace, denied.key, denied.action) == (
        "bob",
        "team",
        "k2",
        "write",
    )
    assert denied.success is False
    assert "permission_denied" in denied.error


def test_access_log_records_conflicts_as_failures(mem):
    """A write refused by its conflict strategy is logged as a failed write."""
    mem.create_namespace("ns", conflict_strategy="first-wins")
    mem.write("ns", "k", 1, "a1")
    with pytest.raises(ConflictError):
        mem.write("ns", "k", 2, "a2")
    (rec,) = mem.access_log(agent_id="a2")
    assert (rec.action, rec.key, rec.success) == ("write", "k", False)
    assert "conflict" in rec.error


def test_access_log_filter_agent(mem, clock):
    """access_log(agent_id=) returns only that agent's records."""
    _activity(mem, clock)
    assert [r.action for r in mem.access_log(agent_id="bob")] == ["write", "read"]
    assert all(r.agent_id == "bob" for r in mem.access_log(agent_id="bob"))
    assert mem.access_log(agent_id="nobody") == []


def test_access_log_filter_namespace_and_action(mem, clock):
    """access_log(namespace=, action=) combine."""
    _activity(mem, clock)
    mem.write("elsewhere", "k", 1, "alice")
    writes = mem.access_log(namespace="team", action="write")
    assert [(r.agent_id, r.key, r.success) for r in writes] == [
        ("bob", "k2", False),
        ("alice", "k1", True),
    ]
    assert [r.namespace for r in mem.access_log(action="write", agent_id="alice")] == [
        "elsewhere",
        "team",
    ]


def test_access_log_filter_success(mem, clock):
    """access_log(success=True) leaves out the failures, success=False keeps only them."""
    _activity(mem, clock)
    assert all(r.success for r in mem.access_log(namespace="team", success=True))
    assert len(mem.access_log(namespace="team", success=True)) == 4
    assert len(mem.access_log(namespace="team", success=False)) == 1


def test_access_log_filter_since(mem, clock):
    """access_log(since=t) returns the records at or after Unix time t."""
    middle = _activity(mem, clock)
    records = mem.access_log(namespace="team", since=middle)
    assert [(r.agent_id, r.action) for r in records] == [("alice", "delete"), ("bob", "write")]
    assert mem.access_log(since=middle + 1) == []


def test_access_log_limit(mem, clock):
    """access_log(limit=n) returns the n newest matching records."""
    _activity(mem, clock)
    assert [r.action for r in mem.access_log(namespace="team", limit=2)] == ["delete", "write"]
    assert len(mem.access_log(limit=1)) == 1


def test_access_log_default_limit_is_100(mem):
    """access_log() returns at most 100 records by default."""
    for i in range(120):
        mem.write("ns", "k", i)
    assert len(mem.access_log()) == 100
    assert len(mem.access_log(limit=1000)) >= 120


def test_access_log_bounded_by_max_log_size(make_mem):
    """The log keeps at most max_log_size records, dropping the oldest."""
    m = make_mem(max_log_size=5)
    for i in range(10):
        m.write("ns", f"k{i}", i)
    records = m.access_log(limit=100)
    assert [r.key for r in records] == ["k9", "k8", "k7", "k6", "k5"]
    assert m.stats()["total_access_logs"] == 5


def test_log_reads_off_skips_successful_reads(make_mem):
    """With log_reads=False successful reads are not logged; writes still are."""
    m = make_mem(log_reads=False)
    m.write("ns", "k", 1)
    assert m.read("ns", "k") == 1
    m.get_all("ns")
    assert m.access_log(action="read") == []
    assert [r.action for r in m.access_log(namespace="ns")] == ["write"]


def test_log_reads_on_logs_reads(mem):
    """By default successful reads are logged with their key."""
    mem.write("ns", "k", 1)
    mem.read("ns", "k", "reader")
    (rec,) = mem.access_log(action="read")
    assert (rec.agent_id, rec.namespace, rec.key, rec.success) == ("reader", "ns", "k", True)


def test_concurrent_agents_are_each_audited_exactly_once(mem):
    """Every read and write of agents working at once is in the access log once, under its
    own agent (batched audit records included)."""
    mem.create_namespace("busy", default_permission="write")
    errors = []

    def work(i):
        try:
            for n in range(40):
                mem.write("busy", f"a{i}-{n}", n, f"agent-{i}")
                assert mem.read("busy", f"a{i}-{n}", f"agent-{i}") == n
        except Exception as exc:  # surfaced below, with the agent
            errors.append((i, exc))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i in range(8):
        log = mem.access_log(agent_id=f"agent-{i}", namespace="busy", limit=1000)
        assert sorted((r.action, r.key) for r in log) == sorted(
            (action, f"a{i}-{n}") for n in range(40) for action in ("write", "read")
        )
        assert all(r.success for r in log)


def test_access_log_as_agent_sees_admin_namespaces_only(mem):
    """access_log(agent=X) shows only records of namespaces where X is admin."""
    mem.write("alice-ns", "k", 1, "alice")
    mem.write("bob-ns", "k", 1, "bob")
    mem.read("alice-ns", "k", "bob")
    records = mem.access_log(agent="alice")
    assert {r.namespace for r in records} == {"alice-ns"}
    assert [(r.agent_id, r.action) for r in records] == [("bob", "read"), ("alice", "write")]


def test_access_log_counts_in_stats(mem):
    """stats()['total_access_logs'] grows by one per audited operation."""
    before = mem.stats()["total_access_logs"]
    mem.write("ns", "a", 1)
    mem.read("ns", "a")
    mem.delete("ns", "a")
    assert mem.stats()["total_access_logs"] == before + 3


# ---------------------------------------------------------------- stats


def test_stats_fresh_store(mem):
    """A fresh store has one namespace ('default') and no entries."""
    stats = mem.stats()
    assert stats["namespaces"] == 1
    assert stats["total_entries"] == 0
    assert stats["subscriptions"] == 0
    assert stats["per_namespace"]["default"]["entries"] == 0
    assert isinstance(stats["total_access_logs"], int)
    assert isinstance(stats["backend"], str)
    assert stats["backend"]


def test_stats_counts_namespaces_and_entries(mem):
    """stats counts namespaces, entries in all and per namespace, and value bytes."""
    mem.write_many("a", {"x": "ready", "y": {"a": 1}})
    mem.write("b", "z", [1, 2, 3])
    mem.create_namespace("empty")
    mem.delete("a", "y")
    stats = mem.stats()
    assert stats["namespaces"] == 4
    assert stats["total_entries"] == 2
    per = stats["per_namespace"]
    assert (per["a"]["entries"], per["b"]["entries"], per["empty"]["entries"]) == (1, 1, 0)
    assert per["a"]["bytes"] == len(b'"ready"')
    assert per["b"]["bytes"] == len(b"[1,2,3]")
    assert per["empty"]["bytes"] == 0


def test_stats_bytes_are_utf8_bytes(mem):
    """Per-namespace bytes count the UTF-8 bytes of the serialized values (the unit of
    max_value_bytes), not characters."""
    value = "héllo \U0001f41d"
    mem.write("ns", "k", value)
    expected = len(json.dumps(value, ensure_ascii=False).encode())
    assert mem.stats()["per_namespace"]["ns"]["bytes"] == expected
