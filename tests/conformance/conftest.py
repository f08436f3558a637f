"""Fixtures of the conformance suite (``hivemem/testing``), parametrized over backends.

Each backend is one entry of :data:`BACKENDS`: a name (the test id) and a factory that
returns a :class:`Backend` able to mint URLs of fresh, empty stores. To add one (``redis://``
on a redis-server started once per run, ``http://`` on our server on a free port,
``postgresql://`` on a PostgreSQL started once per run with a fresh schema per store), write
its factory and add it to the table; every suite test then runs against it unchanged.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import pytest

import hivemem
from hivemem.testing.clock import FakeClock

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

    def open(self, options: dict[str, Any], async_: bool = False) -> Any:
        """Open a fresh store with ``connect()`` options."""
        connect = hivemem.connect_async if async_ else hivemem.connect
        return connect(self.new_url(), **options)

    def cleanup(self) -> None:
        """Release what the stores opened by :meth:`open` hold beyond their handles."""


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


#: Options of connect() that belong to the client of an http:// store; the rest configure
#: the store behind the server.
_CLIENT_OPTIONS = {"timeout", "retries", "cache", "resolvers", "agent", "token", "cleanup_interval"}


class _HTTPBackend(Backend):
    """Our server (real uvicorn on a free port, auth off) over a fresh SQLite store per open.

    Store options (the fake clock, ``event_retention``, ``max_log_size``...) configure the
    store behind the server; the client connects with the rest. One store with the default
    options is opened before the test starts, so that the threads of the store behind the
    in-process server (another process, in a deployment) exist before a test looks at the
    client's threads.
    """

    def __init__(self, server: Any, tmp_path: Path, clock: FakeClock) -> None:
        super().__init__("http", lambda: "")
        self.server = server
        self.tmp_path = tmp_path
        self.counter = itertools.count()
        self.cores: list[Any] = []
        self.urls: list[str] = []
        self.defaults = _options(clock, {})
        self.spare: str | None = self._store(self.defaults)

    def _store(self, store: dict[str, Any]) -> str:
        from hivemem._connect import _open
        from hivemem.server import ServerConfig, create_app

        path = f"sqlite:///{self.tmp_path}/h{next(self.counter)}.db"
        core = _open(path, None, None, dict(store))
        self.cores.append(core)
        _warm(core)
        url: str = self.server.mount(create_app(core, ServerConfig(auth=False, heartbeat=1.0)))
        self.urls.append(url)
        return url

    def open(self, options: dict[str, Any], async_: bool = False) -> Any:
        # The client sweeps when a test asks for a sweeper, so its listeners see the expiries.
        store = {k: v for k, v in options.items() if k not in _CLIENT_OPTIONS}
        store["cleanup_interval"] = 0
        client = {k: v for k, v in options.items() if k in _CLIENT_OPTIONS or k == "clock"}
        if store == self.defaults and self.spare is not None:
            url, self.spare = self.spare, None
        else:
            url = self._store(store)
        connect = hivemem.connect_async if async_ else hivemem.connect
        return connect(url, **client)

    def cleanup(self) -> None:
        for url in self.urls:
            self.server.unmount(url)
        for core in self.cores:
            core.close()


def _warm(core: Any) -> None:
    """Start the server store's writer thread now, before the test looks at its threads:
    in a real deployment the server is another process, so the client's thread checks must
    not see the threads of the store behind the in-process test server."""
    import asyncio
    import threading

    from hivemem.engine import ops
    from hivemem.server.auth import TOKENS_NAMESPACE

    op = ops.CreateNamespace(
        agent="system", admin=True, internal=True, ns=TOKENS_NAMESPACE, exist_ok=True
    )
    # In a thread of its own: async tests call this from inside their event loop.
    worker = threading.Thread(target=lambda: asyncio.run(core.backend.aexecute(op)))
    worker.start()
    worker.join()


@pytest.fixture(scope="session")
def http_server() -> Iterator[Any]:
    """One real hivemem server thread for the whole run (stores mount on it per test)."""
    from hivemem.testing.server import ServerThread

    with ServerThread() as server:
        yield server


def _http(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    server = request.getfixturevalue("http_server")
    return _HTTPBackend(server, tmp_path, request.getfixturevalue("clock"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real redis-server (AOF, appendfsync always) on a free port for the whole run."""
    from hivemem.testing.redis import RedisServer

    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real 3-master Redis Cluster on free ports for the whole run."""
    from hivemem.testing.redis import RedisCluster

    with RedisCluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster


_prefixes = itertools.count()


def _redis_backend(name: str, base: str) -> Backend:
    # A fresh key prefix per store: every test starts on an empty store.
    sep = "&" if "?" in base else "?"
    return Backend(name, lambda: f"{base}{sep}prefix=t{next(_prefixes)}:")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """One real PostgreSQL (initdb + pg_ctl, fsync on) on a free port for the whole run."""
    from hivemem.testing.postgres import PostgresServer

    with PostgresServer() as server:
        yield server


_schemas = itertools.count()


def _postgres(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    # A fresh schema per store: every test starts on an empty store.
    base = request.getfixturevalue("postgres_server").url
    return Backend("postgres", lambda: f"{base}?schema=t{next(_schemas)}")


def _redis(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return _redis_backend("redis", request.getfixturevalue("redis_server").url)


def _redis_cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return _redis_backend("redis-cluster", request.getfixturevalue("redis_cluster").url)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], Backend]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "http": _http,
    "redis": _redis,
    "redis-cluster": _redis_cluster,
    "postgres": _postgres,
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A rule that names its backends (``only_backends`` on the test function, e.g. a rule
    of what travels over HTTP alone) runs on those only: not collected, never skipped."""
    del config
    kept = []
    for item in items:
        only = getattr(getattr(item, "function", None), "only_backends", None)
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("backend") if callspec is not None else None
        if only is None or name is None or name in only:
            kept.append(item)
    items[:] = kept


@pytest.fixture(params=list(BACKENDS), ids=list(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The backend under test."""
    b = BACKENDS[request.param](request, tmp_path)
    yield b
    b.cleanup()


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
        m: hivemem.Memory = backend.open(_options(clock, options))
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
        m: hivemem.AsyncMemory = backend.open(_options(clock, options), async_=True)
        opened.append(m)
        return m

    yield make
    for m in opened:
        await m.aclose()


@pytest.fixture
async def amem(make_amem: Callable[..., hivemem.AsyncMemory]) -> hivemem.AsyncMemory:
    """A fresh async store on the backend under test."""
    return make_amem()
