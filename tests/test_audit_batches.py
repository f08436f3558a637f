"""Audit records written in batches (multi-row INSERTs) read back exactly as recorded."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import hivemem

if TYPE_CHECKING:
    from pathlib import Path


def test_buffered_read_audits_round_trip_exactly(tmp_path: Path) -> None:
    """Timestamps to the last bit, Unicode, absent fields and refusals survive a flush."""
    handed: set[float] = set()
    times = iter([1_700_000_000.123456789 + i * math.pi * 1e-7 for i in range(10_000)])

    def clock() -> float:
        t = next(times)
        handed.add(t)
        return t

    mem = hivemem.connect(f"sqlite:///{tmp_path / 'a.db'}", cleanup_interval=0, clock=clock)
    try:
        mem.create_namespace("n", default_permission="read", permissions={"w": "write"})
        keys = ["plain", "ключ", "emoji-😀", 'quo"te\\back', "x" * 500]
        for key in keys:
            mem.write("n", key, 1, agent="w")
        expected = []
        for key in keys * 3:
            before = len(expected)
            mem.read("n", key, agent="reader")  # buffered: flushed in one batch
            expected.append(("reader", key, "read", True))
            assert len(expected) == before + 1
        try:
            mem.write("n", "nope", 1, agent="reader")
        except hivemem.PermissionDenied:
            expected.append(("reader", "nope", "write", False))
        got = [
            (e.agent_id, e.key, e.action, e.success)
            for e in mem.access_log(agent_id="reader", namespace="n", limit=1000)
        ]
        assert sorted(got) == sorted(expected)
        stamps = [e.timestamp for e in mem.access_log(agent_id="reader", limit=1000)]
        assert stamps and all(t in handed for t in stamps)  # bit for bit, no rounding
        refused = [e for e in mem.access_log(agent_id="reader", limit=1000) if not e.success]
        assert refused and refused[0].error
    finally:
        mem.close()


def test_a_large_buffered_batch_is_written_whole_and_in_order(tmp_path: Path) -> None:
    """A flush bigger than one multi-row INSERT (chunks of 128, 128, 32, 8, 4, 1) loses,
    duplicates and reorders nothing."""
    mem = hivemem.connect(f"sqlite:///{tmp_path / 'a.db'}", cleanup_interval=0)
    try:
        mem.create_namespace("n", default_permission="read")
        keys = [f"k{i:03d}" for i in range(301)]
        for key in keys:
            mem.read("n", key, agent="reader")
        log = mem.access_log(agent_id="reader", limit=1000)
        assert sorted((e.key for e in log), key=str) == keys
        stamps = [e.timestamp for e in sorted(log, key=lambda e: e.key or "")]
        assert stamps == sorted(stamps)  # inserted in the order they were recorded
    finally:
        mem.close()


def test_the_log_bound_holds_exactly_while_rows_are_trimmed_in_steps(tmp_path: Path) -> None:
    """With max_log_size=64 the oldest rows go 4 at a time, yet the log is always the
    newest 64 records: the table holds a few more in between, queries never show them."""
    import sqlite3

    db = tmp_path / "a.db"
    mem = hivemem.connect(f"sqlite:///{db}", cleanup_interval=0, max_log_size=64, log_reads=False)
    try:
        mem.create_namespace("n")
        for i in range(1, 131):
            mem.write("n", f"k{i}", i)
            log = mem.access_log(namespace="n", limit=1000)
            # ids: 1 creating "default", 2 creating "n", j + 2 writing k<j>; the newest 64
            # have ids above i + 2 - 64.
            expected = [f"k{j}" for j in range(i, max(0, i - 64), -1)]
            assert [e.key for e in log if e.action == "write"] == expected
            assert len(log) == len(expected) + (i < 64)  # and creating "n" while it is kept
            assert mem.stats()["total_access_logs"] == min(i + 2, 64)  # and "default"
            with sqlite3.connect(db) as raw:
                rows = raw.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
            assert min(i + 2, 64) <= rows <= 64 + 3
    finally:
        mem.close()


def _write_many(url: str, worker: int) -> None:
    mem = hivemem.connect(url, cleanup_interval=0, max_log_size=64, log_reads=False)
    try:
        for i in range(50):
            mem.write("n", f"w{worker}-{i}", i)
    finally:
        mem.close()


def test_the_log_bound_holds_with_processes_trimming_concurrently(tmp_path: Path) -> None:
    """4 processes write into one file, each trimming the shared log in steps: afterwards
    the log is exactly the newest 64 records and the table holds at most a step more."""
    import multiprocessing
    import sqlite3

    db = tmp_path / "a.db"
    url = f"sqlite:///{db}"
    mem = hivemem.connect(url, cleanup_interval=0, max_log_size=64, log_reads=False)
    try:
        mem.create_namespace("n")
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_write_many, args=(url, w)) for w in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
            assert p.exitcode == 0
        with sqlite3.connect(db) as raw:
            ids = [r[0] for r in raw.execute("SELECT id FROM audit ORDER BY id")]
            newest = {r[0] for r in raw.execute("SELECT key FROM audit ORDER BY id DESC LIMIT 64")}
        assert ids == list(range(ids[0], ids[0] + len(ids)))  # contiguous, oldest dropped
        # "default" (checked by every opening), "n", then every write once.
        assert ids[-1] == 1 + 5 + 200
        assert 64 <= len(ids) <= 64 + 3
        log = mem.access_log(limit=1000)
        assert len(log) == 64 and mem.stats()["total_access_logs"] == 64
        assert {e.key for e in log} == newest
    finally:
        mem.close()
