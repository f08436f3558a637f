"""Revisions and events: on, subscribe, watch, broadcast (SPEC §1, §4)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from hivemem import (
    ConflictError,
    Event,
    InvalidArgument,
    PermissionDenied,
    RevisionCompacted,
)
from hivemem.testing.helpers import Recorder, wait_until


def _every_kind_of_change(mem: Any, clock: Any) -> list[str]:
    """Run one change of every stream kind in namespace 'r'; return the expected types."""
    mem.create_namespace("r", "admin-1")
    mem.write("r", "a", 1, "admin-1")
    mem.write("r", "b", 2, "admin-1", ttl=1)
    mem.delete("r", "a", "admin-1")
    mem.broadcast("r", {"hello": "world"}, "admin-1")
    mem.update_namespace("r", "admin-1", description="changed")
    mem.update_permissions("r", {"bob": "read"}, "admin-1")
    clock.advance(1)
    mem.cleanup()
    mem.write("r", "c", 3, "admin-1")
    mem.clear_namespace("r", "admin-1")
    return [
        "namespace:created",
        "memory:write",
        "memory:write",
        "memory:delete",
        "memory:broadcast",
        "namespace:updated",
        "namespace:permissions_updated",
        "memory:expired",
        "memory:write",
        "namespace:cleared",
    ]


# ---------------------------------------------------------------- revisions


def test_every_change_takes_the_next_revision(mem, clock):
    """Every change in a namespace (create, write, delete, broadcast, config, permissions,
    expiry, clear, delete namespace) takes the next revision: 1, 2, 3... without gaps."""
    rec = Recorder()
    mem.on("*", rec)
    expected = _every_kind_of_change(mem, clock)
    mem.delete_namespace("r", "admin-1")
    stream = [e for e in rec.events if e.namespace == "r"]
    assert [e.revision for e in stream] == list(range(1, len(expected) + 2))


def test_each_stream_event_has_its_type(mem, clock):
    """Each kind of change emits its own event type, in the order of the changes."""
    rec = Recorder()
    mem.on("*", rec)
    expected = _every_kind_of_change(mem, clock)
    mem.delete_namespace("r", "admin-1")
    assert [e.type for e in rec.events if e.namespace == "r"] == [*expected, "namespace:deleted"]


def test_revisions_are_per_namespace(mem):
    """Each namespace counts its own revisions."""
    a1 = mem.write("a", "k", 1)
    b1 = mem.write("b", "k", 1)
    a2 = mem.write("a", "k", 2)
    assert (a1.revision, b1.revision, a2.revision) == (2, 2, 3)


def test_revisions_strictly_increase_under_concurrency(mem):
    """Concurrent writers never share or skip a revision."""
    mem.create_namespace("ns")
    revisions: list[int] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        for j in range(20):
            rev = mem.write("ns", f"{i}-{j}", j).revision
            with lock:
                revisions.append(rev)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(revisions) == list(range(2, 122))


def test_refused_operations_take_no_revision(mem):
    """Refused operations (permission, bad strategy condition) take no revision."""
    mem.create_namespace("ns", "owner", default_permission="read", conflict_strategy="version")
    with pytest.raises(PermissionDenied):
        mem.write("ns", "k", 1, "reader", expected_version=0)
    with pytest.raises(ConflictError):
        mem.write("ns", "k", 1, "owner")
    assert mem.write("ns", "k", 1, "owner", expected_version=0).revision == 2


# ---------------------------------------------------------------- on()


def test_on_receives_write_event_fields(mem, clock):
    """on('memory:write') gets an Event with type, namespace, revision, timestamp, agent,
    key, value and version."""
    rec = Recorder()
    mem.on("memory:write", rec)
    entry = mem.write("ns", "k", {"v": 1}, "agent-1")
    assert rec.events == [
        Event(
            type="memory:write",
            namespace="ns",
            revision=entry.revision,
            timestamp=clock.now,
            agent_id="agent-1",
            key="k",
            value={"v": 1},
            version=1,
        )
    ]
    assert rec.events[0].action == "write"


def test_on_star_receives_every_type(mem):
    """on('*') receives events of every type, memory:read included."""
    rec = Recorder()
    mem.on("*", rec)
    mem.create_namespace("ns")
    mem.write("ns", "k", 1)
    mem.read("ns", "k")
    mem.delete("ns", "k")
    assert rec.types == ["namespace:created", "memory:write", "memory:read", "memory:delete"]


def test_on_filters_by_type(mem):
    """on(type) receives only events of that type."""
    rec = Recorder()
    mem.on("memory:delete", rec)
    mem.write("ns", "k", 1)
    mem.delete("ns", "k")
    assert rec.types == ["memory:delete"]
    assert rec.events[0].key == "k"


def test_on_sees_all_namespaces(mem):
    """An in-process listener hears every namespace."""
    rec = Recorder()
    mem.on("memory:write", rec)
    mem.write("a", "k", 1)
    mem.write("b", "k", 2)
    assert [(e.namespace, e.value) for e in rec.events] == [("a", 1), ("b", 2)]


def test_on_returns_unsubscribe(mem):
    """The function on() returns stops that listener only."""
    first, second = Recorder(), Recorder()
    off = mem.on("memory:write", first)
    mem.on("memory:write", second)
    mem.write("ns", "k", 1)
    off()
    mem.write("ns", "k", 2)
    assert [e.value for e in first.events] == [1]
    assert [e.value for e in second.events] == [1, 2]


def test_read_event_is_local(mem, clock):
    """A read emits memory:read (revision 0) to listeners; it takes no revision and is not
    in the namespace's stream."""
    rec = Recorder()
    mem.on("memory:read", rec)
    entry = mem.write("ns", "k", "v", "writer")
    assert mem.read("ns", "k", "reader") == "v"
    (event,) = rec.events
    assert (event.type, event.namespace, event.key, event.agent_id, event.revision) == (
        "memory:read",
        "ns",
        "k",
        "reader",
        0,
    )
    assert event.timestamp == clock.now
    assert mem.get_namespace("ns").revision == entry.revision
    assert [e.type for e in mem.watch("ns", since=0, timeout=0)] == [
        "namespace:created",
        "memory:write",
    ]


def test_conflict_event_is_local(mem):
    """memory:conflict reaches listeners with revision 0 and is not in the stream."""
    mem.create_namespace("ns", conflict_strategy="first-wins")
    mem.write("ns", "k", 1)
    rec = Recorder()
    mem.on("*", rec)
    with pytest.raises(ConflictError):
        mem.write("ns", "k", 2)
    assert [(e.type, e.revision) for e in rec.events] == [("memory:conflict", 0)]
    assert [e.type for e in mem.watch("ns", since=0, timeout=0)] == [
        "namespace:created",
        "memory:write",
    ]


def test_on_unknown_event_type_is_refused(mem):
    """on() with an unknown event type raises InvalidArgument."""
    with pytest.raises(InvalidArgument):
        mem.on("memory:nope", lambda e: None)


def test_raising_listener_does_not_affect_writer_or_others(mem):
    """A listener that raises is logged; the write succeeds and the other listeners still
    get the event."""
    rec = Recorder()

    def boom(event):
        raise RuntimeError("listener failure")

    mem.on("memory:write", boom)
    mem.on("memory:write", rec)
    mem.on("*", boom)
    entry = mem.write("ns", "k", 1)
    assert entry.version == 1
    assert mem.read("ns", "k") == 1
    assert [e.key for e in rec.events] == ["k"]


# ---------------------------------------------------------------- subscribe()


def test_subscribe_delivers_changes_in_revision_order(mem):
    """subscribe calls back for each change of its namespace, in revision order, no gaps."""
    mem.create_namespace("ns")
    rec = Recorder()
    sub = mem.subscribe("ns", rec, "agent-1")
    try:
        for i in range(20):
            mem.write("ns", f"k{i}", i, "agent-2")
        mem.delete("ns", "k0", "agent-2")
        wait_until(lambda: len(rec.events) == 21)
        assert [e.revision for e in rec.events] == list(range(2, 23))
        assert rec.types == ["memory:write"] * 20 + ["memory:delete"]
        assert [e.value for e in rec.events[:20]] == list(range(20))
        assert sub.last_revision == 22
        assert sub.error is None
    finally:
        sub()


def test_subscribe_event_fields(mem):
    """A subscriber gets the key, value, agent and action of each change."""
    mem.create_namespace("events")
    rec = Recorder()
    unsubscribe = mem.subscribe("events", rec, "agent-1")
    mem.write("events", "user-joined", {"id": "123"}, "agent-2")
    wait_until(lambda: rec.events)
    unsubscribe()
    (event,) = rec.events
    assert (event.key, event.value, event.agent_id, event.action) == (
        "user-joined",
        {"id": "123"},
        "agent-2",
        "write",
    )


def test_subscribe_only_own_namespace(mem):
    """A subscription hears its namespace only."""
    mem.create_namespace("mine")
    rec = Recorder()
    sub = mem.subscribe("mine", rec)
    mem.write("other", "k", 1)
    mem.write("mine", "k", 2)
    wait_until(lambda: rec.events)
    sub()
    assert [(e.namespace, e.value) for e in rec.events] == [("mine", 2)]


def test_subscribe_excludes_local_events(mem):
    """Subscribers get stream events only: no memory:read or memory:conflict."""
    mem.create_namespace("ns", conflict_strategy="first-wins")
    rec = Recorder()
    sub = mem.subscribe("ns", rec)
    mem.write("ns", "k", 1)
    mem.read("ns", "k")
    with pytest.raises(ConflictError):
        mem.write("ns", "k", 2)
    mem.broadcast("ns", "done")
    wait_until(lambda: len(rec.events) >= 2)
    sub()
    assert rec.types == ["memory:write", "memory:broadcast"]


def test_subscribe_to_namespace_not_created_yet(mem):
    """Subscribing before a namespace exists works: the subscriber sees its creation and
    its first write (the seeds subscribe first and write later)."""
    rec = Recorder()
    sub = mem.subscribe("later", rec, "agent-1")
    mem.write("later", "k", 1, "agent-2")
    wait_until(lambda: len(rec.events) == 2)
    sub()
    assert [(e.type, e.revision) for e in rec.events] == [
        ("namespace:created", 1),
        ("memory:write", 2),
    ]


def test_unsubscribe_stops_delivery(mem):
    """After the subscription is called (unsubscribed) no more events arrive; calling it
    again is harmless."""
    mem.create_namespace("ns")
    rec = Recorder()
    sub = mem.subscribe("ns", rec)
    mem.write("ns", "k", 1)
    wait_until(lambda: rec.events)
    sub()
    sub()
    mem.write("ns", "k", 2)
    list(mem.watch("ns", since=0, timeout=0.05))  # give a stray delivery time to show up
    assert [e.value for e in rec.events] == [1]


def test_multiple_subscribers_each_get_everything(mem):
    """Several subscribers of one namespace each receive every event."""
    mem.create_namespace("ns")
    recs = [Recorder() for _ in range(3)]
    subs = [mem.subscribe("ns", r, f"agent-{i}") for i, r in enumerate(recs)]
    for i in range(5):
        mem.write("ns", "k", i)
    wait_until(lambda: all(len(r.events) == 5 for r in recs))
    for s in subs:
        s()
    assert all([e.value for e in r.events] == list(range(5)) for r in recs)


def test_raising_subscriber_does_not_affect_writer_or_others(mem):
    """A subscriber callback that raises keeps getting later events; writers and other
    subscribers are unaffected."""
    mem.create_namespace("ns")
    calls = []

    def boom(event):
        calls.append(event.revision)
        raise RuntimeError("subscriber failure")

    rec = Recorder()
    bad = mem.subscribe("ns", boom)
    good = mem.subscribe("ns", rec)
    for i in range(3):
        assert mem.write("ns", "k", i).version == i + 1
    wait_until(lambda: len(rec.events) == 3 and len(calls) == 3)
    assert bad.error is None
    bad()
    good()
    assert calls == [2, 3, 4]
    assert [e.value for e in rec.events] == [0, 1, 2]


def test_subscribe_needs_read(mem):
    """subscribe without read permission raises PermissionDenied."""
    mem.create_namespace("ns", "owner", default_permission=None)
    with pytest.raises(PermissionDenied):
        mem.subscribe("ns", lambda e: None, "stranger")


def test_subscription_stops_with_error_when_read_revoked(mem):
    """A subscriber whose read permission is revoked stops with a PermissionDenied error
    it can see, and gets nothing written after the revocation."""
    mem.create_namespace("ns", "owner", default_permission=None, permissions={"bob": "read"})
    rec = Recorder()
    sub = mem.subscribe("ns", rec, "bob")
    mem.write("ns", "before", 1, "owner")
    wait_until(lambda: any(e.key == "before" for e in rec.events))
    mem.update_permissions("ns", {"bob": None}, "owner")
    mem.broadcast("ns", "secret", "owner")
    mem.write("ns", "after", 2, "owner")
    wait_until(lambda: sub.error is not None)
    assert isinstance(sub.error, PermissionDenied)
    assert not any(e.type == "memory:broadcast" or e.key == "after" for e in rec.events)
    sub()


def test_stats_count_subscriptions(mem):
    """stats()['subscriptions'] counts the active subscriptions."""
    mem.create_namespace("ns")
    assert mem.stats()["subscriptions"] == 0
    a = mem.subscribe("ns", lambda e: None)
    b = mem.subscribe("ns", lambda e: None)
    assert mem.stats()["subscriptions"] == 2
    a()
    assert mem.stats()["subscriptions"] == 1
    b()
    assert mem.stats()["subscriptions"] == 0


# ---------------------------------------------------------------- watch()


def test_watch_replays_after_since(mem):
    """watch(since=N) replays the retained events after revision N, in order."""
    mem.create_namespace("ns")
    for i in range(5):
        mem.write("ns", "k", i)
    events = list(mem.watch("ns", since=0, timeout=0))
    assert [e.revision for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[0].type == "namespace:created"
    events = list(mem.watch("ns", since=4, timeout=0))
    assert [(e.revision, e.value) for e in events] == [(5, 3), (6, 4)]


def test_watch_since_current_is_empty(mem):
    """watch(since=current revision) replays nothing."""
    mem.create_namespace("ns")
    mem.write("ns", "k", 1)
    assert list(mem.watch("ns", since=2, timeout=0)) == []


def test_watch_default_starts_at_current_revision(mem):
    """watch() without since starts at the current revision: only later changes arrive."""
    mem.create_namespace("ns")
    mem.write("ns", "old", 1)
    it = mem.watch("ns", timeout=0.2)
    mem.write("ns", "new", 2)
    events = list(it)
    assert [(e.key, e.revision) for e in events] == [("new", 3)]


def test_watch_follows_live_writes(mem):
    """After replay, watch follows live changes made by another thread."""
    mem.create_namespace("ns")
    mem.write("ns", "a", 1)
    it = mem.watch("ns", since=1, timeout=5)
    assert next(it).key == "a"
    timer = threading.Timer(0.02, lambda: mem.write("ns", "b", 2, "writer"))
    timer.start()
    event = next(it)
    timer.join()
    it.close()
    assert (event.type, event.key, event.revision, event.agent_id) == (
        "memory:write",
        "b",
        3,
        "writer",
    )


def test_watch_timeout_ends_when_idle(mem):
    """watch(timeout=) ends the iteration after that long without an event."""
    mem.create_namespace("ns")
    assert list(mem.watch("ns", timeout=0.05)) == []


def test_watch_needs_read(mem):
    """watch without read permission raises PermissionDenied."""
    mem.create_namespace("ns", "owner", default_permission=None)
    with pytest.raises(PermissionDenied):
        list(mem.watch("ns", "stranger", since=0, timeout=0))


def test_watch_compacted_revision(make_mem):
    """With retention N, watching from a revision older than the retained events raises
    RevisionCompacted(oldest_available); resuming from oldest_available-1 replays the
    retained events without a gap."""
    m = make_mem(event_retention=5)
    m.create_namespace("ns")
    for i in range(10):
        m.write("ns", "k", i)  # revisions 2..11
    with pytest.raises(RevisionCompacted) as exc:
        list(m.watch("ns", since=0, timeout=0))
    oldest = exc.value.oldest_available
    assert exc.value.code == "revision_compacted"
    assert exc.value.status == 410
    assert 2 <= oldest <= 7
    events = list(m.watch("ns", since=oldest - 1, timeout=0))
    assert [e.revision for e in events] == list(range(oldest, 12))
    assert [e.revision for e in m.watch("ns", since=6, timeout=0)] == [7, 8, 9, 10, 11]


def test_watch_never_silently_skips(make_mem):
    """A watch from any revision either replays every later event or raises
    RevisionCompacted: never a gap."""
    m = make_mem(event_retention=3)
    for i in range(8):
        m.write("ns", "k", i)  # revisions 1..9
    for since in range(10):
        try:
            revisions = [e.revision for e in m.watch("ns", since=since, timeout=0)]
        except RevisionCompacted:
            continue
        assert revisions == list(range(since + 1, 10))


# ---------------------------------------------------------------- broadcast()


def test_broadcast_returns_event_and_reaches_listeners(mem, clock):
    """broadcast returns a memory:broadcast Event with the message, sender and a revision;
    on('memory:broadcast') listeners get it."""
    mem.create_namespace("announcements")
    rec = Recorder()
    mem.on("memory:broadcast", rec)
    message = {"type": "alert", "text": "System maintenance in 1 hour"}
    event = mem.broadcast("announcements", message, "system-agent")
    assert (event.type, event.namespace, event.agent_id, event.message, event.revision) == (
        "memory:broadcast",
        "announcements",
        "system-agent",
        message,
        2,
    )
    assert event.timestamp == clock.now
    assert rec.events == [event]


def test_broadcast_reaches_subscribers_with_read(mem):
    """A broadcast reaches every subscriber with read permission."""
    mem.create_namespace("ns", "owner", default_permission="read")
    rec = Recorder()
    sub = mem.subscribe("ns", rec, "listener")
    mem.broadcast("ns", ["any", "json", 1], "owner")
    wait_until(lambda: rec.events)
    sub()
    assert [(e.type, e.message, e.agent_id) for e in rec.events] == [
        ("memory:broadcast", ["any", "json", 1], "owner")
    ]


def test_broadcast_in_watch_stream(mem):
    """A broadcast is a stream event: a watch replays it."""
    mem.create_namespace("ns")
    mem.broadcast("ns", "hello")
    events = list(mem.watch("ns", since=1, timeout=0))
    assert [(e.type, e.message) for e in events] == [("memory:broadcast", "hello")]


def test_broadcast_needs_write(mem):
    """broadcast by a reader raises PermissionDenied and sends nothing."""
    mem.create_namespace("ns", "owner", default_permission="read")
    rec = Recorder()
    mem.on("memory:broadcast", rec)
    with pytest.raises(PermissionDenied):
        mem.broadcast("ns", "hi", "reader")
    assert rec.events == []
    assert mem.get_namespace("ns").revision == 1


def test_broadcast_stores_nothing(mem):
    """A broadcast changes no entry."""
    mem.create_namespace("ns")
    mem.broadcast("ns", {"k": "v"})
    assert mem.get_all("ns") == {}
