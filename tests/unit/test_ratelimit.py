"""The per-user token bucket, on a clock the test moves."""

from __future__ import annotations

import pytest

from quantrun.app.ratelimit import RateLimiter, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate_and_the_wait_until_the_next_token() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=10, burst=5, clock=clock)
    assert [limiter.take("u") for _ in range(5)] == [0.0] * 5
    assert limiter.take("u") == pytest.approx(0.1)  # empty: one token every 0.1 s
    clock.now += 0.25  # 2.5 tokens back
    assert [limiter.take("u") == 0.0 for _ in range(3)] == [True, True, False]
    clock.now += 60  # refills to the burst, never beyond
    assert sum(limiter.take("u") == 0.0 for _ in range(10)) == 5


def test_users_have_their_own_buckets_and_idle_ones_are_dropped() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1, burst=1, max_users=2, clock=clock)
    assert limiter.take("a") == 0.0 and limiter.take("a") > 0
    assert limiter.take("b") == 0.0  # a's haste costs b nothing
    assert limiter.take("c") == 0.0  # a's bucket, the least recently seen, is dropped
    assert limiter.take("a") == 0.0  # so a starts afresh: memory is bounded, not a's debt


def test_zero_rate_is_no_limit_and_retry_after_is_whole_seconds() -> None:
    off = RateLimiter(rate=0, burst=1)
    assert not off.enabled and all(off.take("u") == 0.0 for _ in range(1000))
    assert [retry_after(w) for w in (0.01, 1.0, 1.2)] == ["1", "1", "2"]
