"""RELIABILITY T01 on PostgreSQL: processes sharing one database, exact totals.

Compare-and-set and first-wins must hold in the database (the per-namespace advisory lock),
not in one process's memory: spawned processes each open their own store on one schema of
a real PostgreSQL started for this module, and a watcher in the parent, woken by
LISTEN/NOTIFY, must see every revision once.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

import hivemem

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

#: Seconds any child process of these tests may take before the test fails.
JOIN_TIMEOUT = 300.0


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    from hivemem.testing.postgres import PostgresServer

    with PostgresServer() as server:
        yield server.url


def _cas_increment(mem: hivemem.Memory, ns: str, key: str, agent: str) -> hivemem.Entry:
    """Read, add one, write with ``expected_version``; retry on conflict."""
    while True:
        entry = mem.get_entry(ns, key, agent)
        assert entry is not None
        try:
            return mem.write(ns, key, entry.value + 1, agent, expected_version=entry.version)
        except hivemem.ConflictError as exc:
            assert exc.reason == "version_mismatch", exc
            assert exc.current_version is not None
            assert exc.current_version > entry.version


def _cas_worker(url: str, worker: int, count: int, ready: Any, go: Any, out: Any) -> None:
    """Child: open the store, wait for the start signal, ``count`` CAS increments."""
    think = random.Random(worker)
    try:
        mem = hivemem.connect(url, agent=f"p{worker}", cleanup_interval=0, embedder="none")
        try:
            ready.release()
            if not go.wait(JOIN_TIMEOUT):
                raise RuntimeError("no start signal")
            versions = []
            for _ in range(count):
                versions.append(_cas_increment(mem, "ctr", "n", f"p{worker}").version)
                time.sleep(think.random() / 1000)  # interleave with the other processes
        finally:
            mem.close()
        out.put((worker, versions, None))
    except BaseException as exc:
        out.put((worker, [], repr(exc)))
        raise


def _first_wins_worker(url: str, worker: int, rounds: int, ready: Any, go: Any, out: Any) -> None:
    """Child: race for ``rounds`` first-wins keys; report, per round, the version or the error."""
    try:
        mem = hivemem.connect(url, agent=f"p{worker}", cleanup_interval=0, embedder="none")
        try:
            ready.release()
            if not go.wait(JOIN_TIMEOUT):
                raise RuntimeError("no start signal")
            outcomes: list[Any] = []
            for r in range(rounds):
                try:
                    entry = mem.write("fw", f"key{r}", {"writer": worker}, f"p{worker}")
                    outcomes.append(("won", entry.version, entry.revision))
                except hivemem.ConflictError as exc:
                    outcomes.append(("lost", exc.reason, exc.current_version))
        finally:
            mem.close()
        out.put((worker, outcomes, None))
    except BaseException as exc:
        out.put((worker, [], repr(exc)))
        raise


def _run_processes(
    n: int, target: Callable[..., None], args: tuple[Any, ...], started: Callable[[], None]
) -> list[Any]:
    """Run ``target(*args[:1], i, *args[1:], ready, go, out)`` in ``n`` spawned processes.

    Every child opens its store first; then ``started()`` runs and they all start together.
    Returns the reports sorted by worker; a child's error fails the test.
    """
    ctx = multiprocessing.get_context("spawn")
    ready, go, out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(args[0], w, *args[1:], ready, go, out), name=f"p{w}")
        for w in range(n)
    ]
    reports = []
    try:
        for p in procs:
            p.start()
        for _ in procs:
            assert ready.acquire(timeout=JOIN_TIMEOUT), "a child never opened the store"
        started()
        go.set()
        for _ in procs:
            reports.append(out.get(timeout=JOIN_TIMEOUT))
        for p in procs:
            p.join(JOIN_TIMEOUT)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)
        out.close()
        out.join_thread()
    failed = [(w, err) for w, _, err in reports if err]
    assert not failed, failed
    assert [p.exitcode for p in procs] == [0] * n
    return sorted(reports)


def test_cas_counter_8_processes_exact(pg_url: str) -> None:
    """8 processes x 200 CAS increments of one key: final value exactly 1,600, every version
    2..1,601 acknowledged once across processes, and a live watcher in the parent sees every
    revision once, in order, gap-free."""
    procs_n, per_proc = 8, 200
    total = procs_n * per_proc
    url = f"{pg_url}?schema=cas"
    mem = hivemem.connect(url, agent="parent", cleanup_interval=0, embedder="none")
    try:
        mem.write("ctr", "n", 0)
        rev0 = mem.get_namespace("ctr").revision
        seen: list[hivemem.Event] = []
        errors: list[BaseException] = []

        def watcher() -> None:
            try:
                for event in mem.watch("ctr", since=rev0, timeout=60.0):
                    seen.append(event)
                    if len(seen) >= total:
                        return
            except BaseException as exc:
                errors.append(exc)

        watch_thread = threading.Thread(target=watcher, name="watcher")
        reports = _run_processes(procs_n, _cas_worker, (url, per_proc), watch_thread.start)
        watch_thread.join(JOIN_TIMEOUT)
        assert not watch_thread.is_alive(), f"watcher saw {len(seen)} of {total} events"
        assert not errors, errors

        final = mem.get_entry("ctr", "n")
        assert final is not None
        assert (final.value, final.version) == (total, total + 1)
        acked = sorted(v for _, versions, _ in reports for v in versions)
        assert acked == list(range(2, total + 2)), "two processes won one expected version"
        assert mem.get_namespace("ctr").revision == rev0 + total
        assert [e.revision for e in seen] == list(range(rev0 + 1, rev0 + total + 1))
        assert [e.version for e in seen] == list(range(2, total + 2))
        assert [e.value for e in seen] == list(range(1, total + 1))
    finally:
        mem.close()


def test_first_wins_16_processes_one_winner(pg_url: str) -> None:
    """16 processes race for first-wins keys (3 rounds, a fresh key each): exactly one wins
    each, 15 get ConflictError(first_wins, current_version=1), the stored value is the
    winner's, and only winning writes take a revision."""
    procs_n, rounds = 16, 3
    url = f"{pg_url}?schema=fw"
    mem = hivemem.connect(url, agent="parent", cleanup_interval=0, embedder="none")
    try:
        mem.create_namespace("fw", conflict_strategy="first-wins")
        rev0 = mem.get_namespace("fw").revision
        reports = _run_processes(procs_n, _first_wins_worker, (url, rounds), lambda: None)
        for r in range(rounds):
            outcomes = [outcomes[r] for _, outcomes, _ in reports]
            winners = [w for w, o in enumerate(outcomes) if o[0] == "won"]
            assert len(winners) == 1, f"round {r}: winners {winners}"
            (w,) = winners
            assert outcomes[w][1] == 1
            losers = [o for i, o in enumerate(outcomes) if i != w]
            assert losers == [("lost", "first_wins", 1)] * (procs_n - 1)
            stored = mem.get_entry("fw", f"key{r}")
            assert stored is not None
            assert stored.value == {"writer": w}
            assert (stored.owner, stored.version, stored.revision) == (f"p{w}", 1, outcomes[w][2])
        assert mem.get_namespace("fw").revision == rev0 + rounds
    finally:
        mem.close()
