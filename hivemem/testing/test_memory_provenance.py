"""Provenance and time of long-term memories (SPEC §10): ``source``, ``occurred_at``, boosts.

Every record carries who wrote it (``agent_id``), where it came from (``source``) and when
the remembered thing happened (``occurred_at``); searches filter on all three exactly, at a
few thousand records, on every backend; ``semantic_search(boosts=...)`` raises the records
that match without leaving the others out.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from hivemem import InvalidArgument
from hivemem.testing.embedders import HashEmbedder

if TYPE_CHECKING:
    from hivemem.types import MemoryRecord

NS = "provenance"
T0 = 1_600_000_000.0
DAY = 86_400.0


def test_memory_source_and_occurred_at_default_and_round_trip(mem, clock):
    """A record without them has source {} and occurred_at = created_at = valid_from; given
    ones (a datetime too) come back from add, get, get_many, add_many, supersede and update."""
    lt = mem.memories(NS, agent="scribe")
    plain = lt.add("The standup moved to 9:30")
    assert (plain.source, plain.occurred_at) == ({}, plain.created_at)
    assert plain.valid_from == plain.created_at == clock()
    source = {
        "conversation_id": "conv-" + "7" * 40,
        "message_ids": ["m-17", "m-18"],
        "run_id": "run-2026-12-08",
        "url": "https://tickets.example.org/INC-4821?tab=history",
        "attempt": 2,
    }
    when = datetime(2024, 3, 5, 14, 30, tzinfo=UTC)
    rec = lt.add("Nora said the interview went well", source=source, occurred_at=when)
    assert (rec.source, rec.occurred_at) == (source, when.timestamp())
    assert rec.valid_from == when.timestamp()  # validity starts when it happened
    assert rec.created_at == clock() and rec.agent_id == "scribe"
    (again,) = lt.get_many([rec.id])
    assert (again.source, again.occurred_at) == (source, when.timestamp())
    assert lt.get(rec.id).to_dict()["source"] == source
    batch = lt.add_many(
        [
            {"content": "first turn", "source": {"turn": 1}, "occurred_at": T0},
            {"content": "second turn", "source": {"turn": 2}, "occurred_at": when},
            {"content": "no provenance"},
        ]
    )
    assert [(r.source, r.occurred_at) for r in batch] == [
        ({"turn": 1}, T0),
        ({"turn": 2}, when.timestamp()),
        ({}, clock()),
    ]
    clock.advance(60)
    newer = lt.supersede(batch[0].id, "first turn, corrected", source={"turn": 1, "fix": True})
    assert (newer.source, newer.occurred_at) == ({"turn": 1, "fix": True}, clock())
    dated = lt.supersede(plain.id, "The standup moved to 10:00", occurred_at=clock() + 5)
    assert dated.occurred_at == dated.valid_from == clock() + 5
    changed = lt.update(rec.id, source={"run_id": "r2"}, occurred_at=T0 + DAY)
    assert (changed.source, changed.occurred_at) == ({"run_id": "r2"}, T0 + DAY)
    assert changed.valid_from == when.timestamp()  # validity stays as it was set
    assert lt.update(rec.id, source=None).source == {}


def test_memory_records_of_an_earlier_version_read_with_defaults(mem, clock):
    """Records stored without source/occurred_at (an earlier version's, written before the
    namespace held memories) read as source {} and occurred_at = created_at, and filter so."""
    old = []
    for i in range(40):
        created = T0 + i * DAY
        record = {
            "id": f"{i:032x}",
            "content": f"old ledger note {i}",
            "memory_type": "general",
            "tier": "long",
            "importance": 0.5,
            "strength": 1.0,
            "metadata": {"n": i},
            "tags": [],
            "parent_id": None,
            "session_id": None,
            "agent_id": "old-agent",
            "created_at": created,
            "updated_at": created,
            "last_accessed_at": created,
            "access_count": 0,
            "stability": 1.0,
            "forgotten": False,
            "decayed_at": created,
        }
        mem.write(NS, record["id"], record)
        old.append(record)
    lt = mem.memories(NS)
    fresh = lt.add("new ledger note", source={"run_id": "r1"})
    got = lt.get_many([r["id"] for r in old])
    assert [(r.source, r.occurred_at, r.valid_from) for r in got] == [
        ({}, r["created_at"], r["created_at"]) for r in old
    ]
    window = {"occurred_after": T0 + 10 * DAY, "occurred_before": T0 + 20 * DAY}
    hits = lt.search("ledger note", limit=100, filters=window)
    assert {h.memory.id for h in hits} == {r["id"] for r in old[10:20]}
    hits = lt.search("ledger note", limit=100, filters={"source": {"run_id": "r1"}})
    assert [h.memory.id for h in hits] == [fresh.id]
    assert lt.get(old[0]["id"]).source == {}  # an access writes it back whole
    assert lt.update(old[1]["id"], importance=0.9).occurred_at == old[1]["created_at"]


def _corpus(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` records as agents of a multi-agent run would write them (``_agent`` aside)."""
    rng = random.Random(seed)
    specs = []
    for i in range(n):
        source: dict[str, Any] = {
            "run_id": f"run-{rng.randrange(12)}",
            "conversation_id": f"conv-{rng.randrange(30):03d}",
            "message_id": f"msg-{i:05d}",
        }
        if i % 3 == 0:
            source["step"] = rng.choice([1, 2, 2.0, 3])  # 2 and 2.0 are equal
        if i % 5 == 0:
            items = [("a", rng.randrange(3)), ("b", [1, 2])]
            rng.shuffle(items)
            source["origin"] = dict(items)  # key order does not matter
        if i % 11 == 0:
            source = {}  # no provenance at all
        specs.append(
            {
                "content": f"ledger entry {i} about shipment {rng.randrange(500)}",
                "source": source,
                "occurred_at": T0 + rng.uniform(0, 365) * DAY,
                "session_id": f"s{rng.randrange(8)}",
                "_agent": f"agent-{rng.randrange(4)}",
            }
        )
    return specs


def _expected(records: list[MemoryRecord], filters: dict[str, Any]) -> set[str]:
    """The ids ``filters`` keep, recomputed in Python from the records themselves."""
    out = set()
    for r in records:
        source = filters.get("source", {})
        if any(k not in r.source or r.source[k] != v for k, v in source.items()):
            continue
        if "occurred_after" in filters and not r.occurred_at >= filters["occurred_after"]:
            continue
        if "occurred_before" in filters and not r.occurred_at < filters["occurred_before"]:
            continue
        if "agent_id" in filters and r.agent_id not in filters["agent_id"]:
            continue
        if "session_id" in filters and r.session_id not in filters["session_id"]:
            continue
        out.add(r.id)
    return out


def test_memory_filters_by_source_time_agent_and_session_are_exact(make_mem, clock):
    """At 2,400 records by four agents: source (key equality), occurred ranges, agent_id and
    session_id filters keep exactly the records a Python recomputation keeps, alone and
    together, in both searches, also after records change and go."""
    mem = make_mem(embedder=HashEmbedder())
    specs = _corpus(2400, seed=16)
    by_agent: dict[str, list[dict[str, Any]]] = {}
    for spec in specs:
        by_agent.setdefault(spec.pop("_agent"), []).append(spec)
    records: list[MemoryRecord] = []
    for agent, mine in sorted(by_agent.items()):
        lt = mem.memories(NS, agent=agent)
        for start in range(0, len(mine), 400):
            records += lt.add_many(mine[start : start + 400])
    lt = mem.memories(NS)
    mid = T0 + 180 * DAY
    cases: list[dict[str, Any]] = [
        {"source": {"run_id": "run-3"}},
        {"source": {"run_id": "run-3", "conversation_id": "conv-007"}},
        {"source": {"step": 2}},
        {"source": {"step": 2.0, "run_id": "run-5"}},
        {"source": {"origin": {"b": [1, 2], "a": 1}}},
        {"source": {"message_id": "msg-00042"}},
        {"source": {"run_id": "run-404"}},
        {"source": {"nowhere": None}},
        {"occurred_after": mid, "occurred_before": mid + 40 * DAY},
        {"occurred_before": T0 + 30 * DAY},
        {"agent_id": ["agent-1"], "session_id": ["s2", "s5"]},
        {"agent_id": ["agent-0", "agent-3"], "source": {"run_id": "run-7"}},
        {"session_id": ["s4"], "occurred_after": mid, "source": {"run_id": "run-1"}},
    ]

    def check(filters: dict[str, Any], semantic: bool = True) -> None:
        want = _expected(records, filters)
        assert len(want) <= 1000
        got = lt.search("ledger entry", limit=1000, filters=filters)
        assert {h.memory.id for h in got} == want, filters
        if semantic and want:
            hits = lt.semantic_search("ledger entry shipment", k=1000, filters=filters)
            assert {h.memory.id for h in hits} == want, filters

    for filters in cases:
        check(filters)
    assert _expected(records, cases[0]) and _expected(records, cases[4])
    assert not _expected(records, cases[6]) and not _expected(records, cases[7])
    # Records change provenance and time, and go: the index follows.
    rng = random.Random(7)
    changed = rng.sample(range(len(records)), 60)
    for i in changed:
        records[i] = lt.update(
            records[i].id, source={"run_id": "run-3", "moved": True}, occurred_at=mid + 1
        )
    gone = set(rng.sample([i for i in range(len(records)) if i not in changed], 40))
    for i in gone:
        assert lt.delete(records[i].id) == 1
    records = [r for i, r in enumerate(records) if i not in gone]
    for filters in (cases[0], cases[2], cases[8], {"source": {"moved": True}}):
        check(filters)


def test_memory_boosts_raise_matching_records_and_show_their_part(mem, clock):
    """boosts= adds parts["boost"] = weight x the share of clauses matched; parts still sum
    to the score; a heavy enough boost puts the matching speaker's records first."""
    lt = mem.memories(NS, agent="transcriber")
    lines = [
        ("Nora", "I finally heard back about the job interview"),
        ("Sam", "Did you hear back about the job interview?"),
        ("Nora", "The hiring manager wants me to start in March"),
        ("Sam", "I am still waiting to hear about my interview"),
        ("Ada", "The quarterly report is due on Friday"),
        ("Sam", "Let us celebrate your new job this weekend"),
    ]
    recs = lt.add_many(
        [
            {"content": text, "metadata": {"speaker": who}, "tags": [who.lower()]}
            for who, text in lines
        ]
    )
    query = "news about the job interview"
    plain = lt.semantic_search(query, k=6)
    assert all("boost" not in h.parts for h in plain)
    boosts = {"metadata": {"speaker": "Nora"}, "tags": ["nora"], "weight": 1.0}
    boosted = lt.semantic_search(query, k=6, boosts=boosts)
    nora = {recs[0].id, recs[2].id}
    assert {h.memory.id for h in boosted[:2]} == nora
    for h in boosted:
        assert h.parts["boost"] == (1.0 if h.memory.id in nora else 0.0)
        assert sum(h.parts.values()) == pytest.approx(h.score, abs=1e-9)
    # Each field, tag and id is a clause: half of them matched is half the weight.
    half = lt.semantic_search(
        query, k=6, boosts={"metadata": {"speaker": "Sam"}, "agent_id": "someone-else"}
    )
    for h in half:
        expected = 0.05 if h.memory.metadata["speaker"] == "Sam" else 0.0
        assert h.parts["boost"] == pytest.approx(expected)
    # A boost only reorders: the same records come back, each with its own other parts.
    assert {h.memory.id for h in boosted} == {h.memory.id for h in plain}
    unboosted = {h.memory.id: h.parts["vector"] for h in plain}
    assert all(h.parts["vector"] == pytest.approx(unboosted[h.memory.id]) for h in boosted)
    zero = lt.semantic_search(query, k=6, boosts={**boosts, "weight": 0})
    assert [h.memory.id for h in zero] == [h.memory.id for h in plain]


async def test_memory_provenance_async(make_amem, clock):
    """The async API takes source, occurred_at (a datetime too), the new filters and boosts
    like the sync one."""
    lt = make_amem(embedder=HashEmbedder()).memories(NS, agent="async-agent")
    when = datetime(2023, 6, 1, tzinfo=UTC)
    rec = await lt.add("async ledger entry", source={"run_id": "r9"}, occurred_at=when)
    other = await lt.add("async ledger entry two", source={"run_id": "r8"})
    assert (rec.source, rec.occurred_at) == ({"run_id": "r9"}, when.timestamp())
    hits = await lt.search("ledger", filters={"occurred_before": datetime(2023, 9, 1, tzinfo=UTC)})
    assert [h.memory.id for h in hits] == [rec.id]
    hits = await lt.semantic_search(
        "ledger entry", k=5, filters={"source": {"run_id": "r8"}}, boosts={"tags": ["x"]}
    )
    assert [(h.memory.id, h.parts["boost"]) for h in hits] == [(other.id, 0.0)]
    moved = await lt.update(rec.id, occurred_at=datetime(2022, 1, 1, tzinfo=UTC))
    assert moved.occurred_at == datetime(2022, 1, 1, tzinfo=UTC).timestamp()


def test_memory_provenance_refusals_change_nothing(mem, clock):
    """Bad sources, times, filters and boosts are refused (InvalidArgument, 422 over HTTP)
    and nothing is written."""
    lt = mem.memories(NS)
    rec = lt.add("kept as it is", source={"run_id": "r1"}, occurred_at=T0)
    revision = mem.get_namespace(NS).revision
    bad_fields: list[dict[str, Any]] = [
        {"source": "run r1"},
        {"source": ["run_id", "r1"]},
        {"source": {f"f{i}": i for i in range(65)}},
        {"source": {"": "empty name"}},
        {"source": {"k" * 201: 1}},
        {"source": {"blob": "x" * 17_000}},
        {"occurred_at": "yesterday"},
        {"occurred_at": True},
    ]
    for fields in bad_fields:
        with pytest.raises(InvalidArgument):
            lt.add("not stored", **fields)
        with pytest.raises(InvalidArgument):
            lt.add_many([{"content": "fine"}, {"content": "not stored", **fields}])
        with pytest.raises(InvalidArgument):
            lt.update(rec.id, **fields)
        with pytest.raises(InvalidArgument):
            lt.supersede(rec.id, "not stored", **fields)
    with pytest.raises(InvalidArgument):
        lt.update(rec.id, occurred_at=None)
    bad_filters: list[dict[str, Any]] = [
        {"source": "r1"},
        {"source": {f"f{i}": i for i in range(65)}},
        {"occurred_after": "2024-01-01"},
        {"occurred_before": True},
        {"sources": {"run_id": "r1"}},
    ]
    for filters in bad_filters:
        with pytest.raises(InvalidArgument):
            lt.search("kept", filters=filters)
        with pytest.raises(InvalidArgument):
            lt.semantic_search("kept", filters=filters)
    bad_boosts: list[Any] = [
        "nora",
        {"speaker": "Nora"},
        {"metadata": "Nora"},
        {"metadata": {f"f{i}": i for i in range(9)}},
        {"tags": [f"t{i}" for i in range(9)]},
        {"tags": "nora"},
        {"agent_id": 7},
        {"agent_id": ["a"] * 101},
        {"weight": 1.5},
        {"weight": -0.1},
        {"weight": "high"},
    ]
    for boosts in bad_boosts:
        with pytest.raises(InvalidArgument):
            lt.semantic_search("kept", boosts=boosts)
    assert mem.get_namespace(NS).revision == revision
    (same,) = lt.get_many([rec.id])
    assert same == rec


def test_memory_provenance_over_http_bodies(backend, clock):
    """Over HTTP: the record schema carries source and occurred_at, bad bodies are 422 and
    change nothing, and boosts travel in the semantic-search body."""
    import httpx

    mem = backend.open({"clock": clock})
    try:
        lt = mem.memories(NS)
        lt.add("kept as it is", source={"run_id": "r1"})
        base = f"{mem._c.backend.url}/v1/namespaces/{NS}/memories"
        made = httpx.post(
            base,
            json={
                "content": "from a raw body",
                "source": {"url": "https://x.org/a"},
                "occurred_at": T0,
            },
            timeout=60,
        )
        assert made.status_code == 201
        assert (made.json()["source"], made.json()["occurred_at"]) == (
            {"url": "https://x.org/a"},
            T0,
        )
        revision = mem.get_namespace(NS).revision
        refused = [
            ("POST", base, {"content": "x", "source": "r1"}),
            ("POST", base, {"content": "x", "source": {"blob": "x" * 17_000}}),
            ("POST", base, {"content": "x", "occurred_at": "yesterday"}),
            ("PATCH", f"{base}/{made.json()['id']}", {"occurred_at": None}),
            ("POST", f"{base}/batch", {"memories": [{"content": "x", "source": [1]}]}),
            ("POST", f"{base}/search", {"query": "x", "filters": {"source": 1}}),
            ("POST", f"{base}/search", {"query": "x", "filters": {"occurred_after": "x"}}),
            ("POST", f"{base}/semantic-search", {"query": "x", "boosts": {"weight": 2}}),
            ("POST", f"{base}/semantic-search", {"query": "x", "boosts": {"colour": "red"}}),
        ]
        for verb, url, body in refused:
            answer = httpx.request(verb, url, json=body, timeout=60)
            assert answer.status_code == 422, (verb, url, body, answer.text)
            assert answer.json()["error"]["code"] == "invalid_argument"
        assert mem.get_namespace(NS).revision == revision
        found = httpx.post(
            f"{base}/semantic-search",
            json={"query": "raw body", "boosts": {"source": {"url": "https://x.org/a"}}},
            timeout=60,
        )
        assert found.status_code == 200
        parts = {r["memory"]["content"]: r["parts"]["boost"] for r in found.json()["results"]}
        assert parts["from a raw body"] == pytest.approx(0.1)  # the default weight
    finally:
        mem.close()


#: Raw HTTP bodies: this rule runs on http:// only.
test_memory_provenance_over_http_bodies.only_backends = {"http"}  # type: ignore[attr-defined]
