"""Transactions under contention (issue 19's acceptance): money is conserved, to the unit.

8 processes make random transfers between 100 accounts in two namespaces (compare both
versions, write both; a failed compare re-reads and retries), 4,000 on ``sqlite://`` (one
file, eight processes) and, scaled down to stay under a minute on 2 shared cores, 1,600 on
a 3-master Redis Cluster (the namespaces share ``group=``) and 800 on PostgreSQL (writers lock
each namespace as they first read it; a transaction reads its namespaces in name order, so
transfers in both directions never deadlock each other). While
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
from hivemem.testing.postgres import postgres_available
from hivemem.testing.redis import RedisCluster, redis_available

if TYPE_CHECKING:
    from pathlib import Path

PROCESSES = 8
ACCOUNTS = 100
TRANSFERS = 4000
#: On the cluster each transfer costs several round trips through redis-py's cluster client
#: (about 7 ms on the 2 shared cores of CI): 1,600 keep the test under a minute.
CLUSTER_TRANSFERS = 1600
#: PostgreSQL: a transaction is a few round trips under two advisory locks; 800 keep it
#: (with the server's start) under a minute there.
POSTGRES_TRANSFERS = 800


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
    print(  # (pytest -s shows the figures)
        f"{outcome['committed']} transfers in {outcome['seconds']:.1f} s, "
        f"{outcome['retried']} retried after a failed compare, {len(outcome['audits'])} audits"
    )


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
                transfers=POSTGRES_TRANSFERS,
                audit=mem,
            )
            check(mem, total, outcome, POSTGRES_TRANSFERS)


@pytest.mark.skipif(not postgres_available(), reason="PostgreSQL is not installed")
def test_transfers_on_postgres() -> None:
    """Eight processes on PostgreSQL: advisory locks per namespace, taken in name order."""
    from hivemem.testing.postgres import PostgresServer

    with PostgresServer() as server:
        url = f"{server.url}?schema=bank"
        with hivemem.connect(url, agent="bank") as mem:
            total = t.setup_accounts(mem, ACCOUNTS)
            outcome = t.run_workers(
                url,
                {"agent": "bank"},
                processes=PROCESSES,
                accounts=ACCOUNTS,
                transfers=POSTGRES_TRANSFERS,
                audit=mem,
            )
            check(mem, total, outcome, POSTGRES_TRANSFERS)
