"""Entries: write/read/get_entry/delete/listing and their metadata (SPEC §1, §6)."""

from __future__ import annotations

import pytest

from hivemem import Entry, InvalidArgument, NamespaceNotFound, Page, PermissionDenied

VALUES = [
    {"nested": {"list": [1, 2.5, "three", None, True, False], "empty": {}}},
    [1, [2, [3, []]]],
    "text with ünïcödé and emoji \U0001f41d",
    "",
    0,
    -17,
    2**53 + 1,
    3.25,
    1.0,
    True,
    False,
    None,
    {"": "empty key", "k/with/slashes": [{}]},
]


@pytest.mark.parametrize("value", VALUES, ids=[f"v{i}" for i in range(len(VALUES))])
def test_values_round_trip_exactly(mem, value):
    """Any JSON value reads back equal, with the same Python types (1.0 stays a float)."""
    mem.write("ns", "k", value)
    got = mem.read("ns", "k")
    assert got == value
    assert type(got) is type(value)
    assert mem.get_entry("ns", "k").value == value


def test_write_returns_the_stored_entry(mem, clock):
    """write returns the Entry it stored: owner, version 1, revision, times, no expiry."""
    mem.create_namespace("ns", "alice")
    entry = mem.write("ns", "status", "ready", "agent-1")
    assert entry == Entry(
        namespace="ns",
        key="status",
        value="ready",
        owner="agent-1",
        version=1,
        revision=2,
        created_at=clock.now,
        updated_at=clock.now,
        expires_at=None,
    )
    assert mem.get_entry("ns", "status") == entry


def test_rewrite_updates_owner_version_revision_updated_at(mem, clock):
    """A second write replaces the value, makes its agent the owner, bumps the version,
    takes a new revision and updated_at, and keeps created_at."""
    first = mem.write("ns", "k", 1, "agent-1")
    clock.advance(5)
    second = mem.write("ns", "k", 2, "agent-2")
    assert second.value == 2
    assert second.owner == "agent-2"
    assert second.version == 2
    assert second.revision == first.revision + 1
    assert second.created_at == first.created_at
    assert second.updated_at == first.updated_at + 5
    assert mem.get_entry("ns", "k", "agent-3") == second


def test_version_counts_every_successful_write(mem):
    """version is 1 on creation and +1 on every successful write of the key."""
    versions = [mem.write("ns", "k", i).version for i in range(5)]
    assert versions == [1, 2, 3, 4, 5]


def test_read_missing_key_returns_default(mem):
    """Reading an absent key returns None, or the given default."""
    mem.create_namespace("ns")
    assert mem.read("ns", "nope") is None
    assert mem.read("ns", "nope", default=42) == 42
    assert mem.get_entry("ns", "nope") is None


def test_null_value_is_distinct_from_absent(mem):
    """A stored null reads as None but get_entry shows it exists (and default is not used)."""
    mem.write("ns", "k", None)
    assert mem.read("ns", "k", default="absent") is None
    entry = mem.get_entry("ns", "k")
    assert entry is not None
    assert entry.value is None


def test_stored_values_are_copies(mem):
    """Mutating the object written, or the object read, never changes the stored value."""
    value = {"list": [1]}
    mem.write("ns", "k", value)
    value["list"].append(2)
    got = mem.read("ns", "k")
    assert got == {"list": [1]}
    got["list"].append(3)
    assert mem.read("ns", "k") == {"list": [1]}


def test_agent_positional_or_keyword(mem):
    """The agent may be passed as the last positional argument or as agent=."""
    assert mem.write("ns", "a", 1, "agent-1").owner == "agent-1"
    assert mem.write("ns", "b", 1, agent="agent-2").owner == "agent-2"
    assert mem.write("ns", "c", 1).owner == mem.agent


def test_delete_returns_whether_it_deleted(mem):
    """delete returns True for a live key, False for an absent one; the key is gone."""
    mem.write("ns", "k", 1)
    assert mem.delete("ns", "k") is True
    assert mem.read("ns", "k") is None
    assert mem.get_entry("ns", "k") is None
    assert mem.delete("ns", "k") is False
    assert mem.delete("ns", "never") is False


def test_delete_then_rewrite_restarts_version(mem, clock):
    """A delete ends the key's lifetime: the next write creates version 1 with a new
    created_at."""
    mem.write("ns", "k", 1)
    mem.write("ns", "k", 2)
    mem.delete("ns", "k")
    clock.advance(3)
    entry = mem.write("ns", "k", 3)
    assert entry.version == 1
    assert entry.created_at == clock.now


def test_delete_takes_a_revision_absent_delete_does_not(mem):
    """Deleting a live key takes a revision; deleting an absent key takes none."""
    entry = mem.write("ns", "k", 1)
    mem.delete("ns", "k")
    assert mem.get_namespace("ns").revision == entry.revision + 1
    mem.delete("ns", "k")
    assert mem.get_namespace("ns").revision == entry.revision + 1


def test_get_keys_in_key_order(mem):
    """get_keys returns every live key in key order."""
    for key in ["b", "a", "c/2", "c/1", "B", "ä"]:
        mem.write("ns", key, key)
    assert mem.get_keys("ns") == ["B", "a", "b", "c/1", "c/2", "ä"]


def test_get_keys_with_prefix(mem):
    """get_keys(prefix=) returns only the keys that start with the prefix."""
    mem.write_many("ns", {"task:1": 1, "task:2": 2, "tasks": 3, "result:1": 4, "task": 5})
    assert mem.get_keys("ns", prefix="task:") == ["task:1", "task:2"]
    assert mem.get_keys("ns", prefix="task") == ["task", "task:1", "task:2", "tasks"]
    assert mem.get_keys("ns", prefix="zzz") == []


def test_get_all_returns_values(mem):
    """get_all returns a dict of every live key to its value (with an optional prefix)."""
    mem.write_many("ns", {"key1": 1, "key2": {"a": [1]}, "other": None})
    assert mem.get_all("ns") == {"key1": 1, "key2": {"a": [1]}, "other": None}
    assert mem.get_all("ns", prefix="key") == {"key1": 1, "key2": {"a": [1]}}


def test_empty_namespace_lists_nothing(mem):
    """An existing empty namespace lists no keys, no values and an empty last page."""
    mem.create_namespace("ns")
    assert mem.get_keys("ns") == []
    assert mem.get_all("ns") == {}
    page = mem.list_entries("ns")
    assert page.items == []
    assert page.next_cursor is None


def test_list_entries_pages_with_cursor(mem):
    """list_entries pages in key order; next_cursor leads to the next page and is None
    on the last; every key appears exactly once."""
    keys = [f"k{i:02d}" for i in range(25)]
    mem.write_many("ns", {k: i for i, k in enumerate(keys)})
    pages = []
    cursor = None
    while True:
        page = mem.list_entries("ns", limit=10, cursor=cursor)
        assert isinstance(page, Page)
        pages.append([e.key for e in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages[0] == keys[:10]
    assert pages[1] == keys[10:20]
    assert [k for p in pages for k in p] == keys
    assert all(len(p) <= 10 for p in pages)


def test_list_entries_items_are_full_entries(mem, clock):
    """list_entries returns complete Entry objects, equal to get_entry's."""
    mem.write("ns", "a", 1, "agent-1")
    mem.write("ns", "b", 2, "agent-2")
    page = mem.list_entries("ns")
    assert page.items == [mem.get_entry("ns", "a"), mem.get_entry("ns", "b")]
    assert len(page) == 2
    assert [e.key for e in page] == ["a", "b"]


def test_list_entries_prefix_and_cursor(mem):
    """Paging with a prefix stays within the prefix on every page."""
    mem.write_many("ns", {f"a:{i}": i for i in range(7)} | {f"b:{i}": i for i in range(7)})
    seen = []
    cursor = None
    while True:
        page = mem.list_entries("ns", prefix="b:", limit=3, cursor=cursor)
        seen += [e.key for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [f"b:{i}" for i in range(7)]


def test_list_entries_default_limit_is_100(mem):
    """Without limit, list_entries returns at most 100 entries and a cursor for the rest."""
    mem.write_many("ns", {f"k{i:03d}": i for i in range(150)})
    page = mem.list_entries("ns")
    assert len(page.items) == 100
    assert page.next_cursor is not None
    rest = mem.list_entries("ns", cursor=page.next_cursor)
    assert [e.key for e in rest.items] == [f"k{i:03d}" for i in range(100, 150)]
    assert rest.next_cursor is None


def test_list_entries_cursor_survives_deletes(mem):
    """A cursor stays valid when keys are deleted between pages: no key is repeated and
    every surviving key after the cursor is listed."""
    mem.write_many("ns", {f"k{i}": i for i in range(6)})
    page = mem.list_entries("ns", limit=3)
    assert [e.key for e in page.items] == ["k0", "k1", "k2"]
    mem.delete("ns", "k2")
    mem.delete("ns", "k3")
    rest = mem.list_entries("ns", limit=3, cursor=page.next_cursor)
    assert [e.key for e in rest.items] == ["k4", "k5"]


def test_keys_with_unusual_characters(mem):
    """Keys may hold slashes, spaces, quotes, unicode and up to 1024 UTF-8 bytes."""
    keys = [
        "a/b/c",
        "with space",
        "quote\"'",
        "ünï",
        "\U0001f41d",
        "x" * 1024,
        "é" * 512,
        "%2F",
        "..",
        "*",
    ]
    for key in keys:
        mem.write("ns", key, key)
    for key in keys:
        assert mem.read("ns", key) == key
    assert sorted(mem.get_keys("ns")) == sorted(keys)


def test_prefix_listing_at_the_edges_of_unicode(mem):
    """A prefix ending in U+D7FF (next character U+E000: surrogates are skipped) or in
    U+10FFFF (no next character) lists exactly its keys; a lone surrogate is refused."""
    keys = ["\ud7ff", "\ud7ffa", "\ue000", "\U0010ffff", "\U0010ffffz", "\U0010fffe\U0010ffff"]
    for key in keys:
        mem.write("ns", key, 1)
    assert mem.get_keys("ns", prefix="\ud7ff") == ["\ud7ff", "\ud7ffa"]
    assert mem.get_keys("ns", prefix="\U0010ffff") == ["\U0010ffff", "\U0010ffffz"]
    assert mem.get_keys("ns", prefix="\U0010fffe") == ["\U0010fffe\U0010ffff"]
    assert mem.get_keys("ns", prefix="\ue000") == ["\ue000"]
    for bad in ("\ud800", "a\udfff"):
        with pytest.raises(InvalidArgument):
            mem.get_keys("ns", prefix=bad)


def test_exists_says_whether_a_key_holds_a_live_entry(mem, clock):
    """exists is True for a live entry (a null value included), False for a missing,
    deleted or expired one; it needs read permission and audits as ``exists``."""
    mem.create_namespace("ns", "alice", default_permission=None, permissions={"bob": "read"})
    mem.write("ns", "null", None, "alice")
    mem.write("ns", "short", 1, "alice", ttl=5)
    mem.write("ns", "gone", 1, "alice")
    mem.delete("ns", "gone", "alice")
    assert mem.exists("ns", "null", "bob") is True
    assert mem.exists("ns", "short", "bob") is True
    assert mem.exists("ns", "missing", "bob") is False
    assert mem.exists("ns", "gone", "bob") is False
    clock.advance(6)
    assert mem.exists("ns", "short", "bob") is False
    with pytest.raises(PermissionDenied):
        mem.exists("ns", "null", "eve")
    with pytest.raises(NamespaceNotFound):
        mem.exists("nowhere", "k", "bob")
    assert "exists" in {r.action for r in mem.access_log(namespace="ns", agent_id="bob")}
