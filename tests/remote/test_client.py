"""The http:// client beyond the conformance suite: breaker, listeners, resolvers, agents."""

from __future__ import annotations

import threading
import time

import pytest

import hivemem
from hivemem.errors import BackendUnavailable, CircuitOpen, PermissionDenied, Unauthenticated
from hivemem.remote.breaker import CircuitBreaker
from hivemem.testing.helpers import Recorder
from hivemem.testing.server import free_port


def test_breaker_opens_after_threshold_then_probes_and_closes():
    breaker = CircuitBreaker(threshold=3, reset_timeout=0.2)
    for _ in range(3):
        breaker.before()
        breaker.failure()
    assert breaker.status()["state"] == "open"
    with pytest.raises(CircuitOpen):
        breaker.before()
    time.sleep(0.25)
    assert breaker.status()["state"] == "half_open"
    breaker.before()  # the probe goes through
    with pytest.raises(CircuitOpen):
        breaker.before()  # only one probe at a time
    breaker.success()
    assert breaker.status() == {"state": "closed", "failures": 0, "opened_at": None}


def test_breaker_failed_probe_reopens():
    breaker = CircuitBreaker(threshold=1, reset_timeout=0.1)
    breaker.before()
    breaker.failure()
    time.sleep(0.15)
    breaker.before()
    breaker.failure()
    assert breaker.status()["state"] == "open"
    breaker.reset()
    assert breaker.status()["state"] == "closed"


def test_unreachable_server_fails_fast_with_circuit_open(tmp_path):
    port = free_port()  # nothing listens here
    with pytest.raises(BackendUnavailable):
        hivemem.connect(f"http://127.0.0.1:{port}", token="hm_x", timeout=0.5)


def test_client_breaker_status_and_reset(store, server):
    mem = store.connect("alice", "admin", retries=0)
    assert mem.circuit_breaker_status()["state"] == "closed"
    server.unmount(store.url)
    # The dispatcher answers 404 for an unmounted store: not a failure of the server.
    with pytest.raises(hivemem.HivememError):
        mem.read("ns", "k")
    assert mem.circuit_breaker_status()["state"] == "closed"
    breaker = mem._b.breaker  # type: ignore[attr-defined]
    for _ in range(breaker.threshold):
        breaker.failure()
    assert mem.circuit_breaker_status()["state"] == "open"
    with pytest.raises(CircuitOpen):
        mem.read("ns", "k")
    mem.reset_circuit_breaker()
    assert mem.circuit_breaker_status()["state"] == "closed"


def test_token_decides_the_agent(store):
    mem = store.connect("alice")
    assert mem.agent == "alice"
    assert mem.write("ns", "k", 1).owner == "alice"
    with pytest.raises(PermissionDenied):
        mem.write("ns", "k", 2, "mallory")
    with pytest.raises(PermissionDenied):
        hivemem.connect(store.url, token=store.token("bob"), agent="mallory")
    with pytest.raises(Unauthenticated):
        hivemem.connect(store.url, token="hm_not-a-token")
    with pytest.raises(Unauthenticated):
        hivemem.connect(store.url)


def test_token_from_environment(store, monkeypatch):
    monkeypatch.setenv("HIVEMEM_TOKEN", store.token("envy"))
    monkeypatch.setenv("HIVEMEM_URL", store.url)
    with hivemem.connect() as mem:
        assert mem.agent == "envy"


def test_listeners_get_the_events_of_own_ops(store):
    mem = store.connect("alice", "admin")
    rec = Recorder()
    mem.on("*", rec)
    mem.write("ns", "k", 1)
    mem.read("ns", "k")
    mem.delete("ns", "k")
    assert rec.types == ["namespace:created", "memory:write", "memory:read", "memory:delete"]


def test_client_side_resolver_is_exact_under_contention(store):
    """A callable resolver runs in each client (read, resolve, CAS): 4 clients x 25 adds."""
    owner = store.connect("owner", "admin")

    def add(existing, incoming, key):
        return existing.value + incoming.value

    owner.create_namespace("sums", conflict_strategy="custom", resolver=add)
    owner.write("sums", "total", 0)
    clients = [store.connect(f"c{i}", "admin") for i in range(4)]
    for c in clients:
        c._c.settings.resolvers.update(owner._c.settings.resolvers)  # each client has the fn

    def run(c: hivemem.Memory) -> None:
        for _ in range(25):
            c.write("sums", "total", 1)

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entry = owner.get_entry("sums", "total")
    assert entry.value == 100
    assert entry.version == 101


def test_resolved_flag_is_refused_outside_client_resolved_namespaces(store):
    mem = store.connect("alice", "admin")
    mem.create_namespace("fw", conflict_strategy="first-wins")
    mem.write("fw", "k", 1)
    import httpx

    resp = httpx.put(
        f"{store.url}/v1/namespaces/fw/entries/k",
        json={"value": 2, "expected_version": 1, "resolved": True},
        headers={"Authorization": f"Bearer {store.token('alice', 'admin')}"},
    )
    assert resp.status_code == 422
    assert mem.read("fw", "k") == 1


async def test_async_client_over_http(store):
    amem = hivemem.connect_async(store.url, token=store.token("async-agent", "admin"))
    try:
        await amem.write("ns", "k", {"a": 1})
        assert await amem.read("ns", "k") == {"a": 1}
        seen = []
        async for event in await amem.watch("ns", since=0, timeout=0.3):
            seen.append(event.revision)
        assert seen == [1, 2]
    finally:
        await amem.aclose()
