"""Jobs through ``Client`` against the live server: submit, wait, results as tables,
artifacts, cancel, errors with the API's code and fields, paging."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from cases import LONG_JOB

from quantrun_client import (
    AuthenticationError,
    Client,
    Conflict,
    JobCancelled,
    JobFailed,
    NotFound,
    QuantRunError,
    ValidationError,
    WaitTimeout,
)

CHAIN = {
    "type": "call",
    "spot": 100.0,
    "strike": [80.0, 90.0, 100.0, 110.0, 120.0],
    "maturity": 0.5,
    "rate": 0.03,
    "volatility": 0.2,
}


def test_an_option_chain_job_agrees_with_the_synchronous_route(client: Client) -> None:
    job = client.submit("black_scholes", CHAIN).wait(progress=False)

    assert job.status == "succeeded" and job.done and job.progress == 1.0
    table = job.frame()
    assert list(table["price"]) == client.run("black_scholes", CHAIN)["price"]
    assert len(table) == 5 and {"price", "delta", "gamma", "vega"} <= set(table.columns)
    # put-call parity's call side: deeper in the money, dearer; delta falls with strike
    assert table["price"].is_monotonic_decreasing and table["delta"].is_monotonic_decreasing


def test_a_backtest_grid_as_frames_artifacts_and_a_card(
    client: Client, examples: dict[str, dict[str, Any]], tmp_path: Any
) -> None:
    params = examples["backtest"]
    job = client.submit("backtest", params).wait(progress=True)

    results = job.frame("results")
    grid = job.frame("grid.csv")
    assert len(results) == len(grid) == job.result["grid_size"] == 4
    assert list(results["params.fast"]) == list(grid["fast"])
    assert list(results["sharpe"]) == pytest.approx(list(grid["sharpe"]), rel=1e-12)

    equity = job.frame("equity")  # the line chart's data (charts.json)
    assert isinstance(equity.index, pd.DatetimeIndex) and equity.index.is_monotonic_increasing
    best = job.result["best"]["total_return"]
    line = equity.iloc[:, 0]
    assert line.iloc[-1] / line.iloc[0] - 1 == pytest.approx(best, rel=1e-9)

    written = job.download("grid.csv", tmp_path)
    assert written == tmp_path / "grid.csv" and written.read_bytes() == job.artifact("grid.csv")
    report = job.download("report.html", tmp_path / "reports" / "grid.html")
    assert report.read_text().lstrip().lower().startswith("<!doctype html")

    card = job._repr_html_()
    assert "succeeded" in card and "best.sharpe" in card and "grid.csv" in card
    assert f"/#/jobs/{job.id}" in card


def test_errors_carry_the_api_code_and_fields(client: Client, url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        client.submit("black_scholes", {**CHAIN, "volatility": -1})
    assert refused.value.status == 422 and refused.value.code == "validation_error"
    assert "params.volatility" in refused.value.fields

    with pytest.raises(NotFound) as missing:
        client.job("00000000-0000-0000-0000-000000000000")
    assert missing.value.status == 404

    with Client(url, "qr_not-a-key") as stranger, pytest.raises(AuthenticationError):
        stranger.models()


def test_without_a_key_the_client_says_where_one_comes_from(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUANTRUN_API_KEY", raising=False)
    with pytest.raises(QuantRunError) as missing:
        Client(url)
    assert missing.value.code == "no_api_key" and "QUANTRUN_API_KEY" in missing.value.message


def test_a_failed_job_raises_its_error_on_result(client: Client) -> None:
    # the sample data starts in 1989: this window has no prices, which the worker finds
    params = {"symbols": ["AAPL", "XOM"], "start": "1970-01-01", "end": "1975-12-31"}
    try:
        job = client.submit("risk_metrics", params)
    except ValidationError as refused:  # the API may know first; either way it is named
        assert refused.code in {"validation_error", "insufficient_history"}
        return
    job.wait(progress=False)
    assert job.status == "failed"
    with pytest.raises(JobFailed) as failed:
        _ = job.result
    assert failed.value.code == job.error["code"] and failed.value.message


def test_wait_times_out_and_cancel_stops_the_job(client: Client) -> None:
    job = client.submit("monte_carlo_option", LONG_JOB)
    with pytest.raises(WaitTimeout):
        job.wait(progress=False, timeout=0.3)
    assert job.cancel().status == "cancelled"
    with pytest.raises(JobCancelled):
        _ = job.wait(progress=False).result

    finished = client.submit("black_scholes", CHAIN).wait(progress=False)
    with pytest.raises(Conflict) as late:
        finished.cancel()
    assert late.value.status == 409 and finished.refresh().status == "succeeded"


def test_the_same_idempotency_key_is_the_same_job(client: Client) -> None:
    first = client.submit("black_scholes", CHAIN, idempotency_key="client-test-same-key")
    again = client.submit("black_scholes", CHAIN, idempotency_key="client-test-same-key")
    assert again.id == first.id
    with pytest.raises(Conflict):
        client.submit(
            "black_scholes", {**CHAIN, "rate": 0.04}, idempotency_key="client-test-same-key"
        )


def test_jobs_iterates_every_page(client: Client) -> None:
    made = [client.submit("black_scholes", {**CHAIN, "spot": 100 + i}).id for i in range(5)]
    listed = [job.id for job in client.jobs(model="black_scholes", page_size=2)]
    assert len(listed) == len(set(listed))  # no page repeats a job
    assert listed[:5] == made[::-1]  # newest first, across pages
    assert all(job.model == "black_scholes" for job in client.jobs(model="black_scholes"))


def test_prices_are_dates_by_symbols(client: Client) -> None:
    close = client.prices(["AAPL", "XOM"], "2017-01-01", "2017-01-31")
    assert list(close.columns) == ["AAPL", "XOM"] and isinstance(close.index, pd.DatetimeIndex)
    assert close.index[0] == pd.Timestamp("2017-01-03")  # the first trading day of 2017
    both = client.prices("AAPL,XOM", "2017-01-01", "2017-01-31", fields=["close", "adj_close"])
    assert both.columns.names == ["field", "symbol"]
    assert both["close"].shape == close.shape
    instruments = client.instruments()
    assert {"AAPL", "XOM", "SPY"} <= set(instruments.index)
    assert set(client.instruments(active=True).index) == set(instruments.index)
    assert instruments.loc["AAPL", "currency"] == "USD"
    # no EUR rates are stored here: the API names the rate it lacks
    with pytest.raises(ValidationError) as missing:
        client.prices("AAPL", "2017-01-01", "2017-01-31", currency="EUR")
    assert missing.value.code == "missing_fx_rate" and "EURUSD" in missing.value.message
    same = client.prices(["AAPL", "XOM"], "2017-01-01", "2017-01-31", currency="USD")
    pd.testing.assert_frame_equal(same, close)
    # the sample is stored adjusted and has no corporate actions: as traded reads the same
    assert client.actions("AAPL").empty
    raw = client.prices(["AAPL", "XOM"], "2017-01-01", "2017-01-31", adjustment="none")
    pd.testing.assert_frame_equal(raw, close)
    with pytest.raises(ValidationError) as bad:
        client.prices("AAPL", "2017-01-01", "2017-01-31", adjustment="dividends")
    assert "adjustment" in str(bad.value)


def test_me_tells_role_quotas_and_usage(client: Client) -> None:
    me = client.me()
    assert me["role"] == "member" and me["quotas"]["portfolios"] >= 1
    assert me["usage"]["api_keys"] >= 1


def test_models_list_their_schemas(client: Client) -> None:
    models = {m["name"]: m for m in client.models()}
    assert {"black_scholes", "backtest", "markowitz"} <= set(models)
    assert models["black_scholes"]["params_schema"]["type"] == "object"


def test_strategies_schedules_and_webhooks(
    client: Client, examples: dict[str, dict[str, Any]]
) -> None:
    params = {**examples["backtest"], "strategy": {"name": "sma_cross", "fast": 20, "slow": 100}}
    strategy = client.create_strategy("client test", "backtest", params)
    try:
        assert client.strategy(strategy["id"])["name"] == "client test"
        assert client.update_strategy(strategy["id"], active=False)["active"] is False
        signals = client.signals(strategy["id"], "2017-12-29")
        assert {s["symbol"] for s in signals["signals"]} == set(params["symbols"])
        job = client.submit_strategy(strategy["id"]).wait(progress=False)
        assert job.data["strategy_id"] == strategy["id"] and job.status == "succeeded"

        schedule = client.create_schedule(strategy["id"], "0 18 * * 1-5", "America/New_York")
        assert schedule["id"] in {s["id"] for s in client.schedules()}
        client.delete_schedule(schedule["id"])
        assert schedule["id"] not in {s["id"] for s in client.schedules()}
    finally:
        client.delete_strategy(strategy["id"])
    assert strategy["id"] not in {s["id"] for s in client.strategies()}

    hook = client.create_webhook("http://127.0.0.1:9/hook", ["job.succeeded"])
    assert hook["secret"] and hook["id"] in {w["id"] for w in client.webhooks()}
    client.delete_webhook(hook["id"])
    assert hook["id"] not in {w["id"] for w in client.webhooks()}


def test_a_paper_portfolio_steps_and_reads_back_as_tables(
    client: Client, examples: dict[str, dict[str, Any]]
) -> None:
    params = {**examples["backtest"], "strategy": {"name": "sma_cross", "fast": 10, "slow": 40}}
    strategy = client.create_strategy("client paper", "backtest", params)
    made = client.create_portfolio(strategy["id"], "client paper", "2017-01-01", cash=50_000)
    try:
        assert made["as_of"] is None and made["equity"] == 50_000
        stepped = client.step_portfolio(made["id"])
        book = client.portfolio(made["id"])
        assert stepped["portfolio"] == book and book["days"] >= stepped["booked"] > 200
        equity = client.portfolio_frame(made["id"], "equity")
        assert len(equity) == book["days"] and equity.index.is_monotonic_increasing
        assert equity["value"].iloc[-1] == pytest.approx(book["equity"])
        trades = client.portfolio_frame(made["id"], "trades")
        orders = client.portfolio_frame(made["id"], "orders")
        assert len(orders) == 2 * trades["exit_date"].notna().sum() + len(book["positions"]) > 0
        assert trades["pnl"].sum() == pytest.approx(book["equity"] - 50_000, rel=1e-9)
        assert made["id"] in {p["id"] for p in client.portfolios()}
    finally:
        client.delete_portfolio(made["id"])
        client.delete_strategy(strategy["id"])
    assert made["id"] not in {p["id"] for p in client.portfolios()}
