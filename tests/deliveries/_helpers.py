"""Processes and checks shared by the webhook delivery tests: a real ``hivemem serve``, a
real receiver (``_receiver.py``), signature and order checks."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import standardwebhooks

import hivemem
from hivemem.testing.server import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Proc", "Receiver", "Server", "all_there", "check_order", "procs", "verify", "wait"]

HERE = Path(__file__).parent
ROOT = str(Path(hivemem.__file__).resolve().parent.parent)
ENV = {**os.environ, "PYTHONPATH": ROOT}


def wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Proc:
    """A child process killed by its PID at the end, whatever happened."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self.argv, self.log = argv, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, env=ENV, stdout=out, stderr=out)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


class Server(Proc):
    def __init__(self, tmp: Path, allow: str | None, name: str = "server") -> None:
        self.port = free_port()
        argv = [sys.executable, "-m", "hivemem", "serve", "--store", f"sqlite:///{tmp}/s.db",
                "--port", str(self.port), "--no-auth", "--cleanup-interval", "0",
                "--decay-interval", "0", "--webhook-claim-ttl", "1",
                "--embedder", "none"]  # fmt: skip
        if allow is not None:
            argv += ["--allow-webhook-host", allow]
        super().__init__(argv, tmp / f"{name}.log")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        super().start()

        def up() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(self.base + "/healthz", timeout=1).status_code == 200
            return False

        wait(up, 60, "the server")


class Receiver(Proc):
    def __init__(self, tmp: Path, threaded: bool = False) -> None:
        self.port = free_port()
        self.out = tmp / "received.jsonl"
        argv = [sys.executable, str(HERE / "_receiver.py"), str(self.port), str(self.out)]
        argv += ["--threaded"] if threaded else []
        super().__init__(argv, tmp / "receiver.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        super().start()

        def up() -> bool:
            with contextlib.suppress(OSError, httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{self.port}/", timeout=1)
                return True
            return False

        wait(up, 30, "the receiver")

    def received(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        lines = self.out.read_text().splitlines()
        return [json.loads(line) for line in lines if line.endswith("}")]


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in started:
        p.kill()


def verify(secret: str, messages: list[dict[str, Any]]) -> None:
    """Every message verifies with the standardwebhooks package (and a forgery does not)."""
    verifier = standardwebhooks.Webhook(secret)
    for m in messages:
        headers = {
            "webhook-id": m["id"],
            "webhook-timestamp": m["timestamp"],
            "webhook-signature": m["signature"],
        }
        verifier.verify(m["body"], headers)
    forged = {**headers, "webhook-id": "msg_forged"}
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        verifier.verify(messages[-1]["body"], forged)


def check_order(expected: dict[str, list[int]], messages: list[dict[str, Any]]) -> None:
    """Every expected revision arrived; none before every earlier one of its namespace had."""
    seen: dict[str, set[int]] = {ns: set() for ns in expected}
    for m in messages:
        data = json.loads(m["body"])["data"]
        ns = data["namespace"]
        revs = [e["revision"] for e in data["events"]]
        assert revs == sorted(set(revs)), revs  # a message is in revision order
        for r in revs:
            missing = [x for x in expected[ns] if x < r and x not in seen[ns]]
            assert not missing, f"{ns}: revision {r} arrived before {missing[:5]}"
            seen[ns].add(r)
    for ns, revs in expected.items():
        assert set(revs) <= seen[ns], sorted(set(revs) - seen[ns])[:10]


def all_there(receiver: Receiver, expected: dict[str, list[int]]) -> bool:
    got = {
        (json.loads(m["body"])["data"]["namespace"], e["revision"])
        for m in receiver.received()
        for e in json.loads(m["body"])["data"]["events"]
    }
    return {(ns, r) for ns, revs in expected.items() for r in revs} <= got
