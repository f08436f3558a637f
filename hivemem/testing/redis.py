"""Real ``redis-server`` processes on free ports, for tests (never the shared 6379).

:class:`RedisServer` starts one server (AOF with ``appendfsync always`` by default, so a
kill -9 loses no acknowledged write); :class:`RedisCluster` starts N masters and joins them
with ``redis-cli --cluster create``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from typing import TYPE_CHECKING

from hivemem.testing.server import free_port

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["RedisCluster", "RedisServer", "redis_available"]


def redis_available() -> bool:
    """Whether ``redis-server`` and ``redis-cli`` are on the PATH."""
    return shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is valid and free too.

    Redis refuses cluster mode on ports above 55535; :func:`free_port` draws from the
    ephemeral range (up to 60999 on Linux), so a plain free port fails now and then.
    """
    for _ in range(1000):
        port = free_port()
        if port > 55535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


class RedisServer:
    """One redis-server on a free loopback port, data in ``directory``."""

    def __init__(
        self, directory: Path, *, port: int | None = None, aof: bool = True, cluster: bool = False
    ) -> None:
        self.directory = directory
        self.port = port or (_cluster_port() if cluster else free_port())
        self.aof = aof
        self.cluster = cluster
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start (or restart, on the same port and files) and wait until it answers PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--appendonly",
            "yes" if self.aof else "no",
            "--appendfsync",
            "always",
            "--protected-mode",
            "no",
        ]
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
        )
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until the server answers PING."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.stdout.strip() == "PONG":
                return
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited")
            time.sleep(0.02)
        raise RuntimeError(f"redis-server on port {self.port} did not answer")

    def kill(self) -> None:
        """SIGKILL the server (a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the server."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisCluster:
    """``masters`` redis-servers in cluster mode, joined into one cluster (no replicas)."""

    def __init__(self, directory: Path, masters: int = 3) -> None:
        self.directory = directory
        self.masters = masters
        self.nodes = self._make_nodes(0)

    def _make_nodes(self, attempt: int) -> list[RedisServer]:
        return [
            RedisServer(self.directory / f"try{attempt}-node{i}", aof=True, cluster=True)
            for i in range(self.masters)
        ]

    @property
    def url(self) -> str:
        """``redis+cluster://127.0.0.1:p1,127.0.0.1:p2,...``."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self) -> RedisCluster:
        """Start every node, create the cluster and wait until every node says it is ok.

        A busy machine sometimes loses the race for a port or a handshake: start over on
        fresh ports, up to three times.
        """
        error: Exception | None = None
        for attempt in range(3):
            if attempt:
                self.stop()
                self.nodes = self._make_nodes(attempt)
            try:
                self._start_once()
                return self
            except (subprocess.SubprocessError, RuntimeError, OSError) as exc:
                error = exc
        raise RuntimeError(f"the Redis cluster did not start: {error!r}")

    def _start_once(self) -> None:
        for node in self.nodes:
            node.start()
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *[f"127.0.0.1:{n.port}" for n in self.nodes],
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            check=True,
            timeout=60,
        )
        deadline = time.monotonic() + 60
        pending = list(self.nodes)
        while pending and time.monotonic() < deadline:
            info = subprocess.run(
                ["redis-cli", "-p", str(pending[0].port), "cluster", "info"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            if "cluster_state:ok" in info:
                pending.pop(0)
            else:
                time.sleep(0.05)
        if pending:
            raise RuntimeError("the Redis cluster did not become ok on every node")

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> RedisCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
