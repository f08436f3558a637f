"""Two ``hivemem serve`` processes over one SQLite file: events cross between them.

Idle event streams no longer poll the store themselves; one poller per server process watches
``SQLiteBackend.change_token()`` (``PRAGMA data_version``) and wakes them when another process
commits. These tests pin that down: a write through server A reaches a watcher on server B
within a few seconds, and the token moves on another process's commit.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING

import httpx

import hivemem
from hivemem.backends.sqlite import SQLiteBackend
from hivemem.engine.txn import Settings
from tests.cli.conftest import run_cli, serving

if TYPE_CHECKING:
    from pathlib import Path


def test_change_token_moves_when_another_connection_commits(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    a = SQLiteBackend(path, Settings())
    b = SQLiteBackend(path, Settings())
    try:
        before = b.change_token()
        assert b.change_token() == before  # nothing committed: still
        with hivemem.connect(f"sqlite:///{path}", cleanup_interval=0) as mem:
            mem.write("shared", "k", 1)
        assert b.change_token() != before
    finally:
        a.close()
        b.close()


def test_a_write_through_one_server_reaches_a_watcher_on_another(sqlite_url: str) -> None:
    with serving(sqlite_url) as first, serving(sqlite_url) as second:
        token = first.admin_token
        assert token is not None and second.admin_token is None  # one store, one token
        headers = {"Authorization": f"Bearer {token}"}
        with hivemem.connect(first.url, token=token) as mem:
            mem.create_namespace("crossing")
        seen: list[tuple[str, float]] = []
        connected = threading.Event()

        def watch() -> None:
            with httpx.stream(
                "GET",
                second.url + "/v1/namespaces/crossing/events",
                headers={**headers, "Accept": "text/event-stream"},
                timeout=30,
            ) as response:
                assert response.status_code == 200
                for line in response.iter_lines():
                    if line.startswith(": connected"):
                        connected.set()
                    if line.startswith("data:") and '"key":"hello"' in line.replace(" ", ""):
                        seen.append((line, time.monotonic()))
                        return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        assert connected.wait(10)
        time.sleep(0.3)  # the stream is idle, waiting for a notification
        with hivemem.connect(first.url, token=token) as mem:
            mem.write("crossing", "hello", {"from": "A"})
            written = time.monotonic()
        watcher.join(10)
        assert seen, "the watcher on server B never saw the write made through server A"
        assert seen[0][1] - written < 3.0


def test_streams_of_one_namespace_share_fetches_but_not_permissions(sqlite_url: str) -> None:
    """Two agents follow one namespace; the one whose read permission is taken away gets an
    error event, not the next write (each stream checks its own permission on shared fetches)."""
    with serving(sqlite_url) as server:
        admin = server.admin_token
        assert admin is not None
        tokens = {
            agent: run_cli(
                "token", "create", agent, "--url", server.url, "--token", admin
            ).stdout.strip()
            for agent in ("reader", "outsider")
        }
        with hivemem.connect(server.url, token=admin) as mem:
            mem.create_namespace(
                "private",
                permissions={"reader": "read", "outsider": "read"},
                default_permission=None,
            )

        async def follow(token: str, ready: asyncio.Event) -> list[str]:
            lines: list[str] = []
            async with (
                httpx.AsyncClient(timeout=20) as client,
                client.stream(
                    "GET",
                    server.url + "/v1/namespaces/private/events",
                    headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"},
                ) as response,
            ):
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    lines.append(line)
                    if line.startswith(": connected"):
                        ready.set()
                    if "secret" in line or line.startswith("event: error"):
                        return lines
            return lines

        async def main() -> tuple[list[str], list[str]]:
            ready = [asyncio.Event(), asyncio.Event()]
            allowed = asyncio.create_task(follow(tokens["reader"], ready[0]))
            denied = asyncio.create_task(follow(tokens["outsider"], ready[1]))
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 15)
            with hivemem.connect(server.url, token=admin) as mem:
                mem.update_permissions("private", {"outsider": None})
                mem.write("private", "secret", 42)
            return await asyncio.wait_for(asyncio.gather(allowed, denied), 15)

        allowed, denied = asyncio.run(main())
        assert any("secret" in line for line in allowed)
        assert not any("secret" in line for line in denied)
        assert any(line.startswith("event: error") for line in denied)
