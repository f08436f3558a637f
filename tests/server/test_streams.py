"""RELIABILITY T08 through real server processes: event streams survive cuts and restarts.

A watcher (``watch(ns, since=0)``: sync in a thread, and the asyncio twin) and a subscriber
follow a namespace through a :class:`~_proxy.Proxy` while a writer, talking to the server
directly, writes N entries; mid-way the proxy cuts the watcher's connection and the server
process is stopped (SIGTERM, and SIGKILL) and started again on the same port and SQLite
file. Each must end with every revision of the namespace exactly once, in order: the exact
list ``1..R`` (``R`` = the revision of the last write). A ``since`` older than the retained
events answers 410 ``revision_compacted`` over raw HTTP and raises ``RevisionCompacted`` in
the client, also when a watcher that was cut off comes back after the history moved on.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from _procs import ServerProcess, raw_client, wait_until
from _proxy import Proxy

import hivemem
from hivemem.remote.backend import RemoteBackend

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from hivemem.types import Event

NS = "ev"
N = 500
DONE = "done"


def _write(mem: hivemem.Memory, key: str, value: Any) -> hivemem.Entry:
    """Write, retrying while the server is unreachable (a restart just finished)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return mem.write(NS, key, value)
        except hivemem.BackendUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _cut_when_live(proxy: Proxy, seen: list[int], revision: int) -> None:
    """Wait until the watcher has every revision up to ``revision`` (so its stream is live,
    open through the proxy), then cut its connection."""
    wait_until(lambda: bool(seen) and seen[-1] >= revision, 30, f"the watcher at {revision}")
    assert proxy.cut() >= 1


def _run_writer(
    writer: hivemem.Memory, server: ServerProcess, proxy: Proxy, seen: list[int], n: int = N
) -> int:
    """Write ``n`` entries and a final ``done`` key, disrupting the watcher on the way.

    Returns the revision of the ``done`` write (the namespace's last revision).
    """
    last = writer.get_namespace(NS).revision
    plan: dict[int, Callable[[], None]] = {
        n // 5: lambda: _cut_when_live(proxy, seen, last),
        2 * n // 5: lambda: server.restart(crash=False),  # SIGTERM, start again
        3 * n // 5: lambda: _cut_when_live(proxy, seen, last),
        4 * n // 5: lambda: server.restart(crash=True),  # SIGKILL, start again
    }
    for i in range(n):
        if i in plan:
            plan[i]()
        last = _write(writer, f"k{i:04d}", i).revision
    return _write(writer, DONE, True).revision


def _check(revisions: list[int], final: int) -> None:
    assert revisions == list(range(1, final + 1)), (
        f"{len(revisions)} events for {final} revisions; "
        f"duplicates: {len(revisions) - len(set(revisions))}, "
        f"missing: {sorted(set(range(1, final + 1)) - set(revisions))[:20]}"
    )


def _authoritative(base: str) -> list[int]:
    """The namespace's change log, read by a fresh watcher without any disruption."""
    with hivemem.connect(base, agent="auditor") as mem:
        out = []
        for event in mem.watch(NS, since=0, timeout=2):
            out.append(event.revision)
            if event.key == DONE:
                break
        return out


def test_watch_resumes_after_cut_and_restarts(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "ev.db") as server, Proxy(server.port) as proxy:
        writer = hivemem.connect(server.base, agent="writer")
        watcher = hivemem.connect(proxy.base, agent="watcher", timeout=5)
        seen: list[int] = []
        errors: list[BaseException] = []

        def watch() -> None:
            try:
                for event in watcher.watch(NS, since=0):
                    seen.append(event.revision)
                    if event.key == DONE:
                        return
            except BaseException as exc:  # reported by the test thread
                errors.append(exc)

        try:
            writer.create_namespace(NS)
            thread = threading.Thread(target=watch, name="watcher", daemon=True)
            thread.start()
            final = _run_writer(writer, server, proxy, seen)
            thread.join(timeout=60)
            assert not thread.is_alive(), f"the watcher stopped at {seen[-1:]} of {final}"
            assert not errors, errors
            _check(seen, final)
            assert proxy.cuts >= 2
            _check(_authoritative(server.base), final)
        finally:
            watcher.close()
            writer.close()


async def test_async_watch_resumes_after_cut_and_restarts(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "ev.db") as server, Proxy(server.port) as proxy:
        writer = hivemem.connect(server.base, agent="writer")
        watcher = hivemem.connect_async(proxy.base, agent="watcher", timeout=5)
        seen: list[int] = []

        async def watch() -> None:
            async for event in await watcher.watch(NS, since=0):
                seen.append(event.revision)
                if event.key == DONE:
                    return

        try:
            writer.create_namespace(NS)
            task = asyncio.create_task(watch())
            final = await asyncio.to_thread(_run_writer, writer, server, proxy, seen)
            await asyncio.wait_for(task, 60)
            _check(seen, final)
            assert proxy.cuts >= 2
        finally:
            await watcher.aclose()
            writer.close()


def test_watch_notices_a_silent_connection_and_resumes(tmp_path: Path) -> None:
    """A half-open connection (open, but nothing arrives) is noticed by the missing
    heartbeats (read timeout = heartbeat + timeout); the watcher reconnects and resumes."""
    with ServerProcess(tmp_path / "ev.db") as server, Proxy(server.port) as proxy:
        writer = hivemem.connect(server.base, agent="writer")
        watcher = hivemem.connect(proxy.base, agent="watcher", timeout=1.0)
        backend = watcher._b
        assert isinstance(backend, RemoteBackend)
        backend.heartbeat = 0.2  # not a connect() option: ask the server to ping often
        seen: list[int] = []

        def watch() -> None:
            for event in watcher.watch(NS, since=0):
                seen.append(event.revision)
                if event.key == DONE:
                    return

        try:
            writer.create_namespace(NS)
            thread = threading.Thread(target=watch, name="watcher", daemon=True)
            thread.start()
            last = 0
            for i in range(50):
                last = writer.write(NS, f"a{i}", i).revision
            wait_until(lambda: bool(seen) and seen[-1] == last, 10, "the watcher")
            assert proxy.stall() >= 1
            for i in range(50):
                writer.write(NS, f"b{i}", i)  # sent into the silent connection: lost there
            final = writer.write(NS, DONE, True).revision
            thread.join(timeout=30)
            assert not thread.is_alive(), f"the watcher stopped at {seen[-1:]} of {final}"
            _check(seen, final)
        finally:
            watcher.close()
            writer.close()


def test_subscription_survives_restart(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "ev.db") as server, Proxy(server.port) as proxy:
        writer = hivemem.connect(server.base, agent="writer")
        reader = hivemem.connect(proxy.base, agent="reader", timeout=5)
        got: list[int] = []
        done = threading.Event()

        def on_event(event: Event) -> None:
            got.append(event.revision)
            if event.key == DONE:
                done.set()

        try:
            writer.create_namespace(NS)
            sub = reader.subscribe(NS, on_event)
            start = sub.last_revision
            final = _run_writer(writer, server, proxy, got, n=200)
            assert done.wait(60), f"the subscriber stopped at {got[-1:]} of {final}"
            sub.unsubscribe()
            assert sub.error is None
            assert got == list(range(start + 1, final + 1))
        finally:
            reader.close()
            writer.close()


def test_compacted_since_is_refused(tmp_path: Path) -> None:
    retention = 20
    with ServerProcess(tmp_path / "ev.db", event_retention=retention) as server:
        with hivemem.connect(server.base, agent="writer") as writer:
            writer.create_namespace(NS)
            for i in range(3 * retention):
                writer.write(NS, f"k{i}", i)
            current = writer.get_namespace(NS).revision
            with pytest.raises(hivemem.RevisionCompacted) as caught:
                writer.watch(NS, since=1)
            oldest = caught.value.oldest_available
            assert 1 < oldest <= current - retention + 1
            # The oldest retained revision still resumes (nothing in between is skipped).
            resumed = [e.revision for e in writer.watch(NS, since=oldest, timeout=0.5)]
            assert resumed == list(range(oldest + 1, current + 1))

        path = f"/v1/namespaces/{NS}/events"
        stream = {"X-Agent-Id": "reader", "Accept": "text/event-stream"}
        with raw_client(server.base) as http:
            answers = [
                http.get(path, params={"since": 1}, headers=stream),
                http.get(path, headers={**stream, "Last-Event-ID": "1"}),
                http.get(
                    path,
                    params={"since": 1},
                    headers={"X-Agent-Id": "reader", "Accept": "application/json"},
                ),
            ]
        for resp in answers:
            assert resp.status_code == 410, resp.text
            error = resp.json()["error"]
            assert error["code"] == "revision_compacted"
            assert error["oldest_available"] == oldest


def test_watcher_cut_off_past_retention_gets_revision_compacted(tmp_path: Path) -> None:
    """A watcher whose connection is down while the history moves past its last revision
    must fail loudly on reconnect, never skip silently."""
    retention = 20
    with (
        ServerProcess(tmp_path / "ev.db", event_retention=retention) as server,
        Proxy(server.port) as proxy,
    ):
        writer = hivemem.connect(server.base, agent="writer")
        watcher = hivemem.connect(proxy.base, agent="watcher", timeout=5)
        seen: list[int] = []
        errors: list[BaseException] = []

        def watch() -> None:
            try:
                for event in watcher.watch(NS, since=0):
                    seen.append(event.revision)
            except BaseException as exc:
                errors.append(exc)

        try:
            writer.create_namespace(NS)
            thread = threading.Thread(target=watch, name="watcher", daemon=True)
            thread.start()
            last = writer.write(NS, "a", 1).revision
            wait_until(lambda: bool(seen) and seen[-1] == last, 10, "the watcher")
            proxy.block()
            for i in range(2 * retention):
                writer.write(NS, f"k{i}", i)
            proxy.unblock()
            thread.join(timeout=30)
            assert not thread.is_alive(), "the watcher neither resumed nor failed"
            assert seen == list(range(1, last + 1))
            assert len(errors) == 1 and isinstance(errors[0], hivemem.RevisionCompacted), errors
            assert errors[0].oldest_available > last
        finally:
            watcher.close()
            writer.close()
