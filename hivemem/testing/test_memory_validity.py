"""Memories that change instead of piling up (SPEC §20): validity, supersede, slots.

Every backend, ``http://`` included: the server drives the same plans, so a slot's
supersession is one atomic step there too.
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from hivemem import ConflictError, InvalidArgument, NotFound
from hivemem.errors import HivememError

if TYPE_CHECKING:
    from hivemem.types import ScoredMemory

NS = "facts"
SLOT = "alice/city"


def test_memory_valid_from_defaults_to_its_time_and_is_open_ended(mem, clock):
    """A new record holds from when it was added (no occurred_at) and has no end."""
    lt = mem.memories(NS)
    rec = lt.add("The office coffee machine is on floor 3")
    assert (rec.valid_from, rec.valid_to) == (clock(), None)
    assert (rec.supersedes, rec.superseded_by, rec.slot) == (None, None, None)
    when = datetime(2023, 1, 2, tzinfo=UTC)
    old = lt.add("The office moved to Lyon", valid_from=when, valid_to=clock() - 10)
    assert (old.valid_from, old.valid_to) == (when.timestamp(), clock() - 10)


def test_memory_supersede_closes_the_old_record_and_links_both(mem, clock):
    """supersede() adds the new record, ends the old one at its valid_from, links both ways."""
    lt = mem.memories(NS, agent="kb")
    old = lt.add("Bob drinks tea", tags=["bob"])
    clock.advance(100)
    new = lt.supersede(old.id, "Bob drinks coffee", tags=["bob"])
    assert (new.supersedes, new.valid_from, new.valid_to) == (old.id, clock(), None)
    (closed,) = lt.get_many([old.id])
    assert (closed.valid_to, closed.superseded_by) == (new.valid_from, new.id)
    assert closed.content == "Bob drinks tea"  # kept, only closed
    with pytest.raises(ConflictError):  # a second supersession would fork the chain
        lt.supersede(old.id, "Bob drinks juice")
    with pytest.raises(NotFound):
        lt.supersede("0" * 32, "nothing to replace")


def test_memory_slot_add_supersedes_the_current_record(mem, clock):
    """add(slot=) replaces the slot's current record; slot() and slot_history() follow."""
    lt = mem.memories(NS)
    ids = []
    for city in ("Paris", "Berlin", "Oslo"):
        ids.append(lt.add(f"Alice lives in {city}", slot=SLOT).id)
        clock.advance(10)
    current = lt.slot(SLOT)
    assert (current.id, current.content, current.slot) == (ids[2], "Alice lives in Oslo", SLOT)
    history = lt.slot_history(SLOT)
    assert [r.id for r in history] == ids[::-1]
    assert [r.supersedes for r in history] == [ids[1], ids[0], None]
    assert [r.superseded_by for r in history] == [None, ids[2], ids[1]]
    assert [r.id for r in lt.slot_history(SLOT, limit=2)] == ids[:0:-1]
    # as_of: what held then, at each recorded instant and in between
    for rec in history:
        assert lt.slot(SLOT, as_of=rec.valid_from).id == rec.id
        assert lt.slot(SLOT, as_of=rec.valid_from + 5).id == rec.id
    with pytest.raises(NotFound):
        lt.slot(SLOT, as_of=history[-1].valid_from - 1)  # before the first statement
    with pytest.raises(NotFound):
        lt.slot("alice/phone")
    assert lt.slot_history("alice/phone") == []


def test_memory_slots_are_independent_and_same_time_statements_stay_ordered(mem, clock):
    """Two slots do not touch each other; statements at the same clock time still chain."""
    lt = mem.memories(NS)
    a1 = lt.add("Alice lives in Paris", slot=SLOT)
    b1 = lt.add("Bob lives in Rome", slot="bob/city")
    a2 = lt.add("Alice lives in Berlin", slot=SLOT)  # same fake time as a1
    assert a2.valid_from > a1.valid_from  # just after: a1 held for a non-empty moment
    assert lt.slot("bob/city").id == b1.id
    assert lt.slot(SLOT).id == a2.id
    assert lt.slot(SLOT, as_of=a1.valid_from).id == a1.id


def test_memory_searches_skip_superseded_records_unless_asked(mem, clock):
    """Keyword search returns records valid now; include_superseded and as_of see more."""
    lt = mem.memories(NS)
    first = lt.add("Alice lives in Paris near the river", slot=SLOT)
    clock.advance(50)
    second = lt.add("Alice lives in Berlin near the river", slot=SLOT)

    def ids(hits: list[ScoredMemory]) -> set[str]:
        return {h.memory.id for h in hits}

    assert ids(lt.search("Alice river")) == {second.id}
    assert ids(lt.search("Alice river", include_superseded=True)) == {first.id, second.id}
    assert ids(lt.search("Alice river", filters={"include_superseded": True})) == {
        first.id,
        second.id,
    }
    assert ids(lt.search("Alice river", as_of=first.valid_from + 1)) == {first.id}
    assert ids(lt.search("Alice river", as_of=first.valid_from - 1)) == set()
    assert ids(lt.search("Alice river", filters={"slot": SLOT}, include_superseded=True)) == {
        first.id,
        second.id,
    }
    future = lt.add("Alice will live in Madrid near the river", valid_from=clock() + 1000)
    assert future.id not in ids(lt.search("Alice river"))  # not valid yet
    assert future.id in ids(lt.search("Alice river", as_of=clock() + 2000))
    with pytest.raises(InvalidArgument):
        lt.search("Alice", as_of=clock(), include_superseded=True)


def test_memory_semantic_search_skips_superseded_records(mem, clock):
    """Hybrid search too: only records valid now, unless include_superseded or as_of."""
    lt = mem.memories(NS)
    first = lt.add("Alice lives in Paris", slot=SLOT)
    clock.advance(50)
    second = lt.add("Alice lives in Berlin", slot=SLOT)
    now = {h.memory.id for h in lt.semantic_search("where does Alice live", k=5)}
    assert now == {second.id}
    every = lt.semantic_search("where does Alice live", k=5, include_superseded=True)
    assert {h.memory.id for h in every} == {first.id, second.id}
    then = lt.semantic_search("where does Alice live", k=5, as_of=first.valid_from)
    assert {h.memory.id for h in then} == {first.id}


def test_memory_supersede_within_a_slot_moves_the_slot(mem, clock):
    """supersede() of a slot's current record makes the new one the slot's current."""
    lt = mem.memories(NS)
    old = lt.add("Alice lives in Paris", slot=SLOT)
    clock.advance(1)
    new = lt.supersede(old.id, "Alice lives in Nice")
    assert new.slot == SLOT
    assert lt.slot(SLOT).id == new.id
    clock.advance(1)
    newest = lt.add("Alice lives in Lille", slot=SLOT)
    assert newest.supersedes == new.id
    with pytest.raises(InvalidArgument):
        lt.supersede(newest.id, "Alice lives in Metz", slot="bob/city")


def test_memory_validity_refusals_change_nothing(mem, clock):
    """Bad slots, times and a backdated supersession are refused; nothing is written."""
    lt = mem.memories(NS)
    rec = lt.add("Alice lives in Paris", slot=SLOT)
    bad: list[dict[str, object]] = [
        {"slot": "no-attribute"},
        {"slot": "/city"},
        {"slot": "x" * 300 + "/y"},
        {"valid_from": "yesterday"},
        {"valid_from": float("nan")},
        {"valid_to": clock() - 1},  # before valid_from
        {"slot": "alice/\x00"},
    ]
    for fields in bad:
        with pytest.raises(InvalidArgument):
            lt.add("Alice lives in Rome", **fields)
    with pytest.raises(ConflictError):  # would open the chain in the middle
        lt.add("Alice lives in Rome", slot=SLOT, valid_from=rec.valid_from - 1)
    with pytest.raises(InvalidArgument):
        lt.add_many([{"content": "x", "slot": SLOT}])
    with pytest.raises(InvalidArgument):
        lt.slot("bad")
    assert [r.id for r in lt.slot_history(SLOT)] == [rec.id]
    assert lt.slot(SLOT).valid_to is None


def test_memory_concurrent_slot_statements_leave_one_current(mem, clock):
    """Agents stating one slot at once: one chain, one current record, no fork."""
    lt = mem.memories(NS)
    errors: list[BaseException] = []

    def state(agent: int) -> None:
        mine = mem.memories(NS, agent=f"a{agent}")
        try:
            for i in range(5):
                mine.add(f"agent {agent} says #{i}", slot=SLOT)
        except HivememError as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=state, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = lt.slot_history(SLOT)
    assert len(history) == 20
    assert [r.valid_to is None for r in history].count(True) == 1
    for newer, older in itertools.pairwise(history):
        assert newer.supersedes == older.id
        assert older.superseded_by == newer.id
        assert older.valid_to == newer.valid_from > older.valid_from
    assert lt.slot(SLOT).id == history[0].id


async def test_memory_slots_async(amem, clock):
    """The async API states slots, supersedes and reads as of a time like the sync one."""
    lt = amem.memories(NS)
    first = await lt.add("Alice lives in Paris", slot=SLOT)
    clock.advance(10)
    second = await lt.add("Alice lives in Berlin", slot=SLOT)
    clock.advance(10)
    third = await lt.supersede(second.id, "Alice lives in Oslo")
    assert (third.slot, third.supersedes) == (SLOT, second.id)
    assert (await lt.slot(SLOT)).id == third.id
    assert (await lt.slot(SLOT, as_of=first.valid_from + 1)).id == first.id
    assert [r.id for r in await lt.slot_history(SLOT)] == [third.id, second.id, first.id]
    hits = await lt.search("Alice lives", as_of=second.valid_from)
    assert [h.memory.id for h in hits] == [second.id]
    every = await lt.search("Alice lives", include_superseded=True)
    assert {h.memory.id for h in every} == {first.id, second.id, third.id}


def test_memory_deleting_a_slots_current_record_empties_the_slot(mem, clock):
    """Deleting the current record leaves the slot without one; the next statement starts anew."""
    lt = mem.memories(NS)
    first = lt.add("Alice lives in Paris", slot=SLOT)
    clock.advance(1)
    second = lt.add("Alice lives in Berlin", slot=SLOT)
    assert lt.delete(second.id) == 1
    with pytest.raises(NotFound):
        lt.slot(SLOT)
    (kept,) = lt.get_many([first.id])
    assert kept.valid_to == second.valid_from  # its predecessor stays closed
    clock.advance(1)
    third = lt.add("Alice lives in Oslo", slot=SLOT)
    assert third.supersedes is None
    assert lt.slot(SLOT).id == third.id
    assert [r.id for r in lt.slot_history(SLOT)] == [third.id, first.id]


def test_memory_a_slot_record_may_end_before_it_is_superseded(mem, clock):
    """A slot's record with its own valid_to keeps that end when a later one supersedes it."""
    lt = mem.memories(NS)
    trip = lt.add("Alice is on holiday in Rome", slot="alice/whereabouts", valid_to=clock() + 100)
    clock.advance(200)
    back = lt.add("Alice is back in Paris", slot="alice/whereabouts")
    (old,) = lt.get_many([trip.id])
    assert (old.valid_to, old.superseded_by, back.supersedes) == (
        trip.valid_from + 100,
        back.id,
        trip.id,
    )
    with pytest.raises(NotFound):  # between the trip's end and the return nothing held
        lt.slot("alice/whereabouts", as_of=trip.valid_from + 150)


def test_memory_slot_statement_repeated_with_its_idempotency_key(backend, clock):
    """Over HTTP a repeated Idempotency-Key answers the first statement, not a second one."""
    import httpx

    mem = backend.open({"clock": clock})
    try:
        lt = mem.memories(NS)
        lt.add("Alice lives in Paris", slot=SLOT)
        url = f"{mem._c.backend.url}/v1/namespaces/{NS}/memories"
        headers = {"Idempotency-Key": "state-once"}
        body = {"content": "Alice lives in Oslo", "slot": SLOT}
        first = httpx.post(url, json=body, headers=headers, timeout=60)
        again = httpx.post(url, json=body, headers=headers, timeout=60)
        assert first.status_code == again.status_code == 201
        assert first.json()["id"] == again.json()["id"]
        assert [r.content for r in lt.slot_history(SLOT)] == [
            "Alice lives in Oslo",
            "Alice lives in Paris",
        ]
    finally:
        mem.close()


#: Idempotency keys travel over HTTP: this rule runs on http:// only.
test_memory_slot_statement_repeated_with_its_idempotency_key.only_backends = {"http"}  # type: ignore[attr-defined]


def test_memory_timeline_pages_newest_first_with_filters(mem, clock):
    """timeline() lists records by time, newest first, in pages that neither skip nor repeat.

    Records added at the same instant are ordered by id; filters and validity apply as in
    the searches (superseded records only when asked); archived ones only when asked.
    """
    lt = mem.memories(NS, agent="kb")
    ids = []
    for i in range(23):
        batch = lt.add_many(
            [
                {"content": f"fact {i}-{j}", "tags": ["even" if i % 2 == 0 else "odd"]}
                for j in range(2)
            ]
        )  # two records at one instant
        ids += [r.id for r in batch]
        clock.advance(5)
    old = lt.add("The meeting room is B12", slot="office/room")
    clock.advance(5)
    new = lt.add("The meeting room is C3", slot="office/room")
    lt.archive(ids[0])
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = lt.timeline(limit=7, cursor=cursor)
        assert len(page) <= 7
        seen += [r.id for r in page]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    # Newest first: the slot's current record, then the batches (ties by id); the superseded
    # record and the archived one are left out.
    pairs = [sorted(ids[2 * i : 2 * i + 2]) for i in reversed(range(23))]
    expected = [new.id] + [rid for pair in pairs for rid in pair if rid != ids[0]]
    assert seen == expected and old.id not in seen and pages == 7
    everything = lt.timeline(
        limit=1000, include_superseded=True, filters={"include_archived": True}
    )
    assert {r.id for r in everything} == {*ids, old.id, new.id}
    assert everything.next_cursor is None
    odd = lt.timeline(limit=1000, filters={"tags": ["odd"]})
    assert len(odd) == 22 and all("odd" in r.tags for r in odd)
    oldest = lt.timeline(
        limit=1,
        sort_field="valid_from",
        include_superseded=True,
        filters={"include_archived": True, "created_before": clock() - 100},
    )
    assert len(oldest) == 1 and oldest.items[0].valid_from < clock() - 100
    bad_sorts: tuple[Any, ...] = ("strength", ["created_at"], {"a": 1})
    for bad in bad_sorts:
        with pytest.raises(InvalidArgument):
            lt.timeline(sort_field=bad)
    bad_cursors: tuple[Any, ...] = ("not a cursor", "nan|x", "1|", "1|a/b", 5)
    for bad in bad_cursors:
        with pytest.raises(InvalidArgument):
            lt.timeline(cursor=bad)
    assert [r.id for r in lt.timeline(cursor="", limit=3)] == expected[:3]  # "": the first page
    assert [r.id for r in lt.timeline(cursor="1e999|z")] == expected  # after +inf: all
    assert len(lt.timeline(cursor="-1e999|z")) == 0
