"""A real server process over SQLite or Redis for the engine-values attacks.

:class:`Served` runs ``tests/server/_launch.py`` (uvicorn over ``create_app``, auth off) as a
subprocess on a free port, on a store URL of either backend, and kills it by its PID on
exit. :func:`old_write` stores a value as an earlier version would have (without the check
that refuses reserved values), at the backend level, before a server opens the store.
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
import pytest

import hivemem
from hivemem.engine import apply
from hivemem.testing.server import free_port

__all__ = ["DEADLINE", "Served", "old_write"]

LAUNCH = Path(__file__).resolve().parent.parent / "server" / "_launch.py"
ROOT = str(Path(hivemem.__file__).resolve().parent.parent)
#: Seconds any one request may take: a hang fails the test instead of stalling it.
DEADLINE = 5.0


def old_write(store_url: str, ns: str, key: str, value: Any) -> None:
    """Write ``value`` into the store as a version without the reserved-value check would."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(apply, "check_value", lambda value_json: None)
        mem = hivemem.connect(store_url)
        try:
            mem.write(ns, key, value)
        finally:
            mem.close()


class Served:
    """The server process on ``store_url``; ``client`` is an httpx client with a deadline."""

    def __init__(self, store_url: str, log_dir: Path) -> None:
        self.store_url = store_url
        self.log_dir = log_dir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=DEADLINE)

    def start(self, timeout: float = 30.0) -> Served:
        self.starts += 1
        out = self.log_dir / f"server-{self.port}-{self.starts}.out"
        err = self.log_dir / f"server-{self.port}-{self.starts}.err"
        args = [sys.executable, str(LAUNCH), self.store_url, str(self.port), "--no-auth"]
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
                raise RuntimeError("the server did not start:\n" + err.read_text()[-3000:])
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> float:
        """SIGTERM the server; return how long it took to exit (SIGKILL after ``timeout``)."""
        assert self.proc is not None
        started = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return float("inf")
        return time.monotonic() - started

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def __enter__(self) -> Served:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
        self.client.close()
