"""Issue 19 acceptance for locks through two ``hivemem serve`` replicas over one Redis.

The same checks as ``tests/locks/test_lock_acceptance.py`` (helpers in
``tests/locks/lock_checks.py``), with processes 0 and 2 talking to replica A and 1 and 3 to
replica B: the counter ends exact, tokens grow, holds never overlap; a holder on A killed
with ``kill -9`` loses the lock at its lease's expiry for a waiter on B, and its late fenced
write is refused. ``HIVEMEM_LOCK_ROUNDS_REPLICAS`` sets the number of holds (default 160).
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from _cluster import Replicas, bearer, redis_store

import hivemem

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "locks"))
from lock_checks import check_holds, killed_holder_loses_lock, run_counters

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Holds in all: 160 by default (over HTTP on the loaded 2-core box a hold took ~0.5 s);
#: HIVEMEM_LOCK_ROUNDS_REPLICAS=2000 runs the issue's figure.
TOTAL = int(os.environ.get("HIVEMEM_LOCK_ROUNDS_REPLICAS", "160"))


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    """Redis and replicas A and B over it."""
    directory = tmp_path_factory.mktemp("lock-replicas")
    with redis_store(directory) as (_, store), Replicas(store, directory, n=2) as group:
        yield group


def test_one_lock_through_two_replicas(two: Replicas, tmp_path: Path) -> None:
    """16 agents in 4 processes over A and B: exact counter, growing tokens, disjoint holds."""
    tokens = {}
    with httpx.Client(base_url=two[0].url, headers=bearer(two.admin)) as http:
        for p, t in itertools.product(range(4), range(4)):
            made = http.post("/v1/tokens", json={"agent": f"p{p}-{t}"})
            assert made.status_code == 201, made.text
            tokens[f"p{p}-{t}"] = made.json()["token"]
    (tmp_path / "tokens.json").write_text(json.dumps(tokens))
    with hivemem.connect(two[0].url, token=two.admin) as mem:
        mem.create_namespace("work")
    started = time.monotonic()
    rows = run_counters(two.urls, f"@{tmp_path / 'tokens.json'}", "work", tmp_path, TOTAL)
    elapsed = time.monotonic() - started
    with hivemem.connect(two[1].url, token=two.admin) as mem:
        assert mem.read("work", "counter") == TOTAL
    check_holds(rows, TOTAL)
    print(f"{TOTAL} holds through two replicas: {elapsed:.1f} s")


def test_killed_holder_through_replicas(two: Replicas) -> None:
    """A holder on A killed with kill -9: a waiter on B gets the lock <= 0.5 s after expiry."""
    with httpx.Client(base_url=two[0].url, headers=bearer(two.admin)) as http:
        tokens = {a: http.post("/v1/tokens", json={"agent": a}).json()["token"]
                  for a in ("doomed", "survivor")}  # fmt: skip
    with hivemem.connect(two[0].url, token=two.admin) as mem:
        mem.create_namespace("kill")
    delay = killed_holder_loses_lock(two[0].url, tokens, "kill", 1.0, two[1].url)
    assert 0 <= delay <= 0.5, delay
