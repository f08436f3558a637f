"""Real server processes for the server fault tests (streams, faults, durability).

:class:`ServerProcess` runs ``_launch.py`` (uvicorn over ``create_app`` on a SQLite file) as a
subprocess on a fixed free port, and can stop it (SIGTERM), crash it (SIGKILL), pause it
(SIGSTOP/SIGCONT) and start it again on the same port and file. Use it as a context manager:
the process is killed by its PID on exit, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

import hivemem
from hivemem.testing.server import free_port

__all__ = ["ServerProcess", "raw_client", "wait_until"]

LAUNCH = Path(__file__).with_name("_launch.py")
ROOT = str(Path(hivemem.__file__).resolve().parent.parent)


class ServerProcess:
    """``_launch.py`` on ``db`` (SQLite, durability full) at 127.0.0.1:``port``, auth off."""

    def __init__(
        self,
        db: Path,
        *,
        port: int | None = None,
        event_retention: int | None = None,
        durability: str = "full",
        heartbeat: float = 1.0,
    ) -> None:
        self.db = db
        self.port = port if port is not None else free_port()
        self.event_retention = event_retention
        self.durability = durability
        self.heartbeat = heartbeat
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log_dir = db.parent

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.db}?durability={self.durability}"

    def start(self, timeout: float = 20.0) -> ServerProcess:
        """Start the process and return once it printed its ready line."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        out = self._log_dir / f"server-{self.port}-{self.starts}.out"
        err = self._log_dir / f"server-{self.port}-{self.starts}.err"
        args = [sys.executable, str(LAUNCH), self.store_url, str(self.port), "--no-auth"]
        args += ["--heartbeat", str(self.heartbeat)]
        if self.event_retention is not None:
            args += ["--event-retention", str(self.event_retention)]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
        with out.open("wb") as stdout, err.open("wb") as stderr:
            self.proc = subprocess.Popen(
                args, stdout=stdout, stderr=stderr, env=env, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while b"READY" not in out.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"the server did not start (exit {self.proc.returncode}):\n"
                    + err.read_text(errors="replace")[-3000:]
                )
            time.sleep(0.01)
        return self

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the server process (if it runs)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL the process (a crash) and reap it."""
        if self.proc is None:
            return
        self.signal(signal.SIGCONT)  # a paused process must not stay stopped
        self.signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM the process (graceful shutdown), SIGKILL after 10 s."""
        if self.proc is None:
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self, crash: bool = False) -> None:
        """Stop (SIGKILL if ``crash``, else SIGTERM) and start again on the same port and file."""
        if crash:
            self.kill()
        else:
            self.stop()
        self.start()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()


def raw_client(base: str) -> httpx.Client:
    """A plain httpx client for raw HTTP checks (no hivemem client logic)."""
    return httpx.Client(base_url=base, timeout=10.0)


def wait_until(check: Any, timeout: float, what: str, interval: float = 0.01) -> None:
    """Poll ``check()`` until it is true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
