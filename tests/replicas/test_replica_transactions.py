"""Transactions through two ``hivemem serve`` replicas over one Redis (issue 19's acceptance).

8 processes, half on replica A and half on B, make random transfers between 100 accounts in
two namespaces through the remote client (``POST /v1/transactions``: compare both versions,
write both; a failed compare re-reads and retries). Each replica runs the transaction as one
optimistic Redis commit that checks every key it read, so two replicas racing on one
account cannot both win. While they run, the test reads every balance in one read-only
transaction through A: each snapshot holds the opening total and no negative balance. At
the end the total is unchanged and the versions count two writes per committed transfer.
Scaled down to 800 transfers (of the issue's 4,000) to stay under a minute on 2 shared
cores shared with other jobs: each transfer is two HTTP requests through a replica (one
read-only transaction for both balances, then the transfer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from _cluster import Replicas, redis_store

import hivemem
from hivemem.testing import transfers as t

if TYPE_CHECKING:
    from pathlib import Path

PROCESSES = 8
ACCOUNTS = 100
TRANSFERS = 800


def test_transfers_through_two_replicas(tmp_path: Path) -> None:
    """Money is conserved through two replicas over one Redis."""
    with redis_store(tmp_path) as (_, store), Replicas(store, tmp_path, n=2) as group:
        options = {"token": group.admin}
        with hivemem.connect(group[0].url, **options) as mem:
            total = t.setup_accounts(mem, ACCOUNTS)
            outcome = t.run_workers(
                group[0].url,
                options,
                processes=PROCESSES,
                accounts=ACCOUNTS,
                transfers=TRANSFERS,
                audit=mem,
                urls=group.urls,
            )
            assert outcome["committed"] == outcome["expected"] == TRANSFERS
            assert outcome["audits"], "no snapshot was taken while the workers ran"
            for seen in outcome["audits"]:
                assert sum(seen) == total and min(seen) >= 0
            final = t.audit_balances(mem, ACCOUNTS)
            assert sum(final) == total and min(final) >= 0
            versions = [mem.get_entry(*t.account(i)).version for i in range(ACCOUNTS)]
            assert sum(v - 1 for v in versions) == 2 * TRANSFERS
