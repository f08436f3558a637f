"""Batches, capacity and idempotency: write_many/read_many, max_entries, idempotency keys
(SPEC §1, §2)."""

from __future__ import annotations

import pytest

from hivemem import (
    ConflictError,
    InvalidArgument,
    NamespaceFull,
    PermissionDenied,
)
from hivemem.testing.helpers import Recorder, snapshot


def test_write_many_stores_all_and_returns_entries(mem, clock):
    """write_many stores every item and returns their entries, in the order given."""
    mem.create_namespace("ns", "alice")
    entries = mem.write_many("ns", {"b": 1, "a": [2], "c": {"x": 3}}, "alice")
    assert [(e.key, e.value, e.version, e.owner) for e in entries] == [
        ("b", 1, 1, "alice"),
        ("a", [2], 1, "alice"),
        ("c", {"x": 3}, 1, "alice"),
    ]
    assert [e.revision for e in entries] == [2, 3, 4]
    assert all(e.created_at == clock.now for e in entries)
    assert mem.get_all("ns") == {"a": [2], "b": 1, "c": {"x": 3}}


def test_write_many_updates_existing_keys(mem):
    """write_many overwrites existing keys (new versions) and creates new ones."""
    mem.write("ns", "a", 1)
    entries = mem.write_many("ns", {"a": 10, "b": 20})
    assert [(e.key, e.version) for e in entries] == [("a", 2), ("b", 1)]


def test_write_many_with_ttl(mem, clock):
    """write_many(ttl=) gives every item that expiry."""
    entries = mem.write_many("ns", {"a": 1, "b": 2}, ttl=60)
    assert [e.expires_at for e in entries] == [clock.now + 60, clock.now + 60]


def test_write_many_empty_is_a_no_op(mem):
    """write_many with no items returns [] and stores nothing."""
    mem.create_namespace("ns")
    before = snapshot(mem)
    assert mem.write_many("ns", {}) == []
    assert snapshot(mem) == before


def test_write_many_all_or_nothing_on_conflict(mem):
    """If one item of write_many loses a conflict, no item is stored and no revision taken."""
    mem.create_namespace("ns", conflict_strategy="first-wins")
    mem.write("ns", "taken", 1)
    before = snapshot(mem)
    with pytest.raises(ConflictError) as exc:
        mem.write_many("ns", {"new1": 1, "taken": 2, "new2": 3})
    assert exc.value.reason == "first_wins"
    assert snapshot(mem) == before


def test_write_many_all_or_nothing_on_permission(mem):
    """A write_many by an agent without write permission stores nothing."""
    mem.create_namespace("ns", "owner", default_permission="read")
    before = snapshot(mem, "owner")
    with pytest.raises(PermissionDenied):
        mem.write_many("ns", {"a": 1, "b": 2}, "reader")
    assert snapshot(mem, "owner") == before


def test_write_many_all_or_nothing_on_bad_value(mem):
    """A write_many with one non-JSON value stores nothing."""
    mem.create_namespace("ns")
    before = snapshot(mem)
    with pytest.raises(InvalidArgument):
        mem.write_many("ns", {"a": 1, "b": {1, 2}, "c": 3})
    assert snapshot(mem) == before


def test_write_many_all_or_nothing_on_bad_key(mem):
    """A write_many with one invalid key stores nothing."""
    mem.create_namespace("ns")
    before = snapshot(mem)
    with pytest.raises(InvalidArgument):
        mem.write_many("ns", {"a": 1, "": 2})
    assert snapshot(mem) == before


def test_write_many_all_or_nothing_on_max_entries(mem):
    """A write_many that would exceed max_entries stores nothing."""
    mem.create_namespace("ns", max_entries=3)
    mem.write("ns", "a", 1)
    before = snapshot(mem)
    with pytest.raises(NamespaceFull):
        mem.write_many("ns", {"b": 2, "c": 3, "d": 4})
    assert snapshot(mem) == before
    mem.write_many("ns", {"b": 2, "c": 3})
    assert mem.get_keys("ns") == ["a", "b", "c"]


def test_write_many_all_or_nothing_on_version_strategy(mem):
    """Under the version strategy write_many (which carries no expected_version) is refused
    with version_required and stores nothing."""
    mem.create_namespace("ns", conflict_strategy="version")
    before = snapshot(mem)
    with pytest.raises(ConflictError) as exc:
        mem.write_many("ns", {"a": 1})
    assert exc.value.reason == "version_required"
    assert snapshot(mem) == before


def test_write_many_refused_emits_no_stream_event(mem):
    """A refused write_many emits no write event to listeners."""
    mem.create_namespace("ns", conflict_strategy="first-wins")
    mem.write("ns", "taken", 1)
    rec = Recorder()
    mem.on("memory:write", rec)
    with pytest.raises(ConflictError):
        mem.write_many("ns", {"new": 1, "taken": 2})
    assert rec.events == []


def test_read_many_returns_existing_keys_only(mem):
    """read_many returns a dict of the requested keys that exist; absent ones are left out."""
    mem.write_many("ns", {"a": 1, "b": None, "c": 3})
    assert mem.read_many("ns", ["a", "b", "missing"]) == {"a": 1, "b": None}
    assert mem.read_many("ns", []) == {}


def test_read_many_rejects_a_string(mem):
    """read_many takes a list of keys; a bare string is InvalidArgument."""
    mem.write("ns", "abc", 1)
    with pytest.raises(InvalidArgument):
        mem.read_many("ns", "abc")


# ---------------------------------------------------------------- max_entries


def test_max_entries_refuses_new_key_beyond_cap(mem):
    """A write that would create an entry beyond max_entries raises NamespaceFull and
    stores nothing."""
    mem.create_namespace("ns", max_entries=2)
    mem.write("ns", "a", 1)
    mem.write("ns", "b", 2)
    before = snapshot(mem)
    with pytest.raises(NamespaceFull) as exc:
        mem.write("ns", "c", 3)
    assert exc.value.code == "namespace_full"
    assert exc.value.status == 409
    assert snapshot(mem) == before


def test_max_entries_allows_updates_when_full(mem):
    """A full namespace still accepts writes to existing keys."""
    mem.create_namespace("ns", max_entries=1)
    mem.write("ns", "a", 1)
    assert mem.write("ns", "a", 2).version == 2


def test_max_entries_delete_frees_room(mem):
    """Deleting an entry of a full namespace makes room for a new key."""
    mem.create_namespace("ns", max_entries=1)
    mem.write("ns", "a", 1)
    mem.delete("ns", "a")
    mem.write("ns", "b", 2)
    assert mem.get_keys("ns") == ["b"]


def test_max_entries_lowered_below_count(mem):
    """Lowering max_entries below the current count keeps the entries but refuses new keys."""
    mem.write_many("ns", {"a": 1, "b": 2, "c": 3})
    mem.update_namespace("ns", max_entries=2)
    assert mem.get_keys("ns") == ["a", "b", "c"]
    with pytest.raises(NamespaceFull):
        mem.write("ns", "d", 4)
    mem.write("ns", "a", 10)


# ---------------------------------------------------------------- idempotency


def test_idempotent_write_applied_once(mem):
    """A repeated write with the same idempotency_key returns the first outcome and is
    applied once: one version, one revision, one event."""
    mem.create_namespace("ns")
    rec = Recorder()
    mem.on("memory:write", rec)
    first = mem.write("ns", "k", "v1", idempotency_key="req-1")
    again = mem.write("ns", "k", "v1", idempotency_key="req-1")
    assert again == first
    assert mem.get_entry("ns", "k") == first
    assert len(rec.events) == 1
    assert mem.get_namespace("ns").revision == first.revision


def test_idempotent_write_repeat_with_other_value_not_applied(mem):
    """A repeat under the same idempotency_key answers the first outcome even if its
    value differs; the stored value stays the first."""
    first = mem.write("ns", "k", "v1", idempotency_key="req-1")
    again = mem.write("ns", "k", "v2", idempotency_key="req-1")
    assert again == first
    assert mem.read("ns", "k") == "v1"


def test_idempotent_merge_append_lands_once(mem):
    """A retried merge (an append) with the same idempotency_key adds its item once."""
    mem.create_namespace("ns", conflict_strategy="merge")
    mem.write("ns", "log", ["a"])
    mem.write("ns", "log", ["b"], idempotency_key="append-b")
    mem.write("ns", "log", ["b"], idempotency_key="append-b")
    assert mem.read("ns", "log") == ["a", "b"]


def test_distinct_idempotency_keys_both_apply(mem):
    """Writes with different idempotency keys are both applied."""
    mem.write("ns", "k", 1, idempotency_key="one")
    entry = mem.write("ns", "k", 2, idempotency_key="two")
    assert entry.version == 2
    assert mem.read("ns", "k") == 2


def test_idempotent_delete_returns_first_outcome(mem):
    """A repeated delete with the same idempotency_key answers True again, applied once."""
    mem.write("ns", "k", 1)
    assert mem.delete("ns", "k", idempotency_key="del-1") is True
    rev = mem.get_namespace("ns").revision
    assert mem.delete("ns", "k", idempotency_key="del-1") is True
    assert mem.get_namespace("ns").revision == rev


def test_idempotent_write_many_applied_once(mem):
    """A repeated write_many with the same idempotency_key returns the first entries and
    writes nothing more."""
    first = mem.write_many("ns", {"a": 1, "b": 2}, idempotency_key="batch-1")
    again = mem.write_many("ns", {"a": 1, "b": 2}, idempotency_key="batch-1")
    assert again == first
    assert [mem.get_entry("ns", k).version for k in ("a", "b")] == [1, 1]


def test_idempotent_broadcast_sent_once(mem):
    """A repeated broadcast with the same idempotency_key returns the first event and
    sends one message."""
    mem.create_namespace("ns")
    rec = Recorder()
    mem.on("memory:broadcast", rec)
    first = mem.broadcast("ns", "hello", idempotency_key="b-1")
    again = mem.broadcast("ns", "hello", idempotency_key="b-1")
    assert again == first
    assert len(rec.events) == 1
