"""Fixtures of the MCP tests: a real server (auth on) over a fresh SQLite store per test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from hivemem._connect import _open
from hivemem.server import ServerConfig, create_app
from hivemem.testing.server import ServerThread

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@dataclass
class Site:
    """One mounted app: base URL, store, an admin token and token minting."""

    url: str
    core: Any
    app: Any
    admin: str

    def token(self, agent: str, role: str = "agent") -> str:
        token, _ = self.app.state.hub.tokens.create(agent, role)
        return str(token)

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.admin}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def audit(self, **query: Any) -> list[dict[str, Any]]:
        """The audit records (newest first) as an admin reads them through the HTTP API."""
        with self.http() as http:
            response = http.get("/v1/audit", params={"limit": 1000, **query})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread() as thread:
        yield thread


@pytest.fixture
def site(server: ServerThread, tmp_path: Path) -> Iterator[Site]:
    core = _open(f"sqlite:///{tmp_path}/store.db", None, None, {})
    app = create_app(core, ServerConfig(auth=True))
    admin, _ = app.state.hub.tokens.create("root", "admin")
    mounted = Site(server.mount(app), core, app, admin)
    yield mounted
    server.unmount(mounted.url)
    core.close()
