"""The SQLite file's schema: events keyed by namespace id and revision (schema 2), files of
schema 1 migrated on open, newer files refused, namespace ids unique across processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
from typing import TYPE_CHECKING, Any

import pytest

import hivemem
from hivemem.backends.sqlite import REV_BITS, REV_MASK, SCHEMA_VERSION
from hivemem.engine import ops as o
from hivemem.errors import BackendUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

#: The schema 1 layout of the tables that changed (events keyed by ``(ns, revision)``).
V1_EVENTS = (
    "CREATE TABLE events (ns TEXT NOT NULL, revision INTEGER NOT NULL, data TEXT NOT NULL, "
    "PRIMARY KEY (ns, revision)) WITHOUT ROWID"
)


def _events(mem: hivemem.Memory, ns: str, since: int = 0) -> list[hivemem.Event]:
    return mem._c.backend.execute(o.EventsAfter(agent="a", ns=ns, since=since)).unwrap()


def _to_v1(path: Path) -> None:
    """Rewrite a schema 2 file in the schema 1 layout (what an older hivemem wrote)."""
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("BEGIN")
    rows = c.execute(
        "SELECT n.name, e.id, e.data FROM events e JOIN ns_ids n ON n.id = e.id >> ?",
        (REV_BITS,),
    ).fetchall()
    c.execute("DROP TABLE events")
    c.execute("DROP TABLE ns_ids")
    c.execute(V1_EVENTS)
    c.executemany(
        "INSERT INTO events VALUES (?, ?, ?)", [(ns, i & REV_MASK, d) for ns, i, d in rows]
    )
    c.execute("UPDATE meta SET v = '1' WHERE k = 'schema_version'")
    c.execute("COMMIT")
    c.close()


def test_a_schema_1_file_is_migrated_on_open(tmp_path: Path) -> None:
    """Rule: a file an older hivemem wrote opens with its events, revisions and entries."""
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    mem = hivemem.connect(url, agent="a", cleanup_interval=0)
    mem.create_namespace("team")
    mem.create_namespace("other")
    for i in range(5):
        mem.write("team", f"k{i}", {"i": i})
        mem.write("other", "x", i)
    mem.delete("team", "k0")
    before = {ns: _events(mem, ns) for ns in ("team", "other", "default")}
    mem.close()
    _to_v1(path)

    mem = hivemem.connect(url, agent="a", cleanup_interval=0)
    try:
        after = {ns: _events(mem, ns) for ns in ("team", "other", "default")}
        assert after == before
        assert [e.revision for e in after["team"]] == list(range(1, 8))
        assert mem.get_namespace("team").revision == 7
        assert mem.write("team", "k9", 9).revision == 8  # revisions go on from the old ones
        assert mem.write("other", "x", 9).version == 6
        assert mem.read("team", "k3") == {"i": 3}
        assert [e.revision for e in _events(mem, "team", since=6)] == [7, 8]
        # schema 3: the migrated events are indexed by key (history reads them)
        assert [v.version for v in mem.history("other", "x")] == [6, 5, 4, 3, 2, 1]
        assert mem.history("team", "k0")[0].deleted
    finally:
        mem.close()
    c = sqlite3.connect(path)
    assert c.execute("SELECT v FROM meta WHERE k = 'schema_version'").fetchone() == ("3",)
    tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "events_v1" not in tables
    c.close()


def test_a_file_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    """Rule: a file written by a newer hivemem is refused with a clear error, unchanged."""
    path = tmp_path / "new.db"
    hivemem.connect(f"sqlite:///{path}", cleanup_interval=0).close()
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("UPDATE meta SET v = ? WHERE k = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    c.close()
    with pytest.raises(BackendUnavailable, match="newer hivemem"):
        hivemem.connect(f"sqlite:///{path}", cleanup_interval=0)
    c = sqlite3.connect(path)
    assert c.execute("SELECT v FROM meta WHERE k = 'schema_version'").fetchone() == (
        str(SCHEMA_VERSION + 1),
    )
    c.close()


def run_spawned(target: Callable[..., None], args: list[tuple[Any, ...]]) -> None:
    """Run ``target`` in one spawned process per argument tuple, at once; all must succeed."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=target, args=a) for a in args]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0


def _namespaces_worker(url: str, worker: int, count: int, writes: int) -> None:
    mem = hivemem.connect(url, agent="a", cleanup_interval=0, auto_create_namespaces=True)
    try:
        for n in range(count):
            for i in range(writes):  # the first write creates the namespace (and its id)
                mem.write(f"w{worker}-{n}", "k", {"worker": worker, "n": n, "i": i})
    finally:
        mem.close()


def test_namespace_ids_stay_unique_across_processes(tmp_path: Path) -> None:
    """Rule: processes creating namespaces at once on one file never share a namespace id:
    every namespace's events are its own, gap-free from 1."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    hivemem.connect(url, cleanup_interval=0).close()
    workers, count, writes = 4, 25, 3
    run_spawned(_namespaces_worker, [(url, w, count, writes) for w in range(workers)])
    mem = hivemem.connect(url, agent="a", cleanup_interval=0)
    try:
        for w in range(workers):
            for n in range(count):
                events = _events(mem, f"w{w}-{n}")
                assert [e.revision for e in events] == list(range(1, writes + 2))
                assert events[0].type == "namespace:created"
                values: list[Any] = [e.value for e in events[1:]]
                assert values == [{"worker": w, "n": n, "i": i} for i in range(writes)]
    finally:
        mem.close()
    c = sqlite3.connect(tmp_path / "shared.db")
    ids = [r[0] for r in c.execute("SELECT id FROM ns_ids ORDER BY id")]
    c.close()
    assert len(ids) == workers * count + 1  # and "default"
    assert ids == list(range(1, len(ids) + 1))
