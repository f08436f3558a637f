"""``expand=n`` (SPEC §10): each hit followed by its neighbours in its session.

Every backend, ``http://`` included (the argument travels in the request body). A session's
order is by time (``occurred_at``, else ``created_at``): the turns here are added one by one
with the clock moving on, as a chat stores them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from hivemem import InvalidArgument

if TYPE_CHECKING:
    from hivemem.types import MemoryRecord, ScoredMemory

NS = "chats"
#: Two sessions; in the first, the answer after Nora's question shares no word with it.
CHAT = [
    ("s1", "Nora: did you hear back about the job interview at the bakery on Elm Street?"),
    ("s1", "Felix: yes!! they want me to start on Monday"),
    ("s1", "Nora: wonderful news, we should celebrate"),
    ("s1", "Felix: dinner on Friday then"),
    ("s2", "Ravi: the quarterly tax forms are due next week"),
    ("s2", "Maya: I filed mine already"),
]


def _chat(mem: Any, clock: Any, kinds: dict[int, str] | None = None) -> list[MemoryRecord]:
    lt = mem.memories(NS)
    out = []
    for i, (session, text) in enumerate(CHAT):
        kind = (kinds or {}).get(i, "turn")
        out.append(lt.add(text, memory_type=kind, session_id=session))
        clock.advance(60)  # turns stored as they are said: created_at orders the session
    return out


def _ids(hits: list[ScoredMemory]) -> list[str]:
    return [h.memory.id for h in hits]


QUESTION = "job interview at the bakery on Elm Street"


def test_memory_expand_adds_the_next_turn_after_each_hit(mem, clock):
    """expand=1: the turn said after each hit follows it, marked parts == {"context":
    <the hit's score>}; expand=0 (the default) adds nothing; both searches take it."""
    turns = _chat(mem, clock)
    lt = mem.memories(NS)
    for method, size in (("semantic_search", "k"), ("search", "limit")):

        def search(method: str = method, size: str = size, **kw: Any) -> list[ScoredMemory]:
            found: list[ScoredMemory] = getattr(lt, method)(QUESTION, **{size: 1}, **kw)
            return found

        plain = search()
        assert _ids(plain) == [turns[0].id]
        assert _ids(search(expand=0)) == _ids(plain)
        hit, after = search(expand=1)
        assert (hit.memory.id, after.memory.id) == (turns[0].id, turns[1].id)
        assert hit.parts == plain[0].parts and "context" not in hit.parts
        assert after.parts == {"context": hit.score}
        assert after.score == hit.score == pytest.approx(sum(hit.parts.values()))
        assert after.memory.content == CHAT[1][1]


def test_memory_expand_walks_both_ways_nearest_first(mem, clock):
    """expand=n: the next turn, the one before, the second next...; where the session ends
    on one side, the other side goes on; never a record of another session."""
    turns = _chat(mem, clock)
    lt = mem.memories(NS)
    middle = lt.search("wonderful news celebrate", limit=1, expand=3)
    assert _ids(middle) == [turns[2].id, turns[3].id, turns[1].id, turns[0].id]
    last = lt.search("dinner on Friday", limit=1, expand=2)
    assert _ids(last) == [turns[3].id, turns[2].id, turns[1].id]
    whole = lt.search("dinner on Friday", limit=1, expand=5)
    assert _ids(whole) == [turns[3].id, turns[2].id, turns[1].id, turns[0].id]
    assert all(h.memory.session_id == "s1" for h in whole)
    assert all(h.parts == {"context": whole[0].score} for h in whole[1:])


def test_memory_expand_shows_each_record_once_within_the_bound(mem, clock):
    """A neighbour already in the results is not repeated (a hit stays at its own rank);
    at most k hits + k * n neighbours."""
    turns = _chat(mem, clock)
    lt = mem.memories(NS)
    hits = lt.search("Nora Felix", limit=4, expand=2)
    ids = _ids(hits)
    assert len(ids) == len(set(ids)) == 4  # the session has four turns: all hits already
    assert all("context" not in h.parts for h in hits)
    for k in (1, 2, 3):
        for n in (1, 2, 5):
            got = lt.semantic_search("did Felix get the job", k=k, expand=n)
            ids = _ids(got)
            assert len(ids) == len(set(ids)) <= k * (n + 1)
            ranked = [h for h in got if "context" not in h.parts]
            assert len(ranked) == k
            assert [h.score for h in got] == sorted((h.score for h in got), reverse=True)
    assert set(_ids(lt.semantic_search("tax forms", k=6, expand=1))) == {t.id for t in turns}


def test_memory_expand_applies_the_filters_to_neighbours(mem, clock):
    """A neighbour the search's filters exclude is not added: expand=n looks at the n
    nearest records of the session and shows those the filters allow."""
    turns = _chat(mem, clock, kinds={1: "private"})
    lt = mem.memories(NS)
    hits = lt.search(QUESTION, limit=1, expand=1, filters={"memory_type": "turn"})
    assert _ids(hits) == [turns[0].id]
    hits = lt.semantic_search(QUESTION, k=1, expand=2, filters={"memory_type": "turn"})
    assert _ids(hits) == [turns[0].id, turns[2].id]  # the two nearest, less the excluded
    hits = lt.semantic_search(QUESTION, k=1, expand=3, filters={"memory_type": "turn"})
    assert _ids(hits) == [turns[0].id, turns[2].id, turns[3].id]
    lt.archive(turns[1].id)
    hits = lt.search(QUESTION, limit=1, expand=1)
    assert _ids(hits) == [turns[0].id, turns[2].id]  # archived records leave the order


def test_memory_expand_without_a_session_adds_nothing(mem, clock):
    """Records without a session_id have no neighbours."""
    lt = mem.memories(NS)
    first = lt.add("The staging cluster runs in the Frankfurt region")
    clock.advance(60)
    lt.add("The billing service retries card payments three times")
    assert _ids(lt.search("staging cluster", limit=1, expand=3)) == [first.id]


@pytest.mark.parametrize("bad", [-1, 6, 1.5, "1", True, None])
def test_memory_expand_out_of_range_is_refused(mem, clock, bad):
    """expand takes an integer from 0 to 5: anything else is InvalidArgument."""
    _chat(mem, clock)
    lt = mem.memories(NS)
    with pytest.raises(InvalidArgument):
        lt.search(QUESTION, expand=bad)
    with pytest.raises(InvalidArgument):
        lt.semantic_search(QUESTION, expand=bad)
