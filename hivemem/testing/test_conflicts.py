"""Conflict strategies and compare-and-set (SPEC §2)."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from hivemem import ConflictError, Entry, InvalidArgument
from hivemem.testing.helpers import Recorder, snapshot

# ---------------------------------------------------------------- latest-wins


def test_latest_wins_replaces(mem):
    """latest-wins: every write succeeds and replaces the value."""
    mem.create_namespace("ns", conflict_strategy="latest-wins")
    mem.write("ns", "value", 1, "agent-1")
    entry = mem.write("ns", "value", 2, "agent-2")
    assert mem.read("ns", "value") == 2
    assert (entry.owner, entry.version) == ("agent-2", 2)


# ---------------------------------------------------------------- first-wins


def test_first_wins_rejects_second_writer(mem):
    """first-wins rejects the second writer with reason first_wins and keeps the first
    value, owner and version."""
    mem.create_namespace("ns", conflict_strategy="first-wins")
    first = mem.write("ns", "value", 1, "agent-1")
    before = snapshot(mem)
    with pytest.raises(ConflictError) as exc:
        mem.write("ns", "value", 2, "agent-2")
    assert exc.value.reason == "first_wins"
    assert exc.value.current_version == 1
    assert exc.value.code == "conflict"
    assert exc.value.status == 409
    assert mem.get_entry("ns", "value") == first
    assert snapshot(mem) == before


def test_first_wins_rejects_same_agent_too(mem):
    """first-wins rejects a rewrite even by the agent that wrote first."""
    mem.create_namespace("ns", conflict_strategy="first-wins")
    mem.write("ns", "k", 1, "agent-1")
    with pytest.raises(ConflictError):
        mem.write("ns", "k", 2, "agent-1")
    assert mem.read("ns", "k") == 1


def test_first_wins_emits_conflict_event(mem):
    """A first-wins rejection emits a local memory:conflict event (revision 0) naming the
    key, the losing agent and the reason."""
    mem.create_namespace("ns", conflict_strategy="first-wins")
    mem.write("ns", "k", 1, "agent-1")
    rec = Recorder()
    mem.on("memory:conflict", rec)
    with pytest.raises(ConflictError):
        mem.write("ns", "k", 2, "agent-2")
    (event,) = rec.events
    assert event.type == "memory:conflict"
    assert event.namespace == "ns"
    assert event.key == "k"
    assert event.agent_id == "agent-2"
    assert event.reason == "first_wins"
    assert event.revision == 0


def test_first_wins_delete_frees_key(mem):
    """Deleting a first-wins key (write permission) lets the next writer claim it."""
    mem.create_namespace("ns", conflict_strategy="first-wins")
    mem.write("ns", "lock", "agent-1", "agent-1")
    assert mem.delete("ns", "lock", "agent-2") is True
    entry = mem.write("ns", "lock", "agent-2", "agent-2")
    assert (entry.value, entry.version) == ("agent-2", 1)


def test_first_wins_one_winner_among_concurrent_writers(mem):
    """With many concurrent first-wins writers exactly one wins; all others get
    ConflictError and the stored value is the winner's."""
    mem.create_namespace("ns", conflict_strategy="first-wins")
    barrier = threading.Barrier(8)
    wins: list[str] = []
    losses: list[str] = []

    def claim(i: int) -> None:
        agent = f"agent-{i}"
        barrier.wait()
        try:
            mem.write("ns", "lock", agent, agent)
            wins.append(agent)
        except ConflictError:
            losses.append(agent)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert len(losses) == 7
    assert mem.read("ns", "lock") == wins[0]


# ---------------------------------------------------------------- merge


def test_merge_objects_deep(mem):
    """merge: objects merge recursively; on a leaf the incoming value wins."""
    mem.create_namespace("ns", conflict_strategy="merge")
    mem.write("ns", "user", {"name": "Alice", "prefs": {"theme": "dark", "lang": "en"}})
    entry = mem.write("ns", "user", {"age": 30, "prefs": {"lang": "fr", "tz": "UTC"}})
    expected = {"name": "Alice", "age": 30, "prefs": {"theme": "dark", "lang": "fr", "tz": "UTC"}}
    assert entry.value == expected
    assert entry.version == 2
    assert mem.read("ns", "user") == expected


def test_merge_arrays_concatenate(mem):
    """merge: two arrays give existing followed by incoming (duplicates kept)."""
    mem.create_namespace("ns", conflict_strategy="merge")
    mem.write("ns", "list", [1, 2])
    assert mem.write("ns", "list", [2, 3]).value == [1, 2, 2, 3]


def test_merge_nested_arrays_concatenate(mem):
    """merge: arrays inside merged objects concatenate too."""
    mem.create_namespace("ns", conflict_strategy="merge")
    mem.write("ns", "k", {"tags": ["a"], "n": 1})
    assert mem.write("ns", "k", {"tags": ["b"]}).value == {"tags": ["a", "b"], "n": 1}


@pytest.mark.parametrize(
    ("existing", "incoming"),
    [
        ({"a": 1}, [1]),
        ([1], {"a": 1}),
        (1, "x"),
        ({"a": 1}, None),
        ("text", {"a": 1}),
        ({"a": {"b": 1}}, {"a": 5}),
    ],
)
def test_merge_mismatched_types_replace(mem, existing, incoming):
    """merge: unless both are objects or both arrays, the incoming value replaces (also
    at a nested leaf)."""
    mem.create_namespace("ns", conflict_strategy="merge")
    mem.write("ns", "k", existing)
    got = mem.write("ns", "k", incoming).value
    if isinstance(existing, dict) and isinstance(incoming, dict):
        assert got == {**existing, **incoming}
    else:
        assert got == incoming


def test_merge_first_write_stores_as_is(mem):
    """merge: the first write of a key stores the value unchanged."""
    mem.create_namespace("ns", conflict_strategy="merge")
    assert mem.write("ns", "k", {"a": [1]}).value == {"a": [1]}


def test_merge_concurrent_writers_all_land(mem):
    """merge: concurrent merges into one key all land."""
    mem.create_namespace("ns", conflict_strategy="merge")
    mem.write("ns", "k", {})
    barrier = threading.Barrier(8)

    def add(i: int) -> None:
        barrier.wait()
        for j in range(5):
            mem.write("ns", "k", {f"w{i}-{j}": j, "log": [f"{i}-{j}"]}, f"agent-{i}")

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    value = mem.read("ns", "k")
    assert sorted(value["log"]) == sorted(f"{i}-{j}" for i in range(8) for j in range(5))
    assert {k for k in value if k != "log"} == {f"w{i}-{j}" for i in range(8) for j in range(5)}
    assert mem.get_entry("ns", "k").version == 41


# ---------------------------------------------------------------- version


def test_version_strategy_requires_expected_version(mem):
    """version: a write without expected_version is refused with version_required, even
    for a new key."""
    mem.create_namespace("ns", conflict_strategy="version")
    with pytest.raises(ConflictError) as exc:
        mem.write("ns", "k", 1)
    assert exc.value.reason == "version_required"
    assert mem.get_keys("ns") == []


def test_version_strategy_create_and_update(mem):
    """version: expected_version=0 creates; the current version updates."""
    mem.create_namespace("ns", conflict_strategy="version")
    assert mem.write("ns", "k", "a", expected_version=0).version == 1
    assert mem.write("ns", "k", "b", expected_version=1).version == 2
    assert mem.read("ns", "k") == "b"


def test_version_strategy_stale_write_refused(mem):
    """version: a stale expected_version is refused with version_mismatch and the current
    version; the value is unchanged."""
    mem.create_namespace("ns", conflict_strategy="version")
    mem.write("ns", "k", "a", expected_version=0)
    mem.write("ns", "k", "b", expected_version=1)
    before = snapshot(mem)
    with pytest.raises(ConflictError) as exc:
        mem.write("ns", "k", "stale", expected_version=1)
    assert exc.value.reason == "version_mismatch"
    assert exc.value.current_version == 2
    assert snapshot(mem) == before


def test_version_strategy_zero_on_existing_refused(mem):
    """version: expected_version=0 on an existing key is a version_mismatch."""
    mem.create_namespace("ns", conflict_strategy="version")
    mem.write("ns", "k", "a", expected_version=0)
    with pytest.raises(ConflictError) as exc:
        mem.write("ns", "k", "b", expected_version=0)
    assert exc.value.reason == "version_mismatch"
    assert exc.value.current_version == 1


def test_version_conflict_emits_conflict_event(mem):
    """A version mismatch emits a local memory:conflict event with its reason."""
    mem.create_namespace("ns", conflict_strategy="version")
    mem.write("ns", "k", "a", expected_version=0)
    rec = Recorder()
    mem.on("memory:conflict", rec)
    with pytest.raises(ConflictError):
        mem.write("ns", "k", "b", "agent-2", expected_version=5)
    assert [(e.reason, e.key, e.agent_id, e.revision) for e in rec.events] == [
        ("version_mismatch", "k", "agent-2", 0)
    ]


def test_version_concurrent_cas_one_winner(mem):
    """version: of many writers with the same expected_version exactly one succeeds."""
    mem.create_namespace("ns", conflict_strategy="version")
    mem.write("ns", "k", 0, expected_version=0)
    barrier = threading.Barrier(8)
    wins: list[int] = []

    def bump(i: int) -> None:
        barrier.wait()
        try:
            mem.write("ns", "k", i, expected_version=1)
            wins.append(i)
        except ConflictError:
            pass

    threads = [threading.Thread(target=bump, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    entry = mem.get_entry("ns", "k")
    assert (entry.value, entry.version) == (wins[0], 2)


# ---------------------------------------------------------------- compare-and-set anywhere


@pytest.mark.parametrize("strategy", ["latest-wins", "first-wins", "merge"])
def test_cas_must_not_exist(mem, strategy):
    """expected_version=0 on any strategy writes a new key and refuses an existing one."""
    mem.create_namespace("ns", conflict_strategy=strategy)
    assert mem.write("ns", "k", {"a": 1}, expected_version=0).version == 1
    with pytest.raises(ConflictError) as exc:
        mem.write("ns", "k", {"b": 2}, expected_version=0)
    assert exc.value.reason == "version_mismatch"
    assert exc.value.current_version == 1
    assert mem.read("ns", "k") == {"a": 1}


@pytest.mark.parametrize("strategy", ["latest-wins", "merge"])
def test_cas_matching_version_applies_strategy(mem, strategy):
    """A write with the current expected_version succeeds under the namespace's strategy."""
    mem.create_namespace("ns", conflict_strategy=strategy)
    mem.write("ns", "k", {"a": 1})
    entry = mem.write("ns", "k", {"b": 2}, expected_version=1)
    assert entry.version == 2
    assert entry.value == ({"b": 2} if strategy == "latest-wins" else {"a": 1, "b": 2})


def test_cas_mismatch_on_latest_wins(mem):
    """A write with a wrong expected_version under latest-wins is a version_mismatch."""
    mem.write("ns", "k", 1)
    mem.write("ns", "k", 2)
    with pytest.raises(ConflictError) as exc:
        mem.write("ns", "k", 3, expected_version=1)
    assert (exc.value.reason, exc.value.current_version) == ("version_mismatch", 2)
    assert mem.read("ns", "k") == 2


def test_cas_on_absent_key_with_nonzero_version(mem):
    """expected_version=N>0 on an absent key is a version_mismatch with current_version 0."""
    mem.create_namespace("ns")
    with pytest.raises(ConflictError) as exc:
        mem.write("ns", "k", 1, expected_version=3)
    assert (exc.value.reason, exc.value.current_version) == ("version_mismatch", 0)
    assert mem.get_keys("ns") == []


def test_cas_delete(mem):
    """delete with a wrong expected_version is refused (version_mismatch) and keeps the key;
    with the right one it deletes."""
    mem.write("ns", "k", 1)
    mem.write("ns", "k", 2)
    with pytest.raises(ConflictError) as exc:
        mem.delete("ns", "k", expected_version=1)
    assert (exc.value.reason, exc.value.current_version) == ("version_mismatch", 2)
    assert mem.read("ns", "k") == 2
    assert mem.delete("ns", "k", expected_version=2) is True
    assert mem.get_entry("ns", "k") is None


def test_cas_delete_absent_key(mem):
    """delete of an absent key with expected_version=0 returns False; with N>0 it is a
    version_mismatch with current_version 0."""
    mem.create_namespace("ns")
    assert mem.delete("ns", "k", expected_version=0) is False
    with pytest.raises(ConflictError) as exc:
        mem.delete("ns", "k", expected_version=1)
    assert (exc.value.reason, exc.value.current_version) == ("version_mismatch", 0)


# ---------------------------------------------------------------- custom


def test_custom_resolver_receives_existing_incoming_key(mem, clock):
    """custom: the resolver gets the existing Entry, the incoming Entry (value and writer)
    and the key, only when the key already exists."""
    calls = []

    def resolver(existing, incoming, key):
        calls.append((existing, incoming, key))
        return incoming

    mem.create_namespace("ns", conflict_strategy="custom", resolver=resolver)
    first = mem.write("ns", "k", 1, "agent-1")
    assert calls == []
    clock.advance(1)
    second = mem.write("ns", "k", 2, "agent-2")
    assert len(calls) == 1
    existing, incoming, key = calls[0]
    assert key == "k"
    assert isinstance(existing, Entry)
    assert existing == first
    assert isinstance(incoming, Entry)
    assert (incoming.key, incoming.value, incoming.owner) == ("k", 2, "agent-2")
    assert (second.value, second.owner, second.version) == (2, "agent-2", 2)


def test_custom_resolver_keeps_higher_value(mem):
    """custom: a resolver returning existing rejects the write (rejected_by_resolver) and
    keeps the stored value; returning incoming stores it."""

    def keep_higher(existing, incoming, key):
        return existing if existing.value > incoming.value else incoming

    mem.create_namespace("ns", conflict_strategy="custom", resolver=keep_higher)
    mem.write("ns", "score", 100, "agent-1")
    before = snapshot(mem)
    with pytest.raises(ConflictError) as exc:
        mem.write("ns", "score", 50, "agent-2")
    assert exc.value.reason == "rejected_by_resolver"
    assert exc.value.current_version == 1
    assert snapshot(mem) == before
    assert mem.write("ns", "score", 150, "agent-2").value == 150


def test_custom_resolver_none_rejects_with_conflict_event(mem):
    """custom: a resolver returning None rejects the write and emits memory:conflict with
    reason rejected_by_resolver."""
    mem.create_namespace("ns", conflict_strategy="custom", resolver=lambda e, i, k: None)
    mem.write("ns", "k", 1)
    rec = Recorder()
    mem.on("memory:conflict", rec)
    with pytest.raises(ConflictError) as exc:
        mem.write("ns", "k", 2, "agent-2")
    assert exc.value.reason == "rejected_by_resolver"
    assert [(e.type, e.key, e.agent_id, e.reason) for e in rec.events] == [
        ("memory:conflict", "k", "agent-2", "rejected_by_resolver")
    ]
    assert mem.read("ns", "k") == 1


def test_custom_resolver_may_return_a_value(mem):
    """custom: a resolver may return a plain value, which is stored."""
    mem.create_namespace(
        "ns",
        conflict_strategy="custom",
        resolver=lambda e, i, k: {"sum": e.value["sum"] + i.value["sum"]},
    )
    mem.write("ns", "k", {"sum": 1})
    entry = mem.write("ns", "k", {"sum": 2}, "agent-2")
    assert entry.value == {"sum": 3}
    assert (entry.owner, entry.version) == ("agent-2", 2)


def test_custom_resolver_may_return_a_new_entry(mem):
    """custom: a resolver may return an Entry of its own; its value is stored."""

    def resolver(existing, incoming, key):
        return dataclasses.replace(incoming, value=[existing.value, incoming.value])

    mem.create_namespace("ns", conflict_strategy="custom", resolver=resolver)
    mem.write("ns", "k", "a")
    assert mem.write("ns", "k", "b").value == ["a", "b"]


def test_custom_resolver_not_called_after_delete(mem):
    """custom: after a delete the key is new again and the resolver is not consulted."""
    mem.create_namespace("ns", conflict_strategy="custom", resolver=lambda e, i, k: None)
    mem.write("ns", "k", 1)
    mem.delete("ns", "k")
    assert mem.write("ns", "k", 2).value == 2


def test_custom_strategy_needs_resolver(mem):
    """Creating a custom namespace without a resolver (or with an unknown name) raises
    InvalidArgument and creates nothing."""
    with pytest.raises(InvalidArgument):
        mem.create_namespace("ns", conflict_strategy="custom")
    with pytest.raises(InvalidArgument):
        mem.create_namespace("ns", conflict_strategy="custom", resolver="no-such-resolver")
    assert [n.name for n in mem.list_namespaces()] == ["default"]


@pytest.mark.parametrize(
    ("name", "writes", "final", "rejected"),
    [
        ("max", [5, 7, 3, 9], 9, [3]),
        ("min", [5, 7, 3, 4], 3, [7, 4]),
        ("sum", [5, 3, 2, -1], 9, []),
        ("union", [[1, 2], [2, 3], [3, 1], [4]], [1, 2, 3, 4], []),
    ],
    ids=["max", "min", "sum", "union"],
)
def test_builtin_resolvers(mem, name, writes, final, rejected):
    """Built-in resolvers by name: max keeps the larger, min the smaller (a losing write is
    rejected_by_resolver), sum adds, union merges arrays without duplicates."""
    info = mem.create_namespace("ns", conflict_strategy="custom", resolver=name)
    assert info.resolver == name
    refused = []
    for value in writes:
        try:
            mem.write("ns", "k", value)
        except ConflictError as exc:
            assert exc.reason == "rejected_by_resolver"
            refused.append(value)
    assert refused == rejected
    assert mem.read("ns", "k") == final
    assert mem.get_entry("ns", "k").version == len(writes) - len(rejected)


def test_sum_resolver_concurrent_adds_all_land(mem):
    """custom resolution is atomic: concurrent 'sum' writes all count."""
    mem.create_namespace("ns", conflict_strategy="custom", resolver="sum")
    mem.write("ns", "n", 0)
    barrier = threading.Barrier(8)

    def add() -> None:
        barrier.wait()
        for _ in range(10):
            mem.write("ns", "n", 1)

    threads = [threading.Thread(target=add) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert mem.read("ns", "n") == 80


def test_conflict_takes_no_revision_and_no_stream_event(mem):
    """A refused write takes no revision and puts nothing in the namespace's stream."""
    mem.create_namespace("ns", conflict_strategy="first-wins")
    mem.write("ns", "k", 1)
    rev = mem.get_namespace("ns").revision
    with pytest.raises(ConflictError):
        mem.write("ns", "k", 2)
    assert mem.get_namespace("ns").revision == rev
    events = list(mem.watch("ns", since=0, timeout=0))
    assert [e.type for e in events] == ["namespace:created", "memory:write"]


def test_custom_resolver_that_raises_fails_its_write_alone(mem):
    """custom: a resolver that raises fails its own write (InvalidArgument, reason
    resolver_failed, nothing stored) and nothing else: 8 threads writing other keys of the
    namespace at the same time land every write exactly once, within a deadline."""

    def resolver(existing, incoming, key):
        if key == "bad":
            raise ValueError("this resolver dislikes 'bad'")
        return incoming

    mem.create_namespace("ns", conflict_strategy="custom", resolver=resolver)
    mem.write("ns", "bad", 0)  # (a new key: the resolver is not called)
    start = mem.get_namespace("ns").revision
    rounds, failures, unexpected = 20, [], []

    def write(key: str) -> None:
        for i in range(rounds):
            try:
                mem.write("ns", key, i, "agent-1")
            except InvalidArgument as exc:
                failures.append((key, exc.details.get("reason")))
            except Exception as exc:
                unexpected.append(exc)

    threads = [threading.Thread(target=write, args=(f"k{n}",)) for n in range(8)]
    threads.append(threading.Thread(target=write, args=("bad",)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    assert unexpected == []
    assert failures == [("bad", "resolver_failed")] * rounds
    for n in range(8):
        entry = mem.get_entry("ns", f"k{n}")
        assert (entry.value, entry.version) == (rounds - 1, rounds)
    assert mem.get_entry("ns", "bad").version == 1
    assert mem.get_namespace("ns").revision == start + 8 * rounds  # no gap, no double
