"""Transactions under contention (issue 19's acceptance): money is conserved, to the unit.

8 processes make random transfers between 100 accounts in two namespaces (compare both
versions, write both; a failed compare re-reads and retries), 4,000 on ``sqlite://`` (one
file, eight processes) and 1,600 (scaled down to stay under a minute on 2 shared cores) on
a 3-master Redis Cluster (the namespaces share ``group=``). While
they run, the test reads every balance in ONE read-only transaction, again and again: each
snapshot must hold the opening total and no negative balance. At the end the total is
unchanged, and the accounts' versions count exactly two writes per committed transfer.
The replicated variant (two ``hivemem serve`` over one Redis) is in
``tests/replicas/test_replica_transactions.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

import hivemem
from hivemem.testing import transfers as t
from hivemem.testing.redis import RedisCluster, redis_available

if TYPE_CHECKING:
    from pathlib import Path

PROCESSES = 8
ACCOUNTS = 100
TRANSFERS = 4000
#: On the cluster each transfer costs several round trips through redis-py's cluster client
#: (about 7 ms on the 2 shared cores of CI): 1,600 keep the test under a minute.
CLUSTER_TRANSFERS = 1600


def check(mem: Any, total: int, outcome: dict[str, Any], transfers: int = TRANSFERS) -> None:
    """The invariants of a finished run (and of every snapshot taken during it)."""
    assert outcome["committed"] == outcome["expected"] == transfers
    for seen in outcome["audits"]:
        assert sum(seen) == total
        assert min(seen) >= 0
    final = t.audit_balances(mem, ACCOUNTS)
    assert sum(final) == total
    assert min(final) >= 0
    versions = [mem.get_entry(*t.account(i)).version for i in range(ACCOUNTS)]
    assert sum(v - 1 for v in versions) == 2 * outcome["committed"]


def test_transfers_on_sqlite(tmp_path: Path) -> None:
    """Eight processes on one SQLite file."""
    url = f"sqlite:///{tmp_path}/bank.db"
    with hivemem.connect(url, agent="bank") as mem:
        total = t.setup_accounts(mem, ACCOUNTS)
        outcome = t.run_workers(
            url,
            {"agent": "bank"},
            processes=PROCESSES,
            accounts=ACCOUNTS,
            transfers=TRANSFERS,
            audit=mem,
        )
        check(mem, total, outcome)
        assert outcome["audits"], "no snapshot was taken while the workers ran"


@pytest.mark.skipif(not redis_available(), reason="redis-server is not installed")
def test_transfers_on_a_redis_cluster(tmp_path: Path) -> None:
    """Eight processes on a 3-master Redis Cluster; the two namespaces share a group."""
    with RedisCluster(tmp_path / "cluster", 3) as cluster:
        url = cluster.url
        with hivemem.connect(url, agent="bank") as mem:
            total = t.setup_accounts(mem, ACCOUNTS)
            outcome = t.run_workers(
                url,
                {"agent": "bank"},
                processes=PROCESSES,
                accounts=ACCOUNTS,
                transfers=CLUSTER_TRANSFERS,
                audit=mem,
            )
            check(mem, total, outcome, CLUSTER_TRANSFERS)
