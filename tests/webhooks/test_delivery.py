"""Webhook deliveries end to end (SPEC §19): a real ``hivemem serve``, a real receiver.

The receiver (``_receiver.py``, a separate process) is killed and restarted mid-stream, then
the server is killed (``kill -9``) and restarted mid-stream: every event still arrives at
least once, per namespace in revision order (no event is received before every earlier one
was), each message's signature verified by the independent ``standardwebhooks`` package.
"""

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

import hivemem
from hivemem import InvalidArgument, PermissionDenied
from hivemem.testing.server import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

standardwebhooks = pytest.importorskip("standardwebhooks")

HERE = Path(__file__).parent
ROOT = str(Path(hivemem.__file__).resolve().parent.parent)
ENV = {**os.environ, "PYTHONPATH": ROOT}


def _wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class _Proc:
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


class _Server(_Proc):
    def __init__(self, tmp: Path, allow: str | None) -> None:
        self.port = free_port()
        argv = [sys.executable, "-m", "hivemem", "serve", "--store", f"sqlite:///{tmp}/s.db",
                "--port", str(self.port), "--no-auth", "--cleanup-interval", "0",
                "--decay-interval", "0", "--webhook-claim-ttl", "1"]  # fmt: skip
        if allow is not None:
            argv += ["--allow-webhook-host", allow]
        super().__init__(argv, tmp / "server.log")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        super().start()

        def up() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(self.base + "/healthz", timeout=1).status_code == 200
            return False

        _wait(up, 60, "the server")


class _Receiver(_Proc):
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.out = tmp / "received.jsonl"
        argv = [sys.executable, str(HERE / "_receiver.py"), str(self.port), str(self.out)]
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

        _wait(up, 30, "the receiver")

    def received(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        lines = self.out.read_text().splitlines()
        return [json.loads(line) for line in lines if line.endswith("}")]


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[list[_Proc]]:
    started: list[_Proc] = []
    yield started
    for p in started:
        p.kill()


def _verify(secret: str, messages: list[dict[str, Any]]) -> None:
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


def _check_order(expected: dict[str, list[int]], messages: list[dict[str, Any]]) -> None:
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


def test_every_event_arrives_through_receiver_and_server_restarts(
    tmp_path: Path, procs: list[_Proc]
) -> None:
    server = _Server(tmp_path, allow="127.0.0.1")
    receiver = _Receiver(tmp_path)
    procs += [server, receiver]
    server.start()
    receiver.start()
    expected: dict[str, list[int]] = {"a": [], "b": []}

    def burst(mem: hivemem.Memory, start: int, count: int) -> None:
        for i in range(start, start + count):
            ns = "ab"[i % 2]
            expected[ns].append(mem.write(ns, f"k{i % 7}", i).revision)

    with hivemem.connect(server.base, agent="alice") as mem:
        mem.write("a", "seed", 0)
        mem.write("b", "seed", 0)
        hook = mem.add_webhook(receiver.url, ["a", "b"], ["memory:*"], agent="alice")
        assert hook.secret is not None
        burst(mem, 0, 150)
        _wait(lambda: len(receiver.received()) > 0, 30, "the first deliveries")
        receiver.kill()  # mid-stream: requests fail, are retried with backoff
        burst(mem, 150, 150)
        time.sleep(1.0)
        receiver.start()
        burst(mem, 300, 150)
    server.kill()  # kill -9 mid-stream: the claim expires, the cursor is in the store
    server.start()
    with hivemem.connect(server.base, agent="alice") as mem:
        burst(mem, 450, 150)
        total = sum(len(v) for v in expected.values())

        def all_there() -> bool:
            got = {
                (json.loads(m["body"])["data"]["namespace"], e["revision"])
                for m in receiver.received()
                for e in json.loads(m["body"])["data"]["events"]
            }
            return len(got & {(ns, r) for ns, revs in expected.items() for r in revs}) == total

        _wait(all_there, 60, "every event")
        log = mem.webhook_deliveries(hook.id, agent="alice")
        assert log and log[0].ok and len(log) <= 100
        assert any(not d.ok for d in log) or any(d.attempt > 1 for d in log) or len(log) == 100
        listed = {h.id: h for h in mem.webhooks(agent="alice")}[hook.id]
        assert listed.enabled and listed.secret is None
    messages = receiver.received()
    _verify(hook.secret, messages)
    _check_order(expected, messages)
    bodies = [json.loads(m["body"]) for m in messages]
    assert all(b["type"] == "hivemem.events" for b in bodies)
    assert all(e["type"] == "memory:write" for b in bodies for e in b["data"]["events"])


def test_private_non_http_and_non_admin_targets_are_refused(
    tmp_path: Path, procs: list[_Proc]
) -> None:
    server = _Server(tmp_path, allow=None)  # the default: no private target allowed
    procs.append(server)
    server.start()
    with hivemem.connect(server.base, agent="alice") as mem:
        mem.create_namespace("team", agent="alice")
        for url in ("http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/x",
                    "http://192.168.0.1/x", "http://169.254.169.254/latest",
                    "http://[::1]:8080/x", "http://224.0.0.1/x", "http://0.0.0.0/x"):  # fmt: skip
            with pytest.raises(InvalidArgument) as err:
                mem.add_webhook(url, ["team"], agent="alice")
            assert err.value.details.get("reason") == "webhook_target", url
        with pytest.raises(PermissionDenied):
            mem.add_webhook("http://93.184.216.34/x", ["team"], agent="bob")
        assert mem.webhooks(agent="alice") == []
    # The server checks the scheme itself (a client that skips its own checks).
    raw = httpx.post(
        server.base + "/v1/webhooks",
        json={"url": "file:///etc/passwd", "namespaces": ["team"]},
        headers={"X-Agent-Id": "alice"},
    )
    assert raw.status_code == 422 and raw.json()["error"]["reason"] == "webhook_url"
    raw = httpx.post(
        server.base + "/v1/webhooks",
        json={"url": "http://93.184.216.34/x", "namespaces": ["team"]},
        headers={"X-Agent-Id": "bob"},
    )
    assert raw.status_code == 403
