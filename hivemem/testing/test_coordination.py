"""Leases, presence and locks with fencing tokens (SPEC §19), on every backend."""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

import pytest

from hivemem import (
    ConflictError,
    InvalidArgument,
    LeaseExpired,
    Lock,
    LockTimeout,
    PermissionDenied,
)
from hivemem._validate import MAX_TTL
from hivemem.testing.helpers import snapshot

if TYPE_CHECKING:
    from collections.abc import Callable

BAD_TTLS = [-1, 0, math.nan, math.inf, MAX_TTL + 1, "10", True, None]


def _events(mem: Any, ns: str, since: int, types: set[str]) -> list[Any]:
    """The namespace's retained events after ``since`` of the given types."""
    out = []
    for event in itertools.islice(mem.watch(ns, since=since, timeout=0.3), 10_000):
        if event.type in types:
            out.append(event)
    return out


def _rev(mem: Any, ns: str) -> int:
    return int(mem.get_namespace(ns).revision)


# ---------------------------------------------------------------- leases


def test_grant_keep_alive_revoke(mem, clock):
    """A lease lives ttl seconds; keep_alive extends it by ttl from now; revoke ends it."""
    lease = mem.grant_lease(10)
    assert lease.ttl == 10 and lease.expires_at == clock.now + 10 and lease.agent_id == mem.agent
    clock.advance(6)
    kept = mem.keep_alive(lease.id)
    assert kept.id == lease.id and kept.expires_at == clock.now + 10
    clock.advance(9)
    mem.keep_alive(lease)  # (a Lease object works too)
    mem.revoke_lease(lease.id)
    with pytest.raises(LeaseExpired):
        mem.keep_alive(lease.id)
    with pytest.raises(LeaseExpired):
        mem.revoke_lease(lease.id)


def test_lease_expires_exactly(mem, clock):
    """keep_alive at or after expires_at raises LeaseExpired (expiry is exact)."""
    lease = mem.grant_lease(5)
    clock.advance(5)
    with pytest.raises(LeaseExpired) as info:
        mem.keep_alive(lease.id)
    assert info.value.code == "lease_expired" and info.value.status == 404


def test_unknown_and_malformed_lease_ids(mem):
    """An unknown lease id raises LeaseExpired; a malformed one InvalidArgument."""
    mem.write("ns", "k", 1)
    before = snapshot(mem)
    unknown = "ns/" + "0" * 32
    calls: list[Callable[[], Any]] = [
        lambda: mem.keep_alive(unknown),
        lambda: mem.revoke_lease(unknown),
        lambda: mem.write("ns", "x", 1, lease=unknown),
        lambda: mem.join("ns", lease=unknown),
        lambda: mem.keep_alive("_hivemem.leases/" + "f" * 32),
    ]
    for call in calls:
        with pytest.raises(LeaseExpired):
            call()
    for bad in ("", "nope", "ns/xyz", "ns/" + "0" * 31, 42, None, "a b/" + "0" * 32):
        with pytest.raises(InvalidArgument):
            mem.keep_alive(bad)
    assert snapshot(mem) == before


@pytest.mark.parametrize("ttl", BAD_TTLS, ids=repr)
def test_bad_ttls_are_refused(mem, ttl):
    """Negative, zero, NaN, infinite, huge or non-numeric ttls: InvalidArgument, nothing done."""
    mem.write("ns", "k", 1)
    before = snapshot(mem)
    with pytest.raises(InvalidArgument):
        mem.grant_lease(ttl)
    with pytest.raises(InvalidArgument):
        mem.try_lock("ns", "L", ttl=ttl)
    with pytest.raises(InvalidArgument), mem.lock("ns", "L", ttl=ttl, wait=0):
        pass
    assert snapshot(mem) == before


@pytest.mark.parametrize("wait", [-1, math.nan, math.inf, "1"], ids=repr)
def test_bad_waits_are_refused(mem, wait):
    """lock(wait=) takes seconds >= 0 or None."""
    with pytest.raises(InvalidArgument):
        mem.lock("ns", "L", wait=wait)


def test_leased_entries_vanish_at_expiry(mem, clock):
    """Entries written with lease= expire with it: seen before, never from expires_at on;
    the sweep deletes them with memory:deleted, reason lease_expired."""
    lease = mem.grant_lease(10, ns="ns")
    e = mem.write("ns", "a", 1, lease=lease.id)
    mem.write("ns", "b", 2, lease=lease.id)
    mem.write("ns", "c", 3)
    assert e.expires_at == lease.expires_at
    since = _rev(mem, "ns")
    clock.advance(9.999)
    assert mem.read_many("ns", ["a", "b", "c"]) == {"a": 1, "b": 2, "c": 3}
    clock.advance(0.001)
    assert mem.read_many("ns", ["a", "b", "c"]) == {"c": 3}
    assert mem.get_keys("ns") == ["c"]
    assert mem.cleanup() >= 1
    deleted = _events(mem, "ns", since, {"memory:deleted", "memory:expired"})
    assert sorted((ev.type, ev.key, ev.reason) for ev in deleted) == [
        ("memory:deleted", "a", "lease_expired"),
        ("memory:deleted", "b", "lease_expired"),
    ]


def test_keep_alive_extends_attached_entries(mem, clock):
    """keep_alive moves the expiry of every attached entry with the lease."""
    lease = mem.grant_lease(10, ns="ns")
    mem.write("ns", "a", 1, lease=lease.id)
    clock.advance(8)
    kept = mem.keep_alive(lease.id)
    assert mem.get_entry("ns", "a").expires_at == kept.expires_at
    clock.advance(8)
    assert mem.read("ns", "a") == 1
    clock.advance(2)
    assert mem.read("ns", "a") is None


def test_rewrite_without_lease_detaches(mem, clock):
    """An entry rewritten without lease= keeps its new expiry, whatever the lease does."""
    lease = mem.grant_lease(10, ns="ns")
    mem.write("ns", "a", 1, lease=lease.id)
    mem.write("ns", "a", 2)
    mem.revoke_lease(lease.id)
    clock.advance(20)
    assert mem.read("ns", "a") == 2


def test_revoke_deletes_attached_entries(mem):
    """revoke_lease deletes attached entries at once: memory:deleted, reason lease_revoked."""
    lease = mem.grant_lease(60, ns="ns")
    mem.write("ns", "a", 1, lease=lease.id)
    since = _rev(mem, "ns")
    mem.revoke_lease(lease.id)
    assert mem.read("ns", "a") is None
    [ev] = _events(mem, "ns", since, {"memory:deleted"})
    assert (ev.key, ev.reason, ev.agent_id) == ("a", "lease_revoked", mem.agent)


def test_lease_from_the_reserved_home(mem, backend, clock):
    """A lease granted without ns= carries entries and presence of any namespace."""
    lease = mem.grant_lease(10)
    assert lease.id.startswith("_hivemem.leases/")
    if backend.name == "redis-cluster":
        # The reserved home is in a slot of its own: using the lease elsewhere is refused.
        mem.create_namespace("a")
        with pytest.raises(InvalidArgument) as refused:
            mem.write("a", "k", 1, lease=lease.id)
        assert refused.value.details["reason"] == "cross_slot"
        assert mem.read("a", "k") is None
        return
    mem.write("a", "k", 1, lease=lease.id)
    mem.join("b", lease=lease.id)
    clock.advance(8)
    mem.keep_alive(lease.id)
    clock.advance(8)
    assert mem.read("a", "k") == 1 and len(mem.presence("b")) == 1
    clock.advance(2)
    assert mem.read("a", "k") is None and mem.presence("b") == []
    assert "_hivemem.leases" not in [n.name for n in mem.list_namespaces()]


def test_ttl_and_lease_together_refused(mem):
    """A write gives ttl= or lease=, not both."""
    lease = mem.grant_lease(60)
    with pytest.raises(InvalidArgument):
        mem.write("ns", "a", 1, ttl=5, lease=lease.id)


def test_lease_is_its_agents(mem):
    """Only the lease's agent uses, keeps or revokes it (namespace admins excepted)."""
    lease = mem.grant_lease(60, "alice")
    before = snapshot(mem)
    calls: list[Callable[[], Any]] = [
        lambda: mem.keep_alive(lease.id, "bob"),
        lambda: mem.revoke_lease(lease.id, "bob"),
        lambda: mem.write("ns", "a", 1, "bob", lease=lease.id),
        lambda: mem.join("ns", "bob", lease=lease.id),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            call()
    assert snapshot(mem) == before
    mem.keep_alive(lease.id, "alice")


# ---------------------------------------------------------------- presence


def test_presence_lists_agents_whose_leases_live(mem, clock):
    """presence lists exactly the agents whose leases live; join and leave are events."""
    mem.create_namespace("room")
    since = _rev(mem, "room")
    la = mem.grant_lease(10, "a", ns="room")
    lb = mem.grant_lease(20, "b", ns="room")
    pa = mem.join("room", "a", lease=la.id, info={"role": "planner"})
    mem.join("room", "b", lease=lb.id)
    assert pa.agent_id == "a" and pa.info == {"role": "planner"} and pa.since == clock.now
    assert [p.agent_id for p in mem.presence("room")] == ["a", "b"]
    mem.join("room", "a", lease=la.id, info={"role": "coder"})  # an update: no new event
    assert mem.presence("room")[0].info == {"role": "coder"}
    clock.advance(10)
    assert [p.agent_id for p in mem.presence("room")] == ["b"]
    mem.cleanup()
    mem.revoke_lease(lb.id, "b")
    assert mem.presence("room") == []
    events = _events(mem, "room", since, {"presence:joined", "presence:left"})
    assert [(e.type, e.agent_id, e.reason) for e in events] == [
        ("presence:joined", "a", None),
        ("presence:joined", "b", None),
        ("presence:left", "a", "lease_expired"),
        ("presence:left", "b", "lease_revoked"),
    ]


def test_presence_needs_read_and_join_write(mem):
    """Reading presence needs read; joining needs write."""
    mem.create_namespace("room", default_permission="read")
    lease = mem.grant_lease(10, "guest")
    with pytest.raises(PermissionDenied):
        mem.join("room", "guest", lease=lease.id)
    assert mem.presence("room", "guest") == []
    mem.create_namespace("closed", default_permission=None)
    with pytest.raises(PermissionDenied):
        mem.presence("closed", "guest")


# ---------------------------------------------------------------- locks


def test_one_holder_and_growing_tokens(mem, clock):
    """One holder at a time; every grant's token is larger than all before."""
    lk = mem.try_lock("ns", "deploy", "a", ttl=30)
    assert isinstance(lk, Lock)
    assert (lk.name, lk.holder, lk.namespace, lk.expires_at) == (
        "deploy",
        "a",
        "ns",
        clock.now + 30,
    )
    assert mem.try_lock("ns", "deploy", "b", ttl=30) is None
    assert mem.lock_info("ns", "deploy") == lk
    tokens = [lk.token]
    assert mem.unlock(lk, "a") is True
    assert mem.lock_info("ns", "deploy") is None
    for agent in ("b", "c", "a"):
        mem.write("ns", "noise", agent)
        got = mem.try_lock("ns", "deploy", agent, ttl=30)
        assert got is not None and got.holder == agent
        tokens.append(got.token)
        mem.unlock(got, agent)
    assert tokens == sorted(set(tokens))


def test_lock_events_carry_the_token(mem, clock):
    """lock:acquired's revision is the token; released and expired name it in version."""
    mem.create_namespace("ns")
    since = _rev(mem, "ns")
    lk = mem.try_lock("ns", "L", ttl=5)
    mem.unlock(lk)
    lk2 = mem.try_lock("ns", "L", ttl=5)
    clock.advance(5)
    mem.cleanup()
    events = _events(mem, "ns", since, {"lock:acquired", "lock:released", "lock:expired"})
    assert [(e.type, e.key) for e in events] == [
        ("lock:acquired", "L"),
        ("lock:released", "L"),
        ("lock:acquired", "L"),
        ("lock:expired", "L"),
    ]
    assert events[0].revision == lk.token and events[1].version == lk.token
    assert events[2].revision == lk2.token and events[3].version == lk2.token


def test_expired_hold_frees_the_lock(mem, clock):
    """A holder that does not keep its lease alive loses the lock at expires_at exactly."""
    lk = mem.try_lock("ns", "L", "a", ttl=10)
    clock.advance(9.5)
    assert mem.try_lock("ns", "L", "b", ttl=10) is None
    mem.keep_alive(lk.lease_id, "a")
    clock.advance(9.5)
    assert mem.lock_info("ns", "L").holder == "a"
    clock.advance(0.5)
    assert mem.lock_info("ns", "L") is None
    got = mem.try_lock("ns", "L", "b", ttl=10)
    assert got is not None and got.token > lk.token
    assert mem.unlock(lk, "a") is False  # that hold ended
    with pytest.raises(LeaseExpired):
        mem.keep_alive(lk.lease_id, "a")


def test_fenced_writes(mem, clock):
    """fence=lk writes while lk's token holds the lock; refused (fenced) once it does not."""
    lk = mem.try_lock("ns", "L", "a", ttl=10)
    assert mem.write("ns", "state", 1, "a", fence=lk).value == 1
    clock.advance(10)
    lk2 = mem.try_lock("ns", "L", "b", ttl=10)
    assert mem.write("ns", "state", 2, "b", fence=lk2).value == 2
    before = snapshot(mem)
    with pytest.raises(ConflictError) as info:
        mem.write("ns", "state", 99, "a", fence=lk)
    assert info.value.reason == "fenced" and info.value.status == 409
    assert snapshot(mem) == before
    mem.unlock(lk2, "b")
    with pytest.raises(ConflictError):
        mem.write("ns", "state", 3, "b", fence=lk2)  # released: no longer held
    assert mem.read("ns", "state") == 2


def test_fence_across_namespaces(mem, backend):
    """A lock of one namespace fences writes to another (not on a cluster across slots)."""
    if backend.name == "redis-cluster":  # two namespaces in one op: one group, one slot
        mem.create_namespace("locks", group="g")
        mem.create_namespace("data", group="g")
    lk = mem.try_lock("locks", "L", ttl=10)
    assert mem.write("data", "k", 1, fence=lk).value == 1
    mem.unlock(lk)
    with pytest.raises(ConflictError):
        mem.write("data", "k", 2, fence=lk)


def test_unlock_someone_elses_lock(mem):
    """Unlocking another agent's hold: ConflictError(not_holder), nothing changed."""
    mem.create_namespace("ns", default_permission="write")
    mem.try_lock("ns", "L", "a", ttl=30)
    seen = mem.lock_info("ns", "L", "b")
    before = snapshot(mem)
    with pytest.raises(ConflictError) as info:
        mem.unlock(seen, "b")
    assert info.value.reason == "not_holder"
    assert snapshot(mem) == before
    assert mem.lock_info("ns", "L").holder == "a"
    assert mem.unlock(seen) is True  # the namespace's admin (its creator) may break it


def test_bad_fence_and_unlock_arguments(mem):
    """fence= and unlock take a Lock; anything else is InvalidArgument."""
    for bad in ("L", 3, {"name": "L"}, Lock("L", "a", 1, "x")):
        with pytest.raises(InvalidArgument):
            mem.write("ns", "k", 1, fence=bad)
        with pytest.raises(InvalidArgument):
            mem.unlock(bad)


def test_lock_needs_write_and_info_read(mem):
    """Taking a lock needs write; lock_info needs read."""
    mem.create_namespace("ns", default_permission="read")
    with pytest.raises(PermissionDenied):
        mem.try_lock("ns", "L", "guest", ttl=5)
    assert mem.lock_info("ns", "L", "guest") is None


def test_locks_lists_held_locks_a_page_at_a_time(mem, clock):
    """locks(ns) lists the live holds in name order, paged by cursor; free ones leave it."""
    names = [f"deploy/{i:03d}-" + "x" * 180 for i in range(25)]
    held = {n: mem.try_lock("ns", n, f"agent-{i % 3}", ttl=10 + i) for i, n in enumerate(names)}
    ticket = mem.try_lock("ns", "other", "a", ttl=30)
    assert ticket is not None and mem.try_lock("ns", "other", "b", ttl=30) is None
    seen: list[Lock] = []
    cursor = None
    while True:
        page = mem.locks("ns", limit=10, cursor=cursor)
        assert len(page.items) <= 10
        seen += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [lk.name for lk in seen] == [*names, "other"]
    assert {lk.name: lk for lk in seen} == {**held, "other": ticket}
    mem.unlock(held[names[0]], "agent-0")
    clock.advance(10.5)  # names[1] (ttl 11) still holds; names[0] was released
    page = mem.locks("ns", limit=1000)
    assert [lk.name for lk in page.items] == [*names[1:], "other"]
    clock.advance(100)
    assert mem.locks("ns").items == []


def test_locks_listing_arguments_and_permissions(mem):
    """A bad limit or cursor is refused; listing needs read, like lock_info."""
    mem.create_namespace("ns", default_permission="read")
    mem.try_lock("ns", "L", ttl=5)
    assert [lk.name for lk in mem.locks("ns", "guest")] == ["L"]
    for limit in (0, 1001, -1, 2.5, True, "10"):
        with pytest.raises(InvalidArgument):
            mem.locks("ns", limit=limit)
    for cursor in ("", "not a cursor!", 5):
        with pytest.raises(InvalidArgument):
            mem.locks("ns", cursor=cursor)
    mem.create_namespace("closed", default_permission=None)
    with pytest.raises(PermissionDenied):
        mem.locks("closed", "guest")


def test_lock_context_manager(mem):
    """with mem.lock(...) as lk holds the lock for the block and releases it after."""
    with mem.lock("ns", "L", "a", ttl=30, wait=1) as lk:
        assert mem.lock_info("ns", "L").token == lk.token
        with pytest.raises(LockTimeout) as info, mem.lock("ns", "L", "b", ttl=30, wait=0.05):
            pass
        assert info.value.code == "lock_timeout" and isinstance(info.value, ConflictError)
        with pytest.raises(LockTimeout), mem.lock("ns", "L", "b", wait=0):
            pass
    assert mem.lock_info("ns", "L") is None


def test_waiters_first_come_first_served(mem):
    """A free lock goes to the oldest waiting ticket, not to a newcomer."""
    lk = mem.try_lock("ns", "L", "a", ttl=30)
    core = mem._c
    ticket_b, ticket_c = "0" * 16 + "0000000b", "0" * 16 + "0000000c"
    assert mem._run(core.try_lock("ns", "L", 30, "c", ticket_c)) is None
    assert mem._run(core.try_lock("ns", "L", 30, "b", ticket_b)) is None
    assert mem._run(core.lock_turn("ns", "L", ticket_b, "b")) is False  # still held
    mem.unlock(lk, "a")
    assert mem._run(core.lock_turn("ns", "L", ticket_b, "b")) is True
    assert mem._run(core.lock_turn("ns", "L", ticket_c, "c")) is False
    assert mem.try_lock("ns", "L", "d", ttl=30) is None  # a newcomer waits its turn
    assert mem._run(core.try_lock("ns", "L", 30, "c", ticket_c)) is None  # b is older
    got = mem._run(core.try_lock("ns", "L", 30, "b", ticket_b))
    assert got is not None and got.holder == "b"
    mem.unlock(got, "b")
    got = mem._run(core.try_lock("ns", "L", 30, "c", ticket_c))
    assert got is not None and got.holder == "c"


def test_lapsed_tickets_lose_their_place(mem, clock):
    """A waiter that stops asking loses its place when its ticket expires."""
    lk = mem.try_lock("ns", "L", "a", ttl=30)
    assert mem._run(mem._c.try_lock("ns", "L", 30, "b", "1" * 24, 2.0)) is None
    mem.unlock(lk, "a")
    assert mem.try_lock("ns", "L", "d", ttl=30) is None
    clock.advance(2)
    assert mem.try_lock("ns", "L", "d", ttl=30) is not None


def test_bad_lock_names_and_tickets(mem):
    """Lock names follow the rules of keys; tickets are 24 hex digits."""
    for name in ("", "a\x00b", 5):
        with pytest.raises(InvalidArgument):
            mem.try_lock("ns", name, ttl=5)
    with pytest.raises(InvalidArgument):
        mem._c.try_lock("ns", "L", 5, None, "xyz")


def test_locks_and_presence_stay_out_of_listings(mem):
    """Internal records (locks, leases, presence, tickets) never show as entries."""
    lease = mem.grant_lease(30, ns="ns")
    mem.join("ns", lease=lease.id)
    mem.try_lock("ns", "L", ttl=30)
    mem.write("ns", "k", 1)
    assert mem.get_keys("ns") == ["k"]
    assert list(mem.get_all("ns")) == ["k"]


async def test_async_lock(make_amem):
    """The async twin: async with amem.lock(...) as lk."""
    amem = make_amem()
    async with amem.lock("ns", "L", ttl=30, wait=1) as lk:
        assert (await amem.lock_info("ns", "L")).token == lk.token
        assert (await amem.write("ns", "k", 1, fence=lk)).value == 1
        assert await amem.try_lock("ns", "L", "b", ttl=5) is None
    assert await amem.lock_info("ns", "L") is None
    lease = await amem.grant_lease(5, ns="ns")
    await amem.join("ns", lease=lease.id)
    assert [p.agent_id for p in await amem.presence("ns")] == [amem.agent]
