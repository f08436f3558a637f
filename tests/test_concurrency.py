"""RELIABILITY T01 (variant B, in-process): no lost update under contention, exact totals.

Every test runs against ``memory://`` and a SQLite file, with real threads started together
(``threading.Barrier``), and asserts exact figures: final counter values, versions, the set of
revisions handed out, and the change log read back with ``watch``. The last test runs four
*processes* (``multiprocessing`` "spawn") on one SQLite file: compare-and-set must live in the
database, not in process memory, and a watcher in the parent must see every revision once.
"""

from __future__ import annotations

import itertools
import multiprocessing
import random
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

import hivemem

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

#: Seconds any single thread/process of these tests may take before the test fails.
JOIN_TIMEOUT = 120.0


@pytest.fixture(params=["memory", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    return f"sqlite:///{tmp_path}/concurrency.db"  # sqlite:/// + /abs/path = four slashes


@pytest.fixture
def mem(url: str) -> Iterator[hivemem.Memory]:
    m = hivemem.connect(url, agent="setup", cleanup_interval=0)
    try:
        yield m
    finally:
        m.close()


def run_threads(n: int, target: Callable[[int, threading.Barrier], Any]) -> list[Any]:
    """Run ``target(i, barrier)`` in ``n`` threads; return their results in index order.

    The barrier lets the threads line up before the contended part. Any exception in a
    thread fails the test (re-raised here), and a thread that never finishes fails it too.
    """
    barrier = threading.Barrier(n, timeout=JOIN_TIMEOUT)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = target(i, barrier)
        except BaseException as exc:  # re-raised in the main thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,), name=f"t{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    alive = [t.name for t in threads if t.is_alive()]
    assert not alive, f"threads still running after {JOIN_TIMEOUT} s: {alive}"
    if errors:
        raise errors[0]
    return results


def events_since(mem: hivemem.Memory, ns: str, since: int) -> list[hivemem.Event]:
    """Every retained stream event of ``ns`` after ``since`` (stops when none arrives)."""
    return list(mem.watch(ns, since=since, timeout=0.2))


def assert_gap_free(events: list[hivemem.Event], since: int, count: int) -> None:
    revisions = [e.revision for e in events]
    assert revisions == list(range(since + 1, since + count + 1)), (
        f"expected revisions {since + 1}..{since + count}, got {len(revisions)} events "
        f"({revisions[:5]}...{revisions[-5:]})"
    )


def cas_increment(mem: hivemem.Memory, ns: str, key: str, agent: str) -> tuple[hivemem.Entry, int]:
    """Read, add one, write with ``expected_version``; retry on conflict.

    Returns the acknowledged entry and how many attempts lost a race.
    """
    lost = 0
    while True:
        entry = mem.get_entry(ns, key, agent)
        assert entry is not None
        try:
            return mem.write(ns, key, entry.value + 1, agent, expected_version=entry.version), lost
        except hivemem.ConflictError as exc:
            assert exc.reason == "version_mismatch", exc
            assert exc.current_version is not None
            assert exc.current_version > entry.version, (
                "a CAS lost against a version that is not newer than the one it read"
            )
            lost += 1


# ---------------------------------------------------------------------------- CAS counter


def test_cas_counter_8_threads_no_lost_update(mem: hivemem.Memory) -> None:
    """8 threads x 500 compare-and-set increments of one key: final value exactly 4,000,
    version exactly 4,001 (created at version 1 holding 0), every version from 2 to 4,001
    acknowledged exactly once, and the change log holds those 4,000 writes in order."""
    threads, per_thread = 8, 500
    created = mem.write("ctr", "n", 0)
    assert (created.version, created.value) == (1, 0)
    rev0 = mem.get_namespace("ctr").revision

    def worker(i: int, barrier: threading.Barrier) -> tuple[list[int], int]:
        versions, lost = [], 0
        barrier.wait()
        for _ in range(per_thread):
            entry, n = cas_increment(mem, "ctr", "n", f"w{i}")
            assert entry.value == entry.version - 1, entry
            versions.append(entry.version)
            lost += n
        return versions, lost

    results = run_threads(threads, worker)
    total = threads * per_thread

    final = mem.get_entry("ctr", "n")
    assert final is not None
    assert final.value == total == 4000
    assert final.version == total + 1 == 4001
    acked = sorted(v for versions, _ in results for v in versions)
    # No two CAS succeeded from the same expected version (no double success).
    assert acked == list(range(2, total + 2))
    for versions, _ in results:  # a thread's own acks are ordered
        assert versions == sorted(versions)

    assert mem.get_namespace("ctr").revision == rev0 + total
    events = events_since(mem, "ctr", rev0)
    assert_gap_free(events, rev0, total)
    assert [e.type for e in events] == ["memory:write"] * total
    assert [e.version for e in events] == list(range(2, total + 2))
    assert [e.value for e in events] == list(range(1, total + 1))


# ---------------------------------------------------------------------------- first-wins


def test_first_wins_16_writers_exactly_one_wins(mem: hivemem.Memory) -> None:
    """16 writers race for one first-wins key (20 rounds, a fresh key each): exactly one
    succeeds, 15 get ConflictError(reason="first_wins", current_version=1), the stored value
    and owner are the winner's, and only the winning write takes a revision."""
    writers, rounds = 16, 20
    mem.create_namespace("fw", conflict_strategy="first-wins")
    rev0 = mem.get_namespace("fw").revision

    def worker(i: int, barrier: threading.Barrier) -> list[Any]:
        outcomes: list[Any] = []
        for r in range(rounds):
            barrier.wait()
            try:
                outcomes.append(mem.write("fw", f"key{r}", {"writer": i, "round": r}, f"w{i}"))
            except hivemem.ConflictError as exc:
                outcomes.append(exc)
        return outcomes

    results = run_threads(writers, worker)

    for r in range(rounds):
        outcomes = [results[i][r] for i in range(writers)]
        winners = [i for i, o in enumerate(outcomes) if isinstance(o, hivemem.Entry)]
        assert len(winners) == 1, f"round {r}: winners {winners}"
        (w,) = winners
        for i, o in enumerate(outcomes):
            if i != w:
                assert isinstance(o, hivemem.ConflictError)
                assert o.reason == "first_wins"
                assert o.current_version == 1
        won = outcomes[w]
        assert won.version == 1
        stored = mem.get_entry("fw", f"key{r}")
        assert stored is not None
        assert stored.value == {"writer": w, "round": r}
        assert stored.owner == f"w{w}"
        assert stored.version == 1
        assert stored.revision == won.revision

    assert mem.get_namespace("fw").revision == rev0 + rounds
    events = events_since(mem, "fw", rev0)
    assert_gap_free(events, rev0, rounds)
    assert sorted(e.key for e in events) == sorted(f"key{r}" for r in range(rounds))
    assert all(e.type == "memory:write" and e.version == 1 for e in events)


# ---------------------------------------------------------------------------- merge


def test_merge_8_writers_every_field_lands(mem: hivemem.Memory) -> None:
    """8 writers x 25 rounds merge a distinct field (and one array item) into one key of a
    merge namespace: every field is present, the array holds every item exactly once with
    each writer's items in its own order, and the version counts every merge."""
    writers, rounds = 8, 25
    mem.create_namespace("mg", conflict_strategy="merge")
    rev0 = mem.get_namespace("mg").revision

    def worker(i: int, barrier: threading.Barrier) -> list[int]:
        revisions = []
        barrier.wait()
        for r in range(rounds):
            entry = mem.write(
                "mg", "doc", {f"w{i}": {f"r{r}": r * 100 + i}, "log": [f"{i}-{r}"]}, f"w{i}"
            )
            assert entry.value[f"w{i}"][f"r{r}"] == r * 100 + i  # own write visible
            revisions.append(entry.revision)
        return revisions

    results = run_threads(writers, worker)
    total = writers * rounds

    doc = mem.get_entry("mg", "doc")
    assert doc is not None
    assert doc.version == total
    assert set(doc.value) == {f"w{i}" for i in range(writers)} | {"log"}
    for i in range(writers):
        assert doc.value[f"w{i}"] == {f"r{r}": r * 100 + i for r in range(rounds)}
    log = doc.value["log"]
    assert sorted(log) == sorted(f"{i}-{r}" for i in range(writers) for r in range(rounds))
    assert len(log) == total
    for i in range(writers):
        mine = [item for item in log if item.startswith(f"{i}-")]
        assert mine == [f"{i}-{r}" for r in range(rounds)]

    acked = sorted(rev for revs in results for rev in revs)
    assert acked == list(range(rev0 + 1, rev0 + total + 1))
    events = events_since(mem, "mg", rev0)
    assert_gap_free(events, rev0, total)
    assert [e.version for e in events] == list(range(1, total + 1))
    assert events[-1].value == doc.value


# ---------------------------------------------------------------------------- latest-wins


def test_latest_wins_revisions_unique_and_gap_free(mem: hivemem.Memory) -> None:
    """8 threads x 250 blind writes over 4 keys of a latest-wins namespace: every
    acknowledged write has a distinct revision, the revisions are exactly rev0+1..rev0+N,
    the change log matches the acks one for one, per-key versions follow revision order,
    and each key holds the value of its highest-revision write."""
    threads, per_thread, n_keys = 8, 250, 4
    mem.create_namespace("lw")
    rev0 = mem.get_namespace("lw").revision

    def worker(i: int, barrier: threading.Barrier) -> list[hivemem.Entry]:
        acks = []
        barrier.wait()
        for j in range(per_thread):
            acks.append(mem.write("lw", f"k{(i + j) % n_keys}", [i, j], f"w{i}"))
        return acks

    results = run_threads(threads, worker)
    total = threads * per_thread
    acks = sorted((e for acks in results for e in acks), key=lambda e: e.revision)

    assert [e.revision for e in acks] == list(range(rev0 + 1, rev0 + total + 1))
    assert mem.get_namespace("lw").revision == rev0 + total

    events = events_since(mem, "lw", rev0)
    assert_gap_free(events, rev0, total)
    for ack, event in zip(acks, events, strict=True):
        assert (event.type, event.key, event.value, event.version, event.agent_id) == (
            "memory:write",
            ack.key,
            ack.value,
            ack.version,
            ack.owner,
        )

    for k in range(n_keys):
        mine = [e for e in acks if e.key == f"k{k}"]
        assert [e.version for e in mine] == list(range(1, len(mine) + 1))
        stored = mem.get_entry("lw", f"k{k}")
        assert stored is not None
        last = mine[-1]
        assert (stored.value, stored.version, stored.revision, stored.owner) == (
            last.value,
            last.version,
            last.revision,
            last.owner,
        )


# ---------------------------------------------------------------------------- write_many


def test_write_many_contested_item_refuses_whole_batch(mem: hivemem.Memory) -> None:
    """16 threads each write_many 4 own keys plus one shared key into a first-wins namespace
    (the shared key first, in the middle or last): exactly one batch is stored whole; every
    other batch is refused with ConflictError(first_wins) and leaves none of its own keys,
    and no revision is taken by a refused batch."""
    writers, rounds = 16, 10
    mem.create_namespace("wm", conflict_strategy="first-wins")
    rev0 = mem.get_namespace("wm").revision

    def batch(i: int, r: int) -> dict[str, Any]:
        own = [(f"r{r}-own{i}-{j}", {"w": i, "j": j}) for j in range(4)]
        contested = (f"r{r}-shared", {"w": i})
        own.insert((i % 3) * 2, contested)  # position 0, 2 or 4 of 5
        return dict(own)

    def worker(i: int, barrier: threading.Barrier) -> list[Any]:
        outcomes: list[Any] = []
        for r in range(rounds):
            barrier.wait()
            try:
                outcomes.append(mem.write_many("wm", batch(i, r), f"w{i}"))
            except hivemem.ConflictError as exc:
                outcomes.append(exc)
        return outcomes

    results = run_threads(writers, worker)

    for r in range(rounds):
        outcomes = [results[i][r] for i in range(writers)]
        winners = [i for i, o in enumerate(outcomes) if isinstance(o, list)]
        assert len(winners) == 1, f"round {r}: winners {winners}"
        (w,) = winners
        for i, o in enumerate(outcomes):
            if i != w:
                assert isinstance(o, hivemem.ConflictError)
                assert o.reason == "first_wins"
        stored = mem.get_all("wm", prefix=f"r{r}-")
        assert stored == batch(w, r), f"round {r}: a refused batch left keys behind"
        assert {e.key for e in outcomes[w]} == set(batch(w, r))

    assert mem.get_namespace("wm").revision == rev0 + rounds * 5
    events = events_since(mem, "wm", rev0)
    assert_gap_free(events, rev0, rounds * 5)


def test_write_many_overlapping_batches_all_or_nothing(mem: hivemem.Memory) -> None:
    """8 threads write overlapping batches into a first-wins namespace: batch i holds ring
    keys i and i+1 plus an own key, so neighbours conflict. Per round, the successful batches
    are pairwise disjoint, the store holds exactly their items, and a concurrent reader
    (``get_all``, one snapshot per call) only ever sees whole successful batches."""
    writers, rounds = 8, 15
    mem.create_namespace("ring", conflict_strategy="first-wins")
    rev0 = mem.get_namespace("ring").revision

    def batch(i: int, r: int) -> dict[str, Any]:
        items = [(f"r{r}-ring{i}", i), (f"r{r}-ring{(i + 1) % writers}", i), (f"r{r}-own{i}", i)]
        if i % 2:
            items.reverse()
        return dict(items)

    stop = threading.Event()
    torn: list[str] = []
    snapshots = [0]

    def reader() -> None:
        while not stop.is_set():
            for r in range(rounds):
                seen = mem.get_all("ring", "reader", prefix=f"r{r}-")
                snapshots[0] += 1
                for key, owner in seen.items():
                    for k, v in batch(owner, r).items():
                        if seen.get(k) != v:
                            torn.append(f"round {r}: saw {key}={owner} but {k}={seen.get(k)}")

    reader_thread = threading.Thread(target=reader, name="reader")
    reader_thread.start()

    def worker(i: int, barrier: threading.Barrier) -> list[bool]:
        won = []
        for r in range(rounds):
            barrier.wait()
            try:
                mem.write_many("ring", batch(i, r), f"w{i}")
                won.append(True)
            except hivemem.ConflictError as exc:
                assert exc.reason == "first_wins"
                won.append(False)
        return won

    try:
        results = run_threads(writers, worker)
    finally:
        stop.set()
        reader_thread.join(JOIN_TIMEOUT)
    assert not reader_thread.is_alive()
    assert not torn, torn[:5]
    assert snapshots[0] > 0

    stored_total = 0
    for r in range(rounds):
        winners = [i for i in range(writers) if results[i][r]]
        assert winners, f"round {r}: nobody won although the first batch finds free keys"
        for i in winners:
            assert (i + 1) % writers not in winners, (
                f"round {r}: neighbours {i} and {i + 1} both won"
            )
        expected: dict[str, Any] = {}
        for i in winners:
            expected.update(batch(i, r))
        assert mem.get_all("ring", prefix=f"r{r}-") == expected
        stored_total += len(expected)
    assert mem.get_namespace("ring").revision == rev0 + stored_total


# ---------------------------------------------------------------------------- processes


def _process_cas_worker(url: str, worker: int, count: int, ready: Any, go: Any, out: Any) -> None:
    """Child process: open the store itself, wait for the start signal, do ``count`` CAS
    increments and report the acknowledged versions.

    After each acknowledged increment the child "thinks" for up to 1 ms (outside any
    transaction), so the processes interleave instead of one draining its loop while the
    others sleep in SQLite's busy handler.
    """
    think = random.Random(worker)
    try:
        mem = hivemem.connect(url, agent=f"p{worker}", cleanup_interval=0)
        try:
            ready.release()
            if not go.wait(JOIN_TIMEOUT):
                raise RuntimeError("no start signal")
            versions, lost = [], 0
            for _ in range(count):
                entry, n = cas_increment(mem, "ctr", "n", f"p{worker}")
                versions.append(entry.version)
                lost += n
                time.sleep(think.random() / 1000)
        finally:
            mem.close()
        out.put((worker, versions, lost, None))
    except BaseException as exc:
        out.put((worker, [], 0, repr(exc)))
        raise


def test_processes_share_sqlite_cas_and_watch(tmp_path: Path) -> None:
    """4 spawned processes x 300 CAS increments on one SQLite file: final value exactly
    1,200, every version 2..1,201 acknowledged once across processes, and a watcher in the
    parent (live, while they run) sees every revision exactly once, in order, gap-free."""
    procs_n, per_proc = 4, 300
    total = procs_n * per_proc
    url = f"sqlite:///{tmp_path}/shared.db"
    mem = hivemem.connect(url, agent="parent", cleanup_interval=0)
    try:
        mem.write("ctr", "n", 0)
        rev0 = mem.get_namespace("ctr").revision

        seen: list[hivemem.Event] = []
        watch_error: list[BaseException] = []

        def watcher() -> None:
            try:
                for event in mem.watch("ctr", since=rev0, timeout=30.0):
                    seen.append(event)
                    if len(seen) >= total:
                        return
            except BaseException as exc:
                watch_error.append(exc)

        watch_thread = threading.Thread(target=watcher, name="watcher")

        ctx = multiprocessing.get_context("spawn")
        ready = ctx.Semaphore(0)
        go = ctx.Event()
        out = ctx.Queue()
        procs = [
            ctx.Process(
                target=_process_cas_worker, args=(url, w, per_proc, ready, go, out), name=f"cas{w}"
            )
            for w in range(procs_n)
        ]
        reports = []
        try:
            for p in procs:
                p.start()
            for _ in procs:  # every child has opened the store: start them together
                assert ready.acquire(timeout=JOIN_TIMEOUT), "a child never opened the store"
            watch_thread.start()  # follows live from here (after replaying nothing)
            started = time.monotonic()
            go.set()
            for _ in procs:
                reports.append(out.get(timeout=JOIN_TIMEOUT))
            elapsed = time.monotonic() - started
            for p in procs:
                p.join(JOIN_TIMEOUT)
        finally:
            for p in procs:
                if p.is_alive():
                    p.kill()
                    p.join(5)
            out.close()
            out.join_thread()
        failed = [(w, err) for w, _, _, err in reports if err]
        assert not failed, failed
        assert [p.exitcode for p in procs] == [0] * procs_n

        watch_thread.join(JOIN_TIMEOUT)
        assert not watch_thread.is_alive(), f"watcher saw {len(seen)} of {total} events"
        assert not watch_error, watch_error

        final = mem.get_entry("ctr", "n")
        assert final is not None
        assert (final.value, final.version) == (total, total + 1)
        acked = sorted(v for _, versions, _, _ in reports for v in versions)
        assert acked == list(range(2, total + 2)), "two processes won one expected version"
        assert mem.get_namespace("ctr").revision == rev0 + total

        # Live watcher: every revision once, in order, gap-free, matching the final log.
        assert_gap_free(seen, rev0, total)
        assert [e.version for e in seen] == list(range(2, total + 2))
        assert [e.value for e in seen] == list(range(1, total + 1))
        assert {e.agent_id for e in seen} == {f"p{w}" for w in range(procs_n)}
        switches = sum(1 for a, b in itertools.pairwise(seen) if a.agent_id != b.agent_id)
        assert switches >= procs_n, f"the processes barely interleaved ({switches} switches)"
        replay = events_since(mem, "ctr", rev0)
        assert [e.to_dict() for e in replay] == [e.to_dict() for e in seen]
        assert elapsed < JOIN_TIMEOUT
    finally:
        mem.close()
