"""A token's share of the server follows what its reads cost (RELIABILITY T16, issue 15).

The unit checks behind ``test_t16_resource``'s ``since-churn`` and ``heavy-reads``: costly
reads are charged by item against the token's rate limit (with a bounded debt), one token's
costly calls run one at a time, and an event stream reads a backlog in steps, the next only
once the client took the last; a request over the rate limit gets its 429 no sooner than
it could have retried.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import TYPE_CHECKING

import httpx
import pytest

from hivemem.server.app import Hub
from hivemem.server.auth import Caller
from hivemem.server.fanout import FETCH_EVENTS
from hivemem.server.guard import RATE_LIMIT_HOLD
from hivemem.server.ratelimit import MAX_DEBT_SECONDS, RateLimiter

if TYPE_CHECKING:
    from pathlib import Path


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_charge_puts_the_bucket_in_debt_at_most_a_burst_deep() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=10, burst=5, clock=clock)
    assert limiter.take("a") == 0.0
    limiter.charge("a", 1000)  # far beyond the burst: the debt stops at -burst
    assert limiter.take("a") == pytest.approx((1 + 5) / 10)
    clock.now += 0.6
    assert limiter.take("a") == 0.0
    assert limiter.take("b") == 0.0  # other keys are not charged


def test_a_charge_leaves_at_most_max_debt_seconds_of_wait() -> None:
    """However big the burst, a charged token's next request waits ≤ MAX_DEBT_SECONDS + 1/rate."""
    clock = Clock()
    limiter = RateLimiter(rate=10, burst=1000, clock=clock)
    limiter.charge("a", 10**6)
    assert limiter.take("a") == pytest.approx(MAX_DEBT_SECONDS + 1 / 10)
    clock.now += MAX_DEBT_SECONDS + 0.1
    assert limiter.take("a") == 0.0


def test_one_tokens_costly_calls_run_one_at_a_time() -> None:
    hub = SimpleNamespace(turns={})
    running: list[str] = []
    most: dict[str, int] = {}

    async def call(caller: Caller) -> None:
        async with Hub.turn(hub, caller):  # type: ignore[arg-type]
            running.append(caller.agent)
            most[caller.agent] = max(most.get(caller.agent, 0), running.count(caller.agent))
            await asyncio.sleep(0.01)
            running.remove(caller.agent)

    async def main() -> None:
        mallory, alice = Caller("mallory", False, "t1"), Caller("alice", False, "t2")
        await asyncio.gather(*(call(mallory) for _ in range(5)), call(alice), call(alice))

    asyncio.run(main())
    assert most == {"mallory": 1, "alice": 1}
    assert hub.turns == {}  # nothing kept once no call holds or awaits a turn


def test_a_stream_reads_no_backlog_ahead_of_a_client_that_does_not_read() -> None:
    from hivemem.server.routes import events as ev

    assert FETCH_EVENTS <= 200
    fetched: list[int] = []

    async def main() -> None:
        from hivemem.types import Event

        backlog = [Event("entry:written", "ns", r, 0.0, "a", "k", r) for r in range(1, 1001)]

        class Fanout:
            async def events_after(self, hub: object, caller: object, key: tuple, frame: object):  # type: ignore[no-untyped-def]
                found = [e for e in backlog if e.revision > key[1]][:FETCH_EVENTS]
                fetched.append(len(found))
                last = found[-1].revision if found else key[1]
                return len(found), last, b"x" * 10 * len(found)

            def release(self, key: object) -> None:
                pass

        notifier = SimpleNamespace(mark=lambda ns: 0, await_change=lambda *a: asyncio.sleep(60))
        hub = SimpleNamespace(
            fanout=Fanout(),
            core=SimpleNamespace(backend=SimpleNamespace(notifier=notifier, poll_interval=1)),
            tokens=SimpleNamespace(revocations=0),
            poller=None,
        )
        drained = asyncio.Event()
        stream = ev._stream(hub, Caller("a", False, None), "ns", 0, 60.0, None, drained)  # type: ignore[arg-type]
        assert (await stream.__anext__())[1] == 1  # "connected"
        drained.clear()  # the client has not taken the first step yet
        _, count = await stream.__anext__()
        assert count == FETCH_EVENTS
        drained.clear()
        nxt = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.05)
        assert not nxt.done() and fetched == [FETCH_EVENTS]  # waits for the client
        drained.set()  # the client took it: the next step is read
        assert (await nxt)[1] == FETCH_EVENTS
        await stream.aclose()

    asyncio.run(main())


def test_a_request_over_the_rate_gets_its_429_no_sooner_than_it_could_retry(
    tmp_path: Path,
) -> None:
    from tests.cli.conftest import serving

    with serving(f"sqlite:///{tmp_path}/s.db", "--rate-limit", "2", "--rate-burst", "1") as server:
        headers = {"Authorization": f"Bearer {server.admin_token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
            client.get("/v1/whoami")  # the burst: its bucket is empty now
            start = time.monotonic()
            answer = client.get("/v1/whoami")
            held = time.monotonic() - start
            assert answer.status_code == 429
            # Held until the bucket had a request again (1/rate s, at most RATE_LIMIT_HOLD).
            assert 0.4 <= held < RATE_LIMIT_HOLD + 2
            assert client.get("/v1/whoami").status_code == 200
