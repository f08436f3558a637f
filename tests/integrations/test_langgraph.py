"""HivememStore against LangGraph's documented ``BaseStore`` contract, on every URL kind.

Where the semantics overlap, each test runs the same ops on LangGraph's own ``InMemoryStore``
and compares. Known, documented differences: search returns items in key order (the
``InMemoryStore`` in insertion order), so result sets are compared without order (semantic
searches, ordered by score, are compared in order: the fixture is put in key order, so
ties break alike); ``InMemoryStore`` supports no TTL, so TTLs are compared with LangGraph's
``PostgresStore`` (``omit_expired``) on a real PostgreSQL; and it keeps listing a
namespace whose items were all deleted (even one a delete of a missing item named), where
its SQL stores and ours list the namespaces that hold items: :class:`Reference` drops the
empty ones before listing.
"""

from __future__ import annotations

import asyncio
import json
import random
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest
from _lg_fixture import BAG_DIMS, QUERIES, abag_embed, bag_embed, catalog
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
from hivemem.integrations.langgraph import (
    HivememStore,
    _caller,
    decode_key,
    encode_key,
    vector_key,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

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


# ---------------------------------------------------------------- semantic search (index)


INDEX: dict[str, Any] = {"dims": BAG_DIMS, "embed": bag_embed, "fields": ["text", "items[*].text"]}


def _index_ops(rows: list[tuple[tuple[str, ...], str, dict[str, Any]]]) -> list[PutOp]:
    """Puts of the fixture, some with their own ``index`` argument."""
    ops = []
    for i, (ns, key, value) in enumerate(rows):
        index: Any = None
        if i % 10 == 3:
            index = False  # stored, never embedded: no score
        elif i % 7 == 2:
            index = ["title"]  # this put's own fields
        elif i % 11 == 4:
            index = ["items[0].text", "topic"]
        ops.append(PutOp(ns, key, value, index=index))
    return ops


def _put_one_by_one(
    store: BaseStore, rows: list[tuple[tuple[str, ...], str, dict[str, Any]]]
) -> None:
    for op in _index_ops(rows):
        store.batch([op])


def ranking(items: list[SearchItem]) -> list[tuple[tuple[str, ...], str, dict[str, Any]]]:
    """The results in the order given (semantic search orders by score)."""
    return [(i.namespace, i.key, i.value) for i in items]


def assert_same_ranking(got: list[SearchItem], want: list[SearchItem]) -> None:
    assert ranking(got) == ranking(want)
    for g, w in zip(got, want, strict=True):
        assert (g.score is None) == (w.score is None), (g.key, g.score, w.score)
        if w.score is not None:
            assert g.score == pytest.approx(w.score, abs=1e-5), g.key


def test_semantic_search_matches_in_memory_store(backend: Backend) -> None:
    store = backend.store(index=INDEX)
    ref = Reference(index=INDEX)
    rows = catalog(300)
    store.batch(_index_ops(rows))
    _put_one_by_one(ref, rows)
    compared = 0
    for query in QUERIES:
        for prefix in [(), ("kb",), ("kb", "team:a/b"), ("notes",)]:
            for f in [None, {"topic": "cooking"}, {"n": {"$gte": 150}}]:
                for limit, offset in [(10, 0), (4, 3), (400, 0)]:
                    want = ref.search(prefix, query=query, filter=f, limit=limit, offset=offset)
                    got = store.search(prefix, query=query, filter=f, limit=limit, offset=offset)
                    scored = sum(1 for i in want if i.score is not None)
                    if offset and scored < len(want):
                        # A later page that reaches the items without vectors: see
                        # test_items_without_vectors_come_last_and_page_on.
                        continue
                    assert_same_ranking(got, want)
                    compared += 1
    assert compared >= 150
    # Every item comes back, the scored ones first.
    everything = store.search((), query=QUERIES[0], limit=1000)
    assert len(everything) == len(rows)
    scores = [i.score for i in everything]
    first_none = scores.index(None)
    assert all(s is not None for s in scores[:first_none])
    assert all(s is None for s in scores[first_none:])
    assert scores[:first_none] == sorted(scores[:first_none], reverse=True)  # type: ignore[type-var]
    assert len(scores) - first_none == sum(
        1 for i in ref.search((), query="x", limit=1000) if i.score is None
    )


def test_semantic_search_over_thousands_of_items_matches_in_memory_store(backend: Backend) -> None:
    """3,000 items read in pages (items and vectors), duplicate texts tying alike."""
    store = backend.store(index=INDEX, page_size=700)
    ref = Reference(index=INDEX)
    rows = catalog(3000, seed=5)
    ops = _index_ops(rows)
    for start in range(0, len(ops), 500):
        store.batch(ops[start : start + 500])
    _put_one_by_one(ref, rows)
    for query, prefix in [(QUERIES[0], ()), (QUERIES[3], ("kb",)), (QUERIES[2], ("notes",))]:
        want = ref.search(prefix, query=query, limit=25)
        assert_same_ranking(store.search(prefix, query=query, limit=25), want)
    assert len(store.search((), query=QUERIES[1], limit=5000)) == 3000


def test_semantic_search_with_the_real_minilm_matches_in_memory_store(tmp_path: Any) -> None:
    """One backend only (the model is slow here); the others share every line it runs."""
    from hivemem.memories.embed import MiniLMEmbedder

    model = MiniLMEmbedder()

    def minilm(texts: Sequence[str]) -> list[list[float]]:
        return model.embed(list(texts)).tolist()  # type: ignore[no-any-return]

    fields = ["text", "items[*].text"]
    store = HivememStore(
        url=f"sqlite:///{tmp_path}/minilm.db", index={"embed": "hivemem", "fields": fields}
    )
    ref = Reference(index={"dims": 384, "embed": minilm, "fields": fields})
    rows = catalog(200)
    # One text per model call on both sides: a batch pads texts to a common length,
    # which moves the floats a little.
    _put_one_by_one(store, rows)
    _put_one_by_one(ref, rows)
    for query in QUERIES:
        for prefix, f in [((), None), (("kb",), None), ((), {"n": {"$lt": 120}})]:
            want = ref.search(prefix, query=query, filter=f, limit=10)
            got = store.search(prefix, query=query, filter=f, limit=10)
            assert_same_ranking(got, want)
    # The model ranks by meaning: the bread question finds a bread item first.
    top = store.search((), query="how do I bake bread at home", limit=1)[0]
    assert "bread" in json.dumps(top.value)
    assert top.score is not None and 0.3 < top.score <= 1.0
    store.close()


def test_items_without_vectors_come_last_and_page_on(backend: Backend) -> None:
    store = backend.store(index=INDEX)
    ref = Reference(index=INDEX)
    for s in (store, ref):
        s.put(("p",), "a", {"text": "bake bread"})
        s.put(("p",), "b", {"text": "bread and butter"})
        s.put(("p",), "c", {"other": "no text field"})
        s.put(("p",), "d", {"text": "stored only"}, index=False)
        s.put(("p",), "e", {"text": "   "})  # a text: embedded (all zeros: score 0)
    got = store.search(("p",), query="bread", limit=10)
    assert_same_ranking(got, ref.search(("p",), query="bread", limit=10))
    assert [(i.key, i.score is None) for i in got][-2:] == [("c", True), ("d", True)]
    assert got[2].key == "e" and got[2].score == 0.0
    # The first page equals InMemoryStore's; later pages go on where the previous one
    # stopped (InMemoryStore fills each page's end with the first scoreless items again).
    pages = [store.search(("p",), query="bread", limit=2, offset=o) for o in (0, 2, 4)]
    assert [[i.key for i in page] for page in pages] == [["a", "b"], ["e", "c"], ["d"]]
    assert_same_ranking(pages[0], ref.search(("p",), query="bread", limit=2))
    assert [i.key for i in ref.search(("p",), query="bread", limit=2, offset=2)] == ["e", "c"]
    assert [i.key for i in ref.search(("p",), query="bread", limit=2, offset=4)] == ["c", "d"]
    # Without a query (or on a store without index) the search is the plain one.
    assert all(i.score is None for i in store.search(("p",), limit=10))
    assert HivememStore(store.memory).search(("p",), query="bread")[0].score is None


def test_vectors_follow_puts_updates_and_deletes(backend: Backend) -> None:
    store = backend.store(index=INDEX)
    ref = Reference(index=INDEX)
    mem = store.memory
    ns = ("kb", "odd:/%\tlabel", "ünï")
    vkey = vector_key(encode_key(ns, "k:1"))
    for s in (store, ref):
        s.put(ns, "k:1", {"text": "apple pie with cinnamon"})
        s.put(ns, "k:2", {"text": "a diesel car engine"})
    first = mem.get_entry(NS, vkey)
    assert first is not None and set(first.value["vectors"]) == {"text"}
    assert_same_ranking(
        store.search(("kb",), query="apple pie"), ref.search(("kb",), query="apple pie")
    )
    assert store.search(("kb",), query="apple pie")[0].key == "k:1"
    # An update re-embeds: the item now ranks by its new text, its vectors are replaced.
    for s in (store, ref):
        s.put(ns, "k:1", {"text": "car engine oil change", "items": [{"text": "diesel"}]})
    second = mem.get_entry(NS, vkey)
    assert second is not None and second.value["digest"] != first.value["digest"]
    assert set(second.value["vectors"]) == {"text", "items[*].text"}
    for query in ["apple pie", "car engine", "diesel"]:
        assert_same_ranking(store.search(("kb",), query=query), ref.search(("kb",), query=query))
    # Fields given per put replace the configured ones for that put.
    for s in (store, ref):
        s.put(ns, "k:3", {"text": "a diesel car engine", "title": "apple pie"}, index=["title"])
    assert set(mem.get_entry(NS, vector_key(encode_key(ns, "k:3"))).value["vectors"]) == {"title"}  # type: ignore[union-attr]
    assert_same_ranking(store.search(ns, query="apple pie"), ref.search(ns, query="apple pie"))
    assert store.search(ns, query="apple pie")[0].key == "k:3"
    # A delete takes the vectors with it.
    for s in (store, ref):
        s.delete(ns, "k:1")
    assert mem.get_entry(NS, vkey) is None
    assert_same_ranking(store.search(("kb",), query="car"), ref.search(("kb",), query="car"))
    assert [i.key for i in store.search(("kb",), query="car")] == ["k:2", "k:3"]
    # Vectors never show as items or namespaces.
    assert [i.key for i in store.search((), limit=100)] == ["k:2", "k:3"]
    assert store.list_namespaces() == [ns]
    assert store.get(ns, "k:2") is not None and store.get(ns, "k:1") is None


def test_an_update_without_texts_drops_the_old_vectors(backend: Backend) -> None:
    """A put replaces the item's vectors; InMemoryStore keeps those of the earlier value."""
    store = backend.store(index=INDEX)
    mem = store.memory
    store.put(("a",), "k", {"text": "apple pie"})
    store.put(("a",), "k", {"text": "apple pie"}, index=False)
    assert mem.get_entry(NS, vector_key("a/:k")) is None
    assert store.search(("a",), query="apple pie")[0].score is None
    store.put(("a",), "k", {"text": "apple pie"})
    store.put(("a",), "k", {"title": "no configured field"})
    assert mem.get_entry(NS, vector_key("a/:k")) is None
    # "$" as a put's own field embeds the whole value (as it does in the configuration).
    store.put(("a",), "k", {"title": "apple pie"}, index=["$"])
    found = store.search(("a",), query="apple pie")
    assert found[0].score is not None and found[0].score > 0.5
    assert set(mem.get_entry(NS, vector_key("a/:k")).value["vectors"]) == {"$"}  # type: ignore[union-attr]


def test_a_value_written_without_the_index_is_not_scored_by_stale_vectors(
    backend: Backend,
) -> None:
    indexed = backend.store(index=INDEX)
    plain = backend.store("other")
    indexed.put(("a",), "k", {"text": "apple pie"})
    indexed.put(("a",), "same", {"text": "apple pie"})
    plain.put(("a",), "k", {"text": "car engine"})  # vectors left as they were
    plain.put(("a",), "same", {"text": "apple pie"})  # the same value: still described
    found = {i.key: i.score for i in indexed.search(("a",), query="apple pie")}
    assert found["k"] is None
    assert found["same"] is not None and found["same"] > 0.99
    plain.delete(("a",), "same")  # any store's delete removes the vectors
    assert indexed.memory.get_entry(NS, vector_key("a/:same")) is None


def test_embedding_happens_once_at_put_and_only_the_query_at_search(backend: Backend) -> None:
    calls: list[list[str]] = []

    def counting(texts: Sequence[str]) -> list[list[float]]:
        calls.append(list(texts))
        return bag_embed(texts)

    store = backend.store(index={"dims": BAG_DIMS, "embed": counting, "fields": ["text"]})
    rows = catalog(120)
    store.batch([PutOp(ns, key, value) for ns, key, value in rows])
    texts = {v["text"] for _, _, v in rows if "text" in v}
    assert len(calls) == 1 and sorted(calls[0]) == sorted(texts)  # each distinct text once
    calls.clear()
    for query in QUERIES:
        store.search(("kb",), query=query, limit=5)
    assert calls == [[q] for q in QUERIES]
    # Another store (another process, in real use) searches the same vectors.
    other = backend.store("other", index={"dims": BAG_DIMS, "embed": counting, "fields": ["text"]})
    assert ranking(other.search((), query=QUERIES[1])) == ranking(
        store.search((), query=QUERIES[1])
    )


def test_a_failing_embedder_writes_nothing_and_bad_dims_are_refused(backend: Backend) -> None:
    def broken(texts: Sequence[str]) -> list[list[float]]:
        raise RuntimeError("embedding service down")

    store = backend.store(index={"dims": BAG_DIMS, "embed": broken})
    with pytest.raises(RuntimeError, match="service down"):
        store.put(("a",), "k", {"text": "x"})
    assert store.get(("a",), "k") is None
    store.put(("a",), "k", {"text": "x"}, index=False)  # nothing to embed: stored
    wrong = backend.store(index={"dims": 8, "embed": bag_embed})
    with pytest.raises(hivemem.InvalidArgument, match=r"64-dimensional.*dims=8"):
        wrong.put(("a",), "k2", {"text": "x"})
    assert wrong.get(("a",), "k2") is None
    for bad in [{"dims": 8}, {"dims": 0, "embed": bag_embed}, {"embed": bag_embed}]:
        with pytest.raises(hivemem.InvalidArgument):
            backend.store(index=bad)  # type: ignore[arg-type]
    with pytest.raises(hivemem.InvalidArgument, match="384"):
        backend.store(index={"dims": 100, "embed": "hivemem"})
    with pytest.raises(hivemem.InvalidArgument, match="JSON"):
        store.put(("a",), "k4", {1: "int key", "text": "x"}, index=False)  # type: ignore[dict-item]
    with pytest.raises(hivemem.InvalidArgument, match="JSON"):
        backend.store(index=INDEX).put(("a",), "k4", {1: "int key", "b": "x"}, index=["b"])  # type: ignore[dict-item]
    for bad_index in ["text", [1], [""]]:
        with pytest.raises(hivemem.InvalidArgument, match="list of paths"):
            store.batch([PutOp(("a",), "k3", {"text": "x"}, index=bad_index)])  # type: ignore[arg-type]
    with pytest.raises(hivemem.TooLarge, match="one byte longer"):
        store.put(("long",), "k" * (1024 - len("long/:")), {"text": "x"})
    store.put(("long",), "k" * (1024 - len("long/:")), {"text": "x"}, index=False)


def test_indexed_items_and_their_vectors_expire_and_refresh_together(backend: Backend) -> None:
    store = backend.store(index=INDEX)
    mem = store.memory
    store.put(("t",), "a", {"text": "apple pie"}, ttl=1)
    store.put(("t",), "b", {"text": "apple tart"}, ttl=1)
    assert mem.get_entry(NS, vector_key("t/:a")).expires_at == backend.clock.now + 60  # type: ignore[union-attr]
    backend.clock.advance(50)
    assert store.get(("t",), "a") is not None  # refreshes the item and its vectors
    assert mem.get_entry(NS, vector_key("t/:a")).expires_at == backend.clock.now + 60  # type: ignore[union-attr]
    backend.clock.advance(20)
    found = store.search(("t",), query="apple pie")  # b expired; a refreshed again
    assert [(i.key, i.score is not None) for i in found] == [("a", True)]
    assert mem.get_entry(NS, vector_key("t/:b")) is None
    backend.clock.advance(50)
    assert store.search(("t",), query="apple pie")[0].score is not None
    backend.clock.advance(61)
    assert store.search(("t",), query="apple pie") == []
    assert mem.get_entry(NS, vector_key("t/:a")) is None


async def test_async_semantic_search_with_an_async_embedder(abackend: Backend) -> None:
    index = {"dims": BAG_DIMS, "embed": abag_embed, "fields": ["text", "items[*].text"]}
    store = abackend.store(index=index)
    ref = Reference(index=index)  # type: ignore[arg-type]
    rows = catalog(90)
    await store.abatch(_index_ops(rows))
    for op in _index_ops(rows):
        await ref.abatch([op])
    for query in QUERIES:
        got = await store.asearch(("kb",), query=query, limit=8)
        assert_same_ranking(got, await ref.asearch(("kb",), query=query, limit=8))
    sync_store = abackend.store(index=INDEX)
    assert ranking(sync_store.search((), query=QUERIES[2])) == ranking(
        await store.asearch((), query=QUERIES[2])
    )


def test_a_graph_node_searches_by_meaning(backend: Backend) -> None:
    rows = catalog(150)
    tops = []
    for s in (backend.store(index=INDEX), Reference(index=INDEX)):
        _put_one_by_one(s, rows)
        tops.append(_search_graph(s).invoke({"query": QUERIES[4], "top": []})["top"])
    assert tops[0] == tops[1] and len(tops[0]) == 3


class Ask(TypedDict):
    query: str
    top: list[list[Any]]


def _search_graph(store: BaseStore) -> Any:
    def ask(state: Ask, *, store: BaseStore) -> dict[str, Any]:
        found = store.search(("kb",), query=state["query"], limit=3)
        return {"top": [[list(i.namespace), i.key, round(i.score or 0.0, 5)] for i in found]}

    builder = StateGraph(Ask)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    return builder.compile(store=store)


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


# ---------------------------------------------------------------- docs


def test_docs_blocks_run(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/langgraph.md's Python blocks run as written (the built-in MiniLM ranks)."""
    import re
    from pathlib import Path

    text = (Path(hivemem.__file__).resolve().parent.parent / "docs" / "langgraph.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/langgraph.md", "exec"), {})
    assert capsys.readouterr().out.strip() == "Ann's cat is called Miso"


# ---------------------------------------------------------------- TTL against PostgresStore


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    from hivemem.testing.postgres import PostgresServer

    with PostgresServer() as server:
        yield server.url


class TimedPostgres:
    """LangGraph's ``PostgresStore`` (it implements TTL), with time moved by SQL.

    ``advance(s)`` moves every expiry ``s`` seconds closer, which is what ``s`` seconds
    passing does to it (a refresh sets ``NOW() + ttl``, so later ones stay consistent).
    The tests keep a minute between any expiry and a look at it, far more than the real
    time a test takes.
    """

    def __init__(self, url: str, ttl: dict[str, Any]) -> None:
        from langgraph.store.postgres import PostgresStore

        self._cm = PostgresStore.from_conn_string(url, ttl={**ttl, "omit_expired": True})  # type: ignore[typeddict-item]
        self.store = self._cm.__enter__()
        self.store.setup()
        with self.store.conn.cursor() as cur:
            cur.execute("DELETE FROM store")

    def advance(self, seconds: float) -> None:
        with self.store.conn.cursor() as cur:
            cur.execute(
                "UPDATE store SET expires_at = expires_at - make_interval(secs => %s)"
                " WHERE expires_at IS NOT NULL",
                (seconds,),
            )

    def close(self) -> None:
        self._cm.__exit__(None, None, None)


def _ttl_script(store: BaseStore, advance: Callable[[float], None]) -> list[Any]:
    """TTL operations (minutes, as LangGraph counts) and what a reader then sees."""
    ns = ("ttl", "x")
    seen: list[Any] = []

    def look(label: str) -> None:
        seen.append(
            (
                label,
                {k: view(store.get(ns, k, refresh_ttl=False)) for k in "abcde"},
                views(store.search(("ttl",), refresh_ttl=False, limit=100)),
                store.list_namespaces(prefix=("ttl",)),
            )
        )

    store.put(ns, "a", {"v": "a"})  # the default TTL
    store.put(ns, "b", {"v": "b"}, ttl=20)
    store.put(ns, "c", {"v": "c"}, ttl=None)  # never expires
    store.put(ns, "d", {"v": "d"})
    store.put(("ttl", "y"), "e", {"v": "e"}, ttl=3)
    look("start")
    advance(5 * 60)
    seen.append(("get a", view(store.get(ns, "a"))))  # refreshed unless the config says no
    seen.append(("get d", view(store.get(ns, "d", refresh_ttl=False))))
    look("5 min")
    advance(7 * 60)
    look("12 min")
    seen.append(("get d, explicit refresh", view(store.get(ns, "d", refresh_ttl=True))))
    seen.append(("search", views(store.search(("ttl",), limit=100))))  # refreshes all it returns
    advance(9 * 60)
    look("21 min")
    store.put(ns, "a", {"v": "a2"}, ttl=None)  # a put sets the TTL anew: none
    store.put(ns, "b", {"v": "b2"}, ttl=1)
    advance(2 * 60)
    look("23 min")
    advance(20 * 60)
    look("43 min")
    return seen


@pytest.mark.parametrize(
    "config",
    [
        {"default_ttl": 10},
        {"default_ttl": 10, "refresh_on_read": True},
        {"default_ttl": 10, "refresh_on_read": False},
    ],
    ids=["default", "refresh", "no-refresh"],
)
def test_ttl_matches_postgres_store(
    backend: Backend, postgres_url: str, config: dict[str, Any]
) -> None:
    ours = backend.store(ttl=config)  # type: ignore[arg-type]
    ref = TimedPostgres(postgres_url, config)
    try:
        want = _ttl_script(ref.store, ref.advance)
    finally:
        ref.close()
    got = _ttl_script(ours, backend.clock.advance)
    assert got == want
    # The script sees expiries and refreshes happen (it is not trivially equal).
    looks = {step[0]: step for step in want}
    assert looks["43 min"][1]["c"] is not None
    assert looks["43 min"][1]["b"] is None and looks["43 min"][1]["e"] is None
    assert looks["23 min"][1]["a"] == (("ttl", "x"), "a", {"v": "a2"})
    refreshed = config.get("refresh_on_read", True)
    assert (looks["12 min"][1]["a"] is not None) == refreshed
    assert looks["12 min"][1]["d"] is None and looks["12 min"][3] == [("ttl", "x")]
