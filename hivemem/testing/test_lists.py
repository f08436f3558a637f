"""Values that mean something to the engine cannot be forged; list and prefix work is bounded.

A list header (``{"$list": [head, tail]}``) is written by list operations alone: every other
door refuses a value with a top-level ``"$list"`` key. A header already stored by an older
version (simulated here by switching the check off while writing it) is checked before use
and answers ``WrongType`` at once, whatever it says. A namespace the memories API wrote to
refuses plain entry writes.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from hivemem import InvalidArgument, WrongType
from hivemem.engine import apply
from hivemem.engine import lists as engine_lists
from hivemem.engine import ops as o
from hivemem.testing.helpers import Recorder

if TYPE_CHECKING:
    from collections.abc import Callable

_FORGED = {"$list": [0, 1_000_000_000_000_000]}


def _old_write(mem: Any, monkeypatch: pytest.MonkeyPatch, ns: str, key: str, value: Any) -> None:
    """Store ``value`` as a version without the reserved-value check would have."""
    with monkeypatch.context() as patch:
        patch.setattr(apply, "check_value", lambda value_json: None)
        mem.write(ns, key, value)


def _list_ops(key: str) -> list[o.Op[Any]]:
    return [
        o.ListPush(agent="a", ns="ns", key=key, items=("1",)),
        o.ListInsert(agent="a", ns="ns", key=key, index=3, item="1"),
        o.ListPop(agent="a", ns="ns", key=key, index=2),
        o.ListRemove(agent="a", ns="ns", key=key, item="1"),
        o.ListRange(agent="a", ns="ns", key=key),
    ]


@pytest.mark.parametrize(
    "value",
    [_FORGED, {"$list": [0, 2]}, {"$list": "x", "other": 1}, {"\u0024list": [1, 2]}],
    ids=["huge", "small", "odd", "escaped"],
)
def test_reserved_value_refused_by_write_and_write_many(mem, value):
    """write and write_many refuse a top-level "$list" key; nothing is stored."""
    mem.create_namespace("ns")
    with pytest.raises(InvalidArgument):
        mem.write("ns", "evil", value)
    with pytest.raises(InvalidArgument):
        mem.write_many("ns", {"fine": 1, "evil": value})
    assert mem.read("ns", "evil") is None
    assert mem.read("ns", "fine") is None  # all or nothing
    # A list op on the key sees no list: a fresh one.
    assert mem._run(o.ListPush(agent="a", ns="ns", key="evil", items=("1",))) == 1


def test_unreserved_lookalikes_are_plain_values(mem):
    """Only a top-level "$list" key is reserved: nested or similar keys are plain values."""
    for value in ({"a": {"$list": [0, 9]}}, {"$lists": [0, 9]}, ["$list", 0, 9], "$list"):
        assert mem.write("ns", "k", value).value == value
        assert mem.read("ns", "k") == value


def test_reserved_value_refused_as_list_items(mem):
    """Pushed and inserted items are refused as well (an item is an entry of its own)."""
    mem.create_namespace("ns")
    forged = '{"$list":[0,1000000000000000]}'
    with pytest.raises(InvalidArgument):
        mem._run(o.ListPush(agent="a", ns="ns", key="l", items=("1", forged)))
    mem._run(o.ListPush(agent="a", ns="ns", key="l", items=("1",)))
    with pytest.raises(InvalidArgument):
        mem._run(o.ListInsert(agent="a", ns="ns", key="l", index=0, item=forged))
    assert mem._run(o.ListRange(agent="a", ns="ns", key="l")) == ([1], 1)


def test_merge_result_cannot_become_a_header(mem):
    """merge: a merged value with a top-level "$list" key is refused like a written one."""
    mem.create_namespace("ns", conflict_strategy="merge")
    mem.write("ns", "k", {"a": 1})
    with pytest.raises(InvalidArgument):
        mem.write("ns", "k", {"$list": [0, 5]})
    assert mem.read("ns", "k") == {"a": 1}


def test_resolver_result_cannot_become_a_header(mem):
    """custom: a resolver returning a header-shaped value is refused, nothing changes."""
    mem.create_namespace("ns", conflict_strategy="custom", resolver=lambda e, i, k: _FORGED)
    mem.write("ns", "k", 1)
    with pytest.raises(InvalidArgument):
        mem.write("ns", "k", 2)
    assert mem.read("ns", "k") == 1


def test_conversation_fields_cannot_forge_a_list(mem):
    """Conversation fields (set, update) refuse header-shaped values."""
    conv = mem.conversation("c1")
    with pytest.raises(InvalidArgument):
        conv.set("f", _FORGED)
    with pytest.raises(InvalidArgument):
        conv.update({"f": _FORGED})
    conv.append("f", 1)
    assert conv.get("f") == [1]


@pytest.mark.parametrize(
    "header",
    [
        [0, 1_000_000_000_000_000],
        [0, engine_lists.MAX_LIST_LENGTH + 1],
        [5, 1],
        [-(1 << 63), (1 << 63) - 1],
        ["0", 1],
        [True, 2],
        [0.0, 1],
        [0],
        "x",
    ],
)
def test_invalid_stored_header_is_a_clear_error(mem, monkeypatch, header):
    """A header an older store holds that no list could have answers WrongType at once."""
    _old_write(mem, monkeypatch, "ns", "evil", {"$list": header})
    started = time.monotonic()
    for op in _list_ops("evil"):
        with pytest.raises(WrongType):
            mem._run(op)
    assert time.monotonic() - started < 10
    assert mem.read("ns", "evil") == {"$list": header}  # refused ops changed nothing
    mem.write("ns", "other", 1)  # the store still writes
    assert mem.delete("ns", "evil")
    assert mem._run(o.ListPush(agent="a", ns="ns", key="evil", items=("1",))) == 1


def test_valid_but_empty_stored_header_reads_fast(mem, monkeypatch):
    """A header spanning the maximum length over positions holding nothing costs a scan of
    what is stored, not of the span: the list reads as empty and takes pushes."""
    span = engine_lists.MAX_LIST_LENGTH
    _old_write(mem, monkeypatch, "ns", "big", {"$list": [0, span]})
    mem.write("ns", "big/zz", "not an item")  # a key under the list that is no item
    started = time.monotonic()
    assert mem._run(o.ListRange(agent="a", ns="ns", key="big")) == ([], 0)
    assert mem._run(o.ListPush(agent="a", ns="ns", key="big", items=("7",))) == 1
    assert mem._run(o.ListRange(agent="a", ns="ns", key="big")) == ([7], 1)
    assert mem._run(o.ListPop(agent="a", ns="ns", key="big")) == 7
    assert time.monotonic() - started < 10


def test_conversation_get_of_a_forged_field_is_an_error(mem, monkeypatch):
    """A conversation field holding an invalid header (older store) raises WrongType."""
    conv = mem.conversation("c1")
    conv.set("f", 1)
    with monkeypatch.context() as patch:
        patch.setattr(apply, "check_value", lambda value_json: None)
        conv.set("f", _FORGED)
    with pytest.raises(WrongType):
        conv.get("f")


def test_list_range_returns_at_most_max_range_items(mem):
    """One list_range op returns at most MAX_RANGE items (with the full length); the
    conversation API pages and returns every item."""
    total = engine_lists.MAX_RANGE + 5
    conv = mem.conversation("c1")
    for start in range(0, total, 1000):
        conv.extend("l", list(range(start, min(total, start + 1000))))
    key = "c/c1/f/l"
    items, length = mem._run(o.ListRange(agent="a", ns="conversations", key=key))
    assert length == total
    assert items == list(range(engine_lists.MAX_RANGE))
    items, _ = mem._run(o.ListRange(agent="a", ns="conversations", key=key, start=-10))
    assert items == list(range(total - 10, total))
    assert conv.get_list("l") == list(range(total))
    assert conv.get("l") == list(range(total))


def test_list_length_is_bounded(mem, monkeypatch):
    """A push beyond MAX_LIST_LENGTH is refused (checked on a smaller bound), nothing kept."""
    monkeypatch.setattr(engine_lists, "MAX_LIST_LENGTH", 5)
    mem._run(o.ListPush(agent="a", ns="ns", key="l", items=("1", "2", "3", "4")))
    with pytest.raises(InvalidArgument):
        mem._run(o.ListPush(agent="a", ns="ns", key="l", items=("5", "6")))
    mem._run(o.ListInsert(agent="a", ns="ns", key="l", index=1, item="9"))
    with pytest.raises(InvalidArgument):
        mem._run(o.ListInsert(agent="a", ns="ns", key="l", index=1, item="9"))
    assert mem._run(o.ListRange(agent="a", ns="ns", key="l")) == ([1, 9, 2, 3, 4], 5)


def test_middle_changes_move_at_most_max_move_items(mem, monkeypatch):
    """Inserting or removing in the middle moves at most MAX_MOVE items (checked on a
    smaller bound); the ends stay free at any length."""
    monkeypatch.setattr(engine_lists, "MAX_MOVE", 3)
    items = tuple(str(i) for i in range(10))
    mem._run(o.ListPush(agent="a", ns="ns", key="l", items=items))
    with pytest.raises(InvalidArgument):
        mem._run(o.ListInsert(agent="a", ns="ns", key="l", index=2, item="99"))
    with pytest.raises(InvalidArgument):
        mem._run(o.ListPop(agent="a", ns="ns", key="l", index=2))
    with pytest.raises(InvalidArgument):
        mem._run(o.ListRemove(agent="a", ns="ns", key="l", item="2"))
    assert mem._run(o.ListPop(agent="a", ns="ns", key="l", index=7)) == 7  # moves 2
    assert mem._run(o.ListRemove(agent="a", ns="ns", key="l", item="0")) == 8  # the head
    assert mem._run(o.ListPop(agent="a", ns="ns", key="l", index=0)) == 1
    assert mem._run(o.ListRange(agent="a", ns="ns", key="l")) == ([2, 3, 4, 5, 6, 8, 9], 7)


@pytest.mark.parametrize("by", ["position", "scan"])
def test_expired_head_is_skipped(mem, clock, monkeypatch, by):
    """Expired items at the head: readers skip them, writers drop them (memory:expired),
    reading a short span by position and a long one (here: longer than 2) by a scan."""
    if by == "scan":
        monkeypatch.setattr(engine_lists, "MAX_RANGE", 2)
    mem._run(o.ListPush(agent="a", ns="ns", key="l", items=("1", "2", "3"), ttl=10))
    clock.advance(5)
    mem._run(o.ListPush(agent="a", ns="ns", key="l", items=("4",), ttl=100))
    clock.advance(6)
    assert mem._run(o.ListRange(agent="a", ns="ns", key="l")) == ([4], 1)
    rec = Recorder()
    mem.on("memory:expired", rec)
    assert mem._run(o.ListPush(agent="a", ns="ns", key="l", items=("5",))) == 2
    assert [e.key for e in rec.of("memory:expired")] == [
        engine_lists.item_key("l", p) for p in (0, 1, 2)
    ]
    assert mem.get_keys("ns", prefix="l/") == [engine_lists.item_key("l", p) for p in (3, 4)]


def test_delete_prefix_is_chunked(mem):
    """One delete_prefix op deletes at most MAX_PREFIX entries; conversation clear_all
    deletes everything in as many rounds as it takes."""
    conv = mem.conversation("c1")
    total = engine_lists.MAX_PREFIX + 10
    for start in range(0, total, 1000):
        conv.extend("l", list(range(start, min(total, start + 1000))))
    first = mem._run(o.DeletePrefix(agent="a", ns="conversations", prefix="c/c1/"))
    assert first == engine_lists.MAX_PREFIX
    assert conv.clear_all() == 11  # the 11 items left
    assert mem.get_keys("conversations", prefix="c/c1/") == []


def test_expire_prefix_refuses_more_than_max_prefix(mem, monkeypatch):
    """expire_prefix refuses a prefix holding more than MAX_PREFIX entries, changing none."""
    monkeypatch.setattr(engine_lists, "MAX_PREFIX", 3)
    mem.write_many("ns", {f"p/{i}": i for i in range(4)})
    with pytest.raises(InvalidArgument):
        mem._run(o.ExpirePrefix(agent="a", ns="ns", prefix="p/", ttl=5))
    assert all(e.expires_at is None for e in mem.list_entries("ns").items)
    assert mem._run(o.ExpirePrefix(agent="a", ns="ns", prefix="p/1", ttl=5)) == 1


# ---------------------------------------------------------------- memories namespaces


def test_memories_namespace_refuses_plain_writes(mem):
    """Once the memories API wrote to a namespace, plain doors cannot change its entries
    (records, internal keys, the marker, new keys); the memories API still works."""
    memories = mem.memories("mems")
    record = memories.add("the sky is blue")
    info = mem.get_namespace("mems")
    assert info.kind == "memories"
    keys = mem.get_keys("mems")
    assert record.id in keys
    attempts: list[Callable[[], Any]] = [
        lambda: mem.write("mems", record.id, {"id": record.id, "content": 1}),
        lambda: mem.write("mems", "_memories", {"kind": "memories"}),
        lambda: mem.write("mems", "_r/a/b/c", {}),
        lambda: mem.write("mems", "brand-new", 1),
        lambda: mem.write_many("mems", {"x": 1}),
        lambda: mem.delete("mems", record.id),
        lambda: mem._run(o.ListPush(agent="a", ns="mems", key="l", items=("1",))),
        lambda: mem._run(o.DeletePrefix(agent="a", ns="mems", prefix="")),
        lambda: mem._run(o.ExpirePrefix(agent="a", ns="mems", prefix="", ttl=1)),
    ]
    for attempt in attempts:
        with pytest.raises(WrongType):
            attempt()
    assert mem.get_keys("mems") == keys
    assert memories.get(record.id).content == "the sky is blue"
    assert memories.update(record.id, content="the sky is grey").content == "the sky is grey"
    assert memories.delete(record.id) == 1
    # Reading, broadcasting and administering the namespace stay as they were.
    mem.broadcast("mems", {"hello": 1})
    mem.update_namespace("mems", description="mine")
    assert mem.get_namespace("mems").kind == "memories"


def test_memories_namespace_of_an_older_version_keeps_working(mem):
    """A namespace holding memories without the kind (an older version's) works, and its
    first memories write marks it."""
    mem.write("old", "_memories", {"kind": "memories"})
    mem.write("old", "note", "a plain entry")
    assert mem.get_namespace("old").kind is None
    memories = mem.memories("old")
    record = memories.add("remembered")
    assert mem.get_namespace("old").kind == "memories"
    assert memories.get(record.id).content == "remembered"
    with pytest.raises(WrongType):
        mem.write("old", "note", "changed")
    assert mem.read("old", "note") == "a plain entry"


def test_listing_past_many_expired_rows(mem, clock):
    """A page of live entries after many expired ones (not swept yet) is found whole, with
    the right cursor; the listing reads them in growing pages, not one small page each."""
    mem.write_many("ns", {f"a/{i:04d}": i for i in range(700)}, ttl=5)
    mem.write_many("ns", {"b/1": 1, "b/2": 2, "b/3": 3})
    clock.advance(10)
    page = mem.list_entries("ns", limit=2)
    assert [e.key for e in page.items] == ["b/1", "b/2"]
    page = mem.list_entries("ns", limit=2, cursor=page.next_cursor)
    assert [e.key for e in page.items] == ["b/3"] and page.next_cursor is None
    assert [e.key for e in mem.list_entries("ns", prefix="a/", limit=5).items] == []
