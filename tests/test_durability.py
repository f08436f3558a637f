"""RELIABILITY T03 at storage level: ``kill -9`` of a writing process loses nothing acknowledged.

A child process (``sys.executable`` running :data:`CHILD`) opens a SQLite store and writes in a
loop, printing a line on stdout only after ``write()`` returned: that line is the
acknowledgement. The parent ``SIGKILL``s it after a random 0.2-1.0 s, reopens the store and
checks:

- every acknowledged key is present with its exact value, version and revision;
- at most the write in flight when the process died (one per writer thread) was applied
  without an acknowledgement, and unique keys are stored as a gap-free prefix;
- CAS rounds (4 writer threads): acknowledged <= final - before <= acknowledged + 4;
- ``PRAGMA integrity_check`` is ``ok``;
- the namespace revision never goes backwards across rounds, and the change log is gap-free
  and agrees with the data (every stored write has its event, every event its write).

Process death leaves the OS page cache intact, so ``durability="normal"`` must lose nothing
here either (SQLite: durable across application crashes for every ``synchronous`` setting).
What ``normal`` may lose on power loss is T04's business, not this test's.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import hivemem

CHILD = r"""
import sys
import threading

import hivemem

path, durability, mode, rnd = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
mem = hivemem.connect("sqlite:///" + path, agent=f"child{rnd}", durability=durability,
                      cleanup_interval=0, event_retention=10_000_000)
out = threading.Lock()


def say(line):
    # The acknowledgement: written and flushed only after write() returned.
    with out:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


if mode == "unique":
    say("READY")
    i = 0
    while True:
        key = f"r{rnd}-{i:07d}"
        entry = mem.write("dur", key, {"round": rnd, "i": i, "pad": "x" * 200})
        say(f"ACK {key} {entry.version} {entry.revision}")
        i += 1
else:
    def worker(t):
        while True:
            entry = mem.get_entry("ctr", "n")
            try:
                done = mem.write("ctr", "n", entry.value + 1, expected_version=entry.version)
            except hivemem.ConflictError:
                continue
            say(f"INC {t} {done.version} {done.revision}")

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(4)]
    say("READY")
    for t in threads:
        t.start()
    for t in threads:
        t.join()
"""

CAS_THREADS = 4


class Child:
    """A writer subprocess whose stdout is drained continuously by a reader thread."""

    def __init__(
        self, script: Path, db: Path, durability: str, mode: str, rnd: int, stderr_path: Path
    ) -> None:
        env = dict(os.environ)
        root = str(Path(hivemem.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.stderr_path = stderr_path
        self._stderr = stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(db), durability, mode, str(rnd)],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.partial = b""
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._drain, name="child-stdout", daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        buf = b""
        while True:
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                break
            buf += chunk
            *complete, buf = buf.split(b"\n")
            for raw in complete:
                line = raw.decode()
                if line == "READY":
                    self.ready.set()
                else:
                    self.lines.append(line)
        self.partial = buf  # a line cut by the kill was never acknowledged
        self.ready.set()

    def kill(self) -> int:
        """SIGKILL the child, wait for it and for the end of its output; return its status."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        status = self.proc.wait(30)
        self._reader.join(30)
        assert not self._reader.is_alive()
        self._stderr.close()
        self.proc.stdout.close()  # type: ignore[union-attr]
        return status

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-3000:]


def integrity_ok(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def run_round(
    tmp_path: Path, db: Path, durability: str, mode: str, rnd: int, rng: random.Random
) -> tuple[Child, float]:
    script = tmp_path / "writer.py"
    if not script.exists():
        script.write_text(CHILD)
    child = Child(script, db, durability, mode, rnd, tmp_path / f"stderr-{rnd}.txt")
    try:
        assert child.ready.wait(60), f"round {rnd}: the child never got ready\n{child.stderr()}"
        assert child.proc.poll() is None, f"round {rnd}: the child died\n{child.stderr()}"
        delay = rng.uniform(0.2, 1.0)
        time.sleep(delay)
    finally:
        status = child.kill()
    assert status == -signal.SIGKILL, (
        f"round {rnd}: the child ended by itself with status {status} before the kill\n"
        f"{child.stderr()}"
    )
    return child, delay


def check_unique_round(
    mem: hivemem.Memory, child: Child, rnd: int, prev_rev: int
) -> tuple[int, int]:
    """Check a round of unique-key writes; return (acknowledged, applied-without-ack)."""
    acks = [line.split() for line in child.lines]
    assert acks, f"round {rnd}: no write was acknowledged\n{child.stderr()}"
    assert all(a[0] == "ACK" for a in acks)
    stored = mem.get_all("dur", prefix=f"r{rnd}-")
    lost = [key for _, key, _, _ in acks if key not in stored]
    assert not lost, f"round {rnd}: {len(lost)} of {len(acks)} acknowledged writes lost: {lost[:5]}"
    for _, key, version, revision in acks:
        i = int(key.split("-")[1])
        entry = mem.get_entry("dur", key)
        assert entry is not None
        assert entry.value == {"round": rnd, "i": i, "pad": "x" * 200}
        assert entry.version == int(version) == 1
        assert entry.revision == int(revision)
    # One sequential writer: what is stored is a gap-free prefix 0..n-1, n in [acked, acked+1].
    n = len(stored)
    assert sorted(stored) == [f"r{rnd}-{i:07d}" for i in range(n)]
    assert len(acks) <= n <= len(acks) + 1, f"round {rnd}: {n} stored, {len(acks)} acked"
    revisions = [int(a[3]) for a in acks]
    assert revisions == sorted(revisions)
    assert revisions[0] > prev_rev
    return len(acks), n - len(acks)


def check_cas_round(
    mem: hivemem.Memory, child: Child, rnd: int, before: hivemem.Entry
) -> tuple[int, int]:
    """Check a round of CAS increments; return (acknowledged, applied-without-ack)."""
    incs = [line.split() for line in child.lines]
    assert incs, f"round {rnd}: no increment was acknowledged\n{child.stderr()}"
    assert all(i[0] == "INC" for i in incs)
    acked = len(incs)
    after = mem.get_entry("ctr", "n")
    assert after is not None
    gained = after.value - before.value
    assert acked <= gained <= acked + CAS_THREADS, (
        f"round {rnd}: {acked} increments acknowledged, the counter moved by {gained}"
    )
    assert after.version - before.version == gained  # one version per increment
    assert after.value == after.version - 1  # created at version 1 holding 0
    versions = sorted(int(i[2]) for i in incs)
    assert len(set(versions)) == acked, f"round {rnd}: two increments acked one version"
    assert versions[0] > before.version
    assert versions[-1] <= after.version
    return acked, gained - acked


def check_change_log(mem: hivemem.Memory, ns: str, prev_rev: int) -> int:
    """The events after ``prev_rev`` are gap-free, end at the namespace revision, and each
    write event matches the stored entry it produced (or a later version of it)."""
    revision = mem.get_namespace(ns).revision
    events = list(mem.watch(ns, since=prev_rev, timeout=0))
    assert [e.revision for e in events] == list(range(prev_rev + 1, revision + 1)), (
        f"namespace {ns!r}: change log after {prev_rev} is not gap-free up to {revision}"
    )
    for event in events:
        assert event.type == "memory:write"
        entry = mem.get_entry(ns, event.key)  # type: ignore[arg-type]
        assert entry is not None, f"event {event.revision} wrote {event.key!r}, which is gone"
        assert entry.revision >= event.revision
        if entry.revision == event.revision:
            assert (entry.value, entry.version) == (event.value, event.version)
    return revision


@pytest.mark.parametrize(
    ("durability", "plan"),
    [
        pytest.param("full", ["unique"] * 4 + ["cas"] + ["unique"] * 4 + ["cas"], id="full"),
        pytest.param("normal", ["unique", "cas", "unique", "unique"], id="normal"),
    ],
)
def test_kill9_loses_no_acknowledged_write(
    tmp_path: Path, durability: str, plan: list[str]
) -> None:
    """SIGKILL a writer at a random moment, round after round, on one SQLite file: every
    acknowledged write survives, the database stays intact, revisions never go backwards."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    db = tmp_path / "d.db"
    url = f"sqlite:///{db}"  # sqlite:/// + /abs/path = four slashes

    with hivemem.connect(url, agent="setup", durability=durability, cleanup_interval=0) as mem:
        mem.write("ctr", "n", 0)
        mem.create_namespace("dur")
        last_rev = {ns: mem.get_namespace(ns).revision for ns in ("dur", "ctr")}

    report: list[dict[str, Any]] = []
    for rnd, mode in enumerate(plan):
        with hivemem.connect(url, agent="check", durability=durability, cleanup_interval=0) as mem:
            before = mem.get_entry("ctr", "n")
            assert before is not None

        child, delay = run_round(tmp_path, db, durability, mode, rnd, rng)
        context = f"seed {seed}, round {rnd} ({mode}, killed after {delay:.2f} s)"

        assert integrity_ok(db) == "ok", context
        with hivemem.connect(url, agent="check", durability=durability, cleanup_interval=0) as mem:
            if mode == "unique":
                acked, extra = check_unique_round(mem, child, rnd, last_rev["dur"])
            else:
                acked, extra = check_cas_round(mem, child, rnd, before)
            for ns in ("dur", "ctr"):
                revision = mem.get_namespace(ns).revision
                assert revision >= last_rev[ns], (
                    f"{context}: revision of {ns!r} went back from {last_rev[ns]} to {revision}"
                )
                last_rev[ns] = check_change_log(mem, ns, last_rev[ns])
        assert integrity_ok(db) == "ok", context
        report.append(
            {
                "round": rnd,
                "mode": mode,
                "acked": acked,
                "unacked_applied": extra,
                "killed_after_s": round(delay, 2),
            }
        )

    # The acknowledged totals add up across rounds.
    with hivemem.connect(url, agent="check", durability=durability, cleanup_interval=0) as mem:
        cas_acked = sum(r["acked"] for r in report if r["mode"] == "cas")
        cas_extra = sum(r["unacked_applied"] for r in report if r["mode"] == "cas")
        final = mem.get_entry("ctr", "n")
        assert final is not None
        assert final.value == cas_acked + cas_extra
        unique_total = sum(
            r["acked"] + r["unacked_applied"] for r in report if r["mode"] == "unique"
        )
        assert len(mem.get_keys("dur")) == unique_total
    print(f"\nT03 {durability} (seed {seed}):", *report, sep="\n  ")
