"""Where a memories namespace keeps its internal records (SPEC §10, last paragraph).

Vectors, child links, relationships, groups, slot indexes and the settings are
engine-internal records (:mod:`hivemem.memories.layout`): no entry listing shows them, no
caller's key can name them, their writes are no events; the records themselves stay
entries under their ids. A namespace written by an earlier version (those records as
``_``-prefixed plain entries) is moved to this layout on first use, keeping everything.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from hivemem import InvalidArgument
from hivemem.memories.embed import embedder_from
from hivemem.memories.index import encode_vector

NS = "layout"


def _keys(mem: Any, ns: str, prefix: str = "") -> list[str]:
    """Every key a listing shows, page by page."""
    keys, cursor = [], None
    while True:
        page = mem.list_entries(ns, prefix=prefix, limit=3, cursor=cursor)
        keys += [e.key for e in page.items]
        if page.next_cursor is None:
            return keys
        cursor = page.next_cursor


def test_memory_internal_records_are_never_entries(mem, clock):
    """Listings, key lists, prefix listings and events show the records alone; every
    feature kept internally still answers."""
    lt = mem.memories(NS)
    lt.configure(forget={"below": 0.1, "action": "archive"})
    parent = lt.add("The staging cluster runs in the Frankfurt region", tags=["infra"])
    child = lt.add("Its database replicas sit in two zones", parent_id=parent.id)
    other = lt.add("Marco prefers short bullet lists in reports")
    lt.add_relationship(parent.id, other.id, "mentioned_with", strength=0.7)
    group = lt.create_group("ops", "operations notes")
    lt.add_to_group(other.id, group.id)
    first = lt.add("Alice lives in Lisbon", slot="alice/city")
    clock.advance(5)
    second = lt.add("Alice lives in Porto", slot="alice/city")
    ids = sorted(r.id for r in (parent, child, other, first, second))

    assert sorted(mem.get_keys(NS)) == ids
    assert sorted(_keys(mem, NS)) == ids
    assert sorted(mem.get_all(NS)) == ids
    for prefix in ("\x01", "\x01mem/", "\x01mem/v/", "_", "_v/", "_memories"):
        assert _keys(mem, NS, prefix) == [], prefix
    with pytest.raises(InvalidArgument):
        mem.read(NS, "\x01mem/settings")
    events = list(mem.watch(NS, since=0, timeout=0.5))
    assert {e.key for e in events if e.key is not None} == set(ids)
    assert mem.get_namespace(NS).kind == "memories"

    assert [r.id for r in lt.children(parent.id)] == [child.id]
    related = lt.get_related(other.id)
    assert [(r["memory"].id, r["direction"]) for r in related] == [(parent.id, "incoming")]
    assert [r.id for r in lt.get_group(group.id)[1]] == [other.id]
    assert lt.slot("alice/city").id == second.id
    assert lt.config()["forget"]["action"] == "archive"
    hits = lt.semantic_search("where is the staging cluster hosted", k=1)
    assert hits[0].memory.id == parent.id and hits[0].parts["vector"] > 0
    assert lt.delete(parent.id) == 2
    assert sorted(mem.get_keys(NS)) == sorted([other.id, first.id, second.id])
    assert lt.get_related(other.id) == []
    assert mem.clear_namespace(NS) == 3  # entries: the records, not their internal records


def _old_record(content: str, now: float, **fields: Any) -> dict[str, Any]:
    """A record as an earlier version stored it."""
    return {
        "id": uuid.uuid4().hex,
        "content": content,
        "memory_type": "general",
        "tier": "short",
        "importance": 0.5,
        "strength": 1.0,
        "metadata": {},
        "tags": [],
        "parent_id": None,
        "session_id": None,
        "agent_id": "old-agent",
        "created_at": now,
        "updated_at": now,
        "last_accessed_at": now,
        "access_count": 0,
        "stability": 1.0,
        "forgotten": False,
        "decayed_at": now,
        **fields,
    }


def test_memory_earlier_layout_is_upgraded_on_first_use(mem, clock):
    """A namespace an earlier version wrote (its internal records as ``_``-prefixed plain
    entries) keeps every record, vector, link, relationship, group, slot and setting; the
    old entries leave the listings; the stored vectors are used, not recomputed."""
    embedder = embedder_from("minilm")
    assert embedder is not None
    now = clock()
    zebra = _old_record("zebra facts", now)
    stocks = _old_record("stock market notes", now, parent_id=zebra["id"])
    lisbon = _old_record("Alice lives in Lisbon", now, slot="alice/city", valid_to=None)
    ids = [zebra["id"], stocks["id"], lisbon["id"]]
    # Each record's stored vector is another text's: a search that finds it by that text
    # used the moved vector (a re-embedding would find it by its content).
    vectors = embedder.embed(["the stock market fell sharply", "zebras graze on the savanna"])
    z, s, lis = ids
    old = {
        r["id"]: r for r in (zebra, stocks, lisbon)
    } | {
        f"_v/{z}": encode_vector(vectors[0], embedder.name),
        f"_v/{s}": encode_vector(vectors[1], embedder.name),
        f"_p/{z}/{s}": {},
        f"_r/{z}/{lis}/knows": {"source_id": z, "target_id": lis,
                                "relationship_type": "knows", "strength": 0.5,
                                "created_at": now, "agent_id": "old-agent"},
        f"_ri/{lis}/{z}/knows": {"source_id": z, "target_id": lis,
                                 "relationship_type": "knows", "strength": 0.5,
                                 "created_at": now, "agent_id": "old-agent"},
        "_g/g1": {"id": "g1", "name": "animals", "description": None, "created_at": now},
        "_gm/g1/" + z: {},
        f"_mg/{z}/g1": {},
        "_s/alice/city": {"slot": "alice/city", "current": lis, "valid_from": now, "count": 1},
        "_memories": {"kind": "memories", "forget": {"below": 0.2, "action": "archive",
                                                     "min_age": 0}},
        "_notes": "a plain entry of the caller's that merely starts with _",
        "note": "a plain entry",
    }  # fmt: skip
    mem.write_many(NS, old)
    assert mem.get_namespace(NS).kind is None

    lt = mem.memories(NS)
    assert sorted(r.id for r in lt.get_many(ids)) == sorted(ids)  # (the first use upgrades)
    assert sorted(mem.get_keys(NS)) == sorted([*ids, "_notes", "note"])
    assert mem.read(NS, "note") == "a plain entry"
    assert mem.get_namespace(NS).kind == "memories"
    assert [r.id for r in lt.children(z)] == [s]
    assert [(r["memory"].id, r["direction"]) for r in lt.get_related(z)] == [(lis, "outgoing")]
    assert [(r["memory"].id, r["direction"]) for r in lt.get_related(lis)] == [(z, "incoming")]
    group, members = lt.get_group("g1")
    assert (group.name, [r.id for r in members]) == ("animals", [z])
    assert lt.slot("alice/city").id == lis
    assert lt.config()["forget"] == {"below": 0.2, "action": "archive", "min_age": 0}
    assert lt.semantic_search("shares dropped on the exchange", k=1)[0].memory.id == z
    assert lt.semantic_search("animals on the grassland", k=1)[0].memory.id == s

    # It goes on in this layout: a new statement of the slot supersedes the moved one.
    clock.advance(5)
    porto = lt.add("Alice lives in Porto", slot="alice/city")
    assert lt.slot("alice/city").id == porto.id
    assert lt.get(lis).superseded_by == porto.id
    assert lt.delete(z) == 2
    assert lt.get_related(lis) == []
    assert sorted(mem.get_keys(NS)) == sorted([lis, porto.id, "_notes", "note"])


def test_memory_callers_underscore_keys_are_theirs(mem):
    """Keys shaped like an earlier version's internal entries, in a namespace that never
    held memories (no ``_memories`` marker), are the caller's: using the memories API there
    leaves them as they are."""
    own = {"_v/x": {"m": "mine"}, "_r/a/b/c": [1, 2], "_p/p/q": "parent", "_s/who/what": 1}
    mem.write_many(NS, own)
    lt = mem.memories(NS)
    rec = lt.add("the first memory here")
    assert sorted(mem.get_keys(NS)) == sorted([*own, rec.id])
    assert {k: mem.read(NS, k) for k in own} == own
    assert lt.children("p") == [] and lt.get_related(rec.id) == []
