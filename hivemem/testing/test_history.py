"""Entry history and reads as of a revision or a time (SPEC §20)."""

from __future__ import annotations

import datetime

import pytest

from hivemem import InvalidArgument, Memory, PermissionDenied, RevisionCompacted, Version


def _rev(mem: Memory, ns: str = "ns") -> int:
    return mem.get_namespace(ns).revision


def test_history_lists_every_version_newest_first(mem, clock):
    """history returns each write and each deletion of the key, newest first, with who and
    when; other keys' changes are not in it."""
    mem.write("ns", "k", 1, "alice")
    clock.advance(1)
    mem.write("ns", "other", "x", "alice")
    mem.write("ns", "k", {"a": 2}, "bob")
    clock.advance(1)
    mem.delete("ns", "k", "alice")
    mem.write("ns", "k", [3], "carol")
    got = mem.history("ns", "k")
    assert [(v.value, v.version, v.agent_id, v.deleted) for v in got] == [
        ([3], 1, "carol", False),
        (None, 2, "alice", True),
        ({"a": 2}, 2, "bob", False),
        (1, 1, "alice", False),
    ]
    assert all(isinstance(v, Version) for v in got)
    assert [v.revision for v in got] == sorted((v.revision for v in got), reverse=True)
    assert got[0].revision == mem.get_entry("ns", "k").revision
    assert got[-1].updated_at == got[-2].updated_at - 1


def test_history_pages_with_before_and_limit(mem):
    """limit caps a page; before= the last revision seen gives the next, older, page."""
    for i in range(7):
        mem.write("ns", "k", i)
    first = mem.history("ns", "k", limit=3)
    assert [v.value for v in first] == [6, 5, 4]
    second = mem.history("ns", "k", limit=3, before=first[-1].revision)
    assert [v.value for v in second] == [3, 2, 1]
    last = mem.history("ns", "k", limit=3, before=second[-1].revision)
    assert [v.value for v in last] == [0]
    assert mem.history("ns", "missing") == []
    with pytest.raises(InvalidArgument):
        mem.history("ns", "k", limit=0)
    with pytest.raises(InvalidArgument):
        mem.history("ns", "k", limit=1001)
    with pytest.raises(InvalidArgument):
        mem.history("ns", "k", before=-1)


def test_history_shows_clears_expiries_and_namespace_deletes_as_deletions(mem, clock):
    """A clear of the namespace, an announced expiry and a namespace delete end a version;
    a clear while the key is absent is not a version of it."""
    mem.write("ns", "k", 1, ttl=5)
    clock.advance(6)
    mem.cleanup()
    mem.write("ns", "k", 2)
    mem.clear_namespace("ns")
    cleared = _rev(mem)
    mem.clear_namespace("ns")  # the key is absent already
    mem.write("ns", "k", 3)
    mem.delete_namespace("ns")
    mem.write("ns", "k", 4)
    got = [(v.value, v.version, v.deleted) for v in mem.history("ns", "k")]
    assert got == [
        (4, 1, False),
        (None, 1, True),
        (3, 1, False),
        (None, 1, True),
        (2, 1, False),
        (None, 1, True),
        (1, 1, False),
    ]
    assert mem.history("ns", "k")[-2].agent_id == "system"
    assert mem.history("ns", "k")[3].revision == cleared  # the clear that removed it


def test_read_as_of_a_revision_returns_the_value_then(mem):
    """read(as_of=R) is the value after revision R; before the key existed it is absent;
    get_entry(as_of=) carries version, owner and revision of that state."""
    mem.write("ns", "k", "a", "alice")
    r1 = _rev(mem)
    mem.write("ns", "k", "b", "bob")
    r2 = _rev(mem)
    mem.delete("ns", "k")
    r3 = _rev(mem)
    mem.write("ns", "k", "c")
    assert mem.read("ns", "k", as_of=r1) == "a"
    assert mem.read("ns", "k", as_of=r2) == "b"
    assert mem.read("ns", "k", as_of=r3, default="gone") == "gone"
    assert mem.read("ns", "k", as_of=r1 - 1) is None
    assert mem.read("ns", "k", as_of=_rev(mem)) == "c"
    entry = mem.get_entry("ns", "k", as_of=r2)
    assert (entry.value, entry.version, entry.owner, entry.revision) == ("b", 2, "bob", r2)
    assert mem.get_entry("ns", "k", as_of=r3) is None
    with pytest.raises(InvalidArgument):
        mem.read("ns", "k", as_of=_rev(mem) + 5)
    with pytest.raises(InvalidArgument):
        mem.read("ns", "k", as_of="yesterday")


def test_read_as_of_a_time_maps_to_the_last_revision_then(mem, clock):
    """A datetime or Unix seconds maps to the last revision at or before that time."""
    mem.write("ns", "k", "a")
    t1 = clock()
    clock.advance(10)
    mem.write("ns", "k", "b")
    clock.advance(10)
    mem.write("ns", "k", "c")
    assert mem.read("ns", "k", as_of=t1 + 5.0) == "a"
    assert mem.read("ns", "k", as_of=t1 + 10.0) == "b"
    assert mem.read("ns", "k", as_of=datetime.datetime.fromtimestamp(t1 + 15)) == "b"
    assert mem.read("ns", "k", as_of=t1 + 100.0) == "c"
    page = mem.list_entries("ns", as_of=t1 + 1.0)
    assert [(e.key, e.value) for e in page.items] == [("k", "a")]


def test_list_entries_as_of_replays_the_namespace(mem):
    """list_entries(as_of=R) lists the entries live after R, paged, prefix honoured; a
    clear after R does not hide what R held."""
    mem.write("ns", "a", 1)
    mem.write("ns", "b", 1)
    mem.write("ns", "c", 1)
    r = _rev(mem)
    mem.write("ns", "a", 2)
    mem.delete("ns", "b")
    mem.write("ns", "d", 1)
    mem.clear_namespace("ns")
    mem.write("ns", "e", 1)
    page = mem.list_entries("ns", as_of=r, limit=2)
    assert [(e.key, e.value) for e in page.items] == [("a", 1), ("b", 1)]
    rest = mem.list_entries("ns", as_of=r, limit=2, cursor=page.next_cursor)
    assert [(e.key, e.value) for e in rest.items] == [("c", 1)]
    assert rest.next_cursor is None
    assert [e.key for e in mem.list_entries("ns", as_of=r, prefix="b").items] == ["b"]
    now = mem.list_entries("ns", as_of=_rev(mem))
    assert [(e.key, e.value) for e in now.items] == [("e", 1)]


def test_as_of_before_the_retained_log_raises_revision_compacted(make_mem):
    """A revision older than the retained log raises RevisionCompacted naming the oldest
    available one; so does a key whose value then is no longer retained."""
    mem = make_mem(event_retention=16)
    mem.write("ns", "old", "v1")
    mem.write("ns", "old", "v2")
    for i in range(60):
        mem.write("ns", "filler", i)
    oldest_seen = mem.history("ns", "filler", limit=1000)[-1].revision
    with pytest.raises(RevisionCompacted) as info:
        mem.read("ns", "filler", as_of=2)
    assert 2 < info.value.oldest_available <= oldest_seen
    with pytest.raises(RevisionCompacted):
        mem.history("ns", "filler", before=2)
    with pytest.raises(RevisionCompacted):
        mem.list_entries("ns", as_of=2)
    current = _rev(mem)
    # "old" was last written before the retained log: unchanged since, so still known
    assert mem.read("ns", "old", as_of=current - 3) == "v2"
    mem.write("ns", "old", "v3")
    with pytest.raises(RevisionCompacted) as info:
        mem.read("ns", "old", as_of=current - 3)
    assert info.value.oldest_available == _rev(mem)
    assert mem.read("ns", "never", as_of=current - 3) is None


def test_history_needs_read_permission(mem):
    """history and as_of reads need read permission, as plain reads do."""
    mem.create_namespace("ns", "alice", default_permission=None, permissions={"bob": "read"})
    mem.write("ns", "k", 1, "alice")
    rev = mem.get_namespace("ns", "alice").revision
    assert [v.value for v in mem.history("ns", "k", agent="bob")] == [1]
    assert mem.read("ns", "k", "bob", as_of=rev) == 1
    with pytest.raises(PermissionDenied):
        mem.history("ns", "k", agent="eve")
    with pytest.raises(PermissionDenied):
        mem.read("ns", "k", "eve", as_of=rev)
    with pytest.raises(PermissionDenied):
        mem.list_entries("ns", "eve", as_of=rev)


def test_list_entries_as_of_pages_through_many_entries(mem):
    """A listing as of a revision pages through more entries than one read step holds,
    mixing entries unchanged since with ones changed or deleted after it."""
    for start in (0, 550):  # (a batch carries at most 1,000 ops)
        mem.write_many("ns", {f"k{i:04d}": i for i in range(start, start + 550)})
    r = _rev(mem)
    mem.write_many("ns", {f"k{i:04d}": -i for i in range(0, 1100, 7)})
    for i in range(3, 1100, 101):
        mem.delete("ns", f"k{i:04d}")
    mem.write("ns", "k9999", "new")
    seen: dict[str, int] = {}
    cursor = None
    for _ in range(10):
        page = mem.list_entries("ns", as_of=r, limit=300, cursor=cursor)
        seen.update((e.key, e.value) for e in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == {f"k{i:04d}": i for i in range(1100)}
    now = {e.key: e.value for e in mem.list_entries("ns", limit=2000).items}
    assert now == {
        e.key: e.value for e in mem.list_entries("ns", as_of=_rev(mem), limit=2000).items
    }
