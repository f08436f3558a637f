"""The Redis backend's hand-packed script calls, against a real redis-server."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import pytest

import hivemem
from hivemem.backends.redis_call import pack
from hivemem.testing.redis import RedisServer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def test_pack_matches_redis_py() -> None:
    """The packed command is byte for byte what redis-py sends."""
    import redis

    conn = redis.Connection()
    parts = ("EVALSHA", "abc", 2, "k1", "ké", b"\x00raw", "")
    assert pack(*parts) == b"".join(conn.pack_command(*parts))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis", aof=True) as s:
        yield s


def test_a_restarted_redis_is_reached_on_the_first_call(server: RedisServer) -> None:
    """After Redis restarts, the kept sockets are replaced before use: no call fails."""
    mem = hivemem.connect(server.url, cleanup_interval=0)
    try:
        mem.write("ns", "k", 1)
        assert mem.read("ns", "k") == 1
        server.kill()
        server.start()  # AOF always: the entry survived
        mem.write("ns", "k", 2)  # a write is never resent after a lost reply: it must not fail
        assert mem.read("ns", "k") == 2
        server.kill()
        server.start()
        assert mem.read("ns", "k") == 2
    finally:
        mem.close()


def test_a_flushed_script_cache_is_reloaded(server: RedisServer) -> None:
    """NOSCRIPT (Redis lost its scripts) loads the script again and runs the call."""
    mem = hivemem.connect(server.url, cleanup_interval=0)
    try:
        mem.write("ns", "k", 1)
        subprocess.run(
            ["redis-cli", "-p", str(server.port), "SCRIPT", "FLUSH"],
            check=True,
            capture_output=True,
        )
        mem.write("ns", "k", 2)
        subprocess.run(
            ["redis-cli", "-p", str(server.port), "SCRIPT", "FLUSH"],
            check=True,
            capture_output=True,
        )
        assert mem.read("ns", "k") == 2
        entry = mem.get_entry("ns", "k")
        assert entry is not None and entry.version == 2
    finally:
        mem.close()
