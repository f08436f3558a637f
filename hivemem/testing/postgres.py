"""A real PostgreSQL server of its own in a temporary directory, for tests (never the shared 5432).

:class:`PostgresServer` runs ``initdb`` and ``pg_ctl`` from the machine's PostgreSQL 15
binaries into a fresh directory, on a free loopback port with its socket inside that
directory, trust authentication and ``fsync`` on (a kill -9 of the postmaster loses no
acknowledged commit). PostgreSQL refuses to run as root: as root, the binaries run as the
``postgres`` OS user, which owns the directory.

Tests give each store a schema of its own in the one database (``?schema=t<n>`` in the
URL): creating a schema costs a few catalog rows, a database a copy of its template.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from hivemem.testing.server import free_port

__all__ = ["PG_BIN", "PostgresServer", "postgres_available"]

#: Where the machine's PostgreSQL 15 binaries are (``$HIVEMEM_PG_BIN`` overrides).
PG_BIN = os.environ.get("HIVEMEM_PG_BIN", "/usr/lib/postgresql/15/bin")
#: The OS user that runs the server when we are root.
PG_USER = "postgres"


def postgres_available() -> bool:
    """Whether ``initdb`` and ``pg_ctl`` are in :data:`PG_BIN`."""
    return all(Path(PG_BIN, name).is_file() for name in ("initdb", "pg_ctl", "postgres"))


class PostgresServer:
    """One PostgreSQL server on a free loopback port, its files in a temporary directory.

    ``start()`` after ``stop()`` or ``kill()`` restarts it on the same port and files;
    leaving the context (or :meth:`cleanup`) stops it and removes the directory.
    """

    def __init__(self, *, port: int | None = None, max_connections: int = 300) -> None:
        self.port = port or free_port()
        self.max_connections = max_connections
        self.root = Path(tempfile.mkdtemp(prefix="hivemem-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log = self.root / "server.log"
        self._initialised = False

    @property
    def url(self) -> str:
        """``postgresql://postgres@127.0.0.1:<port>/postgres``."""
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(Path(PG_BIN, args[0])), *args[1:]]
        if os.geteuid() == 0:  # initdb and postgres refuse root
            cmd = ["runuser", "-u", PG_USER, "--", *cmd]
        return subprocess.run(
            cmd, capture_output=True, text=True, check=check, timeout=120, stdin=subprocess.DEVNULL
        )

    def _init(self) -> None:
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, PG_USER, PG_USER)
            shutil.chown(self.socket_dir, PG_USER, PG_USER)
        # --no-sync only speeds up initdb's own writes; the server runs with fsync on.
        self._run(
            "initdb", "-D", str(self.data), "-U", PG_USER, "-A", "trust", "-E", "UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip
        self._initialised = True

    def start(self) -> PostgresServer:
        """Start (or restart, on the same port and files) and wait until it accepts connections.

        Raises:
            RuntimeError: the server did not start (its log is in the message).
        """
        if not self._initialised:
            self._init()
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.socket_dir}",
                "-c fsync=on",
                "-c synchronous_commit=on",
                f"-c max_connections={self.max_connections}",
                "-c max_locks_per_transaction=256",
                "-c shared_buffers=32MB",
            ]
        )
        done = self._run(
            "pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
            "-o", options, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"PostgreSQL on port {self.port} did not start: {done.stderr}{log}")
        return self

    def postmaster_pid(self) -> int | None:
        """The postmaster's process id while it runs, else ``None``."""
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kill(self) -> None:
        """SIGKILL the postmaster (a crash); its backends exit on their own."""
        pid = self.postmaster_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are ended)."""
        if self._initialised and self.postmaster_pid() is not None:
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", check=False)

    def cleanup(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
