"""Issue 19 acceptance for locks, on one SQLite file shared by several processes.

- 16 agents in 4 processes take one lock 800 times in all by default (2,000, the issue's
  figure, with ``HIVEMEM_LOCK_ROUNDS=2000``) and, holding it, do a fenced
  read-increment-write of a counter: the counter ends at exactly the number of holds,
  tokens are strictly increasing in grant order, and no two holds overlap (ordered by
  token, each hold ends before the next one starts; times are ``time.time()``, one clock
  for every process of the machine).
- A holder killed with ``kill -9`` loses the lock when its lease expires: a waiter gets it
  at most 0.5 s after ``expires_at`` (and never before), and a fenced write with the dead
  holder's token is refused (``ConflictError(reason="fenced")``).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from lock_checks import check_holds, killed_holder_loses_lock, run_counters

import hivemem

if TYPE_CHECKING:
    from pathlib import Path

#: Holds in all. The issue's 2,000 took 117 s on the shared 2-core box under load (~20):
#: CI runs 800 (~40 s there); HIVEMEM_LOCK_ROUNDS=2000 runs the issue's figure.
TOTAL = int(os.environ.get("HIVEMEM_LOCK_ROUNDS", "800"))


def test_sixteen_agents_four_processes_one_lock(tmp_path: Path) -> None:
    """The counter ends at exactly the number of holds; tokens grow; holds never overlap."""
    url = f"sqlite:///{tmp_path / 'locks.db'}"
    with hivemem.connect(url) as mem:
        mem.create_namespace("work")
    started = time.monotonic()
    rows = run_counters([url], "", "work", tmp_path, TOTAL)
    elapsed = time.monotonic() - started
    with hivemem.connect(url) as mem:
        assert mem.read("work", "counter") == TOTAL
        assert mem.lock_info("work", "L") is None
    check_holds(rows, TOTAL)
    print(f"{TOTAL} holds by 16 agents in 4 processes: {elapsed:.1f} s")


def test_killed_holder_loses_the_lock_at_lease_expiry(tmp_path: Path) -> None:
    """kill -9 of a holder: the lock is free within 0.5 s after its lease's expires_at."""
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    with hivemem.connect(url) as mem:
        mem.create_namespace("work")
    delay = killed_holder_loses_lock(url, {}, "work", ttl=1.0)
    assert 0 <= delay <= 0.5, delay
