"""HivememStore against LangGraph's documented ``BaseStore`` contract, on every URL kind.

Where the semantics overlap, each test runs the same ops on LangGraph's own ``InMemoryStore``
and compares. Known, documented differences: search returns items in key order (the
``InMemoryStore`` in insertion order), so result sets are compared without order;
``InMemoryStore`` supports no TTL; and it keeps listing a namespace whose items were all
deleted (even one a delete of a missing item named), where its SQL stores and ours list the
namespaces that hold items: :class:`Reference` drops the empty ones before listing.
"""

from __future__ import annotations

import asyncio
import random
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchItem,
    SearchOp,
)
from langgraph.store.memory import InMemoryStore
from typing_extensions import TypedDict

import hivemem
from hivemem._plan import drive
from hivemem.integrations.langgraph import HivememStore, _caller, decode_key, encode_key

if TYPE_CHECKING:
    from conftest import Backend

NS = "langgraph"


class Reference(InMemoryStore):
    """LangGraph's ``InMemoryStore``, listing only namespaces that hold items."""

    def _handle_list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        for namespace in [ns for ns, items in self._data.items() if not items]:
            del self._data[namespace]
        return super()._handle_list_namespaces(op)


def view(item: Item | None) -> tuple[tuple[str, ...], str, dict[str, Any]] | None:
    """What both stores must agree on (their timestamps differ)."""
    return None if item is None else (item.namespace, item.key, item.value)


def views(items: list[SearchItem]) -> list[tuple[tuple[str, ...], str, dict[str, Any]]]:
    return sorted((i.namespace, i.key, i.value) for i in items)


def both(store: HivememStore) -> list[BaseStore]:
    return [store, Reference()]


# ---------------------------------------------------------------- put / get / delete


def test_put_then_get_returns_the_item_with_its_times(backend: Backend) -> None:
    store = backend.store()
    store.put(("users", "42"), "prefs", {"theme": "dark", "tags": ["a", "b"], "n": 1.5})
    item = store.get(("users", "42"), "prefs")
    assert item is not None
    assert item.namespace == ("users", "42")
    assert item.key == "prefs"
    assert item.value == {"theme": "dark", "tags": ["a", "b"], "n": 1.5}
    assert isinstance(item.created_at, datetime) and item.created_at.tzinfo is not None
    assert item.created_at.timestamp() == backend.clock.now
    assert item.updated_at == item.created_at


def test_update_keeps_created_at_and_moves_updated_at(backend: Backend) -> None:
    store = backend.store()
    store.put(("docs",), "d1", {"v": 1})
    first = store.get(("docs",), "d1")
    backend.clock.advance(5)
    store.put(("docs",), "d1", {"v": 2})
    second = store.get(("docs",), "d1")
    assert first is not None and second is not None
    assert second.value == {"v": 2}  # a put replaces the whole value
    assert second.created_at == first.created_at
    assert (second.updated_at - first.updated_at).total_seconds() == 5


def test_get_of_a_missing_item_is_none_even_on_an_empty_store(backend: Backend) -> None:
    store = backend.store()
    assert store.get(("nothing", "here"), "k") is None  # the hivemem namespace is not there
    store.put(("a",), "k", {"x": 1})
    assert store.get(("a",), "other") is None
    assert store.get(("b",), "k") is None


def test_delete_removes_the_item_and_missing_deletes_are_fine(backend: Backend) -> None:
    store = backend.store()
    for s in both(store):
        s.put(("a", "b"), "k", {"x": 1})
        s.delete(("a", "b"), "k")
        s.delete(("a", "b"), "k")
        s.delete(("never",), "there")
        assert s.get(("a", "b"), "k") is None
        assert s.search(("a",)) == []
        assert s.list_namespaces() == []


def test_namespaces_are_tuples_and_each_level_is_its_own_namespace(backend: Backend) -> None:
    store = backend.store()
    results = []
    for s in both(store):
        s.put(("a",), "k", {"at": "a"})
        s.put(("a", "b"), "k", {"at": "a/b"})
        s.put(("ab",), "k", {"at": "ab"})
        s.put(("a", "b", "c"), "k", {"at": "a/b/c"})
        results.append(
            [
                [view(s.get(ns, "k")) for ns in [("a",), ("a", "b"), ("ab",), ("a", "b", "c")]],
                views(s.search(("a",))),
                views(s.search(("a", "b"))),
                views(s.search(())),
                s.list_namespaces(),
            ]
        )
    assert results[0] == results[1]
    assert [v for _, _, v in views(store.search(("a",)))] == [
        {"at": "a"},
        {"at": "a/b"},
        {"at": "a/b/c"},
    ]


def test_any_label_and_key_string_round_trips(backend: Backend) -> None:
    store = backend.store()
    odd = ["x:y", "p/q", "100%", "%2F", "tab\there", "new\nline", "ünï ☃", " ", "-", "*"]
    for i, label in enumerate(odd):
        key = odd[-1 - i] + ":/%\x01"
        store.put(("odd", label), key, {"i": i})
        item = store.get(("odd", label), key)
        assert item is not None and (item.namespace, item.key, item.value) == (
            ("odd", label),
            key,
            {"i": i},
        )
    assert sorted(store.list_namespaces(prefix=("odd",))) == sorted(("odd", lb) for lb in odd)
    assert len(store.search(("odd",), limit=100)) == len(odd)
    store.put(("e",), "", {"empty": "key"})  # an empty key is a valid LangGraph key
    assert view(store.get(("e",), "")) == (("e",), "", {"empty": "key"})


def test_encode_key_layout_and_decode_round_trip() -> None:
    assert encode_key(("users", "42"), "prefs") == "users/42/:prefs"
    assert encode_key(("a:b", "c/d", "5%"), "k:/") == "a%3Ab/c%2Fd/5%25/:k:/"
    assert decode_key("a%3Ab/c%2Fd/5%25/:k:/") == (("a:b", "c/d", "5%"), "k:/")
    assert decode_key(":k") == ((), "k")
    for foreign in ["plain", "a/b", "a:b", "a//:k", "/:k"]:
        assert decode_key(foreign) is None, foreign


def test_invalid_namespaces_are_refused_as_langgraph_documents(backend: Backend) -> None:
    store = backend.store()
    for s in both(store):
        for bad in [(), ("langgraph", "x"), ("a.b",), ("",), ("a", "")]:
            with pytest.raises(InvalidNamespaceError):
                s.put(bad, "k", {"x": 1})
        with pytest.raises(InvalidNamespaceError):
            s.get(("a.b",), "k")
        with pytest.raises(InvalidNamespaceError):
            s.search(("a", ""))
        with pytest.raises(InvalidNamespaceError):
            s.list_namespaces(prefix=("x.y",))
    # Ops handed to batch() directly are checked too, before anything runs.
    with pytest.raises(InvalidNamespaceError):
        store.batch([PutOp(("ok",), "k", {"x": 1}), PutOp(("a.b",), "k", {"x": 1})])
    assert store.get(("ok",), "k") is None


def test_a_key_longer_than_hivemem_allows_is_a_clear_error_and_nothing_is_written(
    backend: Backend,
) -> None:
    store = backend.store()
    with pytest.raises(hivemem.TooLarge, match="limit is 1024 bytes") as info:
        store.batch([PutOp(("fine",), "k", {"x": 1}), PutOp(("long",), "é" * 600, {"x": 2})])
    assert isinstance(info.value, ValueError)
    assert store.get(("fine",), "k") is None
    store.put(("long",), "k" * (1024 - len("long/:")), {"x": 3})  # exactly at the limit
    assert store.get(("long",), "k" * (1024 - len("long/:"))) is not None
    assert store.get(("long",), "k" * 1024) is None  # too long to have been stored
    with pytest.raises(hivemem.TooLarge):
        store.put(("long",), "k" * 1024, {"x": 4})


def test_values_must_be_dicts_and_foreign_entries_are_skipped(backend: Backend) -> None:
    store = backend.store()
    with pytest.raises(hivemem.InvalidArgument, match="dicts"):
        store.batch([PutOp(("a",), "k", ["not", "a", "dict"])])  # type: ignore[arg-type]
    store.put(("a",), "k", {"x": 1})
    mem = store.memory
    mem.write(NS, "not-ours", {"x": 1})  # written by another hivemem client
    mem.write(NS, encode_key(("a",), "scalar"), 42)
    assert mem.read(NS, "not-ours") == {"x": 1}
    assert view(store.get(("a",), "scalar")) == (("a",), "scalar", {"value": 42})
    assert views(store.search(())) == [
        (("a",), "k", {"x": 1}),
        (("a",), "scalar", {"value": 42}),
    ]
    assert store.list_namespaces() == [("a",)]


def test_items_live_in_the_configured_hivemem_namespace(backend: Backend) -> None:
    mem = backend.connect()
    one = HivememStore(mem)
    two = HivememStore(mem, namespace="lg-two")
    one.put(("x",), "k", {"store": 1})
    two.put(("x",), "k", {"store": 2})
    assert one.get(("x",), "k").value == {"store": 1}  # type: ignore[union-attr]
    assert two.get(("x",), "k").value == {"store": 2}  # type: ignore[union-attr]
    assert mem.read(NS, "x/:k") == {"store": 1}
    assert mem.read("lg-two", "x/:k") == {"store": 2}


# ---------------------------------------------------------------- search


def _catalog(s: BaseStore) -> None:
    rows = [
        (("shop", "fruit"), "apple", {"color": "red", "price": 1.2, "stock": 10, "meta": {"o": 1}}),
        (("shop", "fruit"), "banana", {"color": "yellow", "price": 0.5, "stock": 0}),
        (("shop", "fruit"), "cherry", {"color": "red", "price": 4.0, "stock": 3, "tags": [1, 2]}),
        (("shop", "veg"), "carrot", {"color": "orange", "price": 0.8, "stock": 7}),
        (("shop", "veg"), "beet", {"color": "red", "price": 1.0, "stock": 2, "meta": {"o": 2}}),
        (("shop", "veg", "root"), "radish", {"color": "red", "price": 2.0, "stock": 5}),
        (("other",), "apple", {"color": "green", "price": 9.0, "stock": 1}),
    ]
    for ns, key, value in rows:
        s.put(ns, key, value)


FILTERS: list[dict[str, Any]] = [
    {},
    {"color": "red"},
    {"color": {"$eq": "red"}},
    {"color": {"$ne": "red"}},
    {"price": {"$gt": 1.0}},
    {"price": {"$gte": 1.0}},
    {"price": {"$lt": 1.0}},
    {"price": {"$lte": 1.0}},
    {"price": {"$gt": 0.6, "$lt": 2.0}},
    {"color": "red", "stock": {"$gte": 3}},
    {"stock": 0},
    {"meta": {"o": 2}},
    {"tags": [1, 2]},
    {"color": "purple"},
]


def test_search_filters_match_in_memory_store(backend: Backend) -> None:
    store = backend.store()
    ref = Reference()
    _catalog(store)
    _catalog(ref)
    for prefix in [(), ("shop",), ("shop", "fruit"), ("shop", "veg"), ("nope",)]:
        for f in FILTERS:
            got = store.search(prefix, filter=f, limit=100)
            want = ref.search(prefix, filter=f, limit=100)
            assert views(got) == views(want), (prefix, f)
            assert all(isinstance(i, SearchItem) and i.score is None for i in got)


def test_ordering_filters_skip_fields_that_are_missing_or_not_comparable(
    backend: Backend,
) -> None:
    store = backend.store()
    store.put(("m",), "num", {"v": 3})
    store.put(("m",), "str", {"v": "b"})
    store.put(("m",), "none", {"w": 1})
    store.put(("m",), "bool", {"v": True})
    assert [i.key for i in store.search(("m",), filter={"v": {"$gt": 1}})] == ["num"]
    assert [i.key for i in store.search(("m",), filter={"v": {"$gt": "a"}})] == ["str"]
    with pytest.raises(ValueError, match="operator"):
        store.search(("m",), filter={"v": {"$regex": "x"}})


def test_search_pages_with_offset_and_limit_across_hivemem_pages(backend: Backend) -> None:
    store = backend.store(page_size=3)  # several hivemem pages per search
    ref = Reference()
    for s in (store, ref):
        for i in range(23):
            s.put(("p", f"g{i % 3}"), f"k{i:02}", {"i": i, "even": i % 2 == 0})
    full = store.search(("p",), limit=100)
    assert views(full) == views(ref.search(("p",), limit=100))
    assert len(store.search(("p",))) == 10  # LangGraph's default limit
    pages = [store.search(("p",), limit=4, offset=o) for o in range(0, 24, 4)]
    assert [len(p) for p in pages] == [4, 4, 4, 4, 4, 3]
    flat = [view(i) for page in pages for i in page]
    assert flat == [view(i) for i in full]  # stable order: no item twice, none lost
    evens = store.search(("p",), filter={"even": True}, limit=5, offset=5)
    assert [i.value["i"] for i in evens] == [
        i.value["i"] for i in store.search(("p",), filter={"even": True}, limit=100)
    ][5:10]
    assert len(ref.search(("p",), filter={"even": True}, limit=5, offset=5)) == len(evens)
    assert store.search(("p",), limit=0) == []
    assert store.search(("p",), offset=100) == []


def test_search_ignores_query_without_an_index_like_in_memory_store(backend: Backend) -> None:
    store = backend.store()
    ref = Reference()
    _catalog(store)
    _catalog(ref)
    for s in (store, ref):
        s.put(("shop", "fruit"), "kiwi", {"color": "green"}, index=["color"])
        s.put(("shop", "fruit"), "lime", {"color": "green"}, index=False)
    got = store.search(("shop",), query="something red and sweet", limit=100)
    assert views(got) == views(store.search(("shop",), limit=100))
    assert views(got) == views(ref.search(("shop",), query="something red and sweet", limit=100))
    assert all(i.score is None for i in got)


# ---------------------------------------------------------------- list_namespaces


def _tree(s: BaseStore) -> None:
    for ns in [
        ("a", "b", "c"),
        ("a", "b", "d", "e"),
        ("a", "b", "d", "i"),
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("x", "v1"),
        ("x", "y", "v1"),
        ("users", "1", "memories"),
        ("users", "2", "memories"),
        ("users", "2", "prefs"),
    ]:
        s.put(ns, "k1", {"ns": list(ns)})
        s.put(ns, "k2", {"ns": list(ns)})


def test_list_namespaces_matches_in_memory_store(backend: Backend) -> None:
    store = backend.store(page_size=4)
    ref = Reference()
    _tree(store)
    _tree(ref)
    assert store.list_namespaces(prefix=("a", "b"), max_depth=3) == [
        ("a", "b", "c"),
        ("a", "b", "d"),
        ("a", "b", "f"),
    ]  # LangGraph's docstring example
    cases: list[dict[str, Any]] = [
        {},
        {"prefix": ("a",)},
        {"prefix": ("a", "b")},
        {"prefix": ("a", "*", "f")},
        {"prefix": ("*", "2")},
        {"suffix": ("v1",)},
        {"suffix": ("memories",)},
        {"suffix": ("*", "memories")},
        {"prefix": ("users",), "suffix": ("memories",)},
        {"max_depth": 1},
        {"max_depth": 2},
        {"prefix": ("a",), "max_depth": 2},
        {"limit": 3},
        {"limit": 3, "offset": 3},
        {"offset": 8},
        {"prefix": ("nope",)},
        {"prefix": ("a", "b", "c", "d", "e")},
    ]
    for case in cases:
        assert store.list_namespaces(**case) == ref.list_namespaces(**case), case


# ---------------------------------------------------------------- batch semantics


def _batch_ops() -> list[Any]:
    return [
        PutOp(("t",), "a", {"v": 1}),
        GetOp(("t",), "a"),  # reads see the store before the batch's writes
        PutOp(("t",), "b", {"v": 2}),
        PutOp(("t",), "a", {"v": 3}),  # the last put to an item wins
        SearchOp(("t",)),
        ListNamespacesOp(),
        PutOp(("t",), "gone", None),  # a None value deletes (absent: nothing to do)
        PutOp(("u",), "x", {"v": 4}),
        PutOp(("u",), "x", None),  # deleted again in the same batch: never stored
    ]


def _shape(results: list[Any]) -> list[Any]:
    out: list[Any] = []
    for r in results:
        if isinstance(r, Item):
            out.append(view(r))
        elif isinstance(r, list) and r and isinstance(r[0], Item):
            out.append(views(r))
        else:
            out.append(r)
    return out


def test_batch_matches_in_memory_store(backend: Backend) -> None:
    store = backend.store()
    ref = Reference()
    for s in (store, ref):
        s.put(("t",), "gone", {"v": 0})
    first = [store.batch(_batch_ops()), ref.batch(_batch_ops())]
    assert _shape(first[0]) == _shape(first[1])
    assert _shape(first[0]) == [
        None,
        None,
        None,
        None,
        [(("t",), "gone", {"v": 0})],
        [("t",)],
        None,
        None,
        None,
    ]
    # The second run sees the first one's writes.
    second = [store.batch(_batch_ops()), ref.batch(_batch_ops())]
    assert _shape(second[0]) == _shape(second[1])
    assert _shape(second[0])[1] == (("t",), "a", {"v": 3})
    assert views(store.search(("t",))) == [(("t",), "a", {"v": 3}), (("t",), "b", {"v": 2})]
    assert store.get(("u",), "x") is None


async def test_abatch_matches_batch(abackend: Backend) -> None:
    sync_store = abackend.store()
    async_store = HivememStore(amemory=hivemem.AsyncMemory(abackend.connect()._c), namespace="lg2")
    sync_store.put(("t",), "gone", {"v": 0})
    sync_results = [sync_store.batch(_batch_ops()), sync_store.batch(_batch_ops())]
    await async_store.aput(("t",), "gone", {"v": 0})
    async_results = [await async_store.abatch(_batch_ops()), await async_store.abatch(_batch_ops())]
    assert [_shape(r) for r in async_results] == [_shape(r) for r in sync_results]


async def test_async_methods_cover_the_contract(abackend: Backend) -> None:
    store = abackend.store()
    await store.aput(("users", "1"), "a", {"n": 1})
    await store.aput(("users", "2"), "a", {"n": 2})
    item = await store.aget(("users", "1"), "a")
    assert item is not None and item.value == {"n": 1}
    found = await store.asearch(("users",), filter={"n": {"$gte": 2}})
    assert [(i.namespace, i.key) for i in found] == [(("users", "2"), "a")]
    assert await store.alist_namespaces(prefix=("users",)) == [("users", "1"), ("users", "2")]
    await store.adelete(("users", "1"), "a")
    assert await store.aget(("users", "1"), "a") is None
    assert store.list_namespaces() == [("users", "2")]  # the sync API sees the async writes


def test_random_op_sequences_agree_with_in_memory_store(backend: Backend) -> None:
    store = backend.store(page_size=5)
    ref = Reference()
    rng = random.Random(7)
    spaces = [("r",), ("r", "a"), ("r", "b"), ("r", "a", "x"), ("s",)]
    keys = ["k1", "k2", "k3"]
    for _ in range(12):
        ops: list[Any] = []
        for _ in range(rng.randint(1, 8)):
            ns, key, roll = rng.choice(spaces), rng.choice(keys), rng.random()
            if roll < 0.45:
                ops.append(PutOp(ns, key, {"v": rng.randint(0, 5), "key": key}))
            elif roll < 0.55:
                ops.append(PutOp(ns, key, None))
            elif roll < 0.75:
                ops.append(GetOp(ns, key))
            elif roll < 0.9:
                f = rng.choice([None, {"v": {"$gte": 3}}, {"key": key}, {"v": {"$ne": 1}}])
                ops.append(SearchOp(ns[: rng.randint(0, len(ns))], f, limit=100))
            else:
                cond = MatchCondition("prefix", ns[:1])
                ops.append(ListNamespacesOp((cond,), max_depth=rng.choice([None, 2])))
        assert _shape(store.batch(ops)) == _shape(ref.batch(ops)), ops
    assert views(store.search((), limit=1000)) == views(ref.search((), limit=1000))


# ---------------------------------------------------------------- TTL


def test_ttl_minutes_become_hivemem_expiry(backend: Backend) -> None:
    store = backend.store()
    assert store.supports_ttl
    store.put(("t",), "short", {"v": 1}, ttl=1)  # one minute
    store.put(("t",), "forever", {"v": 2})
    entry = store.memory.get_entry(NS, "t/:short")
    assert entry is not None and entry.expires_at == backend.clock.now + 60
    backend.clock.advance(59)
    assert store.get(("t",), "short", refresh_ttl=False) is not None
    backend.clock.advance(2)
    assert store.get(("t",), "short") is None
    assert [i.key for i in store.search(("t",))] == ["forever"]
    assert store.list_namespaces() == [("t",)]
    store.put(("t",), "forever", {"v": 3}, ttl=None)
    assert store.memory.get_entry(NS, "t/:forever").expires_at is None  # type: ignore[union-attr]


def test_reads_refresh_the_ttl_unless_told_not_to(backend: Backend) -> None:
    store = backend.store()
    store.put(("t",), "a", {"v": 1}, ttl=1)
    store.put(("t",), "b", {"v": 2}, ttl=1)
    backend.clock.advance(50)
    got = store.get(("t",), "a")  # refreshes: 60 s from now
    assert got is not None and got.value == {"v": 1}
    backend.clock.advance(50)
    assert store.get(("t",), "a", refresh_ttl=False) is not None
    assert store.get(("t",), "b", refresh_ttl=False) is None  # not refreshed: expired
    found = store.search(("t",))  # refreshes what it returns
    assert [i.key for i in found] == ["a"]
    backend.clock.advance(50)
    assert [i.key for i in store.search(("t",), refresh_ttl=False)] == ["a"]
    backend.clock.advance(20)
    assert store.search(("t",)) == []
    entry_less = store.get(("t",), "never")
    assert entry_less is None


def test_ttl_config_default_and_refresh_on_read(backend: Backend) -> None:
    store = backend.store(ttl={"default_ttl": 2, "refresh_on_read": False})
    store.put(("c",), "k", {"v": 1})  # default_ttl: 2 minutes
    store.put(("c",), "keep", {"v": 2}, ttl=None)  # an explicit None: no expiry
    assert store.memory.get_entry(NS, "c/:k").expires_at == backend.clock.now + 120  # type: ignore[union-attr]
    backend.clock.advance(100)
    assert store.get(("c",), "k") is not None  # refresh_on_read False: no refresh
    backend.clock.advance(30)
    assert store.get(("c",), "k") is None
    assert store.get(("c",), "keep") is not None
    backend.clock.advance(100)
    assert store.get(("c",), "keep", refresh_ttl=True) is not None


def test_a_refresh_never_overwrites_a_newer_write(backend: Backend) -> None:
    store = backend.store()
    other = backend.store("other")
    store.put(("t",), "k", {"v": 1}, ttl=1)
    stale = store.memory.get_entry(NS, "t/:k")
    assert stale is not None
    other.put(("t",), "k", {"v": 2})  # no TTL now
    # A refresh of what was read before the other write is refused by expected_version.
    drive(_caller(store.memory), store._plan_refresh(stale))
    entry = store.memory.get_entry(NS, "t/:k")
    assert entry is not None and entry.value == {"v": 2} and entry.expires_at is None


# ---------------------------------------------------------------- construction, agents


async def test_constructors_share_one_store(abackend: Backend) -> None:
    mem = abackend.connect()
    by_memory = HivememStore(mem)
    by_async = HivememStore(hivemem.AsyncMemory(mem._c))
    by_both = HivememStore(mem, amemory=hivemem.AsyncMemory(mem._c))
    by_memory.put(("c",), "k", {"v": 1})
    assert by_async.get(("c",), "k") is not None
    assert await by_both.aget(("c",), "k") is not None
    assert await by_memory.aget(("c",), "k") is not None
    by_memory.close()  # a given handle stays open
    assert mem.read(NS, "c/:k") == {"v": 1}
    with pytest.raises(hivemem.InvalidArgument):
        HivememStore(mem, url="memory://")
    with pytest.raises(hivemem.InvalidArgument):
        HivememStore(mem, page_size=0)


def test_agent_is_the_writer_of_record(backend: Backend) -> None:
    if backend.name == "http":  # a token acts for its own agent
        store = backend.store("alice")
    else:
        store = HivememStore(backend.connect(), agent="alice")
    store.put(("a",), "k", {"v": 1})
    entry = store.memory.get_entry(NS, "a/:k")
    assert entry is not None and entry.owner == "alice"


def test_url_constructor_opens_and_closes_its_connection(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/own.db"
    with HivememStore(url=url, agent="bot", namespace="mem") as store:
        store.put(("a",), "k", {"v": 1})
    with hivemem.connect(url) as mem:
        assert mem.read("mem", "a/:k") == {"v": 1}
        assert mem.get_entry("mem", "a/:k").owner == "bot"  # type: ignore[union-attr]

    async def run() -> None:
        async with HivememStore(url=url, namespace="mem") as astore:
            item = await astore.aget(("a",), "k")
            assert item is not None and item.value == {"v": 1}

    asyncio.run(run())


def test_permissions_of_the_hivemem_namespace_apply(backend: Backend) -> None:
    owner = backend.store("owner")
    owner.put(("shared",), "k", {"v": 1}, ttl=1)
    owner.memory.update_permissions(NS, {"reader": "read"})
    reader = backend.store("reader", role="agent")
    item = reader.get(("shared",), "k")  # the TTL refresh is skipped: read-only
    assert item is not None and item.value == {"v": 1}
    assert [i.key for i in reader.search(("shared",))] == ["k"]
    with pytest.raises(hivemem.PermissionDenied):
        reader.put(("shared",), "k", {"v": 2})
    assert owner.get(("shared",), "k").value == {"v": 1}  # type: ignore[union-attr]


# ---------------------------------------------------------------- a LangGraph graph


class Notes(TypedDict):
    user: str
    note: str
    seen: list[str]


def _remember(state: Notes, *, store: BaseStore) -> dict[str, Any]:
    """A node given the store by injection (a ``store`` keyword parameter)."""
    notes = store.get(("notes", state["user"]), "all")
    items = [*(notes.value["items"] if notes else []), state["note"]]
    store.put(("notes", state["user"]), "all", {"items": items})
    return {}


def _recall(state: Notes) -> dict[str, Any]:
    """A node fetching the store with ``get_store()``."""
    from langgraph.config import get_store

    found = get_store().search(("notes",), limit=100)
    return {"seen": sorted(n for item in found for n in item.value["items"])}


def _graph(store: BaseStore) -> Any:
    builder = StateGraph(Notes)
    builder.add_node("remember", _remember)
    builder.add_node("recall", _recall)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", "recall")
    builder.add_edge("recall", END)
    return builder.compile(store=store)


def test_a_graph_reads_and_writes_through_the_store(backend: Backend) -> None:
    graph = _graph(backend.store())
    out = graph.invoke({"user": "ann", "note": "likes tea", "seen": []})
    assert out["seen"] == ["likes tea"]
    other = _graph(backend.store("other"))
    out = other.invoke({"user": "bob", "note": "likes jazz", "seen": []})
    assert out["seen"] == ["likes jazz", "likes tea"]


async def test_a_graph_runs_async_through_the_store(abackend: Backend) -> None:
    graph = _graph(abackend.store())
    out = await graph.ainvoke({"user": "ann", "note": "likes tea", "seen": []})
    assert out["seen"] == ["likes tea"]
    out = await _graph(abackend.store("other")).ainvoke(
        {"user": "bob", "note": "likes jazz", "seen": []}
    )
    assert out["seen"] == ["likes jazz", "likes tea"]
    assert abackend.store().get(("notes", "ann"), "all").value == {"items": ["likes tea"]}  # type: ignore[union-attr]
