"""Seed 001 (the TypeScript shared-memory design): every code example, in our Python API.

Translation notes: the seed passes the agent last (we do too, or ``agent=``); its TTL is in
milliseconds, ours in seconds; ``updatePermissions(ns, agent, perms, admin)`` is our
``update_permissions(ns, perms, admin)``; ``getAccessLog({...})`` is ``access_log(...)``;
``destroy()`` is ``close()`` (``destroy`` is kept as an alias); a rejected write raises
``ConflictError`` / ``PermissionDenied`` instead of returning false.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest

import hivemem
from hivemem import ConflictError, Event, PermissionDenied
from hivemem.testing.clock import FakeClock
from hivemem.testing.helpers import Recorder, wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def memory(clock: FakeClock) -> Iterator[hivemem.Memory]:
    """createSharedMemory({maxLogSize: 1000}) with a fake clock and no background sweeper."""
    m = hivemem.connect("memory://", max_log_size=1000, cleanup_interval=0, clock=clock)
    yield m
    m.close()


def test_basic_usage():
    """Basic Usage: create a namespace, agent-1 writes, agent-2 reads 'ready'."""
    memory = hivemem.connect(
        "memory://", max_log_size=1000, cleanup_interval=60
    )  # clean up every minute
    with memory:
        memory.create_namespace(
            "team-chat", default_permission="write", conflict_strategy="latest-wins"
        )
        memory.write("team-chat", "status", "ready", "agent-1")
        status = memory.read("team-chat", "status", "agent-2")
        assert status == "ready"


def test_permission_control(memory):
    """Permission Control: admin does everything, writer reads and writes, reader only
    reads, an unknown agent has no access."""
    memory.create_namespace(
        "sensitive",
        default_permission=None,
        permissions={
            "admin-agent": "admin",
            "writer-agent": "write",
            "reader-agent": "read",
        },
    )
    memory.write("sensitive", "key", "value", "admin-agent")
    assert memory.delete("sensitive", "key", "admin-agent") is True

    memory.write("sensitive", "key", "value", "writer-agent")
    assert memory.read("sensitive", "key", "writer-agent") == "value"

    assert memory.read("sensitive", "key", "reader-agent") == "value"
    with pytest.raises(PermissionDenied):
        memory.write("sensitive", "key", "value", "reader-agent")

    with pytest.raises(PermissionDenied):
        memory.read("sensitive", "key", "unknown-agent")


def test_real_time_subscriptions(memory):
    """Real-time Subscriptions: a subscriber sees key, value, agent and action of a write
    by another agent; unsubscribing stops it."""
    changes: list[dict[str, Any]] = []

    def on_change(data: Event) -> None:
        if data.action in ("write", "delete"):
            changes.append(
                {
                    "key": data.key,
                    "value": data.value,
                    "agent_id": data.agent_id,
                    "action": data.action,
                }
            )

    unsubscribe = memory.subscribe("events", on_change, "agent-1")
    memory.write("events", "user-joined", {"id": "123"}, "agent-2")
    wait_until(lambda: changes)
    unsubscribe()
    assert changes == [
        {"key": "user-joined", "value": {"id": "123"}, "agent_id": "agent-2", "action": "write"}
    ]
    assert memory.stats()["subscriptions"] == 0


def test_broadcasting(memory):
    """Broadcasting: on('memory:broadcast') hears the sender and the message."""
    heard: list[tuple[str, Any]] = []
    memory.on("memory:broadcast", lambda msg: heard.append((msg.agent_id, msg.message)))
    memory.broadcast(
        "announcements",
        {
            "type": "alert",
            "text": "System maintenance in 1 hour",
        },
        "system-agent",
    )
    assert heard == [("system-agent", {"type": "alert", "text": "System maintenance in 1 hour"})]


def test_conflict_latest_wins(memory):
    """Latest Wins (default): 1 then 2 gives 2."""
    memory.create_namespace("latest", conflict_strategy="latest-wins")
    memory.write("latest", "value", 1, "agent-1")
    memory.write("latest", "value", 2, "agent-2")
    assert memory.read("latest", "value") == 2


def test_conflict_first_wins(memory):
    """First Wins: the second write is rejected; the result stays 1."""
    memory.create_namespace("first", conflict_strategy="first-wins")
    memory.write("first", "value", 1, "agent-1")
    with pytest.raises(ConflictError) as exc:
        memory.write("first", "value", 2, "agent-2")
    assert exc.value.reason == "first_wins"
    assert memory.read("first", "value") == 1


def test_conflict_merge(memory):
    """Merge: {name: 'Alice'} then {age: 30} gives {name: 'Alice', age: 30}."""
    memory.create_namespace("merge", conflict_strategy="merge")
    memory.write("merge", "user", {"name": "Alice"}, "agent-1")
    memory.write("merge", "user", {"age": 30}, "agent-2")
    assert memory.read("merge", "user") == {"name": "Alice", "age": 30}


def test_conflict_version(memory):
    """Version (named in the seed's strategy list): optimistic locking by version."""
    memory.create_namespace("versioned", conflict_strategy="version")
    memory.write("versioned", "doc", "v1", "agent-1", expected_version=0)
    memory.write("versioned", "doc", "v2", "agent-1", expected_version=1)
    with pytest.raises(ConflictError) as exc:
        memory.write("versioned", "doc", "stale", "agent-2", expected_version=1)
    assert exc.value.reason == "version_mismatch"
    assert memory.read("versioned", "doc") == "v2"


def test_conflict_custom(memory):
    """Custom: a resolver that keeps the higher value rejects 50 after 100."""

    def keep_higher(existing, incoming, key):
        if existing.value > incoming.value:
            return existing
        return incoming

    memory.create_namespace("custom", conflict_strategy="custom", resolver=keep_higher)
    memory.write("custom", "score", 100, "agent-1")
    with pytest.raises(ConflictError) as exc:
        memory.write("custom", "score", 50, "agent-2")
    assert exc.value.reason == "rejected_by_resolver"
    assert memory.read("custom", "score") == 100


def test_ttl_and_cleanup(memory, clock):
    """TTL and Cleanup: a 5-minute namespace TTL (300000 ms = 300 s) removes the token."""
    memory.create_namespace("session", ttl=300)
    memory.write("session", "token", "abc123", "agent-1")
    clock.advance(299)
    assert memory.read("session", "token", "agent-1") == "abc123"
    clock.advance(1)
    assert memory.read("session", "token", "agent-1") is None
    assert memory.cleanup() == 1
    assert memory.get_keys("session") == []


def test_access_logging(memory):
    """Access Logging: all logs, by agent with a limit, by namespace and action; each
    record has timestamp, agent, action, success and error."""
    memory.create_namespace("team-chat")
    memory.write("team-chat", "status", "ready", "agent-1")
    memory.read("team-chat", "status", "agent-2")
    memory.create_namespace("locked", default_permission="read")
    with pytest.raises(PermissionDenied):
        memory.write("locked", "x", 1, "agent-1")

    all_logs = memory.access_log()
    assert len(all_logs) >= 5

    agent_logs = memory.access_log(agent_id="agent-1", limit=100)
    assert [(r.namespace, r.action, r.success) for r in agent_logs] == [
        ("locked", "write", False),
        ("team-chat", "write", True),
    ]

    write_logs = memory.access_log(namespace="team-chat", action="write")
    assert [(r.agent_id, r.key) for r in write_logs] == [("agent-1", "status")]

    lines = []
    for log in all_logs:
        lines.append(
            f"{log.timestamp}: {log.agent_id} {log.action} {'OK' if log.success else 'FAILED'}"
        )
        if log.error:
            lines.append(f"  Error: {log.error}")
    assert any("agent-1 write FAILED" in line for line in lines)
    assert any(line.startswith("  Error: permission_denied") for line in lines)


def test_get_all_keys(memory):
    """Get All Keys: getKeys returns ['key1', 'key2', 'key3']."""
    for i in (1, 2, 3):
        memory.write("namespace", f"key{i}", f"value{i}", "agent-id")
    assert memory.get_keys("namespace", "agent-id") == ["key1", "key2", "key3"]


def test_get_all_entries(memory):
    """Get All Entries: getAll returns {key1: value1, ...}."""
    for i in (1, 2, 3):
        memory.write("namespace", f"key{i}", f"value{i}", "agent-id")
    assert memory.get_all("namespace", "agent-id") == {
        "key1": "value1",
        "key2": "value2",
        "key3": "value3",
    }


def test_clear_namespace_admin_only(memory):
    """Clear Namespace: only admins can clear."""
    memory.create_namespace("namespace", "admin-agent")
    memory.write("namespace", "key1", 1, "writer")
    with pytest.raises(PermissionDenied):
        memory.clear_namespace("namespace", "writer")
    assert memory.clear_namespace("namespace", "admin-agent") == 1
    assert memory.get_keys("namespace", "admin-agent") == []


def test_delete_namespace_admin_only(memory):
    """Delete Namespace: only admins can delete."""
    memory.create_namespace("namespace", "admin-agent")
    with pytest.raises(PermissionDenied):
        memory.delete_namespace("namespace", "writer")
    memory.delete_namespace("namespace", "admin-agent")
    assert "namespace" not in [n.name for n in memory.list_namespaces()]


def test_update_permissions(memory):
    """Update Permissions: an admin grants new-agent write and existing-agent admin."""
    memory.create_namespace(
        "namespace",
        "admin-agent",
        default_permission="read",
        permissions={"existing-agent": "write"},
    )
    memory.update_permissions(
        "namespace",
        {
            "new-agent": "write",
            "existing-agent": "admin",
        },
        "admin-agent",
    )
    info = memory.get_namespace("namespace")
    assert info.permissions == {
        "existing-agent": "admin",
        "admin-agent": "admin",
        "new-agent": "write",
    }
    memory.write("namespace", "k", 1, "new-agent")
    memory.clear_namespace("namespace", "existing-agent")
    with pytest.raises(PermissionDenied):
        memory.update_permissions("namespace", {"new-agent": "admin"}, "new-agent")


def test_get_statistics(memory):
    """Get Statistics: namespaces, total entries, access logs and subscriptions."""
    memory.write("a", "k1", 1)
    memory.write("a", "k2", 2)
    memory.write("b", "k1", 3)
    unsubscribe = memory.subscribe("a", lambda e: None)
    stats = memory.stats()
    assert {
        "namespaces": stats["namespaces"],
        "total_entries": stats["total_entries"],
        "subscriptions": stats["subscriptions"],
    } == {"namespaces": 3, "total_entries": 3, "subscriptions": 1}
    assert stats["total_access_logs"] >= 4
    unsubscribe()


def test_event_handling(memory):
    """Event Handling: write, read, conflict and namespace created/cleared/deleted events
    carry the agent, namespace, key and reason."""
    seen: list[tuple[Any, ...]] = []
    memory.on("memory:write", lambda e: seen.append(("write", e.agent_id, e.namespace, e.key)))
    memory.on("memory:read", lambda e: seen.append(("read", e.agent_id, e.namespace, e.key)))
    memory.on("memory:conflict", lambda e: seen.append(("conflict", e.reason, e.namespace, e.key)))
    memory.on("namespace:created", lambda e: seen.append(("created", e.namespace)))
    memory.on("namespace:cleared", lambda e: seen.append(("cleared", e.namespace)))
    memory.on("namespace:deleted", lambda e: seen.append(("deleted", e.namespace)))

    memory.create_namespace("ev", "agent-1", conflict_strategy="first-wins")
    memory.write("ev", "k", 1, "agent-1")
    memory.read("ev", "k", "agent-2")
    with pytest.raises(ConflictError):
        memory.write("ev", "k", 2, "agent-2")
    memory.clear_namespace("ev", "agent-1")
    memory.delete_namespace("ev", "agent-1")
    assert seen == [
        ("created", "ev"),
        ("write", "agent-1", "ev", "k"),
        ("read", "agent-2", "ev", "k"),
        ("conflict", "first_wins", "ev", "k"),
        ("cleared", "ev"),
        ("deleted", "ev"),
    ]


def test_multi_agent_collaboration_pattern():
    """Multi-Agent Collaboration: a coordinator assigns tasks in a merge namespace; workers
    subscribed to 'tasks' process each write and store results where they have write;
    the coordinator (admin of results) reads them all."""
    shared_memory = hivemem.connect("memory://", cleanup_interval=0)
    with shared_memory:
        shared_memory.create_namespace(
            "tasks", default_permission="write", conflict_strategy="merge"
        )
        shared_memory.create_namespace(
            "results",
            default_permission="read",
            permissions={
                "worker-1": "write",
                "worker-2": "write",
                "coordinator": "admin",
            },
        )

        class CoordinatorAgent:
            def __init__(self, name: str) -> None:
                self.name = name

            def assign_task(self, task: dict[str, Any]) -> None:
                shared_memory.write("tasks", f"task-{task['id']}", task, self.name)

            def check_results(self) -> dict[str, Any]:
                return shared_memory.get_all("results", self.name)

        class WorkerAgent:
            def __init__(self, name: str) -> None:
                self.name = name
                self.processed: list[int] = []
                self.lock = threading.Lock()
                self.unsubscribe = shared_memory.subscribe("tasks", self.on_task, self.name)

            def on_task(self, data: Event) -> None:
                if data.action == "write" and data.value["worker"] == self.name:
                    self.process_task(data.value)

            def process_task(self, task: dict[str, Any]) -> None:
                result = {"task": task["id"], "answer": task["n"] * 2, "by": self.name}
                shared_memory.write("results", f"result-{task['id']}", result, self.name)
                with self.lock:
                    self.processed.append(task["id"])

        coordinator = CoordinatorAgent("coordinator")
        workers = [WorkerAgent("worker-1"), WorkerAgent("worker-2")]
        for i in range(1, 5):
            coordinator.assign_task({"id": i, "n": i * 10, "worker": f"worker-{2 - i % 2}"})
        wait_until(lambda: len(coordinator.check_results()) == 4)
        assert coordinator.check_results() == {
            f"result-{i}": {"task": i, "answer": i * 20, "by": f"worker-{2 - i % 2}"}
            for i in range(1, 5)
        }
        assert sorted(workers[0].processed) == [1, 3]
        assert sorted(workers[1].processed) == [2, 4]
        with pytest.raises(PermissionDenied):
            shared_memory.write("results", "result-x", {}, "outsider")
        for w in workers:
            w.unsubscribe()


def test_integration_with_agents(memory):
    """Integration: agents share discoveries through a collaboration namespace."""
    memory.create_namespace("agent-collaboration", default_permission="write")

    class CollaborativeAgent:
        def __init__(self, name: str) -> None:
            self.name = name
            self.memory = memory

        def share_discovery(self, key: str, value: Any) -> None:
            self.memory.write("agent-collaboration", key, value, self.name)

        def get_shared_knowledge(self, key: str) -> Any:
            return self.memory.read("agent-collaboration", key, self.name)

    alice, bob = CollaborativeAgent("alice"), CollaborativeAgent("bob")
    alice.share_discovery("insight", {"fact": "bees dance"})
    assert bob.get_shared_knowledge("insight") == {"fact": "bees dance"}
    assert memory.get_entry("agent-collaboration", "insight").owner == "alice"


def test_cleanup_destroy():
    """Cleanup: destroy() stops the cleanup interval and the listeners; it is idempotent."""
    baseline = set(threading.enumerate())
    memory = hivemem.connect("memory://", cleanup_interval=0.05)
    rec = Recorder()
    memory.on("*", rec)
    memory.subscribe("ns", rec)
    memory.destroy()
    memory.destroy()
    wait_until(lambda: set(threading.enumerate()) <= baseline)
