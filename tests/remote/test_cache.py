"""The near-cache of a remote client (connect(..., cache=True)), against a real server."""

from __future__ import annotations

import threading

from hivemem.testing.helpers import wait_until


def test_reads_hit_the_cache_after_the_first(store):
    mem = store.connect("alice", "admin", cache=True)
    mem.write("ns", "k", {"v": 1})
    assert mem.read("ns", "k") == {"v": 1}
    before = store.hub.metrics.count
    for _ in range(20):
        assert mem.read("ns", "k") == {"v": 1}
    assert store.hub.metrics.count == before  # no request reached the server
    stats = mem.get_metrics()["cache"]
    assert stats["hits"] >= 20
    assert 0 < stats["hit_rate"] <= 1


def test_a_client_reads_its_own_writes(store):
    mem = store.connect("alice", "admin", cache=True)
    mem.write("ns", "k", 1)
    assert mem.read("ns", "k") == 1
    for i in range(2, 30):
        mem.write("ns", "k", i)
        assert mem.read("ns", "k") == i
    mem.delete("ns", "k")
    assert mem.read("ns", "k") is None


def test_another_agents_write_evicts_the_cached_entry(store):
    reader = store.connect("reader", "admin", cache=True)
    writer = store.connect("writer", "admin")
    writer.write("ns", "k", "old")
    assert reader.read("ns", "k") == "old"
    assert reader.read("ns", "k") == "old"  # cached
    writer.write("ns", "k", "new")
    wait_until(lambda: reader.read("ns", "k") == "new", timeout=5)
    writer.delete("ns", "k")
    wait_until(lambda: reader.read("ns", "k") is None, timeout=5)


def test_a_cached_absence_ends_when_the_key_appears(store):
    reader = store.connect("reader", "admin", cache=True)
    writer = store.connect("writer", "admin")
    writer.write("ns", "other", 0)
    assert reader.read("ns", "k") is None
    writer.write("ns", "k", 7)
    wait_until(lambda: reader.read("ns", "k") == 7, timeout=5)


def test_clearing_the_namespace_drops_its_cache(store):
    reader = store.connect("reader", "admin", cache=True)
    writer = store.connect("writer", "admin")
    writer.write("ns", "a", 1)
    writer.write("ns", "b", 2)
    assert reader.read("ns", "a") == 1
    assert reader.read("ns", "b") == 2
    writer.clear_namespace("ns")
    wait_until(lambda: reader.read("ns", "a") is None and reader.read("ns", "b") is None)


def test_losing_read_permission_is_not_hidden_by_the_cache(store):
    admin = store.connect("boss", "admin")
    admin.create_namespace("ns", default_permission="read")
    admin.write("ns", "k", 1)
    reader = store.connect("reader", cache=True)
    assert reader.read("ns", "k") == 1
    admin.update_namespace("ns", default_permission=None)

    def refused() -> bool:
        try:
            reader.read("ns", "k")
        except Exception as exc:  # PermissionDenied once the cache is dropped
            return type(exc).__name__ == "PermissionDenied"
        return False

    wait_until(refused, timeout=5)


def test_clear_cache_forgets_entries(store):
    mem = store.connect("alice", "admin", cache=True)
    mem.write("ns", "k", 1)
    mem.read("ns", "k")
    assert mem.get_metrics()["cache"]["size"] >= 1
    mem.clear_cache()
    assert mem.get_metrics()["cache"]["size"] == 0
    assert mem.read("ns", "k") == 1


def test_cached_reads_stay_coherent_under_concurrent_writers(store):
    """Four writers increment one counter each through CAS; a caching reader never sees a
    counter go backwards and ends on the final values."""
    reader = store.connect("reader", "admin", cache=True)
    writers = [store.connect(f"w{i}", "admin") for i in range(4)]
    for i in range(4):
        writers[i].write("ns", f"c{i}", 0)
    seen = {f"c{i}": 0 for i in range(4)}
    done = threading.Event()
    errors: list[str] = []

    def write(i: int) -> None:
        mem = writers[i]
        for n in range(1, 51):
            mem.write("ns", f"c{i}", n)

    def read() -> None:
        while not done.is_set():
            for key in seen:
                value = reader.read("ns", key)
                if value < seen[key]:
                    errors.append(f"{key} went back from {seen[key]} to {value}")
                seen[key] = value

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    watcher = threading.Thread(target=read)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_until(lambda: all(reader.read("ns", f"c{i}") == 50 for i in range(4)), timeout=10)
    done.set()
    watcher.join()
    assert errors == []
