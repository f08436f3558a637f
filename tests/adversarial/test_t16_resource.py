"""T16 ``one-caller-cannot-stall-others`` (RELIABILITY.md; issue 15's acceptance).

A well-behaved client (agent ``alice``, its own process) reads and writes its namespace at
200 reads + 200 writes per second, paced, against a live ``hivemem serve`` over SQLite with
auth on. First alone (the baseline: at least 2,000 requests), then while one ordinary agent
token (``mallory``) runs each attack of :mod:`benchmarks.attacks` in turn, 60 s in all:
stream churn with many ``since``, half-sent bodies, stalled streams, stats and listing loops
over thousands of namespaces, idle streams on another namespace, ``prefix/delete`` with
``\\ud7ff``, forged list headers and memory records.

Pass (issue 15, "Acceptance"), for every attack:

- the client: 0 failed requests, p99 ≤ :data:`P99_FACTOR` (5) x its baseline p99 (the
  baseline floored at 5 ms, so a 2-core machine's noise on a 1 ms baseline does not fail it);
- the server's RSS stays ≤ :data:`RSS_BOUND_MIB` (300 MiB; the documented bound, caches
  included);
- the attacker's own requests: no 5xx, none left without an answer for 10 s;
- half-sent requests are closed by the server before the end (its body timeout is ≤ 30 s
  and the attacks after them last longer than that).

Every figure is printed (run with ``-s``) and put in the failure message as a table.

The p99 of a 7 s window (about 2,800 requests: the 28 slowest decide it) on two shared cores
can be tipped by one pause of the machine (another process taking both cores for 50 ms
delays ~20 of the client's requests), so an attack whose window misses only the p99 bound is
measured once more, right after a fresh baseline, and must meet the bound against that
baseline; both tables are printed. A server-side stall the attack causes shows in both
windows, so the test still fails on it. Every other condition must hold in the first window.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks import attacks

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.adversarial.conftest import LiveServer

#: Seconds per attack: seven attacks plus a pause each make the issue's 60 s.
ATTACK_SECONDS = 7.0
#: Seconds of baseline: 400 requests/s, the first second left out: ≥ 2,000 requests.
BASELINE_SECONDS = 7.0
RATE = 400.0
#: What the attacker makes first: namespaces (stats, listings), events (``since`` churn),
#: 1 KB entries in ``default`` (``/shared-memory``).
NAMESPACES, HISTORY, DEFAULT_ENTRIES = 2_000, 1_000, 2_000
#: The documented bound (docs/security.md): 300 MiB with the configured caches.
RSS_BOUND_MIB = float(os.environ.get("HIVEMEM_T16_RSS_MIB", attacks.RSS_BOUND_MIB))
#: The baseline p99 is floored here: 2 shared cores jitter by a few ms.
P99_FLOOR_MS = 5.0
#: The client's p99 under attack may be at most this many times its baseline (issue 15's
#: acceptance).
P99_FACTOR = 5.0


def _target(live: LiveServer) -> attacks.Target:
    r = httpx.post(
        live.url + "/v1/tokens",
        json={"agent": "alice", "role": "agent", "label": "t16 client"},
        headers={"Authorization": f"Bearer {live.admin}"},
        timeout=30,
    )
    r.raise_for_status()
    return attacks.Target(live.url, live.pid, live.admin, live.agent, r.json()["token"])


@pytest.mark.timeout(300)
def test_one_caller_cannot_stall_others(
    live_sqlite: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = _target(live_sqlite)
    started = time.monotonic()
    asyncio.run(attacks.setup(target, NAMESPACES, HISTORY, DEFAULT_ENTRIES))
    setup_seconds = time.monotonic() - started
    baseline, windows, half = attacks.run_attacks(
        target, list(attacks.ATTACKS), ATTACK_SECONDS, BASELINE_SECONDS, RATE, tmp_path
    )
    cfg = type("Cfg", (), {"store": "sqlite", "seconds": ATTACK_SECONDS, "rate": RATE})()
    table = attacks.markdown(cfg, baseline, windows, half)  # type: ignore[arg-type]
    table += f"\nSetup (namespaces, history, default entries): {setup_seconds:.1f} s.\n"
    with capsys.disabled():
        print("\n" + table)

    assert baseline.requests >= 2000 and baseline.failures == 0, (
        f"the baseline itself is not clean ({baseline.failure_summary()}): the machine is "
        f"too loaded to judge\n{table}"
    )
    floor = max(baseline.p99, P99_FLOOR_MS)
    problems: list[str] = []
    check: Callable[[bool, str], None] = lambda ok, what: None if ok else problems.append(what)  # noqa: E731
    slow = [w.name for w in windows if w.p99 > P99_FACTOR * floor]
    if slow:
        # Once more, against a baseline taken just before (the machine's load may have
        # changed since the first one): see the module's docstring.
        base2, again, _ = attacks.run_attacks(
            target, slow, ATTACK_SECONDS, BASELINE_SECONDS, RATE, tmp_path
        )
        floor2 = max(base2.p99, P99_FLOOR_MS)
        rerun = attacks.markdown(cfg, base2, again, half)  # type: ignore[arg-type]
        table += "\nMeasured again (p99 over the bound in the first window):\n" + rerun
        with capsys.disabled():
            print("\n" + rerun)
        check(base2.failures == 0, f"second baseline: {base2.failure_summary()} failures")
        for w in again:
            check(
                w.p99 <= P99_FACTOR * floor2,
                f"{w.name}: client p99 {w.p99:.1f} ms > {P99_FACTOR:g} x baseline "
                f"(first window: {P99_FACTOR:g} x {floor:.1f} ms, again: {floor2:.1f} ms)",
            )
            check(w.failures == 0, f"{w.name} (again): the client saw {w.failure_summary()}")
    for w in windows:
        check(w.failures == 0, f"{w.name}: the client saw {w.failure_summary()} failures")
        check(
            w.rss_peak <= RSS_BOUND_MIB * 2**20,
            f"{w.name}: server RSS peaked at {attacks.mib(w.rss_peak)} MiB "
            f"(bound {RSS_BOUND_MIB:g} MiB)",
        )
        check(w.tally.server_errors == 0, f"{w.name}: the attacker got 5xx ({w.tally.summary()})")
        check(w.tally.hangs == 0, f"{w.name}: {w.tally.hangs} attacker requests hung > 10 s")
        for note in w.tally.notes:
            problems.append(f"{w.name}: {note}")
    still, total, answers = half
    check(
        still == 0,
        f"half-bodies: {still} of {total} half-sent requests still open at the end "
        f"(answers {dict(answers)}): no body timeout",
    )
    assert not problems, "\n".join(problems) + "\n\n" + table
