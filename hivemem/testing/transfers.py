"""A bank-transfer workload for transactions (SPEC §19, issue 19's acceptance).

Accounts are split over two namespaces of one transaction group. Each worker process makes
random transfers: it reads both balances, then commits a transaction that compares both
versions and writes both new balances; a failed compare (someone else moved money in
between) re-reads and tries again. Money is conserved only if every transaction is atomic
and isolated: the checks count it to the unit, and also read every balance in one
read-only transaction while the workers run, so the total is checked mid-flight too.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from typing import Any

import hivemem

__all__ = ["NAMESPACES", "audit_balances", "run_workers", "setup_accounts", "worker"]

#: The two namespaces of the accounts (one group, so a Redis Cluster can join them).
NAMESPACES = ("txn-east", "txn-west")
GROUP = "bank"
#: Each account's opening balance.
OPENING = 100


def account(i: int) -> tuple[str, str]:
    """Account ``i``'s namespace and key (even ones east, odd ones west)."""
    return NAMESPACES[i % 2], f"acct{i:03d}"


def setup_accounts(mem: Any, accounts: int) -> int:
    """Create the namespaces and accounts; return the total."""
    for ns in NAMESPACES:
        mem.create_namespace(ns, group=GROUP, exist_ok=True)
    for i in range(accounts):
        ns, key = account(i)
        mem.write(ns, key, OPENING)
    return accounts * OPENING


def audit_balances(mem: Any, accounts: int) -> list[int]:
    """Every balance, read in ONE transaction (a consistent snapshot)."""
    txn = mem.transaction()
    for i in range(accounts):
        txn.on_success.read(*account(i))
    result = txn.commit()
    return [e.value for e in result.results]


def worker(
    url: str, options: dict[str, Any], accounts: int, transfers: int, seed: int
) -> dict[str, int]:
    """Make ``transfers`` committed transfers; return counts (committed, retried, skipped)."""
    rng = random.Random(seed)
    committed = retried = skipped = 0
    with hivemem.connect(url, **options) as mem:
        while committed < transfers:
            src, dst = rng.sample(range(accounts), 2)
            amount = rng.randint(1, 30)
            while True:
                look = mem.transaction()  # both balances in one request
                look.on_success.read(*account(src)).read(*account(dst))
                a, b = look.commit().results
                assert a is not None and b is not None
                if a.value < amount:
                    skipped += 1
                    break  # not enough money: pick another pair
                txn = mem.transaction()
                txn.compare(*account(src), version=a.version)
                txn.compare(*account(dst), version=b.version)
                txn.on_success.write(*account(src), a.value - amount)
                txn.on_success.write(*account(dst), b.value + amount)
                if txn.commit().succeeded:
                    committed += 1
                    break
                retried += 1
    return {"committed": committed, "retried": retried, "skipped": skipped}


def run_workers(
    url: str,
    options: dict[str, Any],
    *,
    processes: int,
    accounts: int,
    transfers: int,
    audit: Any = None,
    urls: list[str] | None = None,
) -> dict[str, Any]:
    """Run ``processes`` workers making ``transfers`` in all; audit with ``audit`` meanwhile.

    ``urls`` spreads the workers over several URLs (replicas). Returns the summed counts,
    the seconds taken and the totals the mid-flight audits saw.
    """
    ctx = multiprocessing.get_context("spawn")
    share = transfers // processes
    targets = urls or [url]
    start = time.monotonic()
    with ctx.Pool(processes) as pool:
        pending = [
            pool.apply_async(worker, (targets[i % len(targets)], options, accounts, share, i))
            for i in range(processes)
        ]
        seen: list[list[int]] = []
        while audit is not None and not all(p.ready() for p in pending):
            seen.append(audit_balances(audit, accounts))
            time.sleep(0.5)
        counts = [p.get(timeout=600) for p in pending]
    out: dict[str, Any] = {k: sum(c[k] for c in counts) for k in counts[0]}
    out["seconds"] = time.monotonic() - start
    out["audits"] = seen
    out["expected"] = share * processes
    return out
