"""Task queues (SPEC §19): priorities, FIFO, delays, visibility, dead letters, claim_lost.

Every rule runs on every backend and over ``http://`` with the fake clock, so "after its
visibility" is an exact instant, not a sleep.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from hivemem import ConflictError, InvalidArgument, NamespaceNotFound, NotFound, PermissionDenied
from hivemem.types import Task


def _drain(q: Any, visibility: float = 30.0) -> list[Any]:
    """Claim and ack everything ready; the values in claim order."""
    out = []
    while (t := q.claim(visibility=visibility)) is not None:
        out.append(t.value)
        q.ack(t)
    return out


def test_queue_higher_priority_first_then_fifo(mem):
    """Claims take the highest priority first, and puts of one priority in put order."""
    q = mem.queue("team", "jobs")
    for i, prio in enumerate([0, 5, 0, -3, 5, 0]):
        q.put({"i": i}, priority=prio)
    assert [v["i"] for v in _drain(q)] == [1, 4, 0, 2, 5, 3]
    assert q.stats() == {"ready": 0, "claimed": 0, "delayed": 0, "dead": 0}


def test_queue_put_returns_the_task_and_claim_fills_the_claim(mem, clock):
    """put returns a ready Task; claim returns it with attempts, claimed_by and visible_at."""
    q = mem.queue("team", "jobs")
    put = q.put({"x": [1, 2]}, priority=2)
    assert isinstance(put, Task) and len(put.id) == 32
    assert (put.value, put.priority, put.attempts, put.claimed_by) == ({"x": [1, 2]}, 2, 0, None)
    assert put.enqueued_at == clock() and put.state == "ready"
    t = q.claim(worker="w1", visibility=12.5)
    assert t is not None and t.id == put.id
    assert (t.attempts, t.claimed_by, t.visible_at, t.state) == (1, "w1", clock() + 12.5, "claimed")
    assert t.token > 0
    assert q.stats() == {"ready": 0, "claimed": 1, "delayed": 0, "dead": 0}
    assert q.claim() is None


def test_queue_claim_on_an_empty_or_missing_queue_is_none(mem):
    """Nothing to claim answers None (also before the namespace exists)."""
    assert mem.queue("nowhere", "jobs").claim() is None
    q = mem.queue("team", "jobs")
    q.put(1)
    assert mem.queue("team", "other").claim() is None
    assert mem.queue("team", "other").stats() == {"ready": 0, "claimed": 0, "delayed": 0, "dead": 0}


def test_queue_delay_hides_a_task_until_it_ends(mem, clock):
    """A delayed task is claimable from put time + delay on, not before."""
    q = mem.queue("team", "jobs")
    q.put("later", delay=10)
    q.put("now")
    assert q.stats() == {"ready": 1, "claimed": 0, "delayed": 1, "dead": 0}
    assert _drain(q) == ["now"]
    clock.advance(9.9)
    assert q.claim() is None
    clock.advance(0.1)
    t = q.claim()
    assert t is not None and t.value == "later"


def test_queue_a_claim_not_acked_within_its_visibility_returns(mem, clock):
    """An unacked claim returns to ready at its visibility's end; the late ack is claim_lost."""
    q = mem.queue("team", "jobs")
    q.put("a")
    t1 = q.claim(visibility=5)
    clock.advance(4.9)
    assert q.claim() is None
    clock.advance(0.1)
    t2 = q.claim(visibility=5)
    assert t2 is not None and t2.id == t1.id and t2.attempts == 2 and t2.token > t1.token
    with pytest.raises(ConflictError) as err:
        q.ack(t1)
    assert err.value.reason == "claim_lost"
    q.ack(t2)
    assert q.stats() == {"ready": 0, "claimed": 0, "delayed": 0, "dead": 0}


def test_queue_ack_after_the_claim_lapsed_is_claim_lost_even_unclaimed(mem, clock):
    """Once the visibility passed, ack, nack and extend refuse at once; nothing changes."""
    q = mem.queue("team", "jobs")
    q.put("a")
    t = q.claim(visibility=5)
    clock.advance(5)
    for act, args in ((q.ack, (t,)), (q.nack, (t,)), (q.extend, (t, 10))):
        with pytest.raises(ConflictError) as err:
            act(*args)
        assert err.value.reason == "claim_lost"
    again = q.claim()
    assert again is not None and again.id == t.id


def test_queue_max_attempts_moves_a_task_to_the_dead_letters(mem, clock):
    """A task claimed max_attempts times and not acked ends in the dead letters."""
    q = mem.queue("team", "jobs", max_attempts=3)
    put = q.put("poison")
    for attempt in range(1, 4):
        t = q.claim(visibility=1)
        assert t is not None and t.attempts == attempt
        clock.advance(1)
    assert q.claim() is None
    assert q.stats() == {"ready": 0, "claimed": 0, "delayed": 0, "dead": 1}
    dead = q.dead_letters()
    assert [(d.id, d.value, d.attempts, d.state) for d in dead] == [(put.id, "poison", 3, "dead")]


def test_queue_nack_returns_now_or_after_a_delay_and_counts_attempts(mem, clock):
    """nack gives the task back (after its delay); at max_attempts it goes dead."""
    q = mem.queue("team", "jobs", max_attempts=2)
    q.put("a")
    t = q.claim()
    q.nack(t, delay=3)
    assert q.stats() == {"ready": 0, "claimed": 0, "delayed": 1, "dead": 0}
    assert q.claim() is None
    clock.advance(3)
    t = q.claim()
    assert t is not None and t.attempts == 2
    q.nack(t)
    assert q.stats() == {"ready": 0, "claimed": 0, "delayed": 0, "dead": 1}
    assert [d.value for d in q.dead_letters()] == ["a"]


def test_queue_extend_keeps_the_claim(mem, clock):
    """extend moves the claim's end to now + visibility; the same claim may still ack."""
    q = mem.queue("team", "jobs")
    q.put("a")
    t = q.claim(visibility=5)
    clock.advance(4)
    ext = q.extend(t, 10)
    assert ext.visible_at == clock() + 10 and ext.token == t.token
    clock.advance(9)
    assert q.claim() is None
    q.ack(t)
    assert q.stats()["claimed"] == 0


def test_queue_only_the_claims_holder_may_ack(mem):
    """Another agent, or a stale token, gets claim_lost and changes nothing."""
    mem.create_namespace("team", default_permission="write")
    q = mem.queue("team", "jobs")
    q.put("a")
    t = q.claim()
    other = mem.queue("team", "jobs", agent="mallory")
    for act, args in ((other.ack, (t,)), (other.nack, (t,)), (other.extend, (t, 5))):
        with pytest.raises(ConflictError) as err:
            act(*args)
        assert err.value.reason == "claim_lost"
    forged = Task(t.id, t.value, 0, 1, "x", None, 0.0, "team", "jobs", t.token + 1)
    with pytest.raises(ConflictError):
        q.ack(forged)
    assert q.stats() == {"ready": 0, "claimed": 1, "delayed": 0, "dead": 0}
    q.ack(t)
    with pytest.raises(ConflictError) as err:
        q.ack(t)  # acked already: gone
    assert err.value.reason == "claim_lost"


def test_queue_unknown_task_id_is_not_found(mem):
    """An id the queue never held, unclaimed, is NotFound; a malformed one InvalidArgument."""
    q = mem.queue("team", "jobs")
    put = q.put("a")
    ghost = Task("0" * 32, None, 0, 0, None, None, 0.0, "team", "jobs", 0)
    with pytest.raises(NotFound):
        q.ack(ghost)
    with pytest.raises(ConflictError):
        q.ack(put)  # exists, but not claimed
    with pytest.raises(InvalidArgument):
        q.ack(Task("nothex", None, 0, 0, None, None, 0.0))
    with pytest.raises(InvalidArgument):
        q.ack("0" * 32)
    with pytest.raises(NamespaceNotFound):
        mem.queue("nowhere", "jobs").ack(ghost)


def test_queue_idempotency_key_puts_once(mem, clock):
    """A put with a key already used in the queue returns the first task, adds nothing."""
    q = mem.queue("team", "jobs")
    a = q.put("first", idempotency_key="order-1")
    b = q.put("second", idempotency_key="order-1")
    c = q.put("third", idempotency_key="order-2")
    assert b.id == a.id and b.value == "first" and c.id != a.id
    assert q.stats()["ready"] == 2
    other = mem.queue("team", "other").put("x", idempotency_key="order-1")
    assert other.id != a.id  # per queue


@pytest.mark.parametrize(
    "bad",
    [-1, 0, math.nan, math.inf, 10**10, "5", True, None],
    ids=["negative", "zero", "nan", "inf", "huge", "string", "bool", "none"],
)
def test_queue_bad_visibility_is_refused(mem, bad):
    """claim and extend refuse a visibility that is not seconds in (0, 10 years]."""
    q = mem.queue("team", "jobs")
    q.put("a")
    with pytest.raises(InvalidArgument):
        q.claim(visibility=bad)
    t = q.claim()
    with pytest.raises(InvalidArgument):
        q.extend(t, bad)
    assert q.stats() == {"ready": 0, "claimed": 1, "delayed": 0, "dead": 0}


@pytest.mark.parametrize(
    "bad", [-1, math.nan, math.inf, 10**10, "5"], ids=["negative", "nan", "inf", "huge", "str"]
)
def test_queue_bad_delay_and_priority_are_refused(mem, bad):
    """put and nack refuse a bad delay, put a bad priority; nothing is written."""
    q = mem.queue("team", "jobs")
    with pytest.raises(InvalidArgument):
        q.put("a", delay=bad)
    with pytest.raises(InvalidArgument):
        q.put("a", priority=1 << 40)
    with pytest.raises(InvalidArgument):
        q.put("a", priority=1.5)
    q.put("a")
    t = q.claim()
    with pytest.raises(InvalidArgument):
        q.nack(t, delay=bad)
    assert q.stats() == {"ready": 0, "claimed": 1, "delayed": 0, "dead": 0}


def test_queue_bad_queue_names_and_options_are_refused(mem):
    """Queue names are 1-128 of A-Za-z0-9._:-; max_attempts 1-1000; dead_letters limit 1-10000."""
    for name in ("", "a/b", "x" * 129, "sp ace", "\x01q"):
        with pytest.raises(InvalidArgument):
            mem.queue("team", name)
    for n in (0, -1, 1001, 1.5):
        with pytest.raises(InvalidArgument):
            mem.queue("team", "jobs", max_attempts=n)
    q = mem.queue("team", "jobs")
    q.put(1)
    for limit in (0, 10_001):
        with pytest.raises(InvalidArgument):
            q.dead_letters(limit=limit)


def test_queue_events_tell_every_change(mem, clock):
    """put, claim, ack, nack, return and death are events of the namespace's stream."""
    q = mem.queue("team", "jobs", max_attempts=2)
    q.put("a")
    t = q.claim(visibility=1)
    q.nack(t)
    t = q.claim(visibility=1)
    clock.advance(1)
    assert q.claim() is None  # returns the lapsed claim: its second attempt, so dead
    q.put("b")
    t = q.claim()
    q.ack(t)
    types = [e.type for e in mem.watch("team", since=0, timeout=0) if e.type.startswith("task")]
    assert types == [
        "task:put",
        "task:claimed",
        "task:nacked",
        "task:claimed",
        "task:dead",
        "task:put",
        "task:claimed",
        "task:acked",
    ]


def test_queue_permissions(mem):
    """Acting on a queue needs write; stats and dead letters need read."""
    mem.create_namespace("team", default_permission=None, permissions={"reader": "read"})
    q = mem.queue("team", "jobs")
    q.put("a")
    reader = mem.queue("team", "jobs", agent="reader")
    assert reader.stats()["ready"] == 1
    assert reader.dead_letters() == []
    with pytest.raises(PermissionDenied):
        reader.put("b")
    with pytest.raises(PermissionDenied):
        reader.claim()
    stranger = mem.queue("team", "jobs", agent="stranger")
    with pytest.raises(PermissionDenied):
        stranger.stats()
    assert q.stats()["ready"] == 1


def test_queue_records_are_not_entries(mem):
    """A queue's records are not listed as entries; clearing the namespace empties its queues."""
    q = mem.queue("team", "jobs")
    q.put("a")
    mem.write("team", "k", 1)
    assert mem.get_keys("team") == ["k"]
    assert mem.list_entries("team").items[0].key == "k"
    mem.clear_namespace("team")
    assert q.stats() == {"ready": 0, "claimed": 0, "delayed": 0, "dead": 0}
    assert q.claim() is None


def test_queue_claim_wait_is_woken_by_a_put(mem, clock):
    """claim(wait=) returns the task put while it waits (woken by the namespace's events)."""
    import threading

    q = mem.queue("team", "jobs")
    q.put("warm")
    q.ack(q.claim())
    timer = threading.Timer(0.2, lambda: q.put("late"))
    timer.start()
    try:
        t = q.claim(wait=10)
    finally:
        timer.cancel()
    assert t is not None and t.value == "late"
    assert q.claim(wait=0.05) is None


async def test_queue_async_queue(amem, clock):
    """AsyncQueue: the same calls, awaited."""
    q = amem.queue("team", "jobs")
    await q.put("b", priority=1)
    await q.put("a", priority=2)
    t = await q.claim(visibility=3)
    assert t is not None and t.value == "a"
    await q.extend(t, 4)
    await q.ack(t)
    t = await q.claim()
    await q.nack(t, delay=1)
    assert await q.stats() == {"ready": 0, "claimed": 0, "delayed": 1, "dead": 0}
    assert await q.dead_letters() == []
    clock.advance(1)
    t = await q.claim(wait=1)
    assert t is not None and t.value == "b"


def test_queues_lists_every_queue_with_its_counts(mem, clock):
    """queues(ns): each queue once with its stats, in key order, paged; tasks do not page."""
    names = ["jobs", "a", "a.b", "a:x", "z-" + "q" * 120]
    for n, name in enumerate(names):
        q = mem.queue("team", name, max_attempts=1)
        for i in range(3 + n):
            q.put({"i": i}, delay=5.0 if i == 0 else 0.0)
    t = mem.queue("team", "jobs", max_attempts=1).claim(visibility=1.0)
    assert t is not None
    clock.advance(6.0)
    assert mem.queue("team", "jobs", max_attempts=1).claim(visibility=30) is not None
    expected = {name: mem.queue("team", name).stats() for name in names}
    assert expected["jobs"] == {"ready": 1, "claimed": 1, "delayed": 0, "dead": 1}
    seen = []
    cursor = None
    while True:
        page = mem.queues("team", limit=2, cursor=cursor)
        assert len(page.items) <= 2
        seen += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    # Key order: a name's records sort by "<name>/", so "a.b" comes before "a".
    assert [i.name for i in seen] == ["a.b", "a", "a:x", "jobs", names[4]]
    for info in seen:
        assert info.namespace == "team"
        counts = {"ready": info.ready, "claimed": info.claimed}
        counts |= {"delayed": info.delayed, "dead": info.dead}
        assert counts == expected[info.name]
    assert mem.queues("team", limit=100).next_cursor is None
    mem.create_namespace("empty")
    assert mem.queues("empty").items == []


def test_queues_listing_arguments_and_permissions(mem):
    """A bad limit or cursor is refused; listing needs read; a missing namespace is 404."""
    mem.create_namespace("ns", default_permission="read")
    mem.queue("ns", "jobs").put(1)
    assert [i.name for i in mem.queues("ns", "guest")] == ["jobs"]
    for limit in (0, 101, -1, 2.5, True, "10"):
        with pytest.raises(InvalidArgument):
            mem.queues("ns", limit=limit)
    for cursor in ("", "no!", 5):
        with pytest.raises(InvalidArgument):
            mem.queues("ns", cursor=cursor)
    mem.create_namespace("closed", default_permission=None)
    with pytest.raises(PermissionDenied):
        mem.queues("closed", "guest")
    with pytest.raises(NamespaceNotFound):
        mem.queues("nowhere")
