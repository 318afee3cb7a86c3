"""What the client does when the network or the service misbehaves, through a real proxy
in front of the live server (``proxy.py``): a dropped answer, 429/503 with Retry-After,
an event stream cut mid-way, an event route that does not work."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from cases import LONG_JOB
from proxy import DROP, RELAY, Action, Proxy, Seen, answer, cut_after

from quantrun_client import Client, ConnectionFailed, RateLimited, RetryPolicy

CALL = {"type": "call", "spot": 42, "strike": 40, "maturity": 0.5, "rate": 0.1, "volatility": 0.2}
LIMITED = b'{"error": {"code": "rate_limited", "message": "slow down", "details": []}}'


@pytest.fixture
def proxied(url: str, key: str) -> Iterator[tuple[Proxy, Client]]:
    rules: list[object] = []
    proxy = Proxy(url, lambda seen, before: rules[0](seen, before))  # type: ignore[operator]
    rules.append(lambda seen, before: RELAY)
    with Client(proxy.url, key, retry=RetryPolicy(backoff=0.05)) as client:
        client.rules = rules  # type: ignore[attr-defined]
        yield proxy, client
    proxy.close()


def _use(client: Client, rule: object) -> None:
    client.rules[0] = rule  # type: ignore[attr-defined]


def _first(method: str, path: str, action: Action):  # type: ignore[no-untyped-def]
    def rule(seen: Seen, before: list[Seen]) -> Action:
        same = [s for s in before if s.method == method and s.path.startswith(path)]
        return (
            action if seen.method == method and seen.path.startswith(path) and not same else RELAY
        )

    return rule


def test_a_submit_whose_answer_was_lost_makes_one_job(
    proxied: tuple[Proxy, Client], client: Client
) -> None:
    proxy, through = proxied
    _use(through, _first("POST", "/v1/jobs", DROP))
    before = [job.id for job in client.jobs(model="black_scholes")]

    job = through.submit("black_scholes", CALL)

    posts = proxy.requests("POST", "/v1/jobs")
    assert len(posts) == 2  # the server made the job; its answer never came; sent again
    assert posts[0].headers["idempotency-key"] == posts[1].headers["idempotency-key"]
    after = [j.id for j in client.jobs(model="black_scholes")]
    assert after[0] == job.id and after[1:] == before  # exactly one new job


def test_a_lost_answer_to_a_write_that_cannot_be_resent_is_an_error(
    proxied: tuple[Proxy, Client], client: Client, examples: dict[str, dict[str, Any]]
) -> None:
    proxy, through = proxied
    _use(through, _first("POST", "/v1/strategies", DROP))
    with pytest.raises(ConnectionFailed):
        through.create_strategy("lost answer", "backtest", examples["backtest"])
    assert len(proxy.requests("POST", "/v1/strategies")) == 1  # not sent twice
    for strategy in client.strategies():
        if strategy["name"] == "lost answer":
            client.delete_strategy(strategy["id"])


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_waited_out(proxied: tuple[Proxy, Client], status: int) -> None:
    proxy, through = proxied
    _use(through, _first("GET", "/v1/models", answer(status, LIMITED, Retry_After="1")))
    began = time.monotonic()
    assert through.models()
    waited = time.monotonic() - began
    assert len(proxy.requests("GET", "/v1/models")) == 2
    assert waited >= 1.0  # the header's second, not the policy's 0.05 s backoff


def test_a_retry_after_past_the_policy_raises_at_once(
    url: str, key: str, proxied: tuple[Proxy, Client]
) -> None:
    proxy, _ = proxied
    proxy.rule = lambda seen, before: answer(429, LIMITED, Retry_After="3600")
    with (
        Client(proxy.url, key, retry=RetryPolicy(max_wait=10)) as through,
        pytest.raises(RateLimited) as limited,
    ):
        through.models()
    assert limited.value.retry_after == 3600 and limited.value.code == "rate_limited"
    assert len(proxy.requests("GET", "/v1/models")) == 1


def test_a_cut_event_stream_is_reopened_with_the_last_event_id(
    proxied: tuple[Proxy, Client],
) -> None:
    proxy, through = proxied
    _use(through, lambda seen, before: cut_after(1) if seen.path.endswith("/events") else RELAY)
    # a job of a second or more: every stream is cut after its first event, so the wait
    # must open it again (and again) to see the end
    job = through.submit("monte_carlo_option", {**LONG_JOB, "paths": 1_000_000})

    assert job.wait(progress=False).status == "succeeded"
    streams = proxy.requests("GET", f"/v1/jobs/{job.id}/events")
    assert len(streams) >= 2 and streams[0].headers.get("last-event-id") is None
    # each reopen says the last id it read; the server numbers on from it
    ids = [int(s.headers["last-event-id"]) for s in streams[1:]]
    assert ids == list(range(1, len(streams)))


def test_without_a_working_event_stream_wait_polls(proxied: tuple[Proxy, Client]) -> None:
    proxy, through = proxied
    gateway = answer(502, b"<html>bad gateway</html>", Content_Type="text/html")
    _use(through, lambda seen, before: gateway if seen.path.endswith("/events") else RELAY)
    job = through.submit("black_scholes", CALL)

    assert job.wait(progress=False).status == "succeeded"
    assert job.result["price"] > 0
    assert len(proxy.requests("GET", f"/v1/jobs/{job.id}/events")) <= 3


def test_wait_latency_over_the_jobs_finish(client: Client) -> None:
    """How long after a job's finished_at its wait() returns (CONTRACT 6.3: at most one
    poll interval). Printed, not asserted: speed belongs to the benchmarks."""
    lags = []
    for i in range(5):
        job = client.submit("monte_carlo_option", {**CALL, "paths": 200_000 + i, "steps": 20})
        job.wait(progress=False)
        returned = datetime.now().astimezone()
        finished = datetime.fromisoformat(job.data["finished_at"].replace("Z", "+00:00"))
        lags.append((returned - finished).total_seconds())
    print(
        f"\nwait() returned {', '.join(f'{s:.3f}' for s in lags)} s after finished_at "
        f"(one poll interval: {client.poll_interval:g} s)"
    )
    assert all(lag >= -0.05 for lag in lags)  # never before the job ended (clock slack)
