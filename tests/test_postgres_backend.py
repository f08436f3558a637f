"""``postgresql://`` beyond the conformance suite: URLs, errors, stores sharing one schema."""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING

import pytest

import hivemem
from hivemem.engine import ops as o
from hivemem.errors import BackendUnavailable, InvalidArgument
from hivemem.testing.server import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    from hivemem.testing.postgres import PostgresServer

    with PostgresServer() as server:
        yield server.url


def test_missing_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without psycopg, a postgresql:// URL names the extra to install."""
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.delitem(sys.modules, "hivemem.backends.postgres", raising=False)
    with pytest.raises(InvalidArgument, match=r"pip install 'hivemem\[postgres\]'"):
        hivemem.connect("postgresql://u@127.0.0.1:1/db", embedder="none")


def test_unreachable_server_is_backend_unavailable() -> None:
    """Nobody listening on the port: BackendUnavailable (503), not a driver error."""
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(BackendUnavailable) as exc:
        hivemem.connect(url, embedder="none")
    assert exc.value.status == 503


def test_schema_must_be_an_identifier(pg_url: str) -> None:
    """?schema= takes a lowercase identifier only (it is spliced into DDL)."""
    with pytest.raises(InvalidArgument, match="schema"):
        hivemem.connect(f"{pg_url}?schema=a;drop", embedder="none")


def test_schemas_are_separate_stores(pg_url: str) -> None:
    """Two schemas of one database share nothing."""
    a = hivemem.connect(f"{pg_url}?schema=sep_a", agent="x", embedder="none")
    b = hivemem.connect(f"{pg_url}?schema=sep_b", agent="x", embedder="none")
    try:
        a.write("ns", "k", 1)
        b.write("ns", "k", 2)
        assert (a.read("ns", "k"), b.read("ns", "k")) == (1, 2)
        ea, eb = a.get_entry("ns", "k"), b.get_entry("ns", "k")
        assert ea is not None and eb is not None
        assert ea.version == eb.version == 1
    finally:
        a.close()
        b.close()


def test_notify_wakes_a_watcher_of_another_store(pg_url: str) -> None:
    """A write through one store wakes a watcher on another store of the same schema (another
    process or replica in a deployment) by LISTEN/NOTIFY: its poll is turned off (an hour),
    so only the notification can deliver the event before the watcher gives up."""
    url = f"{pg_url}?schema=notify"
    watching = hivemem.connect(url, agent="w", cleanup_interval=0, embedder="none")
    writing = hivemem.connect(url, agent="w", cleanup_interval=0, embedder="none")
    try:
        writing.write("ns", "k", 0)
        rev0 = writing.get_namespace("ns").revision
        backend = watching._b
        backend.poll_interval = 3600.0
        seen: list[hivemem.Event] = []
        started = threading.Event()

        def watch() -> None:
            stream = watching.watch("ns", since=rev0, timeout=120.0)
            started.set()
            for event in stream:
                seen.append(event)
                return

        thread = threading.Thread(target=watch)
        thread.start()
        assert started.wait(60)
        writing.write("ns", "k", 1)
        thread.join(120)
        assert not thread.is_alive()
        assert [(e.key, e.value, e.revision) for e in seen] == [("k", 1, rev0 + 1)]
    finally:
        watching.close()
        writing.close()


def test_sweep_lease_goes_to_one_store_at_a_time(pg_url: str) -> None:
    """Stores sharing a schema (replicas) get a background job's lease one at a time."""
    url = f"{pg_url}?schema=lease"
    a = hivemem.connect(url, cleanup_interval=0, embedder="none")
    b = hivemem.connect(url, cleanup_interval=0, embedder="none")
    try:
        ba = a._b
        bb = b._b
        assert ba.sweep_lease(60.0) is True
        assert bb.sweep_lease(60.0) is False
        assert ba.sweep_lease(60.0) is True  # the holder renews
        assert bb.sweep_lease(60.0, "decay") is True  # another job, another lease
    finally:
        a.close()
        b.close()


def test_server_restart_is_unavailable_then_recovers() -> None:
    """While PostgreSQL is down, ops fail with BackendUnavailable (503), not a driver error;
    once it is back the same store serves again by itself, with every acknowledged write."""
    from hivemem.testing.postgres import PostgresServer

    with PostgresServer() as server:
        mem = hivemem.connect(server.url, agent="a", cleanup_interval=0, embedder="none")
        try:
            mem.write("ns", "k", 1)
            server.kill()
            with pytest.raises(BackendUnavailable) as exc:
                mem.write("ns", "k", 2)
            assert exc.value.status == 503
            with pytest.raises(BackendUnavailable):
                mem.read("ns", "k")
            server.start()
            deadline = time.monotonic() + 120
            while True:
                try:
                    entry = mem.write("ns", "k", 3)
                    break
                except BackendUnavailable:
                    assert time.monotonic() < deadline, "the store never recovered"
                    time.sleep(0.2)
            assert (entry.value, entry.version) == (3, 2)
            assert mem.read("ns", "k") == 3
        finally:
            mem.close()


def test_group_commit_refuses_one_op_and_keeps_the_others(pg_url: str) -> None:
    """16 threads write one namespace at once, every fifth write a compare-and-set that must
    fail: writes share transactions (fewer groups than writes), each refused op undoes only
    its own writes, and the namespace's revisions stay gap-free: every acknowledged write is
    there, no refused one is, and the events are exactly 1..R."""
    url = f"{pg_url}?schema=groups"
    mem = hivemem.connect(url, agent="a", cleanup_interval=0, embedder="none")
    try:
        mem.create_namespace("g")
        acked: dict[str, int] = {}
        refused: list[str] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def writer(t: int) -> None:
            try:
                for i in range(60):
                    key = f"t{t:02d}-{i:03d}"
                    if i % 5 == 4:  # a CAS on a key that does not exist: refused
                        try:
                            mem.write("g", key, i, expected_version=7)
                        except hivemem.ConflictError:
                            with lock:
                                refused.append(key)
                        continue
                    mem.write("g", key, i)
                    with lock:
                        acked[key] = i
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(16)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120)
        assert not errors, errors[:3]
        group = mem._b._group
        assert group.groups < group.ops, (group.groups, group.ops)  # writes shared commits
        assert len(acked) == 16 * 48 and len(refused) == 16 * 12
        assert mem.read_many("g", list(acked)) == acked
        assert mem.read_many("g", refused) == {}
        final = mem.get_namespace("g").revision
        events = mem._b.execute(o.EventsAfter(agent="a", ns="g", since=0, limit=10_000)).unwrap()
        revisions = [e.revision for e in events if e.type == "memory:write"]
        assert [e.revision for e in events] == list(range(events[0].revision, final + 1))
        assert len(revisions) == len(acked)
    finally:
        mem.close()


def test_a_version_1_schema_gets_indexed_event_keys_on_open(pg_url: str) -> None:
    """Events written before schema 2 (no ``k`` column) are keyed on open, so the history of
    a key written then is read from the index like a new one."""
    import psycopg

    url = f"{pg_url}?schema=hist_v1"
    mem = hivemem.connect(url, agent="x", embedder="none")
    try:
        for i in range(3):
            mem.write("ns", "k", i)
        mem.delete("ns", "k")
        mem.clear_namespace("ns")
    finally:
        mem.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:  # back to what version 1 wrote
        conn.execute("DROP INDEX hist_v1.events_key")
        conn.execute("ALTER TABLE hist_v1.events DROP COLUMN k")
        conn.execute("UPDATE hist_v1.meta SET v = '1' WHERE k = 'schema_version'")
    mem = hivemem.connect(url, agent="x", embedder="none")
    try:
        got = [(v.value, v.version, v.deleted) for v in mem.history("ns", "k")]
        assert got == [(None, 3, True), (2, 3, False), (1, 2, False), (0, 1, False)]
        with psycopg.connect(pg_url, autocommit=True) as conn:
            row = conn.execute("SELECT v FROM hist_v1.meta WHERE k = 'schema_version'")
            assert row.fetchone() == ("2",)
    finally:
        mem.close()
