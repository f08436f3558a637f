"""Issue 19 acceptance for locks, on one SQLite file shared by several processes.

- 16 agents in 4 processes take one lock 2,000 times in all (``HIVEMEM_LOCK_ROUNDS``
  overrides the total) and, holding it, do a fenced read-increment-write of a counter: the
  counter ends at exactly the number of holds, tokens are strictly increasing in grant order,
  and no two holds overlap (ordered by token, each hold ends before the next one starts;
  times are ``time.time()``, one clock for every process of the machine).
- A holder killed with ``kill -9`` loses the lock when its lease expires: a waiter gets it
  at most 0.5 s after ``expires_at`` (and never before), and a fenced write with the dead
  holder's token is refused (``ConflictError(reason="fenced")``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import hivemem
from hivemem import ConflictError, Lock

WORKER = str(Path(__file__).with_name("lock_worker.py"))
TOTAL = int(os.environ.get("HIVEMEM_LOCK_ROUNDS", "2000"))
PROCESSES, THREADS = 4, 4


def _env() -> dict[str, str]:
    root = str(Path(hivemem.__file__).resolve().parent.parent)
    return {**os.environ, "PYTHONPATH": root}


def check_holds(rows: list[list[Any]], total: int) -> None:
    """Tokens strictly increasing in grant order, holds disjoint, one per round."""
    assert len(rows) == total
    rows.sort(key=lambda r: r[0])
    tokens = [r[0] for r in rows]
    assert len(set(tokens)) == total, "a token was granted twice"
    for before, after in zip(rows, rows[1:], strict=False):
        # The next grant comes after the previous release; a later grant has a larger token.
        assert before[2] <= after[1], f"holds overlap: {before} and {after}"


def run_counters(url: str, token: str, ns: str, tmp_path: Path, total: int) -> list[list[Any]]:
    """PROCESSES x THREADS agents share ``total`` holds; return every hold's log row."""
    per_agent = total // (PROCESSES * THREADS)
    assert per_agent * PROCESSES * THREADS == total
    procs = []
    for p in range(PROCESSES):
        out = tmp_path / f"holds-{p}.jsonl"
        args = [WORKER, "count", url, token, ns, str(THREADS), str(per_agent), f"p{p}", str(out)]
        procs.append((subprocess.Popen([sys.executable, *args], env=_env()), out))
    rows: list[list[Any]] = []
    for proc, out in procs:
        assert proc.wait(timeout=600) == 0
        rows += [json.loads(line) for line in out.read_text().splitlines()]
    return rows


def test_sixteen_agents_four_processes_one_lock(tmp_path: Path) -> None:
    """The counter ends at exactly the number of holds; tokens grow; holds never overlap."""
    url = f"sqlite:///{tmp_path / 'locks.db'}"
    with hivemem.connect(url) as mem:
        mem.create_namespace("work")
    started = time.monotonic()
    rows = run_counters(url, "", "work", tmp_path, TOTAL)
    elapsed = time.monotonic() - started
    with hivemem.connect(url) as mem:
        assert mem.read("work", "counter") == TOTAL
        assert mem.lock_info("work", "L") is None
    check_holds(rows, TOTAL)
    print(f"{TOTAL} holds by 16 agents in 4 processes: {elapsed:.1f} s")


def killed_holder_loses_lock(url: str, token: str, ns: str, ttl: float) -> float:
    """Start a holder, kill -9 it, wait for the lock; return the delay after its expiry."""
    holder = subprocess.Popen(
        [sys.executable, WORKER, "hold", url, token, ns, "doomed", str(ttl)],
        stdout=subprocess.PIPE,
        env=_env(),
        text=True,
    )
    try:
        assert holder.stdout is not None
        lk = Lock.from_dict(json.loads(holder.stdout.readline()))
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    with hivemem.connect(url, token=token or None, cleanup_interval=0) as mem:
        assert mem.lock_info(ns, "L").token == lk.token  # the dead holder's lease still runs
        with mem.lock(ns, "L", "survivor", ttl=30, wait=ttl + 5) as mine:
            got_at = time.time()
            assert mine.token > lk.token
            assert lk.expires_at is not None and got_at >= lk.expires_at
            with pytest.raises(ConflictError) as info:  # the dead holder's late write
                mem.write(ns, "state", "stale", "doomed", fence=lk)
            assert info.value.reason == "fenced"
            mem.write(ns, "state", "fresh", "survivor", fence=mine)
        assert mem.read(ns, "state") == "fresh"
    return got_at - lk.expires_at


def test_killed_holder_loses_the_lock_at_lease_expiry(tmp_path: Path) -> None:
    """kill -9 of a holder: the lock is free within 0.5 s after its lease's expires_at."""
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    with hivemem.connect(url) as mem:
        mem.create_namespace("work")
    delay = killed_holder_loses_lock(url, "", "work", ttl=1.0)
    assert 0 <= delay <= 0.5, delay
