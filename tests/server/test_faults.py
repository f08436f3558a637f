"""Faults between the remote client and a real server process (issue 3, acceptance 4).

- With the server stopped, calls fail with ``BackendUnavailable``; after the breaker's
  threshold they fail fast with ``CircuitOpen`` (a call in the open state returns well under
  the request timeout: checked against a paused server, whose requests would hang until
  the timeout); when the server is back they succeed again by themselves.
- A mutation whose answer was lost (the proxy forwards the request, lets the server apply
  it, swallows the answer and drops the connection) is retried by the client with the same
  ``Idempotency-Key`` and applied once: write, CAS write, write_many, broadcast and delete
  each move the namespace revision exactly once.

The breaker's threshold and reset time are not ``connect()`` options: the tests set them on
the client's :class:`~hivemem.remote.breaker.CircuitBreaker` (``mem._b.breaker``) to keep the
run short.
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import TYPE_CHECKING, Any

import pytest
from _procs import ServerProcess, wait_until
from _proxy import Proxy

import hivemem

if TYPE_CHECKING:
    from pathlib import Path

NS = "faults"
THRESHOLD = 3
RESET = 0.5


def _tune_breaker(mem: Any) -> None:
    breaker = mem._b.breaker
    breaker.threshold = THRESHOLD
    breaker.reset_timeout = RESET


def _fail_until_open(call: Any) -> list[BaseException]:
    """Call until the breaker answers ``CircuitOpen``; return every error seen on the way."""
    seen: list[BaseException] = []
    for _ in range(THRESHOLD + 1):
        try:
            call()
        except hivemem.BackendUnavailable as exc:
            seen.append(exc)
            if isinstance(exc, hivemem.CircuitOpen):
                return seen
        else:
            raise AssertionError("a call succeeded while the server was down")
    raise AssertionError(f"no CircuitOpen after {len(seen)} failed calls: {seen}")


def _recovers(call: Any, timeout: float = 15.0) -> Any:
    """Call until it succeeds (no reset by hand); return its value."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except hivemem.BackendUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _fast_circuit_open(call: Any, bound: float) -> None:
    started = time.monotonic()
    with pytest.raises(hivemem.CircuitOpen):
        call()
    assert time.monotonic() - started < bound


def test_server_down_circuit_opens_then_recovers(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "f.db") as server:
        mem = hivemem.connect(server.base, agent="a", timeout=2.0, retries=1)
        try:
            _tune_breaker(mem)
            mem.write(NS, "k", 1)
            server.stop()

            errors = _fail_until_open(lambda: mem.read(NS, "k"))
            assert not isinstance(errors[0], hivemem.CircuitOpen)  # first: the real failure
            assert isinstance(errors[-1], hivemem.CircuitOpen)
            status = mem.circuit_breaker_status()
            assert status["state"] == "open"
            assert status["failures"] >= THRESHOLD
            assert status["opened_at"] is not None
            _fast_circuit_open(lambda: mem.write(NS, "k", 2), 0.5)

            server.start()
            assert _recovers(lambda: mem.read(NS, "k")) == 1  # the refused write never went
            assert mem.circuit_breaker_status()["state"] == "closed"
            assert mem.write(NS, "k", 3).version == 2
        finally:
            mem.close()


def test_paused_server_calls_fail_fast_once_open(tmp_path: Path) -> None:
    """A server that accepts connections but never answers (SIGSTOP): calls wait for the
    request timeout until the breaker opens, then fail at once."""
    timeout = 1.0
    with ServerProcess(tmp_path / "f.db") as server:
        mem = hivemem.connect(server.base, agent="a", timeout=timeout, retries=0)
        try:
            _tune_breaker(mem)
            mem.write(NS, "k", 1)
            server.signal(signal.SIGSTOP)
            errors = _fail_until_open(lambda: mem.read(NS, "k"))
            assert len(errors) == THRESHOLD + 1  # THRESHOLD timeouts, then CircuitOpen
            _fast_circuit_open(lambda: mem.read(NS, "k"), timeout / 2)
            server.signal(signal.SIGCONT)
            assert _recovers(lambda: mem.read(NS, "k")) == 1
            assert mem.circuit_breaker_status()["state"] == "closed"
        finally:
            server.signal(signal.SIGCONT)
            mem.close()


async def test_async_server_down_circuit_opens_then_recovers(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "f.db") as server:
        mem = hivemem.connect_async(server.base, agent="a", timeout=2.0, retries=1)
        try:
            _tune_breaker(mem)
            await mem.write(NS, "k", 1)
            server.stop()
            errors: list[BaseException] = []
            for _ in range(THRESHOLD + 1):
                try:
                    await mem.read(NS, "k")
                except hivemem.BackendUnavailable as exc:
                    errors.append(exc)
                    if isinstance(exc, hivemem.CircuitOpen):
                        break
            assert errors and not isinstance(errors[0], hivemem.CircuitOpen)
            assert isinstance(errors[-1], hivemem.CircuitOpen)
            assert mem.circuit_breaker_status()["state"] == "open"
            started = time.monotonic()
            with pytest.raises(hivemem.CircuitOpen):
                await mem.write(NS, "k", 2)
            assert time.monotonic() - started < 0.5
            server.start()
            deadline = time.monotonic() + 15
            while True:
                try:
                    assert await mem.read(NS, "k") == 1
                    break
                except hivemem.BackendUnavailable:
                    assert time.monotonic() < deadline, "the client did not recover"
                    await asyncio.sleep(0.05)
            assert mem.circuit_breaker_status()["state"] == "closed"
        finally:
            await mem.aclose()


def _entries_path(key: str) -> bytes:
    return f"/v1/namespaces/{NS}/entries/{key} ".encode()


def test_retried_mutations_after_dropped_answers_apply_once(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "f.db") as server, Proxy(server.port) as proxy:
        direct = hivemem.connect(server.base, agent="checker")
        mem = hivemem.connect(proxy.base, agent="writer", timeout=5.0, retries=3)
        try:
            direct.create_namespace(NS)
            start = direct.get_namespace(NS).revision

            def revision() -> int:
                return direct.get_namespace(NS).revision

            def dropped_then(marker: bytes, call: Any) -> Any:
                dropped = proxy.drop_response(marker)
                value = call()
                assert dropped.is_set(), f"no answer to {marker!r} was dropped"
                return value

            entry = dropped_then(b"PUT " + _entries_path("k1"), lambda: mem.write(NS, "k1", 1))
            assert (entry.version, entry.revision) == (1, start + 1)
            stored = direct.get_entry(NS, "k1")
            assert stored is not None and (stored.value, stored.version) == (1, 1)
            assert revision() == start + 1

            # CAS: a second apply would be refused (version moved) or make version 3.
            entry = dropped_then(
                b"PUT " + _entries_path("k1"),
                lambda: mem.write(NS, "k1", 2, expected_version=1),
            )
            assert (entry.version, entry.revision) == (2, start + 2)
            assert revision() == start + 2

            entries = dropped_then(
                f"POST /v1/namespaces/{NS}/batch ".encode(),
                lambda: mem.write_many(NS, {"m1": 1, "m2": 2}),
            )
            assert [(e.version, e.revision) for e in entries] == [(1, start + 3), (1, start + 4)]
            assert revision() == start + 4  # a revision per entry of the batch

            event = dropped_then(
                f"POST /v1/namespaces/{NS}/broadcast ".encode(),
                lambda: mem.broadcast(NS, {"hello": "all"}),
            )
            assert event.revision == start + 5
            assert revision() == start + 5

            deleted = dropped_then(b"DELETE " + _entries_path("k1"), lambda: mem.delete(NS, "k1"))
            assert deleted is True  # the first apply's answer, not "nothing to delete"
            assert direct.get_entry(NS, "k1") is None
            assert revision() == start + 6

            log = [(e.type, e.key) for e in direct.watch(NS, since=start, timeout=0.5)]
            assert log == [
                ("memory:write", "k1"),
                ("memory:write", "k1"),
                ("memory:write", "m1"),
                ("memory:write", "m2"),
                ("memory:broadcast", None),
                ("memory:delete", "k1"),
            ]
        finally:
            mem.close()
            direct.close()


def test_retried_write_survives_server_crash_after_commit(tmp_path: Path) -> None:
    """The answer is lost because the server dies right after applying the write; the
    client's retry reaches the restarted server with the same key and is applied once."""
    with ServerProcess(tmp_path / "f.db") as server, Proxy(server.port) as proxy:
        direct = hivemem.connect(server.base, agent="checker")
        mem = hivemem.connect(proxy.base, agent="writer", timeout=5.0, retries=8)
        try:
            direct.create_namespace(NS)
            start = direct.get_namespace(NS).revision
            dropped = proxy.drop_response(b"PUT " + _entries_path("k"))
            # The proxy closes the client's connection once the server answered; crash the
            # server at that moment, before the client's retry can reach it.
            proxy.on_drop = lambda: server.restart(crash=True)
            entry = mem.write(NS, "k", {"once": True})
            assert dropped.is_set()
            assert (entry.version, entry.revision) == (1, start + 1)
        finally:
            mem.close()
            direct.close()
        with hivemem.connect(server.base, agent="checker") as again:
            assert again.get_namespace(NS).revision == start + 1
            wait_until(lambda: again.get_entry(NS, "k") is not None, 5, "the entry")
