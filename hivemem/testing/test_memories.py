"""Long-term memories (SPEC §10, seed 003's Memory Client API), semantic search included.

Every method of seed 003's ``MemoryClient`` has a test here, through ``mem.memories()``:
set_agent_id/set_session_id (``memories(agent=, session_id=)``), create_session, add,
get, search, semantic_search, update, delete (cascade), children, add_relationship,
get_related, reinforce, batch add/get, context groups, circuit breaker status/reset.
Semantic search runs the real bundled MiniLM embedder (the default of the ``semantic``
extra): over ``http://`` the server embeds, next to its records.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest

from hivemem import InvalidArgument, NotFound, PermissionDenied
from hivemem.memories.decay import DAY
from hivemem.types import Group, MemoryRecord, ScoredMemory, Session

NS = "knowledge"

FACTS = [
    ("Priya always starts her day with a flat white from the corner cafe", "preference"),
    ("Ticket INC-4821: the database failover took forty minutes to complete", "event"),
    ("The billing service retries card payments three times before giving up", "fact"),
    ("Marco prefers to receive status reports as short bullet lists", "preference"),
    ("Release 2.3.1 shipped on a Friday and broke the export button", "event"),
    ("The staging cluster runs in the Frankfurt region", "fact"),
]


def _seed(lt: Any) -> list[MemoryRecord]:
    return [lt.add(text, memory_type=kind, tags=[kind]) for text, kind in FACTS]


def test_memory_add_returns_the_full_record(mem, clock):
    """add() stores content, type, tier, importance, metadata, tags and stamps the rest."""
    lt = mem.memories(NS, agent="kb")
    rec = lt.add(
        "Customer ACME renews in March",
        memory_type="fact",
        tier="medium",
        importance=0.9,
        metadata={"source": "crm"},
        tags=["acme", "renewal"],
    )
    assert isinstance(rec, MemoryRecord)
    assert (rec.content, rec.memory_type, rec.tier, rec.importance) == (
        "Customer ACME renews in March",
        "fact",
        "medium",
        0.9,
    )
    assert rec.metadata == {"source": "crm"}
    assert rec.tags == ["acme", "renewal"]
    assert (rec.namespace, rec.agent_id, rec.parent_id, rec.session_id) == (NS, "kb", None, None)
    assert rec.created_at == rec.updated_at == rec.last_accessed_at == clock()
    assert (rec.strength, rec.access_count, rec.stability, rec.forgotten) == (1.0, 0, 1.0, False)


def test_memory_get_counts_an_access(mem, clock):
    """get() returns the record and counts the read: access_count + 1, last_accessed_at now."""
    lt = mem.memories(NS)
    rec = lt.add("The VPN gateway is vpn.example.org")
    clock.advance(60)
    got = lt.get(rec.id)
    assert got.content == rec.content
    assert got.access_count == 1
    assert got.last_accessed_at == clock()
    assert lt.get(rec.id).access_count == 2


def test_memory_get_missing_is_not_found(mem):
    """get() of an unknown id raises NotFound (code not_found)."""
    lt = mem.memories(NS)
    with pytest.raises(NotFound) as err:
        lt.get("0" * 32)
    assert err.value.code == "not_found"


def test_memory_agent_and_session_ids(mem):
    """set_agent_id/set_session_id: the handle's agent and session stamp new records."""
    session = mem.create_session("user-7", session_type="support", metadata={"channel": "chat"})
    assert isinstance(session, Session)
    assert (session.user_id, session.session_type, session.metadata) == (
        "user-7",
        "support",
        {"channel": "chat"},
    )
    assert mem.get_session(session.id) == session
    lt = mem.memories(NS, agent="session-agent", session_id=session.id)
    rec = lt.add("User asked about invoice 88")
    assert (rec.agent_id, rec.session_id) == ("session-agent", session.id)
    lt.session_id = None
    assert lt.add("no session").session_id is None
    assert lt.add("explicit", session_id=session.id).session_id == session.id
    with pytest.raises(NotFound):
        mem.get_session("f" * 32)


def test_memory_keyword_search_ranks_by_bm25(mem):
    """search() ranks by BM25: the rare exact term wins; filters narrow; limit caps."""
    lt = mem.memories(NS)
    recs = _seed(lt)
    hits = lt.search("INC-4821 failover")
    assert isinstance(hits[0], ScoredMemory)
    assert hits[0].memory.id == recs[1].id
    assert hits[0].parts == {"keyword": hits[0].score}
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    prefs = lt.search("prefers starts day", memory_type="preference")
    assert {h.memory.id for h in prefs} <= {recs[0].id, recs[3].id}
    assert prefs
    assert lt.search("the", limit=10) == []  # stop words only
    assert len(lt.search("the billing service staging cluster release", limit=2)) == 2
    assert [h.memory.id for h in lt.search("cluster", tags=["fact"])] == [recs[5].id]
    assert lt.search("cluster", tags=["event"]) == []


def test_memory_semantic_search_finds_paraphrases(mem):
    """semantic_search() finds a record that shares no word with the query (vectors)."""
    lt = mem.memories(NS)
    recs = _seed(lt)
    hits = lt.semantic_search("What coffee does Priya drink in the morning?", k=3)
    assert hits[0].memory.id == recs[0].id
    assert len(hits) == 3
    hits = lt.semantic_search("which datacenter location hosts the test environment", k=1)
    assert hits[0].memory.id == recs[5].id


def test_memory_semantic_search_shows_its_parts(mem):
    """Each result's parts (vector, keyword, previous, strength, recency) sum to its score;
    weights apply; the keyword part is calibrated, not the share of the best match."""
    lt = mem.memories(NS)
    _seed(lt)
    for hit in lt.semantic_search("database failover incident", k=4):
        assert set(hit.parts) == {"vector", "keyword", "previous", "strength", "recency"}
        assert hit.score == pytest.approx(sum(hit.parts.values()))
    only = lt.semantic_search(
        "database failover incident",
        k=6,
        weights={"vector": 1.0, "keyword": 0.0, "strength": 0.0, "recency": 0.0},
    )
    assert all(h.score == pytest.approx(h.parts["vector"]) for h in only)
    assert all(0 < h.parts["vector"] <= 1.0 + 1e-6 for h in only[:1])
    kw = lt.semantic_search(
        "INC-4821", k=2, weights={"vector": 0.0, "keyword": 1.0, "strength": 0.0, "recency": 0.0}
    )
    assert "INC-4821" in kw[0].memory.content
    assert kw[0].score == pytest.approx(kw[0].parts["keyword"])
    assert kw[0].parts["keyword"] > 0 == kw[1].parts["keyword"]
    with pytest.raises(InvalidArgument):
        lt.semantic_search("x", weights={"nope": 1.0})


def test_memory_semantic_search_filters(mem, clock):
    """Filters: memory_type, tier, tags, parent_id, session_id, agent_id, time ranges,
    metadata equality; results only from records passing all of them."""
    lt = mem.memories(NS, agent="a1")
    old = lt.add("Coffee order: oat latte", memory_type="preference", metadata={"team": "x"})
    clock.advance(100)
    t = clock()
    new = lt.add("Coffee order: espresso", memory_type="fact", tier="long", tags=["bar"])
    child = lt.add("Coffee order: mocha", parent_id=old.id)
    other = mem.memories(NS, agent="a2").add("Coffee order: cortado")
    query = "what coffee does the team order"

    def ids(**filters: Any) -> set[str]:
        return {h.memory.id for h in lt.semantic_search(query, k=10, filters=filters)}

    assert ids() == {old.id, new.id, child.id, other.id}
    assert ids(memory_type="preference") == {old.id}
    assert ids(memory_type=["preference", "fact"]) == {old.id, new.id}
    assert ids(tier="long") == {new.id}
    assert ids(tags=["bar"]) == {new.id}
    assert ids(parent_id=old.id) == {child.id}
    assert ids(agent_id="a2") == {other.id}
    assert ids(created_after=t) == {new.id, child.id, other.id}
    assert ids(created_before=t) == {old.id}
    assert ids(metadata={"team": "x"}) == {old.id}
    assert ids(memory_type="nothing-like-it") == set()
    with pytest.raises(InvalidArgument):
        lt.semantic_search(query, filters={"colour": "red"})


def test_memory_update_changes_fields_and_reembeds(mem, clock):
    """update() changes fields, stamps updated_at, and new content is what search finds."""
    lt = mem.memories(NS)
    rec = lt.add("The office wifi password is hunter2", tags=["office"])
    lt.add("The kitchen closes at 3pm")
    clock.advance(10)
    up = lt.update(rec.id, content="Deployments are frozen during the holiday week", importance=1)
    assert (up.content, up.importance, up.tags, up.updated_at) == (
        "Deployments are frozen during the holiday week",
        1.0,
        ["office"],
        clock(),
    )
    assert lt.get(rec.id).content == up.content
    assert lt.search("wifi password") == []
    hits = lt.semantic_search("when can we not ship releases?", k=1)
    assert hits[0].memory.id == rec.id
    with pytest.raises(InvalidArgument):
        lt.update(rec.id, agent_id="someone-else")
    with pytest.raises(InvalidArgument):
        lt.update(rec.id, tier="forever")
    with pytest.raises(NotFound):
        lt.update("a" * 32, content="x")


def test_memory_delete_cascades_to_descendants(mem):
    """delete(cascade=True) removes the record, its children and theirs; returns the count."""
    lt = mem.memories(NS)
    root = lt.add("root")
    child = lt.add("child", parent_id=root.id)
    grandchild = lt.add("grandchild", parent_id=child.id)
    keep = lt.add("unrelated")
    assert lt.delete(root.id) == 3
    for gone in (root, child, grandchild):
        with pytest.raises(NotFound):
            lt.get(gone.id)
    assert lt.get(keep.id).content == "unrelated"
    assert lt.delete(root.id) == 0
    assert lt.search("grandchild") == []


def test_memory_delete_without_cascade_orphans_children(mem):
    """delete(cascade=False) removes only the record; its children stay, without a parent."""
    lt = mem.memories(NS)
    root = lt.add("root")
    child = lt.add("child", parent_id=root.id)
    assert lt.delete(root.id, cascade=False) == 1
    assert lt.get(child.id).parent_id is None
    assert lt.children(root.id) == []


def test_memory_children_sorted_and_limited(mem, clock):
    """children(parent, limit, sort_field, sort_order) lists direct children only."""
    lt = mem.memories(NS)
    parent = lt.add("parent")
    kids = []
    for i, importance in enumerate((0.2, 0.9, 0.5)):
        clock.advance(1)
        kids.append(lt.add(f"kid {i}", parent_id=parent.id, importance=importance))
    lt.add("grandkid", parent_id=kids[0].id)
    assert [c.id for c in lt.children(parent.id)] == [k.id for k in reversed(kids)]
    assert [c.id for c in lt.children(parent.id, sort_order="asc", limit=2)] == [
        kids[0].id,
        kids[1].id,
    ]
    by_importance = lt.children(parent.id, sort_field="importance")
    assert [c.importance for c in by_importance] == [0.9, 0.5, 0.2]
    with pytest.raises(InvalidArgument):
        lt.children(parent.id, sort_field="content")
    with pytest.raises(NotFound):
        lt.add("orphan", parent_id="b" * 32)


def test_memory_relationships_both_ways(mem):
    """add_relationship relates two records; get_related sees it from both ends, by type."""
    lt = mem.memories(NS)
    a, b, c = lt.add("incident"), lt.add("postmortem"), lt.add("action item")
    rel = lt.add_relationship(a.id, b.id, "documented_by", strength=0.8)
    assert (rel["source_id"], rel["target_id"], rel["relationship_type"], rel["strength"]) == (
        a.id,
        b.id,
        "documented_by",
        0.8,
    )
    lt.add_relationship(c.id, a.id, "follows_up")
    out = lt.get_related(a.id)
    assert [(r["memory"].id, r["relationship_type"], r["direction"]) for r in out] == [
        (c.id, "follows_up", "incoming"),
        (b.id, "documented_by", "outgoing"),
    ]
    assert [r["memory"].id for r in lt.get_related(a.id, "documented_by")] == [b.id]
    assert [r["direction"] for r in lt.get_related(b.id)] == ["incoming"]
    with pytest.raises(NotFound):
        lt.add_relationship(a.id, "c" * 32, "x")
    lt.delete(b.id)
    assert [r["memory"].id for r in lt.get_related(a.id)] == [c.id]


def test_memory_reinforce_restores_strength(mem, clock):
    """reinforce(factor): strength back to 1, stability x factor, one more access."""
    lt = mem.memories(NS)
    rec = lt.add("Use the blue deploy pipeline for hotfixes")
    clock.advance(DAY)
    lt.decay()
    assert lt.get_many([rec.id])[0].strength == pytest.approx(0.5)
    up = lt.reinforce(rec.id, 2.0)
    assert (up.strength, up.stability, up.access_count) == (1.0, 2.0, 1)
    assert up.last_accessed_at == clock()
    clock.advance(DAY)
    lt.decay()
    # Stability 2 doubles the half-life: one day now costs a quarter of the strength.
    assert lt.get_many([rec.id])[0].strength == pytest.approx(2**-0.5)
    with pytest.raises(InvalidArgument):
        lt.reinforce(rec.id, 0.5)


def test_memory_decay_follows_the_tier_half_lives(mem, clock):
    """Strength halves after one half-life: short 1 day, medium 7 days, long 90 days
    (importance 0.5); importance 1 stretches it 1.5x."""
    lt = mem.memories(NS)
    short, medium, long_ = (lt.add(t, tier=t) for t in ("short", "medium", "long"))
    vital = lt.add("vital", importance=1.0)
    clock.advance(DAY)
    assert lt.decay() == {"decayed": 4, "promoted": 0, "archived": 0, "deleted": 0, "skipped": 0}
    strength = {r.id: r.strength for r in lt.get_many([short.id, medium.id, long_.id, vital.id])}
    assert strength[short.id] == pytest.approx(0.5)
    assert strength[medium.id] == pytest.approx(2 ** (-1 / 7))
    assert strength[long_.id] == pytest.approx(2 ** (-1 / 90))
    assert strength[vital.id] == pytest.approx(2 ** (-1 / 1.5))
    clock.advance(6 * DAY)
    lt.decay()
    assert lt.get_many([medium.id])[0].strength == pytest.approx(0.5)


def test_memory_decay_promotes_and_keeps_everything_by_default(mem, clock):
    """Often-read records climb a tier; with no forgetting policy (the default) a pass
    never archives nor deletes, however weak a record is."""
    lt = mem.memories(NS)
    busy, idle = lt.add("read often"), lt.add("never read")
    for _ in range(3):
        lt.get(busy.id)
    assert lt.decay() == {"decayed": 0, "promoted": 1, "archived": 0, "deleted": 0, "skipped": 0}
    assert lt.get_many([busy.id])[0].tier == "medium"
    clock.advance(5 * DAY)  # idle: 2**-5 = 0.03; busy (medium): 2**(-5/7) = 0.61
    counts = lt.decay()
    assert (counts["promoted"], counts["archived"], counts["deleted"]) == (0, 0, 0)
    clock.advance(365 * DAY)
    assert lt.decay()["deleted"] == 0
    assert [r.id for r in lt.get_many([busy.id, idle.id])] == [busy.id, idle.id]
    assert lt.get_many([idle.id])[0].strength < 1e-100
    assert [h.memory.id for h in lt.search("never")] == [idle.id]


def test_memory_batch_add_and_get(mem):
    """add_many adds all or nothing (one atomic step); get_many keeps order, skips missing."""
    lt = mem.memories(NS)
    recs = lt.add_many([{"content": "one"}, {"content": "two", "tags": ["t"]}, {"content": "3"}])
    assert [r.content for r in recs] == ["one", "two", "3"]
    ids = [r.id for r in recs]
    got = lt.get_many([ids[2], "d" * 32, ids[0]])
    assert [r.id for r in got] == [ids[2], ids[0]]
    assert all(r.access_count == 0 for r in got)
    with pytest.raises(InvalidArgument):
        lt.add_many([{"content": "fine"}, {"content": ""}])
    assert lt.search("fine") == []
    with pytest.raises(InvalidArgument):
        lt.add_many([])


def test_memory_context_groups(mem, clock):
    """create_group, add_to_group, get_group (the group and its records, oldest first)."""
    lt = mem.memories(NS)
    group = lt.create_group("launch", "everything about the launch")
    assert isinstance(group, Group)
    assert (group.name, group.description) == ("launch", "everything about the launch")
    a = lt.add("launch date is June 3")
    clock.advance(1)
    b = lt.add("launch owner is Dana")
    lt.add("unrelated")
    assert lt.add_to_group(a.id, group.id) is True
    assert lt.add_to_group(b.id, group.id) is True
    assert lt.add_to_group(b.id, group.id) is True  # idempotent
    got, records = lt.get_group(group.id)
    assert got == group
    assert [r.id for r in records] == [a.id, b.id]
    lt.delete(a.id)
    assert [r.id for r in lt.get_group(group.id)[1]] == [b.id]
    with pytest.raises(NotFound):
        lt.get_group("e" * 32)


def test_memory_changes_are_events_keyed_by_id(mem):
    """Adding a record emits memory:write with the record id as key; deleting, memory:delete."""
    seen = []
    mem.on("memory:write", lambda e: seen.append((e.type, e.key)))
    mem.on("memory:delete", lambda e: seen.append((e.type, e.key)))
    lt = mem.memories(NS)
    rec = lt.add("evented")
    assert ("memory:write", rec.id) in seen
    lt.delete(rec.id)
    assert ("memory:delete", rec.id) in seen


def test_memory_permissions_apply(mem):
    """Reads need read, changes need write; refused changes store nothing."""
    mem.create_namespace(NS, default_permission=None, permissions={"reader": "read"})
    lt = mem.memories(NS)
    rec = lt.add("secret plan")
    reader = mem.memories(NS, agent="reader")
    assert reader.get(rec.id).access_count == 0  # read, without counting the access
    assert [h.memory.id for h in reader.search("secret")] == [rec.id]
    with pytest.raises(PermissionDenied):
        reader.add("sneaky")
    with pytest.raises(PermissionDenied):
        reader.reinforce(rec.id)
    # Refused even when there would be nothing to change.
    with pytest.raises(PermissionDenied):
        reader.delete("no-such-record")
    with pytest.raises(PermissionDenied):
        reader.decay()
    with pytest.raises(PermissionDenied):
        reader.delete(rec.id)
    stranger = mem.memories(NS, agent="stranger")
    with pytest.raises(PermissionDenied):
        stranger.search("secret")
    with pytest.raises(PermissionDenied):
        stranger.get(rec.id)
    assert [h.memory.content for h in lt.search("sneaky secret plan")] == ["secret plan"]


def test_memory_operations_are_audited(mem):
    """Memory changes appear in the access log under the acting agent."""
    lt = mem.memories(NS, agent="auditor")
    lt.add("audited")
    log = mem.access_log(agent_id="auditor", namespace=NS)
    assert any(e.action == "transact" and e.success for e in log)


def test_memory_bad_input_is_refused(mem):
    """Each bad argument raises InvalidArgument and stores nothing."""
    lt = mem.memories(NS)
    bad_adds: list[dict[str, Any]] = [
        {"content": ""},
        {"content": 5},
        {"content": "x", "tier": "eternal"},
        {"content": "x", "importance": 2},
        {"content": "x", "importance": True},
        {"content": "x", "tags": "notalist"},
        {"content": "x", "metadata": [1]},
        {"content": "x", "memory_type": ""},
        {"content": "x", "parent_id": "a/b"},
    ]
    for spec in bad_adds:
        with pytest.raises(InvalidArgument):
            lt.add(**spec)
    with pytest.raises(InvalidArgument):
        lt.search("")
    with pytest.raises(InvalidArgument):
        lt.search("x", limit=0)
    with pytest.raises(InvalidArgument):
        lt.children("x" * 32, sort_order="sideways")
    assert lt.search("x") == []
    assert NS not in {n.name for n in mem.list_namespaces()} or mem.get_keys(NS) == []


def test_memory_concurrent_reinforcements_all_count(mem):
    """8 threads x 10 reinforcements of one record: access_count is exactly 80."""
    lt = mem.memories(NS)
    rec = lt.add("hot record")
    errors = []

    def work():
        try:
            for _ in range(10):
                lt.reinforce(rec.id, 1.0)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert lt.get_many([rec.id])[0].access_count == 80


def test_memory_circuit_breaker_status(mem):
    """get_circuit_breaker_status / reset_circuit_breaker exist on every store."""
    status = mem.circuit_breaker_status()
    assert status["state"] in ("closed", "disabled")
    mem.reset_circuit_breaker()


async def test_async_memories(amem):
    """AsyncMemory.memories(): add, get, search, semantic search, delete."""
    lt = amem.memories(NS)
    rec = await lt.add("Priya always starts her day with a flat white")
    await lt.add("The staging cluster runs in Frankfurt")
    assert (await lt.get(rec.id)).access_count == 1
    assert [h.memory.id for h in await lt.search("flat white")] == [rec.id]
    hits = await lt.semantic_search("what coffee does Priya like", k=1)
    assert hits[0].memory.id == rec.id
    session = await amem.create_session("u1")
    assert (await amem.get_session(session.id)).user_id == "u1"
    assert await lt.delete(rec.id) == 1
