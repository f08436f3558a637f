"""Fixtures of the adversarial suite (issue 15): real ``hivemem serve`` processes, with auth on.

:class:`LiveServer` runs ``python -m hivemem serve`` as a subprocess on a free port, over a
SQLite file in a temporary directory or over a ``redis-server`` the fixture starts
(:class:`hivemem.testing.redis.RedisServer`), exactly as an operator would run it. It mints
the tokens the tests act with:

- ``admin``: the admin token the server prints on its first start;
- ``agent``: an ordinary agent token (agent ``mallory``): write on ``default`` and on every
  namespace it creates, like every agent;
- ``reader``: agent ``reader``, read-only on ``default`` and on :data:`SHARED_NS` (the
  namespaces' ``permissions``) and nothing more.

Long-term memories get a real embedder without MiniLM: an OpenAI-compatible embeddings
server in this process (:class:`~hivemem.testing.embeddings_server.EmbeddingsServer` over
:class:`~hivemem.testing.embedders.HashEmbedder`), so semantic search answers in
milliseconds instead of 503 ``embedder_unavailable``.

A test that finds the server wedged (``/healthz`` silent) fails; the ``live`` fixture then
starts a fresh server on a fresh store for the next test (a forged list header on SQLite
survives restarts, so the store is not reused), and the wedged process is killed by its PID.

Fixtures: ``live`` (module-scoped, parametrised over ``sqlite`` and ``redis``),
``live_sqlite`` (SQLite only), ``client`` (a factory of :class:`httpx.Client` with
timeouts). Extra ``hivemem serve`` flags for every server: :data:`EXTRA_SERVE_ARGS` or
``$HIVEMEM_ADVERSARIAL_SERVE_ARGS`` (space-separated).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from hivemem.testing.embeddings_server import EmbeddingsServer
    from hivemem.testing.redis import RedisServer

#: Every request of the suite gets this long (connect, read, write, pool) before it counts
#: as a hang: beyond the waits the server imposes on purpose (a 429 held up to 1 s, a
#: token's costly calls taken one at a time, its rate-limit debt of up to 4 s).
REQUEST_TIMEOUT = 15.0
#: Seconds a server gets to start and answer ``/healthz``.
START_TIMEOUT = 30.0
#: The namespace the ordinary agent may write and the read-only agent may only read.
SHARED_NS = "adv-shared"
#: Agents of the three tokens.
ADMIN, AGENT, READER = "admin", "mallory", "reader"
#: ``hivemem serve`` flags added to every server (the defaults are what is under test).
EXTRA_SERVE_ARGS: list[str] = shlex.split(os.environ.get("HIVEMEM_ADVERSARIAL_SERVE_ARGS", ""))

ROOT = Path(__file__).resolve().parents[2]
_prefixes = itertools.count()
#: The stdout reader thread of each server process (by PID).
_pumps: dict[int, threading.Thread] = {}


class ServerWedged(AssertionError):
    """The server stopped answering ``/healthz`` within the deadline."""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("HIVEMEM_URL", "HIVEMEM_TOKEN", "HIVEMEM_AGENT", "HIVEMEM_EMBEDDER"):
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def rss_of(pid: int) -> int:
    """Resident memory of one process in bytes (``VmRSS`` of ``/proc/PID/status``), 0 if gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def open_fds(pid: int) -> int:
    """Open file descriptors of a process (sockets included), 0 if gone."""
    with contextlib.suppress(OSError):
        return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())
    return 0


@dataclass
class LiveServer:
    """One ``hivemem serve`` process with auth on, and the tokens to act on it.

    Attributes:
        kind: ``"sqlite"`` or ``"redis"``.
        store: The store URL it serves.
        url: ``http://127.0.0.1:<port>``.
        proc: The server process.
        tokens: Token per agent role: ``admin``, ``agent``, ``reader``.
        log: Where its stderr goes (read it in failure messages).
    """

    kind: str
    store: str
    url: str
    proc: subprocess.Popen[str]
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)
    #: Set by a test that saw a request hang: why the server is not trusted any more (the
    #: next test gets a fresh one; the rest of this test fails fast with this reason).
    broken: str | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def admin(self) -> str:
        return self.tokens["admin"]

    @property
    def agent(self) -> str:
        return self.tokens["agent"]

    @property
    def reader(self) -> str:
        return self.tokens["reader"]

    def client(self, token: str | None = None, timeout: float = REQUEST_TIMEOUT) -> httpx.Client:
        """An httpx client on the server; ``token`` is a token or a role (``"agent"``)."""
        token = self.tokens.get(token, token) if token is not None else None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def rss(self) -> int:
        """The server process's resident memory in bytes."""
        return rss_of(self.pid)

    def healthy(self, timeout: float = REQUEST_TIMEOUT) -> bool:
        """Whether ``/healthz`` answers 200 within ``timeout`` seconds."""
        if self.proc.poll() is not None:
            return False
        try:
            return httpx.get(self.url + "/healthz", timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False

    def writable(self, timeout: float = REQUEST_TIMEOUT) -> bool:
        """Whether an admin write completes within ``timeout`` (a spinning commit blocks it)."""
        if not self.healthy(timeout):
            return False
        try:
            with self.client("admin", timeout) as admin:
                r = admin.put("/v1/namespaces/adv-probe/entries/probe", json={"value": 1})
                return r.status_code == 200
        except httpx.HTTPError:
            return False

    def check_healthy(self, what: str = "") -> None:
        """Fail with :class:`ServerWedged` and the log tail unless ``/healthz`` answers."""
        if not self.healthy():
            raise ServerWedged(
                f"/healthz silent for {REQUEST_TIMEOUT} s{' after ' + what if what else ''} "
                f"({self.kind} server, pid {self.pid}, exit {self.proc.poll()}); log tail:\n"
                + self.log_tail()
            )

    def log_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-chars:]
        return ""

    def kill(self) -> None:
        """SIGTERM, then SIGKILL after 5 s (a wedged server ignores SIGTERM), by PID."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGCONT)
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        pump = _pumps.pop(self.pid, None)
        if pump is not None:
            pump.join(timeout=5)  # it closes stdout at EOF


def _read_banner(proc: subprocess.Popen[str], timeout: float) -> list[str]:
    """The lines ``hivemem serve`` prints on stdout at start (URL, then the admin token)."""
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    stream = proc.stdout

    def pump() -> None:
        with contextlib.suppress(ValueError, OSError), stream:
            for line in stream:
                lines.put(line.rstrip("\n"))
        lines.put(None)

    thread = threading.Thread(target=pump, daemon=True, name="serve-stdout")
    thread.start()
    _pumps[proc.pid] = thread
    banner: list[str] = []
    deadline = time.monotonic() + timeout
    while not any(line.startswith("admin token") for line in banner):
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        banner.append(line)
    return banner


def start_server(
    kind: str, store: str, directory: Path, embedder: str | None, *extra: str
) -> LiveServer:
    """Start ``hivemem serve`` on a fresh store; return once ``/healthz`` answers and tokens exist.

    Raises:
        RuntimeError: the server did not start within :data:`START_TIMEOUT`.
    """
    from hivemem.testing.server import free_port

    port = free_port()
    log = directory / f"serve-{port}.err"
    args = [sys.executable, "-m", "hivemem", "serve", "--store", store, "--port", str(port)]
    args += ["--embedder", embedder or "none", "--decay-interval", "0"]
    args += [*EXTRA_SERVE_ARGS, *extra]
    with log.open("w") as err:
        proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=_env(),
            cwd=directory,
            start_new_session=True,
        )
    server = LiveServer(kind, store, f"http://127.0.0.1:{port}", proc, log)
    try:
        banner = _read_banner(proc, START_TIMEOUT)
        admin = next((x.rsplit(" ", 1)[1] for x in banner if x.startswith("admin token")), None)
        if admin is None:
            raise RuntimeError(f"no admin token in the banner {banner!r}:\n{server.log_tail()}")
        server.tokens["admin"] = admin
        deadline = time.monotonic() + START_TIMEOUT
        while not server.healthy(timeout=2):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"hivemem serve did not start:\n{server.log_tail()}")
            time.sleep(0.05)
        _mint(server)
    except BaseException:
        server.kill()
        raise
    return server


def _mint(server: LiveServer) -> None:
    """The ordinary and read-only agents' tokens; the permissions that make ``reader`` read-only."""
    with server.client("admin", timeout=30) as admin:
        for role, agent in (("agent", AGENT), ("reader", READER)):
            r = admin.post("/v1/tokens", json={"agent": agent, "role": "agent", "label": role})
            r.raise_for_status()
            server.tokens[role] = r.json()["token"]
        r = admin.post(
            "/v1/namespaces",
            json={
                "name": SHARED_NS,
                "default_permission": "read",
                "permissions": {AGENT: "write", READER: "read"},
            },
        )
        r.raise_for_status()
        r = admin.put("/v1/namespaces/default/permissions", json={"permissions": {READER: "read"}})
        r.raise_for_status()


@pytest.fixture(scope="session")
def embeddings() -> Iterator[EmbeddingsServer | None]:
    """An OpenAI-shaped embeddings server over :class:`HashEmbedder` (``None`` without numpy)."""
    try:
        from hivemem.testing.embedders import HashEmbedder
        from hivemem.testing.embeddings_server import EmbeddingsServer
    except ImportError:
        yield None
        return
    with EmbeddingsServer(HashEmbedder(), model="hash-16") as server:
        yield server


def _embedder_spec(embeddings: EmbeddingsServer | None) -> str | None:
    return None if embeddings is None else f"openai:{embeddings.url}?model=hash-16"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server on a free port for the session (each live server gets its own prefix)."""
    from hivemem.testing.redis import RedisServer, redis_available

    if not redis_available():
        pytest.skip("redis-server is not installed")
    with RedisServer(tmp_path_factory.mktemp("adv-redis"), aof=False) as server:
        yield server


class Servers:
    """Starts live servers of one kind, and a fresh one when a test left the last one wedged."""

    def __init__(
        self,
        kind: str,
        store: Callable[[], str],
        directory: Path,
        embedder: str | None,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.kind, self.store, self.directory = kind, store, directory
        self.embedder, self.extra = embedder, extra
        self.current: LiveServer | None = None
        self.wedged: list[LiveServer] = []

    def get(self) -> LiveServer:
        """The running server, or a new one (fresh store) if there is none or it is wedged.

        Wedged: a test saw one of its requests hang (:attr:`LiveServer.broken`), or
        ``/healthz`` is silent, or an admin write is not done within the deadline (a commit
        thread spinning on a forged value holds the write lock while the event loop still
        answers ``/healthz``).
        """
        if self.current is not None and (self.current.broken or not self.current.writable()):
            self.wedged.append(self.current)
            self.current.kill()
            self.current = None
        if self.current is None:
            self.current = start_server(
                self.kind, self.store(), self.directory, self.embedder, *self.extra
            )
        return self.current

    def close(self) -> None:
        for server in [*self.wedged, *([self.current] if self.current else [])]:
            server.kill()


def servers_of(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    embeddings: EmbeddingsServer | None,
    extra: tuple[str, ...] = (),
) -> Servers:
    """A :class:`Servers` of ``kind`` (``sqlite`` or ``redis``) in a fresh temporary directory."""
    directory = tmp_path_factory.mktemp(f"adv-{kind}")
    if kind == "sqlite":
        files = itertools.count()

        def store() -> str:
            return f"sqlite:///{directory}/store{next(files)}.db"

    else:
        base = request.getfixturevalue("redis_server").url

        def store() -> str:
            return f"{base}?prefix=adv{os.getpid()}x{next(_prefixes)}:"

    return Servers(kind, store, directory, _embedder_spec(embeddings), extra)


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def servers(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    embeddings: EmbeddingsServer | None,
) -> Iterator[Servers]:
    """The module's servers over one store kind (``sqlite``, ``redis``)."""
    made = servers_of(request.param, request, tmp_path_factory, embeddings)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def live(servers: Servers) -> LiveServer:
    """A healthy live server with auth on (the module's, or a fresh one if it was wedged)."""
    return servers.get()


@pytest.fixture(scope="module")
def sqlite_servers(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    embeddings: EmbeddingsServer | None,
) -> Iterator[Servers]:
    """The module's servers over SQLite only."""
    made = servers_of("sqlite", request, tmp_path_factory, embeddings)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def live_sqlite(sqlite_servers: Servers) -> LiveServer:
    """A healthy live server over SQLite (for tests too costly to run on both stores)."""
    return sqlite_servers.get()


@pytest.fixture
def client(live: LiveServer) -> Iterator[Callable[..., httpx.Client]]:
    """``client(token="agent", timeout=15.0)``: httpx clients on ``live``, closed after the test."""
    made: list[httpx.Client] = []

    def factory(token: str | None = "agent", timeout: float = REQUEST_TIMEOUT) -> httpx.Client:
        c = live.client(token, timeout)
        made.append(c)
        return c

    yield factory
    for c in made:
        c.close()


def describe(response: httpx.Response) -> str:
    """One line about a response for failure messages."""
    url = str(response.request.url)
    url = url if len(url) <= 160 else url[:120] + f"…({len(url)} chars)…" + url[-30:]
    return f"{response.request.method} {url} -> {response.status_code} " + (
        response.text[:300] if response.text else ""
    )


__all__ = [
    "ADMIN",
    "AGENT",
    "READER",
    "REQUEST_TIMEOUT",
    "SHARED_NS",
    "LiveServer",
    "ServerWedged",
    "Servers",
    "describe",
    "open_fds",
    "rss_of",
    "start_server",
]
