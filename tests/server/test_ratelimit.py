"""The token bucket of the server's rate limit (:mod:`hivemem.server.ratelimit`)."""

from __future__ import annotations

import pytest

from hivemem.server.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_rate_holds() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=10, burst=5, clock=clock)
    assert [limiter.take("a") for _ in range(5)] == [0.0] * 5
    wait = limiter.take("a")
    assert wait == pytest.approx(0.1)  # one request refills in 1/rate seconds
    assert limiter.limited == 1
    clock.now += 0.1
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0
    clock.now += 10  # idle: the bucket refills, never beyond the burst
    assert [limiter.take("a") for _ in range(5)] == [0.0] * 5
    assert limiter.take("a") > 0


def test_keys_have_their_own_buckets() -> None:
    limiter = RateLimiter(rate=1, burst=1, clock=Clock())
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == pytest.approx(1.0)
    assert limiter.take("b") == 0.0


def test_refused_requests_do_not_drain_the_bucket_further() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=1, clock=clock)
    limiter.take("a")
    for _ in range(100):
        assert limiter.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.take("a") == 0.0


def test_buckets_are_bounded_least_recently_used_first() -> None:
    limiter = RateLimiter(rate=1, burst=1, max_keys=3, clock=Clock())
    for key in ("a", "b", "c"):
        limiter.take(key)
    limiter.take("a")  # refused, and now the most recently used
    limiter.take("d")  # evicts b
    assert len(limiter) == 3
    assert limiter.take("a") > 0  # still remembered: still empty
    assert limiter.take("b") == 0.0  # forgotten: back with a full bucket
    for i in range(10_000):
        limiter.take(f"k{i}")
    assert len(limiter) == 3


def test_zero_rate_means_no_limit() -> None:
    limiter = RateLimiter(rate=0, burst=1)
    assert not limiter.enabled
    assert all(limiter.take("a") == 0.0 for _ in range(1000))
    assert len(limiter) == 0
