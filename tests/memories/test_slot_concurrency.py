"""Many agents in several processes state one slot at once (SPEC §20, issue 20).

16 agents (4 threads in each of 4 spawned processes) each add ``per_agent`` records to the
same slot of one SQLite file. Afterwards, read from the store itself (not the index): the
records form one chain, newest to oldest by ``supersedes``, with no fork (no record is
superseded twice), exactly one still open, and each one's validity ends exactly where the
next one's starts, so at every instant exactly one holds. While they run, the parent keeps
asking for the slot's records that hold now and always finds exactly one. Afterwards
``slot(as_of=t)`` at every recorded instant returns the record that held then.

Scale: the issue's full size, 500 statements per agent (8,000 in all): about 30 s on the
2 shared cores this was written on (``HIVEMEM_SLOT_STATEMENTS=<n>`` sets another size).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
import time
from typing import TYPE_CHECKING, Any

import hivemem

if TYPE_CHECKING:
    from pathlib import Path

NS = "facts"
SLOT = "alice/city"
PROCESSES, THREADS = 4, 4
JOIN_TIMEOUT = 300.0
#: No embedder (what is under test is the slot's atomic step, not embedding) and no fsync
#: per commit (a power loss is not under test either).
OPTIONS: dict[str, Any] = {"cleanup_interval": 0, "embedder": "none", "durability": "normal"}


def _state(url: str, worker: int, per_agent: int, ready: Any, go: Any, out: Any) -> None:
    """One process: 4 agents (threads), each stating the slot ``per_agent`` times."""
    try:
        mem = hivemem.connect(url, agent=f"p{worker}", **OPTIONS)
        acked: list[tuple[str, float]] = []
        errors: list[str] = []
        lock = threading.Lock()

        def agent(n: int) -> None:
            lt = mem.memories(NS, agent=f"p{worker}a{n}")
            try:
                for i in range(per_agent):
                    rec = lt.add(f"agent p{worker}a{n} statement {i}", slot=SLOT)
                    with lock:
                        acked.append((rec.id, rec.valid_from))
            except Exception as exc:
                errors.append(repr(exc))

        try:
            lt = mem.memories(NS)
            lt.slot_history(SLOT)  # opened: the namespace's index exists in this process
            ready.release()
            go.wait(JOIN_TIMEOUT)
            threads = [threading.Thread(target=agent, args=(n,)) for n in range(THREADS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            mem.close()
        out.put((worker, acked, errors))
    except BaseException as exc:
        out.put((worker, [], [repr(exc)]))
        raise


def test_agents_in_processes_state_one_slot(tmp_path: Path) -> None:
    """16 agents in 4 processes state one slot: one chain, never two current records."""
    per_agent = int(os.environ.get("HIVEMEM_SLOT_STATEMENTS", "500"))
    total = PROCESSES * THREADS * per_agent
    url = f"sqlite:///{tmp_path}/slots.db"
    mem = hivemem.connect(url, agent="parent", **OPTIONS)
    lt = mem.memories(NS)
    seed = lt.add("Alice lives in Paris", slot=SLOT)  # the namespace and the slot exist
    ctx = multiprocessing.get_context("spawn")
    ready, go, out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_state, args=(url, w, per_agent, ready, go, out), name=f"slot{w}")
        for w in range(PROCESSES)
    ]
    samples, bad = 0, []
    reports = []
    try:
        for p in procs:
            p.start()
        for _ in procs:
            assert ready.acquire(timeout=JOIN_TIMEOUT), "a child never opened the store"
        started = time.monotonic()
        go.set()
        while len(reports) < PROCESSES:
            # At this instant, the slot's records that hold now: always exactly one.
            hits = lt.search("statement Paris", filters={"slot": SLOT}, limit=1000)
            held = [h.memory.id for h in hits]
            samples += 1
            if len(held) != 1:
                bad.append(held)
            while not out.empty():
                reports.append(out.get())
            time.sleep(0.01)
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
    try:
        failed = [(w, errors) for w, _, errors in reports if errors]
        assert not failed, failed
        assert [p.exitcode for p in procs] == [0] * PROCESSES
        assert not bad, f"{len(bad)} of {samples} samples did not see exactly one record"
        acked = [rid for _, items, _ in reports for rid, _ in items]
        assert len(acked) == len(set(acked)) == total

        # The chain, read from the store itself, newest first from the slot's current record.
        head = lt.slot(SLOT)
        ids = [head.id, seed.id, *acked]
        stored = {r.id: r for start in range(0, len(ids), 1000)
                  for r in lt.get_many(ids[start : start + 1000])}  # fmt: skip
        chain = []
        node = stored.get(head.id)
        while node is not None and len(chain) <= total + 1:  # bounded: a cycle would end it
            chain.append(node)
            node = stored.get(node.supersedes) if node.supersedes else None
        assert len(chain) == total + 1, "the chain does not reach every statement"
        assert chain[-1].id == seed.id and chain[-1].supersedes is None
        assert {r.id for r in chain[:-1]} == set(acked)
        assert [r.valid_to is None for r in chain].count(True) == 1 and chain[0].valid_to is None
        superseded = [r.supersedes for r in chain if r.supersedes]
        assert len(superseded) == len(set(superseded)) == total, "a record superseded twice"
        for newer, older in itertools.pairwise(chain):
            assert older.superseded_by == newer.id
            assert older.valid_from < newer.valid_from == older.valid_to
        assert sum(1 for r in stored.values() if r.superseded_by is None) == 1

        # as_of at every recorded instant (and inside each interval) names the right record.
        for rec in chain:
            assert lt.slot(SLOT, as_of=rec.valid_from).id == rec.id
            end = rec.valid_to if rec.valid_to is not None else rec.valid_from + 1
            mid = (rec.valid_from + end) / 2  # (equal to an end for a one-ulp interval)
            if rec.valid_from < mid < end:
                assert lt.slot(SLOT, as_of=mid).id == rec.id
        for rec in chain[:: max(1, total // 50)]:
            hits = lt.search("statement Paris", filters={"slot": SLOT}, as_of=rec.valid_from)
            assert [h.memory.id for h in hits] == [rec.id]
        print(f"{total} statements in {elapsed:.1f} s; {samples} live samples")
    finally:
        mem.close()
