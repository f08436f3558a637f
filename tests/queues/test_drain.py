"""Worker processes drain a queue (issue 19, acceptance "Queues"), on sqlite:// and redis://.

4 worker processes (``_worker.py``) drain 5,000 tasks, abandoning 10% of their claims; 1% of
the tasks are poisoned (always nacked). Afterwards, from the workers' logs and the store:

- every healthy task was acked exactly once, and nothing else was acked;
- every abandoned claim came back, and not before its visibility ended (the next claim of
  the task was made at or after the abandoned claim's ``visible_at``, by the store's clock);
- every poisoned task is in the dead letters after exactly ``max_attempts`` claims, and
  nothing else is;
- the queue ends empty but for the dead letters.

Variants: a fifth worker SIGKILLed while it holds a claim (its task comes back and is acked
by another); the same over two ``hivemem serve`` replicas on one Redis.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import hivemem
from hivemem.testing.redis import redis_available

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "replicas"))
from _cluster import Replicas, redis_store  # noqa: E402

TASKS = int(os.environ.get("QUEUE_DRAIN_TASKS", "5000"))
#: Through replicas over Redis every queue op of a queue commits optimistically against the
#: others (one meta record): on this 2-core machine that runs ~10-20 cycles/s in all, so the
#: default run is shorter; QUEUE_DRAIN_REPLICA_TASKS=5000 runs the issue's size.
REPLICA_TASKS = int(os.environ.get("QUEUE_DRAIN_REPLICA_TASKS", "200"))
POISON_EVERY = 100  # 1% of the tasks
WORKERS = 4
VISIBILITY = 1.0
MAX_ATTEMPTS = 3
NS, QUEUE = "work", "jobs"


def _options(url: str, token: str | None) -> dict[str, Any]:
    """connect() options: the token, or (SQLite) a commit without fsync (no power loss here)."""
    return {"token": token} if token else {"durability": "normal"}


def _fill(urls: list[str], token: str | None, tasks: int) -> set[str]:
    """Put TASKS tasks (through 4 threads); return the poisoned tasks' ids."""
    options = _options(urls[0], token)

    def put_range(i: int) -> list[tuple[str, bool]]:
        agent = None if token else "producer"
        with hivemem.connect(urls[i % len(urls)], agent=agent, **options) as mem:
            q = mem.queue(NS, QUEUE)
            out = []
            for n in range(i, tasks, 4):
                poison = n % POISON_EVERY == 0
                out.append((q.put({"n": n, "poison": poison}).id, poison))
            return out

    with ThreadPoolExecutor(4) as pool:
        rows = [r for part in pool.map(put_range, range(4)) for r in part]
    assert len({tid for tid, _ in rows}) == tasks
    return {tid for tid, poison in rows if poison}


def _spawn(
    url: str, token: str | None, log: Path, seed: int, **extra: Any
) -> subprocess.Popen[bytes]:
    spec = {
        "url": url,
        "options": _options(url, token),
        "agent": f"worker-{seed}",
        "ns": NS,
        "queue": QUEUE,
        "visibility": VISIBILITY,
        "max_attempts": MAX_ATTEMPTS,
        "abandon": 0.1,
        "seed": seed,
        "log": str(log),
        **extra,
    }
    with log.with_suffix(".err").open("wb") as err:
        return subprocess.Popen(
            [sys.executable, str(HERE / "_worker.py"), json.dumps(spec)],
            stderr=err,
            start_new_session=True,
        )


def _drain(
    urls: list[str], token: str | None, tmp: Path, *, kill_one: bool, tasks: int = TASKS
) -> None:
    poison = _fill(urls, token, tasks)
    procs = []
    logs = []
    victim = None
    if kill_one:
        log = tmp / "victim.log"
        victim = _spawn(urls[0], token, log, 99, hold_after=min(20, tasks // 10))
        logs.append(log)
        deadline = time.monotonic() + 60
        while not Path(f"{log}.holding").exists():
            assert victim.poll() is None, log.with_suffix(".err").read_text()
            assert time.monotonic() < deadline, "the victim never held a claim"
            time.sleep(0.05)
        os.kill(victim.pid, signal.SIGKILL)  # mid-claim: it holds one it will never ack
        victim.wait(10)
    for i in range(WORKERS):
        log = tmp / f"w{i}.log"
        logs.append(log)
        procs.append(_spawn(urls[i % len(urls)], token, log, i))
    try:
        for p in procs:
            assert p.wait(timeout=300) == 0, [x.with_suffix(".err").read_text() for x in logs]
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(10)
    records = [json.loads(line) for log in logs for line in log.read_text().splitlines()]
    _check(records, poison, urls[0], token, held=victim is not None, tasks=tasks)


def _check(
    records: list[dict[str, Any]],
    poison: set[str],
    url: str,
    token: str | None,
    *,
    held: bool,
    tasks: int,
) -> None:
    acks = collections.Counter(r["id"] for r in records if r["ev"] == "ack")
    assert all(n == 1 for n in acks.values()), "a task was acked twice"
    with hivemem.connect(url, agent=None if token else "producer", **_options(url, token)) as mem:
        q = mem.queue(NS, QUEUE)
        dead = q.dead_letters(limit=10_000)
        stats = q.stats()
    claims: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for r in records:
        claims[r["id"]].append(r)
    # A healthy task whose every claim was given up (abandoned max_attempts times: 0.1%)
    # is dead as rightly as a poisoned one.
    unlucky = {
        tid
        for tid, cs in claims.items()
        if tid not in poison and len(cs) == MAX_ATTEMPTS and all(c["ev"] != "ack" for c in cs)
    }
    healthy_acked = set(acks)
    assert not healthy_acked & poison, "a poisoned task was acked"
    assert len(healthy_acked) == tasks - len(poison) - len(unlucky), "a task was lost"
    assert {d.id for d in dead} == poison | unlucky
    assert all(d.attempts == MAX_ATTEMPTS for d in dead)
    assert stats == {"ready": 0, "claimed": 0, "delayed": 0, "dead": len(dead)}
    # Every abandoned (or held) claim came back, and only after its visibility ended.
    abandoned = [r for r in records if r["ev"] in ("abandon", "hold")]
    assert len(abandoned) > tasks * 0.05
    assert held == any(r["ev"] == "hold" for r in records)
    for r in abandoned:
        later = [c for c in claims[r["id"]] if c["token"] > r["token"]]
        if r["id"] in unlucky and not later:
            continue  # (its last claim: then it died)
        assert later, f"abandoned task {r['id']} never came back"
        first = min(later, key=lambda c: c["token"])
        assert first["visible_at"] - VISIBILITY >= r["visible_at"] - 1e-6
        assert r["id"] in acks or r["id"] in poison | unlucky


def test_four_workers_drain_a_sqlite_queue(tmp_path: Path) -> None:
    """4 processes on one SQLite file: every task acked once, poison dead, none lost."""
    _drain([f"sqlite:///{tmp_path}/q.db"], None, tmp_path, kill_one=False)


def test_a_worker_killed_mid_claim_loses_nothing_sqlite(tmp_path: Path) -> None:
    """A worker SIGKILLed while holding a claim: its task returns and is acked by another."""
    _drain([f"sqlite:///{tmp_path}/q.db"], None, tmp_path, kill_one=True)


@pytest.mark.skipif(not redis_available(), reason="needs redis-server")
def test_four_workers_drain_through_two_replicas_over_redis(tmp_path: Path) -> None:
    """The same through two ``hivemem serve`` replicas on one Redis, with a worker killed."""
    with redis_store(tmp_path) as (_, store), Replicas(store, tmp_path, n=2) as group:
        _drain(group.urls, group.admin, tmp_path, kill_one=True, tasks=REPLICA_TASKS)
