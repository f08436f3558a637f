"""Real ``hivemem serve`` replicas over one real Redis, for the scale-out tests (issue 4).

- :func:`redis_store` starts a ``redis-server`` of its own on a free port (AOF ``appendfsync
  always``, via :class:`hivemem.testing.redis.RedisServer`; never the shared 6379) and yields
  it with a store URL whose key prefix is unique to the test; :func:`postgres_store` does the
  same with a PostgreSQL of its own (``initdb`` + ``pg_ctl``, never the shared 5432) and a
  schema unique to the test; :data:`STORES` names both.
- :class:`Replica` runs ``.venv/bin/hivemem serve --store URL --port P`` as a subprocess (its
  own session, output to files in the test's directory) and waits until ``/readyz`` answers.
- :class:`Replicas` starts N of them over one store: the first alone (it creates the store's
  admin token and prints it once: captured as :attr:`Replicas.admin`), the others after it.
  Every process is killed by its PID on exit, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from hivemem.testing.postgres import PostgresServer
from hivemem.testing.redis import RedisServer
from hivemem.testing.server import free_port

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = [
    "SLOW",
    "Replica",
    "Replicas",
    "bearer",
    "STORES",
    "postgres_store",
    "redis_store",
    "run_threads",
    "wait_until",
]

#: ``RELIABILITY_SLOW=1``: the full durations of RELIABILITY.md (20 s CAS runs, 10 rounds).
SLOW = os.environ.get("RELIABILITY_SLOW", "") not in ("", "0")

HIVEMEM = str(Path(sys.executable).with_name("hivemem"))
_TOKEN = re.compile(r"admin token \(shown once, keep it\): (\S+)")


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header of ``token``."""
    return {"Authorization": f"Bearer {token}"}


def with_prefix(url: str) -> str:
    """``url`` with a key prefix of its own (``?prefix=t<hex>:``)."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}prefix=t{uuid.uuid4().hex[:12]}:"


@contextlib.contextmanager
def redis_store(directory: Path) -> Iterator[tuple[RedisServer, str]]:
    """A fresh redis-server (AOF always) in ``directory`` and a store URL on it."""
    server = RedisServer(directory / "redis").start()
    try:
        yield server, with_prefix(server.url)
    finally:
        server.kill()


@contextlib.contextmanager
def postgres_store(directory: Path) -> Iterator[tuple[PostgresServer, str]]:
    """A fresh PostgreSQL (fsync on) and a store URL on it with a schema of its own.

    (``directory`` is unused: the server keeps its files in a temporary directory of its own,
    which the ``postgres`` user can enter.)
    """
    del directory
    with PostgresServer() as server:
        yield server, f"{server.url}?schema=t{uuid.uuid4().hex[:12]}"


#: The shared stores replicas run over, by test id.
STORES: dict[str, Callable[[Path], contextlib.AbstractContextManager[tuple[Any, str]]]] = {
    "redis": redis_store,
    "postgres": postgres_store,
}


class Replica:
    """One ``hivemem serve`` process over ``store`` on 127.0.0.1:``port``."""

    def __init__(
        self,
        store: str,
        directory: Path,
        name: str,
        *,
        heartbeat: float = 1.0,
        cleanup_interval: float = 0.0,
    ) -> None:
        self.store = store
        self.directory = directory
        self.name = name
        self.port = free_port()
        self.heartbeat = heartbeat
        self.cleanup_interval = cleanup_interval
        self.proc: subprocess.Popen[bytes] | None = None
        self.out = directory / f"replica-{name}.out"
        self.err = directory / f"replica-{name}.err"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> None:
        """Start the process (without waiting: see :meth:`wait_ready`)."""
        args = [HIVEMEM, "serve", "--store", self.store, "--port", str(self.port)]
        args += ["--heartbeat", str(self.heartbeat)]
        args += ["--cleanup-interval", str(self.cleanup_interval)]
        # No memories here: no model to load at start (/readyz would wait for it).
        args += ["--embedder", "none"]
        with self.out.open("wb") as stdout, self.err.open("wb") as stderr:
            self.proc = subprocess.Popen(
                args,
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the replica answers ``GET /readyz`` with 200."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=2.0) as client:
            while True:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(
                        f"replica {self.name} did not start (exit {self.proc.returncode}):\n"
                        + self.err.read_text(errors="replace")[-3000:]
                    )
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/readyz").status_code == 200:
                        return
                time.sleep(0.05)

    @property
    def admin_token(self) -> str | None:
        """The admin token the replica printed on the store's first start, if it did."""
        found = _TOKEN.search(self.out.read_text(errors="replace"))
        return found.group(1) if found else None

    def kill(self) -> None:
        """SIGKILL the process (by its PID) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


class Replicas:
    """``n`` replicas (A, B, C, ...) over one store; :attr:`admin` is the store's admin token."""

    def __init__(self, store: str, directory: Path, n: int = 3, **options: Any) -> None:
        self.replicas = [Replica(store, directory, chr(ord("A") + i), **options) for i in range(n)]
        self.admin = ""

    def __getitem__(self, i: int) -> Replica:
        return self.replicas[i]

    def __len__(self) -> int:
        return len(self.replicas)

    @property
    def urls(self) -> list[str]:
        """Every replica's base URL, in order."""
        return [r.url for r in self.replicas]

    def start(self) -> Replicas:
        """Start the first replica (it prints the admin token), then the others at once."""
        first, *rest = self.replicas
        first.launch()
        first.wait_ready()
        token = first.admin_token
        if token is None:
            raise RuntimeError(
                "the first replica printed no admin token:\n" + first.out.read_text()
            )
        self.admin = token
        for replica in rest:
            replica.launch()
        for replica in rest:
            replica.wait_ready()
        return self

    def kill(self) -> None:
        """SIGKILL every replica."""
        for replica in self.replicas:
            replica.kill()

    def __enter__(self) -> Replicas:
        try:
            return self.start()
        except BaseException:
            self.kill()
            raise

    def __exit__(self, *exc: object) -> None:
        self.kill()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check()`` until it is true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def run_threads(targets: list[Callable[[], None]], timeout: float) -> None:
    """Run each target in a thread, join them all, and re-raise the first failure."""
    import threading

    errors: list[BaseException] = []

    def wrap(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # reported by the test thread
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(t), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    alive = sum(t.is_alive() for t in threads)
    assert not alive, f"{alive} of {len(threads)} threads still running after {timeout} s"
    if errors:
        raise errors[0]
