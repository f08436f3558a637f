"""The asyncio API (``AsyncMemory``): same names and rules as ``Memory``, awaitable.

A representative subset of the suite, through ``connect_async``.
"""

from __future__ import annotations

import asyncio

import pytest

from hivemem import (
    AsyncMemory,
    ConflictError,
    Entry,
    InvalidArgument,
    NamespaceFull,
    NamespaceNotFound,
    PermissionDenied,
    RevisionCompacted,
)
from hivemem.testing.helpers import Recorder


async def _until(predicate, timeout: float = 5.0) -> None:
    """Await until predicate() holds (the async twin of wait_until)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.005)


async def test_async_write_read_delete(amem, clock):
    """AsyncMemory writes, reads and deletes like Memory (same Entry, same versions)."""
    assert isinstance(amem, AsyncMemory)
    await amem.create_namespace("ns", "alice")
    entry = await amem.write("ns", "k", {"v": 1}, "agent-1")
    assert entry == Entry("ns", "k", {"v": 1}, "agent-1", 1, 2, clock.now, clock.now, None)
    assert await amem.read("ns", "k") == {"v": 1}
    assert await amem.get_entry("ns", "k") == entry
    assert (await amem.write("ns", "k", 2, "agent-2")).version == 2
    assert await amem.delete("ns", "k") is True
    assert await amem.read("ns", "k", default="gone") == "gone"
    assert (await amem.write("ns", "k", 3)).version == 1


async def test_async_default_agent_and_as_agent(amem):
    """The async connection's default agent is 'local'; as_agent changes it."""
    assert (await amem.write("ns", "a", 1)).owner == "local"
    assert (await amem.as_agent("a1").write("ns", "b", 1)).owner == "a1"


async def test_async_listing(amem):
    """get_keys, get_all, list_entries paging and read_many work through AsyncMemory."""
    await amem.write_many("ns", {f"k{i}": i for i in range(5)})
    assert await amem.get_keys("ns", prefix="k") == [f"k{i}" for i in range(5)]
    assert await amem.get_all("ns") == {f"k{i}": i for i in range(5)}
    page = await amem.list_entries("ns", limit=3)
    assert [e.key for e in page.items] == ["k0", "k1", "k2"]
    rest = await amem.list_entries("ns", limit=3, cursor=page.next_cursor)
    assert [e.key for e in rest.items] == ["k3", "k4"]
    assert rest.next_cursor is None
    assert await amem.read_many("ns", ["k1", "nope"]) == {"k1": 1}


async def test_async_missing_namespace(amem):
    """Reading a missing namespace raises NamespaceNotFound through AsyncMemory too."""
    with pytest.raises(NamespaceNotFound):
        await amem.read("missing", "k")


async def test_async_first_wins_conflict(amem):
    """first-wins rejects the second writer through AsyncMemory, with a conflict event."""
    await amem.create_namespace("ns", conflict_strategy="first-wins")
    await amem.write("ns", "k", 1, "agent-1")
    rec = Recorder()
    amem.on("memory:conflict", rec)
    with pytest.raises(ConflictError) as exc:
        await amem.write("ns", "k", 2, "agent-2")
    assert exc.value.reason == "first_wins"
    assert await amem.read("ns", "k") == 1
    assert [(e.key, e.reason) for e in rec.events] == [("k", "first_wins")]


async def test_async_version_and_merge(amem):
    """version and merge strategies behave the same through AsyncMemory."""
    await amem.create_namespace("v", conflict_strategy="version")
    with pytest.raises(ConflictError) as exc:
        await amem.write("v", "k", 1)
    assert exc.value.reason == "version_required"
    await amem.write("v", "k", 1, expected_version=0)
    with pytest.raises(ConflictError) as exc:
        await amem.write("v", "k", 2, expected_version=0)
    assert (exc.value.reason, exc.value.current_version) == ("version_mismatch", 1)
    await amem.create_namespace("m", conflict_strategy="merge")
    await amem.write("m", "k", {"a": [1]})
    assert (await amem.write("m", "k", {"a": [2], "b": 1})).value == {"a": [1, 2], "b": 1}


async def test_async_custom_resolver(amem):
    """A custom resolver callable runs for AsyncMemory writes."""
    await amem.create_namespace(
        "ns", conflict_strategy="custom", resolver=lambda e, i, k: e if e.value > i.value else i
    )
    await amem.write("ns", "score", 100)
    with pytest.raises(ConflictError) as exc:
        await amem.write("ns", "score", 50)
    assert exc.value.reason == "rejected_by_resolver"
    assert await amem.read("ns", "score") == 100


async def test_async_permissions(amem):
    """Permission checks apply to AsyncMemory calls."""
    await amem.create_namespace("ns", "owner", default_permission="read")
    await amem.write("ns", "k", 1, "owner")
    assert await amem.read("ns", "k", "reader") == 1
    with pytest.raises(PermissionDenied):
        await amem.write("ns", "k", 2, "reader")
    with pytest.raises(PermissionDenied):
        await amem.clear_namespace("ns", "reader")
    assert await amem.read("ns", "k") == 1


async def test_async_write_many_all_or_nothing(amem):
    """write_many through AsyncMemory stores nothing if one item is refused."""
    await amem.create_namespace("ns", max_entries=2)
    with pytest.raises(NamespaceFull):
        await amem.write_many("ns", {"a": 1, "b": 2, "c": 3})
    assert await amem.get_keys("ns") == []


async def test_async_bad_input(amem):
    """Bad input raises InvalidArgument through AsyncMemory and stores nothing."""
    await amem.create_namespace("ns")
    with pytest.raises(InvalidArgument):
        await amem.write("ns", "k", {1, 2})
    with pytest.raises(InvalidArgument):
        await amem.write("ns", "", 1)
    with pytest.raises(InvalidArgument):
        await amem.write("ns", "k", 1, ttl=0)
    assert await amem.get_keys("ns") == []


async def test_async_ttl_and_cleanup(amem, clock):
    """Expired entries vanish at their expiry instant; cleanup() emits memory:expired."""
    await amem.write("ns", "k", 1, ttl=10)
    rec = Recorder()
    amem.on("memory:expired", rec)
    clock.advance(10)
    assert await amem.read("ns", "k") is None
    assert await amem.get_keys("ns") == []
    assert await amem.cleanup() == 1
    assert [(e.type, e.key) for e in rec.events] == [("memory:expired", "k")]


async def test_async_watch_replay(amem):
    """async for over await amem.watch(since=0) replays the stream in revision order."""
    await amem.create_namespace("ns")
    await amem.write("ns", "a", 1)
    await amem.broadcast("ns", "hi")
    events = [ev async for ev in await amem.watch("ns", since=0, timeout=0)]
    assert [(e.type, e.revision) for e in events] == [
        ("namespace:created", 1),
        ("memory:write", 2),
        ("memory:broadcast", 3),
    ]


async def test_async_watch_live(amem):
    """An async watch follows a write made after it started."""
    await amem.create_namespace("ns")
    stream = await amem.watch("ns", timeout=5)

    async def later() -> None:
        await asyncio.sleep(0.02)
        await amem.write("ns", "k", "live", "writer")

    task = asyncio.create_task(later())
    event = await anext(stream)
    await task
    await stream.aclose()
    assert (event.type, event.key, event.value, event.revision) == ("memory:write", "k", "live", 2)


async def test_async_watch_compacted(make_amem):
    """An async watch from a compacted revision raises RevisionCompacted."""
    m = make_amem(event_retention=3)
    for i in range(6):
        await m.write("ns", "k", i)
    with pytest.raises(RevisionCompacted):
        _ = [ev async for ev in await m.watch("ns", since=0, timeout=0)]


async def test_async_subscribe(amem):
    """subscribe takes a plain or async callback and delivers in revision order; calling
    the subscription unsubscribes."""
    await amem.create_namespace("ns")
    got: list[int] = []
    rec = Recorder()

    async def acallback(event):
        got.append(event.revision)

    sub = await amem.subscribe("ns", acallback, "agent-1")
    sub2 = await amem.subscribe("ns", rec)
    for i in range(3):
        await amem.write("ns", "k", i, "agent-2")
    await _until(lambda: len(got) == 3 and len(rec.events) == 3)
    assert got == [2, 3, 4]
    assert sub.last_revision == 4
    assert sub.error is None
    sub()
    await sub2.aunsubscribe()
    assert (await amem.stats())["subscriptions"] == 0


async def test_async_subscribe_needs_read(amem):
    """An async subscribe without read permission raises PermissionDenied."""
    await amem.create_namespace("ns", "owner", default_permission=None)
    with pytest.raises(PermissionDenied):
        await amem.subscribe("ns", lambda e: None, "stranger")


async def test_async_broadcast(amem):
    """broadcast through AsyncMemory returns the event and reaches on() listeners."""
    rec = Recorder()
    amem.on("memory:broadcast", rec)
    event = await amem.broadcast("ns", {"text": "hi"}, "sender")
    assert (event.type, event.message, event.agent_id) == (
        "memory:broadcast",
        {"text": "hi"},
        "sender",
    )
    assert rec.events == [event]


async def test_async_audit_and_stats(amem):
    """access_log and stats are awaitable and report the same things."""
    await amem.write("ns", "k", 1, "alice")
    await amem.read("ns", "k", "bob")
    log = await amem.access_log(namespace="ns")
    assert [(r.agent_id, r.action) for r in log] == [("bob", "read"), ("alice", "write")]
    stats = await amem.stats()
    assert stats["per_namespace"]["ns"]["entries"] == 1
    assert await amem.ping() is True


async def test_async_namespace_view(amem):
    """A namespace view of an AsyncMemory returns awaitables."""
    team = amem.namespace("team", agent="a1")
    entry = await team.write("status", "ready")
    assert (entry.namespace, entry.owner) == ("team", "a1")
    assert await team.read("status") == "ready"
    assert await team.get_keys() == ["status"]


async def test_async_aclose_idempotent_and_context_manager(make_amem):
    """aclose() may be awaited twice; async with closes the store."""
    m = make_amem()
    await m.write("ns", "k", 1)
    await m.aclose()
    await m.aclose()
    async with make_amem() as m2:
        assert isinstance(m2, AsyncMemory)
        await m2.write("ns", "k", 1)


async def test_async_exists(amem):
    """The async twin of exists answers as the sync one."""
    await amem.write("ns", "k", 1)
    assert await amem.exists("ns", "k") is True
    assert await amem.exists("ns", "other") is False


async def test_async_history_and_as_of(amem):
    """The async twins of history and as_of reads answer as the sync ones."""
    first = await amem.write("ns", "k", 1)
    await amem.write("ns", "k", 2)
    assert [v.value for v in await amem.history("ns", "k")] == [2, 1]
    assert await amem.read("ns", "k", as_of=first.revision) == 1
    page = await amem.list_entries("ns", as_of=first.revision)
    assert [(e.key, e.value) for e in page.items] == [("k", 1)]
