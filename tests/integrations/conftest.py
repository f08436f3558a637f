"""Fixtures of the LangGraph adapter tests: one fresh hivemem store per test, on every URL kind.

``backend`` is parametrized over ``memory://``, ``sqlite:///`` (a file in ``tmp_path``) and
``http://`` (our server on a free port, auth on, over a fresh SQLite store; tokens from the
app's token table). Every store reads the time from the
test's :class:`FakeClock`, so TTL tests move time instead of sleeping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

import hivemem
from hivemem.integrations.langgraph import HivememStore
from hivemem.testing.clock import FakeClock

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    from hivemem.testing.server import ServerThread


class Backend:
    """A fresh hivemem store of one kind; hands out handles on it for any agent."""

    def __init__(self, name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.name = name
        self.clock = FakeClock()
        self.opened: list[Any] = []
        self.core: Any = None
        self.shared: hivemem.Memory | None = None
        if name == "sqlite":
            self.url = f"sqlite:///{tmp_path}/lg.db"
        elif name == "http":
            from hivemem._connect import _open
            from hivemem.server import ServerConfig, create_app

            server: ServerThread = request.getfixturevalue("http_server")
            options = {"cleanup_interval": 0, "clock": self.clock}
            self.core = _open(f"sqlite:///{tmp_path}/served.db", None, None, options)
            self.app = create_app(self.core, ServerConfig(auth=True, heartbeat=1.0))
            self.url = server.mount(self.app)
            self.server = server
        else:
            self.url = "memory://"

    def connect(self, agent: str = "tester", role: str = "admin") -> hivemem.Memory:
        """A handle acting for ``agent`` (over http://, with a token of ``role``)."""
        if self.name == "memory":  # every connect("memory://") is a new store: share one
            if self.shared is None:
                self.shared = hivemem.connect(
                    self.url, agent="tester", clock=self.clock, cleanup_interval=0
                )
                self.opened.append(self.shared)
            return self.shared.as_agent(agent)
        if self.name == "http":
            token, _ = self.app.state.hub.tokens.create(agent, role)
            mem = hivemem.connect(self.url, token=token, clock=self.clock)
        else:
            mem = hivemem.connect(self.url, agent=agent, clock=self.clock, cleanup_interval=0)
        self.opened.append(mem)
        return mem

    def store(self, agent: str = "tester", role: str = "admin", **kwargs: Any) -> HivememStore:
        """A ``HivememStore`` over a new handle on this store."""
        return HivememStore(self.connect(agent, role), **kwargs)

    async def aclose(self) -> None:
        """Close the handles from inside the test's event loop (its clients live there)."""
        for mem in self.opened:
            await hivemem.AsyncMemory(mem._c).aclose()

    def close(self) -> None:
        for mem in self.opened:
            mem.close()
        if self.core is not None:
            self.server.unmount(self.url)
            self.core.close()


@pytest.fixture(scope="session")
def http_server() -> Iterator[ServerThread]:
    from hivemem.testing.server import ServerThread

    with ServerThread() as server:
        yield server


@pytest.fixture(params=["memory", "sqlite", "http"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = Backend(request.param, request, tmp_path)
    yield b
    b.close()


@pytest.fixture
async def abackend(backend: Backend) -> AsyncIterator[Backend]:
    """``backend`` for async tests: its handles are closed inside the test's loop."""
    yield backend
    await backend.aclose()


@pytest.fixture
def store(backend: Backend) -> HivememStore:
    return backend.store()
