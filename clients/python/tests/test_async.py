"""``AsyncClient`` against the live server: the same calls as coroutines."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from cases import LONG_JOB

from quantrun_client import AsyncClient, JobCancelled, ValidationError

CHAIN = {
    "type": "put",
    "spot": 50,
    "strike": [45, 50, 55],
    "maturity": 1,
    "rate": 0.05,
    "volatility": 0.3,
}


def test_submit_wait_and_frame(url: str, key: str, examples: dict[str, dict[str, Any]]) -> None:
    async def scenario() -> None:
        async with AsyncClient(url, key) as client:
            jobs = await asyncio.gather(
                client.submit("black_scholes", CHAIN),
                client.submit("backtest", examples["backtest"]),
            )
            chain, grid = await asyncio.gather(*(job.wait(progress=False) for job in jobs))
            assert (
                list((await chain.frame())["price"])
                == (await client.run("black_scholes", CHAIN))["price"]
            )
            results = await grid.frame("results")
            assert len(results) == grid.result["grid_size"]
            assert (await grid.frame("grid.csv"))["sharpe"].tolist() == pytest.approx(
                results["sharpe"].tolist(), rel=1e-12
            )
            listed = [job.id async for job in client.jobs(page_size=1)]
            assert {chain.id, grid.id} <= set(listed[:10])
            close = await client.prices(["SPY"], "2016-01-01", "2016-12-31")
            assert close.shape == (252, 1)  # 2016's NYSE trading days

    asyncio.run(scenario())


def test_errors_and_cancel(url: str, key: str) -> None:
    async def scenario() -> None:
        async with AsyncClient(url, key) as client:
            with pytest.raises(ValidationError) as refused:
                await client.submit("black_scholes", {**CHAIN, "maturity": "soon"})
            assert "params.maturity" in refused.value.fields
            job = await client.submit("monte_carlo_option", LONG_JOB)
            await job.cancel()
            await job.wait(progress=False)
            with pytest.raises(JobCancelled):
                _ = job.result

    asyncio.run(scenario())


def test_portfolios_through_the_async_client(
    url: str, key: str, examples: dict[str, dict[str, Any]]
) -> None:
    params = {**examples["backtest"], "strategy": {"name": "rsi", "period": 14}}

    async def scenario() -> None:
        async with AsyncClient(url, key) as client:
            strategy = await client.create_strategy("async paper", "backtest", params)
            made = await client.create_portfolio(strategy["id"], "async paper", "2017-06-01")
            stepped = await client.step_portfolio(made["id"])
            equity = await client.portfolio_frame(made["id"], "equity")
            # caught up, whether this step or the server's own (every 10 s) booked each day
            assert len(equity) == stepped["portfolio"]["days"] >= stepped["booked"]
            assert len(equity) > 100
            assert stepped["portfolio"]["as_of"] == str(equity.index[-1].date())
            assert (await client.portfolio(made["id"]))["as_of"] == str(equity.index[-1].date())
            await client.delete_portfolio(made["id"])
            assert made["id"] not in {p["id"] for p in await client.portfolios()}

    asyncio.run(scenario())
