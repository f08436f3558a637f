"""Real ``hivemem`` processes for the CLI tests: servers on free ports, commands, readers."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

DEADLINE = 30.0


def hivemem_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "hivemem", *args]


def clean_env(**settings: str) -> dict[str, str]:
    """The environment without any ``HIVEMEM_*`` setting of the machine, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIVEMEM_")}
    env.update(settings)
    return env


def run_cli(*args: str, timeout: float = DEADLINE) -> subprocess.CompletedProcess[str]:
    """Run ``python -m hivemem ARGS`` to completion."""
    return subprocess.run(
        hivemem_cmd(*args), capture_output=True, text=True, timeout=timeout, env=clean_env()
    )


class Lines:
    """Read a process's stdout lines in a thread, so tests can wait with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        assert proc.stdout is not None
        stream = proc.stdout

        def pump() -> None:
            with stream:
                for line in stream:
                    self.queue.put(line.rstrip("\n"))
            self.queue.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def next(self, timeout: float = DEADLINE) -> str | None:
        """The next line (``None`` at end of output); fails the test after ``timeout``."""
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no output within {timeout} s")

    def rest(self, timeout: float = DEADLINE) -> list[str]:
        """Every remaining line, until the output ends."""
        lines = []
        while (line := self.next(timeout)) is not None:
            lines.append(line)
        return lines


@dataclass
class Server:
    """A ``hivemem serve`` process."""

    proc: subprocess.Popen[str]
    url: str
    lines: Lines
    banner: list[str] = field(default_factory=list)
    stderr_text: str | None = None

    @property
    def admin_token(self) -> str | None:
        for line in self.banner:
            if line.startswith("admin token"):
                return line.rsplit(" ", 1)[1]
        return None

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


def start_server(store: str, *args: str) -> Server:
    """Start ``hivemem serve`` on a free port; return once ``/healthz`` answers.

    Without an embedder unless ``args`` name one (``--embedder minilm``): a server loads
    its embedder at start, seconds of CPU the CLI tests do not need.
    """
    # Imported here: tests/conformance registers hivemem.testing for assert rewriting,
    # which must happen before the package is first imported.
    from hivemem.testing.server import free_port

    port = free_port()
    proc = subprocess.Popen(
        hivemem_cmd("serve", "--store", store, "--port", str(port), *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(HIVEMEM_EMBEDDER="none"),
    )
    lines = Lines(proc)
    server = Server(proc, f"http://127.0.0.1:{port}", lines)
    first = lines.next()
    assert first is not None and first.startswith("hivemem serving http://127.0.0.1:"), first
    server.banner.append(first)
    deadline = time.monotonic() + DEADLINE
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + "/healthz", timeout=2).status_code == 200:
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            assert proc.stderr is not None
            pytest.fail(f"hivemem serve did not start: {proc.stderr.read()}")
        time.sleep(0.05)
    with contextlib.suppress(queue.Empty):
        while True:
            line = lines.queue.get(timeout=0.2)
            if line is None:
                break
            server.banner.append(line)
    return server


@contextlib.contextmanager
def serving(store: str, *args: str) -> Iterator[Server]:
    server = start_server(store, *args)
    try:
        yield server
    finally:
        server.stop()
        if server.proc.stderr is not None:
            with server.proc.stderr:
                server.stderr_text = server.proc.stderr.read()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/store.db"


@pytest.fixture
def server(sqlite_url: str) -> Iterator[Server]:
    """A server with auth on over a fresh SQLite file (its admin token in the banner)."""
    with serving(sqlite_url) as s:
        yield s
