"""Fixtures of the conformance suite (``hivemem/testing``), parametrized over backends.

Each backend is one entry of :data:`BACKENDS`: a name (the test id) and a factory that
returns a :class:`Backend` able to mint URLs of fresh, empty stores. To add one (``redis://``
on a redis-server started once per run, ``http://`` on our server on a free port), write its
factory and add it to the table; every suite test then runs against it unchanged.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import pytest

# The suite lives in the package; rewrite its asserts for readable failures. This must
# run before the suite modules are imported (test_suite.py imports them).
pytest.register_assert_rewrite("hivemem.testing")

import hivemem  # noqa: E402
from hivemem.testing.clock import FakeClock  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator
    from pathlib import Path


class Backend:
    """A backend under test: its name and a source of URLs of fresh stores."""

    def __init__(self, name: str, new_url: Callable[[], str]) -> None:
        self.name = name
        self.new_url = new_url

    def __repr__(self) -> str:
        return f"<Backend {self.name}>"


def _memory(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    # Every connect("memory://") is a new, empty store.
    return Backend("memory", lambda: "memory://")


def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    try:
        import hivemem.backends.sqlite  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name != "hivemem.backends.sqlite":
            raise  # the module exists but is broken: show it
        pytest.skip("hivemem.backends.sqlite is not written yet")
    counter = itertools.count()

    def new_url() -> str:
        n = next(counter)
        # sqlite:/// + an absolute path (SQLAlchemy's convention: four slashes in all).
        return f"sqlite:///{tmp_path}/t{n or ''}.db"

    return Backend("sqlite", new_url)


# Later: "redis": _redis (one redis-server per run, fresh key prefix per test),
#        "http": _http (our server on a free port over a fresh store).
BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], Backend]] = {
    "memory": _memory,
    "sqlite": _sqlite,
}


@pytest.fixture(params=list(BACKENDS), ids=list(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The backend under test."""
    return BACKENDS[request.param](request, tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    """The fake clock every store of the test reads the time from."""
    return FakeClock()


def _options(clock: FakeClock, options: dict[str, Any]) -> dict[str, Any]:
    return {"clock": clock, "cleanup_interval": 0, **options}


@pytest.fixture
def make_mem(backend: Backend, clock: FakeClock) -> Iterator[Callable[..., hivemem.Memory]]:
    """``make_mem(**options)``: open a fresh store on the backend under test."""
    opened: list[hivemem.Memory] = []

    def make(**options: Any) -> hivemem.Memory:
        m = hivemem.connect(backend.new_url(), **_options(clock, options))
        opened.append(m)
        return m

    yield make
    for m in opened:
        m.close()


@pytest.fixture
def mem(make_mem: Callable[..., hivemem.Memory]) -> hivemem.Memory:
    """A fresh store on the backend under test (fake clock, no background sweeper)."""
    return make_mem()


@pytest.fixture
async def make_amem(
    backend: Backend, clock: FakeClock
) -> AsyncIterator[Callable[..., hivemem.AsyncMemory]]:
    """``make_amem(**options)``: open a fresh async store on the backend under test."""
    opened: list[hivemem.AsyncMemory] = []

    def make(**options: Any) -> hivemem.AsyncMemory:
        m = hivemem.connect_async(backend.new_url(), **_options(clock, options))
        opened.append(m)
        return m

    yield make
    for m in opened:
        await m.aclose()


@pytest.fixture
async def amem(make_amem: Callable[..., hivemem.AsyncMemory]) -> hivemem.AsyncMemory:
    """A fresh async store on the backend under test."""
    return make_amem()
