"""What the lock acceptance tests share (imported by tests/locks and tests/replicas).

The worker processes run ``lock_worker.py``; these helpers start them and check what they
logged.
"""

from __future__ import annotations

import itertools
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
    for before, after in itertools.pairwise(rows):
        # The next grant comes after the previous release; a later grant has a larger token.
        assert before[2] <= after[1], f"holds overlap: {before} and {after}"


def run_counters(
    urls: list[str], token: str, ns: str, tmp_path: Path, total: int
) -> list[list[Any]]:
    """PROCESSES x THREADS agents share ``total`` holds; return every hold's log row.

    Process ``p`` talks to ``urls[p % len(urls)]`` (one store, or replicas over one).
    """
    per_agent = total // (PROCESSES * THREADS)
    assert per_agent * PROCESSES * THREADS == total
    procs = []
    for p in range(PROCESSES):
        out = tmp_path / f"holds-{p}.jsonl"
        url = urls[p % len(urls)]
        args = [WORKER, "count", url, token, ns, str(THREADS), str(per_agent), f"p{p}", str(out)]
        procs.append((subprocess.Popen([sys.executable, *args], env=_env()), out))
    rows: list[list[Any]] = []
    for proc, out in procs:
        assert proc.wait(timeout=600) == 0
        rows += [json.loads(line) for line in out.read_text().splitlines()]
    return rows


def killed_holder_loses_lock(
    url: str,
    tokens: dict[str, str],
    ns: str,
    ttl: float,
    waiter_url: str | None = None,
) -> float:
    """Start a holder, kill -9 it, wait for the lock; return the delay after its expiry.

    ``tokens``: the tokens of agents ``doomed`` and ``survivor`` (``{}``: embedded). The
    waiter talks to ``waiter_url`` (default ``url``: another replica, say).
    """
    holder = subprocess.Popen(
        [sys.executable, WORKER, "hold", url, tokens.get("doomed", ""), ns, "doomed", str(ttl)],
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
    where = waiter_url or url
    with (
        hivemem.connect(where, token=tokens.get("survivor"), cleanup_interval=0) as mem,
        hivemem.connect(where, token=tokens.get("doomed"), cleanup_interval=0) as late,
    ):
        assert mem.lock_info(ns, "L", "survivor").token == lk.token  # its lease still runs
        with mem.lock(ns, "L", "survivor", ttl=30, wait=ttl + 5) as mine:
            got_at = time.time()
            assert mine.token > lk.token
            assert lk.expires_at is not None and got_at >= lk.expires_at
            with pytest.raises(ConflictError) as info:  # the dead holder's late write
                late.write(ns, "state", "stale", "doomed", fence=lk)
            assert info.value.reason == "fenced"
            mem.write(ns, "state", "fresh", "survivor", fence=mine)
        assert mem.read(ns, "state", "survivor") == "fresh"
    return got_at - lk.expires_at
