"""Every write path ends a write as the engine does: SQLite's fast put and Redis's write
script against ``memory://`` (the engine alone), for every conflict strategy and every case
of :mod:`hivemem.engine.decide`, comparing what each call returned, the stored entries and
the events, the latter as the bytes each backend stored."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

import pytest
import redis

import hivemem
from hivemem.backends import redis as redis_backend
from hivemem.backends import sqlite as sqlite_backend
from hivemem.backends.redis import RedisBackend
from hivemem.backends.sqlite import _WriteTxn
from hivemem.engine import ops as o
from hivemem.errors import HivememError
from hivemem.testing.redis import RedisServer
from tests.test_sqlite_fast_put import _script as _plain_script

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from hivemem.types import Event

#: Every conflict strategy; ``custom`` with a resolver every store knows (``max``).
STRATEGIES = {
    "latest-wins": {},
    "first-wins": {},
    "version": {},
    "merge": {},
    "custom": {"resolver": "max"},
}


def _value(strategy: str, i: int) -> Any:
    """A value ``max`` can compare (custom), objects the others can merge or replace."""
    return i if strategy == "custom" else {f"k{i}": i, "list": [i]}


def _matrix(mem: hivemem.Memory, tick: Callable[[float], None]) -> list[Any]:
    """The cases of decide.py (P0-P5, D1-D4) under every strategy, with and without a cap
    and a TTL; what each call returned, then every namespace's entries."""
    out: list[Any] = []

    def call(fn: Callable[..., Any], *args: Any, **kw: Any) -> None:
        try:
            got = fn(*args, **kw)
        except HivememError as exc:
            out.append(("error", exc.code, str(exc), exc.details))
        else:
            out.append(("ok", got.to_dict() if hasattr(got, "to_dict") else got))

    names = []
    for strategy, extra in STRATEGIES.items():
        for variant, options in (("", {}), ("-cap", {"max_entries": 2}), ("-ttl", {"ttl": 5})):
            ns = strategy + variant
            names.append(ns)
            mem.create_namespace(
                ns, conflict_strategy=strategy, default_permission="write", **extra, **options
            )

            def put(key: str, i: int, ns: str = ns, strategy: str = strategy, **kw: Any) -> None:
                call(mem.write, ns, key, _value(strategy, i), "bob", **kw)

            def delete(key: str, ns: str = ns, **kw: Any) -> None:
                call(mem.delete, ns, key, "bob", **kw)

            put("a", 1)  # P5 new (P2 under version)
            put("a", 2, expected_version=0)  # P1 miss on a live entry, or P5 new
            put("a", 3, expected_version=1)  # P1 hit on a live entry, or miss
            put("a", 4)  # P3 first-wins, P4 merge/custom, P5 update
            put("a", 0)  # P4 with a value custom's max rejects
            put("b", 5, expected_version=0)  # P1 hit on an absent key
            put("b", 6, expected_version=7)  # P1 miss
            put("b", 7, expected_version=1, ttl=60)  # a TTL of the write's own
            put("b", 8, expected_version=2)  # the TTL dropped (or the namespace's)
            put("c", 9, expected_version=0, ttl=2)  # a cap full here (-cap)
            put("d", 10, ttl=2)
            tick(3)
            put("c", 11)  # P0 over an expired entry (P2 under version)
            put("d", 12, expected_version=0)  # P0, then P1 hit on the expired key
            put("e", 13, expected_version=0, ttl=1)
            tick(2)
            put("e", 14, expected_version=1)  # P0, P1 miss: the expired entry is gone
            delete("a", expected_version=9)  # D1 miss
            delete("b", expected_version=3)  # D4 with a CAS hit (or D1 miss)
            delete("b")  # D2 (or D4)
            delete("e")  # D3 (an expired entry), or D2
            delete("zz", expected_version=0)  # D1 hit, D2
            put("b", 15, expected_version=0)  # P5 after a delete: version 1 again
            put("b", 16)
            for key in ("x", "y"):  # fill a cap: a new key finds it full, an update does not
                put(key, 17, expected_version=0)
            put("a", 18, expected_version=None)
            tick(1)
    for ns in names:
        out.append((ns, [e.to_dict() for e in mem.list_entries(ns, "alice", limit=1000).items]))
    return out


#: Writes each fast path decided by itself (SQLite: puts; Redis: puts and deletes); the
#: engine the rest (refusals, resolved values, expired entries to replace, full namespaces).
TAKEN = {"_matrix": (86, 149), "_script": (16, 19)}


class _Counted:
    """How many writes a fast path decided by itself (not handed to the engine)."""

    def __init__(self, mp: pytest.MonkeyPatch) -> None:
        self.sqlite = self.redis = 0
        fast_put = _WriteTxn.fast_put
        write_done = RedisBackend._write_done

        def counted_put(txn: _WriteTxn, op: o.Put) -> Any:
            result = fast_put(txn, op)
            self.sqlite += result is not None
            return result

        def counted_done(backend: RedisBackend, *args: Any) -> Any:
            self.redis += 1
            return write_done(backend, *args)

        mp.setattr(_WriteTxn, "fast_put", counted_put)
        mp.setattr(RedisBackend, "_write_done", counted_done)


class _Emitted:
    """A backend that records the events each write's result carries (what the store's
    in-process listeners get, ``memory:conflict`` included)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.events: list[list[dict[str, Any]]] = []

    def execute(self, op: o.Op[Any]) -> Any:
        result = self.backend.execute(op)
        if isinstance(op, o.Put | o.Delete):
            self.events.append([e.to_dict() for e in result.events])
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with RedisServer(tmp_path_factory.mktemp("redis"), aof=False) as server:
        yield server.url


def _raw_events(mem: hivemem.Memory, url: str, ns: str) -> dict[int, bytes]:
    """The events of ``ns`` as the backend stored them: revision -> JSON bytes."""
    backend = mem._c.backend
    if isinstance(backend, RedisBackend):
        client = redis.Redis.from_url(url.split("?")[0])
        try:
            rows = client.xrange(backend.keys.events(ns))
        finally:
            client.close()
        return {int(rid.split(b"-")[1]): fields[b"d"] for rid, fields in rows}
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        found = conn.execute("SELECT id FROM ns_ids WHERE name = ?", (ns,)).fetchone()
        if found is None:
            return {}
        base = found[0] << sqlite_backend.REV_BITS
        rows = conn.execute(
            "SELECT id, data FROM events WHERE id > ? AND id <= ?",
            (base, base | sqlite_backend.REV_MASK),
        ).fetchall()
    return {row[0] - base: bytes(row[1], "utf-8") for row in rows}


def _encoded(url: str, event: Event) -> bytes:
    """The bytes the backend's general path stores for ``event``."""
    if url.startswith("redis"):
        return redis_backend._event_json(event).encode()
    return sqlite_backend._event_json(event).encode()


def _run(
    url: str, script: Callable[[hivemem.Memory, Callable[[float], None]], list[Any]]
) -> tuple[list[Any], dict[str, list[Event]], hivemem.Memory]:
    now = [1_700_000_000.123456]

    def tick(dt: float) -> None:
        now[0] += dt

    mem = hivemem.connect(url, agent="alice", clock=lambda: now[0], cleanup_interval=0)
    emitted = mem._b = _Emitted(mem._b)  # type: ignore[assignment]
    out = script(mem, tick)
    out.append(emitted.events)
    events = {
        info.name: mem._c.backend.execute(
            o.EventsAfter(agent="alice", ns=info.name, since=0, limit=10_000)
        ).unwrap()
        for info in mem.list_namespaces("alice")
    }
    return out, events, mem


@pytest.mark.parametrize("script", [_matrix, _plain_script], ids=["matrix", "plain"])
def test_every_write_path_ends_a_write_as_the_engine_does(
    tmp_path: Path, redis_url: str, script: Any
) -> None:
    """Rule: SQLite's fast put and Redis's write script return, store and emit exactly what
    the engine does, for every strategy and every case of decide.py: outcomes and errors
    (with their details), entries, the events each write's result carries, event streams,
    and each stored event's bytes are the general path's encoding of the engine's event;
    the fast paths decided their share."""
    urls = [
        "memory://",
        f"sqlite:///{tmp_path / 'f.db'}",
        f"{redis_url}?prefix=fp{script.__name__}:",
    ]
    runs = []
    with pytest.MonkeyPatch.context() as mp:
        counted = _Counted(mp)
        for url in urls:
            out, events, mem = _run(url, script)
            try:
                raw = {} if url == "memory://" else {ns: _raw_events(mem, url, ns) for ns in events}
                if script is _plain_script:
                    out.append([r.to_dict() for r in mem.access_log(limit=1000)])
            finally:
                mem.close()
            runs.append((url, out, events, raw))
    _, reference, ref_events, _ = runs[0]
    for url, out, events, raw in runs[1:]:
        for a, b in zip(reference, out, strict=True):
            assert a == b, url
        assert {ns: [e.to_dict() for e in evs] for ns, evs in events.items()} == {
            ns: [e.to_dict() for e in evs] for ns, evs in ref_events.items()
        }, url
        for ns, evs in ref_events.items():
            assert raw[ns] == {e.revision: _encoded(url, e) for e in evs}, (url, ns)
    print("fast path decided: sqlite", counted.sqlite, "redis", counted.redis)
    assert (counted.sqlite, counted.redis) == TAKEN[script.__name__]
