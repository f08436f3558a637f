from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

import hivemem
from hivemem._connect import _open
from hivemem.server import ServerConfig, create_app
from hivemem.testing.server import ServerThread

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread() as srv:
        yield srv


class Store:
    """A fresh SQLite store behind the test server, with auth on."""

    def __init__(self, server: ServerThread, tmp_path: Path, **store: Any) -> None:
        store.setdefault("cleanup_interval", 0)
        self.core = _open(f"sqlite:///{tmp_path}/remote.db", None, None, store)
        self.app = create_app(self.core, ServerConfig(auth=True, heartbeat=0.5))
        self.url = server.mount(self.app)
        self.hub = self.app.state.hub
        self.opened: list[Any] = []

    def token(self, agent: str, role: str = "agent") -> str:
        token, _ = self.hub.tokens.create(agent, role)
        return token

    def connect(self, agent: str, role: str = "agent", **options: Any) -> hivemem.Memory:
        mem = hivemem.connect(self.url, token=self.token(agent, role), **options)
        self.opened.append(mem)
        return mem

    def close(self) -> None:
        for mem in self.opened:
            mem.close()
        self.core.close()


@pytest.fixture
def store(server: ServerThread, tmp_path: Path) -> Iterator[Store]:
    s = Store(server, tmp_path)
    yield s
    s.close()


@pytest.fixture
def make_store(server: ServerThread, tmp_path: Path) -> Iterator[Callable[..., Store]]:
    made: list[Store] = []

    def make(**options: Any) -> Store:
        sub = tmp_path / f"s{len(made)}"
        sub.mkdir()
        s = Store(server, sub, **options)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
