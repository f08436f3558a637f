"""Token lookups are cached per process, and a revocation anywhere drops them at once.

The cache is keyed by the store's cross-process change signal (``cache_epoch``): a shared
counter file beside a SQLite store, bumped after every revocation's commit.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import TYPE_CHECKING, Any

import pytest

from hivemem.backends.base import Backend
from hivemem.backends.epoch import SharedCounter
from hivemem.backends.memory import MemoryBackend
from hivemem.backends.redis import RedisBackend
from hivemem.backends.sqlite import SQLiteBackend
from hivemem.engine.txn import Settings
from hivemem.server import auth
from hivemem.server.auth import TokenStore

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def _bump(path: str, times: int) -> None:
    counter = SharedCounter(path)
    for _ in range(times):
        counter.bump()
    counter.close()


def test_a_shared_counter_is_exact_across_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "c-epoch")
    mine = SharedCounter(path)
    assert mine.value() == 0
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_bump, args=(path, 200)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert mine.value() == 800  # seen through this process's own mapping, none lost
    mine.bump()
    other = SharedCounter(path)
    assert other.value() == 801
    mine.close()
    mine.close()  # idempotent
    assert mine.value() is None
    other.close()


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[SQLiteBackend, SQLiteBackend]]:
    """Two backends over one SQLite file, as two server processes would have."""
    path = str(tmp_path / "s.db")
    a = SQLiteBackend(path, Settings(cleanup_interval=0))
    b = SQLiteBackend(path, Settings(cleanup_interval=0))
    yield a, b
    a.close()
    b.close()


def _counting_peeks(backend: SQLiteBackend, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    real = backend.peek

    def peek(ns: str, key: str) -> Any:
        calls[0] += 1
        return real(ns, key)

    monkeypatch.setattr(backend, "peek", peek)
    return calls


async def test_a_cached_token_skips_the_store_until_revoked_elsewhere(
    stores: tuple[SQLiteBackend, SQLiteBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = stores
    serving, revoking = TokenStore(a), TokenStore(b)
    serving.ensure()
    token, record = revoking.create("alice")
    keep, _ = revoking.create("bob")
    peeks = _counting_peeks(a, monkeypatch)
    assert (await serving.alookup(token)) == record
    assert peeks[0] == 1
    for _ in range(5):
        assert (await serving.alookup(token)) == record
    assert peeks[0] == 1  # cached
    assert serving.lookup(token) == record  # the sync lookup shares the cache

    revoking.revoke(token)  # another process's store object
    assert (await serving.alookup(token)) is None  # at once
    assert serving.lookup(token) is None
    assert peeks[0] == 2
    assert (await serving.alookup(keep)) is not None  # other tokens are still valid
    assert (await serving.alookup(token)) is None
    assert peeks[0] == 4  # unknown tokens are never cached


async def test_a_cached_token_is_trusted_for_a_bounded_time(
    stores: tuple[SQLiteBackend, SQLiteBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = stores
    tokens = TokenStore(a)
    tokens.ensure()
    token, _ = tokens.create("alice")
    peeks = _counting_peeks(a, monkeypatch)
    now = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: now[0])
    await tokens.alookup(token)
    now[0] += auth.CACHE_SECONDS / 2
    await tokens.alookup(token)
    assert peeks[0] == 1
    now[0] += auth.CACHE_SECONDS  # past the bound: asked again, even with no signal
    await tokens.alookup(token)
    assert peeks[0] == 2


async def test_nothing_is_cached_without_a_cheap_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A directory where the counter file should go: the store cannot signal, so it says
    # None and every lookup asks the store.
    (tmp_path / "s.db-epoch").mkdir()
    backend = SQLiteBackend(str(tmp_path / "s.db"), Settings(cleanup_interval=0))
    try:
        assert backend.cache_epoch() is None
        backend.bump_cache_epoch()  # a no-op, not an error
        tokens = TokenStore(backend)
        tokens.ensure()
        token, _ = tokens.create("alice")
        peeks = _counting_peeks(backend, monkeypatch)
        for _ in range(3):
            assert (await tokens.alookup(token)) is not None
        assert peeks[0] == 3
    finally:
        backend.close()


def test_which_stores_signal() -> None:
    memory = MemoryBackend(Settings(cleanup_interval=0))
    before = memory.cache_epoch()
    memory.bump_cache_epoch()
    assert before is not None and memory.cache_epoch() == before + 1
    memory.close()
    # Redis replicas may run on other machines: no cheap signal, nothing cached.
    assert RedisBackend.shared_between_processes
    assert RedisBackend.cache_epoch is Backend.cache_epoch


def test_the_counter_file_has_the_database_files_permissions(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    backend = SQLiteBackend(str(db), Settings(cleanup_interval=0))
    try:
        db.chmod(0o640)
        assert backend.cache_epoch() == 0
        assert (tmp_path / "s.db-epoch").stat().st_mode & 0o777 == 0o640
    finally:
        backend.close()


def _revoke_later(path: str, token: str, started: Any, done: Any) -> None:
    backend = SQLiteBackend(path, Settings(cleanup_interval=0))
    try:
        started.wait(30)
        time.sleep(0.05)  # while the other process is looking it up, cache warm
        TokenStore(backend).revoke(token)
        done.set()  # after the commit and the signal: "revoke returned"
    finally:
        backend.close()


def test_a_revocation_racing_cached_lookups_in_another_process_holds_at_once(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "s.db")
    backend = SQLiteBackend(path, Settings(cleanup_interval=0))
    try:
        tokens = TokenStore(backend)
        tokens.ensure()
        token, record = tokens.create("alice")
        ctx = multiprocessing.get_context("spawn")
        started, done = ctx.Event(), ctx.Event()
        proc = ctx.Process(target=_revoke_later, args=(path, token, started, done))
        proc.start()
        hits = after = 0
        deadline = time.monotonic() + 60
        while after < 500 and time.monotonic() < deadline:
            revoked = done.is_set()  # read before the lookup starts
            found = tokens.lookup(token)
            started.set()
            if revoked:
                assert found is None  # never a cached answer once revoke() has returned
                after += 1
            elif found is not None:
                assert found == record
                hits += 1
        proc.join(30)
        assert proc.exitcode == 0 and after == 500 and hits > 0
    finally:
        backend.close()
