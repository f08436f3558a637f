"""The delivery bookkeeping (engine ops): claims, cursors, the bounded log, disabling.

(The directory sorts before tests/ui: Playwright's sync API leaves an event loop running in
the main thread for the rest of the session, and these tests run their own.)

Plus the worker against a target it must refuse at delivery time (the address is checked
before every request, not only when the webhook was added).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import hivemem
from hivemem import ConflictError, PermissionDenied
from hivemem.engine import ops as o
from hivemem.engine.webhooks import MAX_LOG, WEBHOOKS_NAMESPACE
from hivemem.testing.clock import FakeClock
from hivemem.webhooks.guard import Allow
from hivemem.webhooks.worker import Deliverer

URL = "http://93.184.216.34/hook"


def _op(mem: hivemem.Memory, cls: Any, **fields: Any) -> Any:
    return mem._b.execute(cls(agent="system", admin=True, internal=True, **fields)).unwrap()


def _record(mem: hivemem.Memory, hook_id: str, holder: str, **fields: Any) -> Any:
    delivery = {"message_id": "m", "namespace": "team", "first_revision": 1,
                "last_revision": 1, "events": 1, "attempt": 1, "at": 0.0, "ok": True}  # fmt: skip
    fields.setdefault("delivery_json", json.dumps(delivery))
    return _op(mem, o.RecordDelivery, hook_id=hook_id, holder=holder, namespace="team", **fields)


def test_one_holder_at_a_time_and_a_lost_claim_records_nothing() -> None:
    clock = FakeClock()
    with hivemem.connect("memory://", agent="alice", clock=clock) as mem:
        mem.write("team", "k", 1)
        hook = mem.add_webhook(URL, ["team"])
        assert _op(mem, o.ClaimWebhook, hook_id=hook.id, holder="A", until=clock() + 10)
        assert _op(mem, o.ClaimWebhook, hook_id=hook.id, holder="B", until=clock() + 10) is None
        assert _op(mem, o.ClaimWebhook, hook_id=hook.id, holder="A", until=clock() + 20)
        with pytest.raises(ConflictError) as lost:
            _record(mem, hook.id, "B", cursor=99)
        assert lost.value.reason == "claim_lost"
        assert _record(mem, hook.id, "A", cursor=5).cursors == {"team": 5}
        assert _record(mem, hook.id, "A", cursor=3).cursors == {"team": 5}  # never backwards
        clock.advance(21)  # A's claim expired: B takes over, A's late record is refused
        assert _op(mem, o.ClaimWebhook, hook_id=hook.id, holder="B", until=clock() + 10)
        with pytest.raises(ConflictError):
            _record(mem, hook.id, "A", cursor=50)
        assert mem.webhooks()[0].cursors == {"team": 5}
        with pytest.raises(PermissionDenied):  # only the store's own worker claims
            mem._b.execute(
                o.ClaimWebhook(agent="alice", hook_id=hook.id, holder="C", until=clock() + 5)
            ).unwrap()


def test_the_log_keeps_the_newest_attempts_and_failures_disable() -> None:
    with hivemem.connect("memory://", agent="alice") as mem:
        mem.write("team", "k", 1)
        hook = mem.add_webhook(URL, ["team"])
        _op(mem, o.ClaimWebhook, hook_id=hook.id, holder="A", until=mem._b.settings.clock() + 60)
        for n in range(MAX_LOG + 50):
            _record(mem, hook.id, "A", cursor=n)
        log = mem.webhook_deliveries(hook.id)
        assert [d.seq for d in log] == list(range(MAX_LOG + 50, 50, -1))
        stored = mem._b.execute(
            o.ListEntries(
                agent="system",
                admin=True,
                internal=True,
                ns=WEBHOOKS_NAMESPACE,
                prefix=f"d/{hook.id}/",
                limit=None,
            )
        ).unwrap()
        assert len(stored.items) == MAX_LOG
        for n in range(3):
            after = _record(mem, hook.id, "A", ok=False, error="HTTP 500", max_failures=3)
            assert after.failures == n + 1 and after.enabled == (n < 2)
        assert mem.webhooks()[0].enabled is False and mem.webhooks()[0].last_error == "HTTP 500"
        assert _op(mem, o.ClaimWebhook, hook_id=hook.id, holder="A", until=1e12) is None
        assert mem.remove_webhook(hook.id)
        assert (
            mem._b.execute(
                o.ListEntries(
                    agent="system", admin=True, internal=True, ns=WEBHOOKS_NAMESPACE, limit=None
                )
            )
            .unwrap()
            .items
            == []
        )


async def test_the_worker_refuses_a_private_target_at_delivery_time() -> None:
    """An embedded store adds any http(s) URL; its worker checks the address per request."""
    mem = hivemem.connect_async("memory://", agent="alice")
    try:
        await mem.write("team", "k", 1)
        hook = await mem.add_webhook("http://127.0.0.1:9/never", ["team"])
        await mem.write("team", "k", 2)
        worker = Deliverer(mem._c.backend, allow=Allow(), max_failures=2, backoff=0.01, poll=0.01)
        task = asyncio.create_task(worker.run())
        for _ in range(500):
            if not (await mem.webhooks())[0].enabled:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        log = await mem.webhook_deliveries(hook.id)
        assert [d.ok for d in log] == [False, False]
        assert all(d.status is None and "target refused" in (d.error or "") for d in log)
        assert (await mem.webhooks())[0].enabled is False
        assert worker.delivered == 0
    finally:
        await mem.aclose()


async def test_a_cursor_behind_the_retained_events_logs_the_gap_and_goes_on() -> None:
    mem = hivemem.connect_async("memory://", agent="alice", event_retention=5)
    try:
        await mem.write("team", "k", 0)
        hook = await mem.add_webhook("http://127.0.0.1:9/never", ["team"])
        start = hook.cursors["team"]
        for i in range(20):
            await mem.write("team", "k", i)
        worker = Deliverer(mem._c.backend, allow=Allow(), max_failures=3, backoff=0.01, poll=0.01)
        task = asyncio.create_task(worker.run())
        for _ in range(500):
            if not (await mem.webhooks())[0].enabled:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        log = sorted(await mem.webhook_deliveries(hook.id), key=lambda d: d.seq)
        gap = log[0]
        assert not gap.ok and (gap.error or "").startswith("gap: ")
        assert gap.first_revision == start + 1 and gap.last_revision == start + 20 - 5
        # then the oldest retained events, from the revision right after the gap
        assert log[1].first_revision == gap.last_revision + 1 and log[1].events == 5
    finally:
        await mem.aclose()
