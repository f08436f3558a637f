"""Webhook deliveries end to end (SPEC §19): a real ``hivemem serve``, a real receiver.

The receiver (``_receiver.py``, a separate process) is killed and restarted mid-stream, then
the server is killed (``kill -9``) and restarted mid-stream: every event still arrives at
least once, per namespace in revision order (no event is received before every earlier one
was), each message's signature verified by the independent ``standardwebhooks`` package.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import httpx
import pytest

import hivemem
from hivemem import InvalidArgument, PermissionDenied

pytest.importorskip("standardwebhooks")

from _helpers import (
    Proc,
    Receiver,
    Server,
    check_order,
    procs,
    verify,
    wait,
)

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["procs"]  # the fixture, used by name


def test_every_event_arrives_through_receiver_and_server_restarts(
    tmp_path: Path, procs: list[Proc]
) -> None:
    server = Server(tmp_path, allow="127.0.0.1")
    receiver = Receiver(tmp_path)
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
        wait(lambda: len(receiver.received()) > 0, 30, "the first deliveries")
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

        wait(all_there, 60, "every event")
        log = mem.webhook_deliveries(hook.id, agent="alice")
        assert log and log[0].ok and len(log) <= 100
        assert any(not d.ok for d in log) or any(d.attempt > 1 for d in log) or len(log) == 100
        listed = {h.id: h for h in mem.webhooks(agent="alice")}[hook.id]
        assert listed.enabled and listed.secret is None
    messages = receiver.received()
    verify(hook.secret, messages)
    check_order(expected, messages)
    bodies = [json.loads(m["body"]) for m in messages]
    assert all(b["type"] == "hivemem.events" for b in bodies)
    assert all(e["type"] == "memory:write" for b in bodies for e in b["data"]["events"])


def test_private_non_http_and_non_admin_targets_are_refused(
    tmp_path: Path, procs: list[Proc]
) -> None:
    server = Server(tmp_path, allow=None)  # the default: no private target allowed
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
