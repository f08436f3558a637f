"""Forgetting is opt-in (SPEC §10): nothing is forgotten unless the namespace asks for it.

A namespace's forgetting policy (``lt.configure(forget=...)``, admin only) archives or
deletes the records its documented formula names, and nothing else; archived records are
skipped by searches until restored; each pass reports what it changed. The long tests
simulate six months with an injected clock; their expected outcomes are computed here,
from the formula of docs/memories.md, independently of the code under test.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from hivemem import InvalidArgument, NotFound, PermissionDenied, WrongType
from hivemem.memories.decay import DAY

NS = "recall"
HOUR = 3600.0
HALF_LIVES = {"short": 1 * DAY, "medium": 7 * DAY, "long": 90 * DAY}
COUNTS = ("decayed", "promoted", "archived", "deleted", "skipped")
#: Backends whose every call is a local function call: they run the scheduler hourly; the
#: others (one request or several round trips per call) daily, for the same six months.
HOURLY = ("memory", "sqlite")


def _ids(lt: Any, ids: list[str]) -> dict[str, Any]:
    """The records of ``ids`` that exist, by id (get_many in batches, no access counted)."""
    out: dict[str, Any] = {}
    for start in range(0, len(ids), 1000):
        out.update((r.id, r) for r in lt.get_many(ids[start : start + 1000]))
    return out


def test_memory_no_forgetting_policy_by_default(mem, clock):
    """A namespace has no policy until an admin sets one; bad policies are refused."""
    lt = mem.memories(NS)
    lt.add("first")
    assert lt.config() == {"forget": None}
    assert lt.configure() == {"forget": None}  # no argument: changes nothing
    policy = {"below": 0.05, "action": "archive", "min_age": 7 * DAY}
    assert lt.configure(forget=policy) == {"forget": policy}
    assert mem.memories(NS, agent="other").config() == {"forget": policy}
    for bad in (
        {"below": 0, "action": "archive"},
        {"below": 1, "action": "archive"},
        {"below": "low", "action": "archive"},
        {"below": 0.1, "action": "shred"},
        {"below": 0.1},
        {"below": 0.1, "action": "delete", "min_age": -1},
        {"below": 0.1, "action": "delete", "min_age": True},
        {"below": 0.1, "action": "delete", "extra": 1},
        "archive",
    ):
        with pytest.raises(InvalidArgument):
            lt.configure(forget=bad)
    assert lt.config() == {"forget": policy}
    assert lt.configure(forget={"below": 0.2, "action": "delete"}) == {
        "forget": {"below": 0.2, "action": "delete", "min_age": 0.0}
    }
    assert lt.configure(forget=None) == {"forget": None}
    # Adding records from another handle keeps the namespace's settings.
    lt.configure(forget=policy)
    mem.memories(NS, agent="late").add("second")
    assert lt.config() == {"forget": policy}


def test_memory_configuring_forgetting_needs_admin(mem):
    """Writers add and decay, but only an admin of the namespace chooses what is forgotten."""
    mem.create_namespace(NS, default_permission="write")
    writer = mem.memories(NS, agent="writer")
    writer.add("kept")
    with pytest.raises(PermissionDenied):
        writer.configure(forget={"below": 0.5, "action": "delete"})
    assert writer.config() == {"forget": None}
    writer.decay()  # a pass is a write, not an admin change
    mem.memories(NS).configure(forget={"below": 0.5, "action": "archive"})  # the creator
    assert writer.config()["forget"]["action"] == "archive"


def test_memory_archive_and_restore(mem, clock):
    """archive() moves a record to tier archived: searches skip it unless asked, its
    events say so; restore() brings it back to its tier, as an access."""
    lt = mem.memories(NS)
    rec = lt.add("an obscure fact about llamas", tier="medium", tags=["zoo"])
    other = lt.add("llamas again", tags=["zoo"])
    clock.advance(DAY)
    gone = lt.archive(rec.id)
    assert (gone.tier, gone.forgotten, gone.access_count) == ("archived", True, 0)
    assert gone.strength == pytest.approx(2 ** (-1 / 7))  # it keeps its medium curve
    assert lt.archive(rec.id).tier == "archived"  # archiving twice changes nothing
    assert [h.memory.id for h in lt.search("llamas")] == [other.id]
    assert rec.id not in [h.memory.id for h in lt.semantic_search("llamas", k=5)]
    assert [h.memory.id for h in lt.search("llamas", filters={"tier": "archived"})] == [rec.id]
    found = lt.search("llamas", filters={"include_archived": True})
    assert {h.memory.id for h in found} == {rec.id, other.id}
    old = lt.search("llamas", filters={"include_forgotten": True})  # the earlier name
    assert {h.memory.id for h in old} == {rec.id, other.id}
    assert lt.get(rec.id).tier == "archived"  # reading does not restore
    with pytest.raises(InvalidArgument):
        lt.update(rec.id, tier="long")
    lt.update(rec.id, tags=["zoo", "old"])  # other fields change as usual
    assert lt.decay()["promoted"] == 0  # an archived record is not promoted
    back = lt.restore(rec.id)
    assert (back.tier, back.forgotten, back.strength) == ("medium", False, 1.0)
    assert back.access_count == 2 and back.last_accessed_at == clock()
    assert lt.restore(rec.id) == lt.get_many([rec.id])[0]  # restoring twice: no change
    assert {h.memory.id for h in lt.search("llamas")} == {rec.id, other.id}
    events = [(e.type, e.key) for e in mem.watch(NS, since=0, timeout=0.5)]
    assert events.count(("memory:archived", rec.id)) == 1
    assert events.count(("memory:restored", rec.id)) == 1
    with pytest.raises(NotFound):
        lt.archive("d" * 32)


def test_memory_archive_needs_write(mem):
    """A reader can neither archive nor restore."""
    mem.create_namespace(NS, default_permission="read")
    rec = mem.memories(NS).add("mine")
    reader = mem.memories(NS, agent="reader")
    with pytest.raises(PermissionDenied):
        reader.archive(rec.id)
    mem.memories(NS).archive(rec.id)
    with pytest.raises(PermissionDenied):
        reader.restore(rec.id)
    with pytest.raises(PermissionDenied):
        reader.archive(rec.id)  # refused even with nothing to change
    assert mem.memories(NS).get_many([rec.id])[0].tier == "archived"


def test_memory_decay_skips_malformed_records(mem, clock):
    """Record-like values an older version let a plain entry door write are skipped and
    counted by decay and left out of searches; nothing crashes. (Once the memories API has
    written to a namespace, the plain doors refuse such writes: WrongType.)"""
    forged = {
        "f" * 32: {"id": "f" * 32, "content": "otters", "importance": "high"},
        "e" * 32: {"id": "e" * 32, "content": "otters", "created_at": "yesterday"},
    }
    for key, value in forged.items():  # the namespace has no kind yet, as in an older store
        mem.write(NS, key, value)
    lt = mem.memories(NS)
    good = lt.add("a good record about otters")
    with pytest.raises(WrongType):
        mem.write(NS, "d" * 32, {"id": "d" * 32, "content": "otters", "importance": "high"})
    clock.advance(DAY)
    counts = lt.decay()
    assert counts["skipped"] == len(forged)
    assert [h.memory.id for h in lt.search("otters")] == [good.id]
    assert lt.decay()["skipped"] == len(forged)


def _history(rng: random.Random, days: int, per_day: int) -> list[list[dict[str, Any]]]:
    """What is added each day: varied tiers and importances, all findable by one word."""
    return [
        [
            {
                "content": f"day {d} note {i} about the quarterly plan",
                "tier": rng.choice(("short", "short", "medium", "long")),
                "importance": rng.choice((0.0, 0.25, 0.5, 0.75, 1.0)),
            }
            for i in range(per_day)
        ]
        for d in range(days)
    ]


def test_memory_six_months_keep_every_record_by_default(make_mem, clock, backend):
    """6 months, 5,040 records added day by day, a scheduler pass every hour (every day
    over http:// and redis://), some records read often: every record stays."""
    lt = make_mem(embedder="none").memories(NS)  # decay does not depend on vectors
    rng = random.Random(16)
    step = HOUR if backend.name in HOURLY else DAY
    ids: list[str] = []
    tiers: dict[str, str] = {}
    reads: dict[str, int] = {}
    totals = dict.fromkeys(COUNTS, 0)
    for day in _history(rng, 180, 28):
        added = lt.add_many(day)
        ids += [r.id for r in added]
        tiers.update((r.id, r.tier) for r in added)
        for rid in rng.sample(ids, 2):  # a few records read, some often enough to climb
            lt.get(rid)
            reads[rid] = reads.get(rid, 0) + 1
        for _ in range(int(DAY // step)):
            clock.advance(step)
            counts = lt.decay()
            for name in COUNTS:
                totals[name] += counts[name]
    assert len(ids) == 5040
    records = _ids(lt, ids)
    assert len(records) == len(ids)
    assert totals["archived"] == totals["deleted"] == totals["skipped"] == 0
    assert not any(r.forgotten or r.tier == "archived" for r in records.values())
    climbs = {rid: _climb(tiers[rid], n) for rid, n in reads.items()}
    assert totals["promoted"] == sum(steps for _, steps in climbs.values()) > 0
    assert all(records[rid].tier == tier for rid, (tier, _) in climbs.items())
    assert len(lt.search("quarterly plan", limit=1000)) == 1000


def _climb(tier: str, reads: int) -> tuple[str, int]:
    """Where ``reads`` accesses take a record of ``tier`` (short -> medium at 3, medium ->
    long at 10), and in how many promotions."""
    steps = 0
    if tier == "short" and reads >= 3:
        tier, steps = "medium", 1
    if tier == "medium" and reads >= 10:
        tier, steps = "long", steps + 1
    return tier, steps


def _expected(specs: list[dict[str, Any]], now: float, below: float, min_age: float) -> set[str]:
    """The records the documented formula forgets at ``now`` (computed independently):

    strength = 2 ** (-(now - t_ref) / (half_life[tier] * stability * (0.5 + importance))),
    forgotten when strength < below and now - created_at >= min_age.
    """
    out = set()
    for s in specs:
        h = HALF_LIVES[s["tier"]] * s["stability"] * (0.5 + s["importance"])
        strength = 2.0 ** (-(now - s["t_ref"]) / h)
        if strength < below and now - s["created_at"] >= min_age:
            out.add(s["id"])
    return out


def test_memory_forgetting_policy_follows_the_formula(make_mem, clock):
    """Two namespaces with the same history: one archives, one deletes. After each
    daily pass, exactly the records the formula names are archived (deleted); restore
    brings every archived record back."""
    mem = make_mem(embedder="none")
    below, min_age = 0.05, 5 * DAY
    keep = mem.memories("archiving")
    drop = mem.memories("deleting")
    keep.configure(forget={"below": below, "action": "archive", "min_age": min_age})
    drop.configure(forget={"below": below, "action": "delete", "min_age": min_age})
    rng = random.Random(7)
    specs: dict[str, list[dict[str, Any]]] = {"archiving": [], "deleting": []}
    pending: list[tuple[float, float, int]] = []  # (when, factor, index) of reinforcements
    archived_total = deleted_total = 0
    history = _history(rng, 30, 25)
    for day in range(90):
        now = clock()
        if day < len(history):
            for name, lt in (("archiving", keep), ("deleting", drop)):
                for rec, spec in zip(lt.add_many(history[day]), history[day], strict=True):
                    specs[name].append(
                        {**spec, "id": rec.id, "created_at": now, "t_ref": now, "stability": 1.0}
                    )
            for i in range(len(specs["archiving"]) - len(history[day]), len(specs["archiving"])):
                if rng.random() < 0.2:  # reinforced a day later: before min_age, so never lost
                    pending.append((now + DAY, rng.choice((1.5, 2.0, 4.0)), i))
        for _when, factor, i in [p for p in pending if p[0] == now]:
            for name, lt in (("archiving", keep), ("deleting", drop)):
                s = specs[name][i]
                lt.reinforce(s["id"], factor)
                s["t_ref"], s["stability"] = now, s["stability"] * factor
        counts = keep.decay()
        assert counts["deleted"] == 0
        archived_total += counts["archived"]
        gone = drop.decay()
        assert gone["archived"] == 0
        deleted_total += gone["deleted"]
        if day % 15 == 14 or day == 89:
            want = _expected(specs["archiving"], now, below, min_age)
            have = _ids(keep, [s["id"] for s in specs["archiving"]])
            assert len(have) == len(specs["archiving"])  # archiving never deletes
            assert {rid for rid, r in have.items() if r.tier == "archived"} == want
            want = _expected(specs["deleting"], now, below, min_age)
            alive = _ids(drop, [s["id"] for s in specs["deleting"]])
            assert set(alive) == {s["id"] for s in specs["deleting"]} - want
        clock.advance(DAY)
    want = _expected(specs["archiving"], clock() - DAY, below, min_age)
    assert 0 < len(want) < len(specs["archiving"])  # the history exercises both sides
    assert archived_total == len(want)
    assert deleted_total == len(_expected(specs["deleting"], clock() - DAY, below, min_age))
    hidden = {h.memory.id for h in keep.search("quarterly", limit=1000)}
    assert hidden.isdisjoint(want)
    tiers = {s["id"]: s["tier"] for s in specs["archiving"]}
    for rid in sorted(want):
        back = keep.restore(rid)
        assert (back.tier, back.strength) == (tiers[rid], 1.0)
    assert keep.decay()["archived"] == 0  # restored records are fresh: not taken again
    assert {h.memory.id for h in keep.search("quarterly", limit=1000)} >= want


async def test_async_memory_forgetting(amem, clock):
    """AsyncMemories: configure, config, archive, restore, decay's counts."""
    lt = amem.memories(NS)
    rec = await lt.add("asynchronous notes about herons")
    assert await lt.config() == {"forget": None}
    policy = {"below": 0.5, "action": "archive", "min_age": 0.0}
    assert await lt.configure(forget=policy) == {"forget": policy}
    assert (await lt.archive(rec.id)).tier == "archived"
    assert await lt.search("herons") == []
    assert (await lt.restore(rec.id)).tier == "short"
    clock.advance(2 * DAY)
    counts = await lt.decay()
    assert counts == {"decayed": 1, "promoted": 0, "archived": 1, "deleted": 0, "skipped": 0}
    assert (await lt.get_many([rec.id]))[0].tier == "archived"
