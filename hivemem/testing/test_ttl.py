"""TTL and cleanup (SPEC §3): expired entries vanish from the instant of expiry."""

from __future__ import annotations

import math

import pytest

from hivemem import ConflictError, InvalidArgument
from hivemem._validate import MAX_TTL
from hivemem.testing.helpers import Recorder, snapshot, wait_until


def test_write_ttl_sets_expires_at(mem, clock):
    """A write's ttl (seconds) sets expires_at = write time + ttl."""
    entry = mem.write("ns", "k", 1, ttl=30)
    assert entry.expires_at == clock.now + 30
    assert mem.get_entry("ns", "k").expires_at == clock.now + 30


def test_namespace_ttl_applies_to_writes_without_ttl(mem, clock):
    """A namespace's ttl is the default expiry of writes that give none."""
    mem.create_namespace("ns", ttl=300)
    assert mem.write("ns", "k", 1).expires_at == clock.now + 300
    assert mem.write_many("ns", {"a": 1})[0].expires_at == clock.now + 300


@pytest.mark.parametrize("ttl", [5, 3600])
def test_write_ttl_overrides_namespace_ttl(mem, clock, ttl):
    """A write's own ttl overrides the namespace default (shorter or longer)."""
    mem.create_namespace("ns", ttl=300)
    assert mem.write("ns", "k", 1, ttl=ttl).expires_at == clock.now + ttl


def test_no_ttl_means_no_expiry(mem, clock):
    """Without namespace or write TTL an entry never expires."""
    assert mem.write("ns", "k", 1).expires_at is None
    clock.advance(10 * 365 * 86400)
    assert mem.read("ns", "k") == 1


def test_rewrite_without_ttl_takes_namespace_default(mem, clock):
    """Each write sets the expiry anew: a rewrite without ttl in a namespace without TTL
    makes the entry permanent."""
    mem.write("ns", "k", 1, ttl=10)
    entry = mem.write("ns", "k", 2)
    assert entry.expires_at is None
    clock.advance(20)
    assert mem.read("ns", "k") == 2


def test_entry_live_until_the_instant_of_expiry(mem, clock):
    """An entry is readable until its expiry instant and invisible from that instant on."""
    mem.write("ns", "k", "v", ttl=10)
    clock.advance(9.5)
    assert mem.read("ns", "k") == "v"
    clock.advance(0.5)
    assert mem.read("ns", "k") is None
    assert mem.read("ns", "k", default="gone") == "gone"
    assert mem.get_entry("ns", "k") is None


def test_expired_invisible_to_every_read_before_any_sweep(mem, clock):
    """Before any sweep runs, an expired entry is missing from read, get_entry, get_keys,
    get_all, list_entries and read_many."""
    mem.write("ns", "short", 1, ttl=5)
    mem.write("ns", "long", 2, ttl=50)
    mem.write("ns", "forever", 3)
    clock.advance(5)
    assert mem.read("ns", "short") is None
    assert mem.get_entry("ns", "short") is None
    assert mem.get_keys("ns") == ["forever", "long"]
    assert mem.get_all("ns") == {"forever": 3, "long": 2}
    assert [e.key for e in mem.list_entries("ns").items] == ["forever", "long"]
    assert mem.read_many("ns", ["short", "long"]) == {"long": 2}


def test_expired_not_counted_by_stats(mem, clock):
    """stats counts only live entries: an expired one stops counting at its expiry instant,
    before any sweep."""
    mem.write("ns", "short", 1, ttl=5)
    mem.write("ns", "forever", 2)
    assert mem.stats()["per_namespace"]["ns"]["entries"] == 2
    clock.advance(5)
    stats = mem.stats()
    assert stats["per_namespace"]["ns"]["entries"] == 1
    assert stats["total_entries"] == 1


def test_expired_listing_pages_skip_expired(mem, clock):
    """Paging skips expired entries and still lists every live one exactly once."""
    mem.write_many("ns", {f"e{i}": i for i in range(5)}, ttl=1)
    mem.write_many("ns", {f"l{i}": i for i in range(5)})
    clock.advance(1)
    keys = []
    cursor = None
    while True:
        page = mem.list_entries("ns", limit=2, cursor=cursor)
        keys += [e.key for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert keys == [f"l{i}" for i in range(5)]


def test_cleanup_sweeps_and_emits_expired(mem, clock):
    """cleanup() deletes expired entries, returns how many, and emits one memory:expired
    event per entry with its namespace, key and a revision."""
    mem.write("ns", "a", 1, ttl=5)
    mem.write("ns", "b", 2, ttl=5)
    last = mem.write("ns", "c", 3)
    rec = Recorder()
    mem.on("memory:expired", rec)
    clock.advance(5)
    assert mem.cleanup() == 2
    assert sorted(e.key for e in rec.events) == ["a", "b"]
    assert all(e.namespace == "ns" for e in rec.events)
    assert sorted(e.revision for e in rec.events) == [last.revision + 1, last.revision + 2]
    assert mem.cleanup() == 0
    assert len(rec.events) == 2
    assert mem.stats()["per_namespace"]["ns"]["entries"] == 1


def test_cleanup_leaves_live_entries(mem, clock):
    """cleanup() removes nothing that has not expired."""
    mem.write("ns", "a", 1, ttl=5)
    clock.advance(4)
    assert mem.cleanup() == 0
    assert mem.read("ns", "a") == 1


def test_expired_events_reach_the_stream(mem, clock):
    """memory:expired events are stream events: a watch replays them."""
    mem.create_namespace("ns")
    mem.write("ns", "a", 1, ttl=1)
    clock.advance(1)
    mem.cleanup()
    events = list(mem.watch("ns", since=0, timeout=0))
    assert [(e.type, e.revision) for e in events] == [
        ("namespace:created", 1),
        ("memory:write", 2),
        ("memory:expired", 3),
    ]
    assert events[2].key == "a"


def test_write_after_expiry_starts_new_lifetime(mem, clock):
    """A write to an expired key creates version 1 with a new created_at."""
    mem.write("ns", "k", 1, ttl=5)
    mem.write("ns", "k", 2, ttl=5)
    clock.advance(6)
    entry = mem.write("ns", "k", 3)
    assert entry.version == 1
    assert entry.created_at == clock.now


def test_first_wins_key_free_after_expiry(mem, clock):
    """first-wins: once the first value expires, the next writer wins."""
    mem.create_namespace("ns", conflict_strategy="first-wins")
    mem.write("ns", "lock", "agent-1", "agent-1", ttl=10)
    with pytest.raises(ConflictError):
        mem.write("ns", "lock", "agent-2", "agent-2")
    clock.advance(10)
    assert mem.write("ns", "lock", "agent-2", "agent-2").version == 1


def test_version_of_expired_key_is_zero(mem, clock):
    """Compare-and-set sees an expired key as absent: expected_version=0 creates it."""
    mem.write("ns", "k", 1, ttl=1)
    clock.advance(1)
    assert mem.write("ns", "k", 2, expected_version=0).version == 1


def test_delete_expired_returns_false(mem, clock):
    """Deleting an expired key returns False."""
    mem.write("ns", "k", 1, ttl=1)
    clock.advance(1)
    assert mem.delete("ns", "k") is False


def test_expired_entries_do_not_fill_max_entries(mem, clock):
    """Expired entries do not count towards max_entries."""
    mem.create_namespace("ns", max_entries=2)
    mem.write("ns", "a", 1, ttl=5)
    mem.write("ns", "b", 2)
    clock.advance(5)
    mem.write("ns", "c", 3)
    assert mem.get_keys("ns") == ["b", "c"]


def test_clear_counts_only_live_entries(mem, clock):
    """clear_namespace returns the number of live entries it removed."""
    mem.write("ns", "a", 1, ttl=5)
    mem.write("ns", "b", 2)
    clock.advance(5)
    assert mem.clear_namespace("ns") == 1


def test_background_sweeper_emits_expired(make_mem, clock):
    """The background sweeper (cleanup_interval) deletes expired entries and emits
    memory:expired without any call to cleanup()."""
    m = make_mem(cleanup_interval=0.02)
    rec = Recorder()
    m.on("memory:expired", rec)
    m.write("ns", "k", 1, ttl=5)
    clock.advance(5)
    wait_until(lambda: rec.events)
    assert [(e.type, e.key) for e in rec.events] == [("memory:expired", "k")]
    assert m.stats()["per_namespace"]["ns"]["entries"] == 0


@pytest.mark.parametrize("ttl", [MAX_TTL + 1, 1e300, 1e308, math.inf, math.nan, 0, -1, True, "5"])
def test_ttl_beyond_the_maximum_or_not_a_duration_is_refused_everywhere(mem, ttl):
    """One maximum TTL (MAX_TTL, 10 years) for an entry, write_many, a namespace's default
    (create and update) and a conversation: beyond it, InvalidArgument and nothing changes;
    at it, accepted."""
    mem.create_namespace("ns")
    before = snapshot(mem)
    with pytest.raises(InvalidArgument):
        mem.write("ns", "k", 1, ttl=ttl)
    with pytest.raises(InvalidArgument):
        mem.write_many("ns", {"a": 1}, ttl=ttl)
    with pytest.raises(InvalidArgument):
        mem.create_namespace("other", ttl=ttl)
    with pytest.raises(InvalidArgument):
        mem.update_namespace("ns", ttl=ttl)
    with pytest.raises(InvalidArgument):
        mem.conversation("c", ttl=ttl)
    assert snapshot(mem) == before
    entry = mem.write("ns", "k", 1, ttl=MAX_TTL)
    assert entry.expires_at == entry.updated_at + MAX_TTL
    assert mem.update_namespace("ns", ttl=MAX_TTL).ttl == MAX_TTL
    assert mem.write("ns", "k2", 2).expires_at is not None
