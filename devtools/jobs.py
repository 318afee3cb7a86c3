"""Jobs the tests, the load test and the stack's smoke checks submit, and waiting for
them: one copy of each instead of one per file."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from quantrun.catalog import black_scholes, monte_carlo_option

FINISHED = ("succeeded", "failed", "cancelled")

# a small option (the contract's README example): one of the cheapest jobs there is;
# the Monte Carlo model's example without its Monte Carlo settings
BLACK_SCHOLES: dict[str, Any] = {
    k: v for k, v in monte_carlo_option.SPEC.example.items() if k not in ("style", "paths", "seed")
}

# Hull, Options, Futures and Other Derivatives, Example 15.6: a call worth 4.76 (the
# black_scholes model's own example)
HULL_CALL: dict[str, Any] = dict(black_scholes.SPEC.example)
# Haug, The Complete Guide to Option Pricing Formulas, 1.1.1 (generalised BSM with a
# dividend yield): a put worth 2.4648
HAUG_PUT: dict[str, Any] = {
    "type": "put",
    "spot": 100,
    "strike": 95,
    "maturity": 0.5,
    "rate": 0.1,
    "volatility": 0.2,
    "dividend_yield": 0.05,
}


def asian_monte_carlo(paths: int, seed: int) -> dict[str, Any]:
    """A path-dependent Monte Carlo that runs long enough to be caught mid-run."""
    return {
        **BLACK_SCHOLES,
        "style": "asian_arithmetic",
        "steps": 252,
        "paths": paths,
        "seed": seed,
    }


def wait_for_job(
    client: httpx.Client,
    job_id: str,
    *,
    until: tuple[str, ...] = FINISHED,
    timeout: float = 60,
    interval: float = 0.05,
    between: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Poll ``GET /v1/jobs/{id}`` until its status is one of ``until``; ``between`` runs
    after each poll (e.g. a reclaim sweep, what Cloud Scheduler does in production)."""
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in until:
            return job
        between()
        time.sleep(interval)
    raise AssertionError(f"job {job_id} did not reach {until} in {timeout} s: {job}")


T = TypeVar("T")


def wait_until(predicate: Callable[[], T], *, timeout: float = 60, interval: float = 0.3) -> T:
    """The first truthy value of ``predicate()``, polled until ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not reached in {timeout} s")
