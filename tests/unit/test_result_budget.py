"""Results have a size budget (CONTRACT 5.1): option arrays past the inline budget are
computed chunk by chunk and written to ``values.parquet`` with a summary; the synchronous
route and the job limits refuse what would be too large before any work."""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from quantrun.app.models import run_sync
from quantrun.app.submit import KnownSymbols
from quantrun.catalog import REGISTRY, get_spec, option_arrays
from quantrun.catalog.spec import ModelOutput, RunContext
from quantrun.domain.errors import InputTooLarge, JobCancelled
from quantrun.domain.job_pages import JobQuery
from quantrun.models.implied_vol import implied_volatility
from quantrun.models.options import black_scholes
from tests.fakes import FakePriceStore

SPOTS = [90.0, 100.0, 110.0]
STRIKES = np.linspace(50, 150, 401).tolist()
BS = {
    "type": "call",
    "spot": [[s] for s in SPOTS],  # (3, 1) against 401 strikes: a (3, 401) chain
    "strike": STRIKES,
    "maturity": 0.75,
    "rate": 0.03,
    "volatility": 0.25,
    "dividend_yield": 0.01,
}
GREEKS = ("delta", "gamma", "vega", "theta", "rho")


def _no_prices(*_a: Any) -> Any:
    raise AssertionError("option models read no prices")


def run_model(model: str, params: dict[str, Any], **ctx: Any) -> ModelOutput:
    spec = get_spec(model)
    assert spec is not None
    return spec.run(spec.params.model_validate(params), RunContext(_no_prices, **ctx))


def table_of(output: ModelOutput) -> Any:
    (artifact,) = output.artifacts
    assert (artifact.name, artifact.content_type) == (
        "values.parquet",
        "application/vnd.apache.parquet",
    )
    return pq.read_table(io.BytesIO(artifact.data))


def test_a_chain_past_the_inline_budget_goes_to_parquet_with_a_summary() -> None:
    """The file's rows are the chain in row-major order, checked against the numpy twin
    of the kernel on the full broadcast arrays; the summary against numpy's own."""
    output = run_model("black_scholes", BS, inline_values=1000)  # 3 x 401 x 6 values
    table = table_of(output)
    assert table.column_names == ["spot", "strike", "price", *GREEKS]
    spot, strike = np.broadcast_arrays(np.array(BS["spot"]), np.array(STRIKES))
    expected = black_scholes(True, spot, strike, 0.75, 0.03, 0.25, 0.01, engine="numpy")
    assert np.array_equal(table["spot"].to_numpy(), spot.ravel())
    assert np.array_equal(table["strike"].to_numpy(), strike.ravel())
    for name in ("price", *GREEKS):
        want = getattr(expected, name).ravel()
        np.testing.assert_allclose(table[name].to_numpy(), want, rtol=1e-12, atol=1e-12)
        summary = output.result["summary"][name]
        assert summary["min"] == pytest.approx(want.min(), abs=1e-12)
        assert summary["max"] == pytest.approx(want.max(), abs=1e-12)
        assert summary["mean"] == pytest.approx(want.mean(), rel=1e-12)
        assert summary["missing"] == 0
    assert output.result["values"] == {
        "artifact": "values.parquet",
        "rows": 3 * 401,
        "shape": [3, 401],
        "columns": ["spot", "strike", "price", *GREEKS],
        "order": "row-major (C) over the broadcast shape of the inputs",
    }
    assert "price" not in output.result  # no arrays left in the JSON
    # under the budget the same chain comes back whole, as before
    inline = run_model("black_scholes", BS)
    np.testing.assert_array_equal(np.array(inline.result["price"]).ravel(), table["price"])
    assert inline.artifacts == []


def test_chunks_give_the_same_file_and_a_checkpoint_after_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    whole = table_of(run_model("black_scholes", BS, inline_values=1000))
    monkeypatch.setattr(option_arrays, "CHUNK", 100)
    seen: list[float] = []
    chunked = run_model("black_scholes", BS, inline_values=1000, checkpoint=seen.append)
    assert table_of(chunked).equals(whole)
    assert len(seen) == math.ceil(1203 / 100) and seen == sorted(seen) and seen[-1] == 1.0


def test_a_cancelled_job_stops_after_the_chunk_under_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(option_arrays, "CHUNK", 100)
    calls: list[float] = []

    def cancelled_after_two(fraction: float) -> None:
        calls.append(fraction)
        if len(calls) == 2:
            raise JobCancelled("cancelled")

    for model, params in (("black_scholes", BS), ("implied_volatility", {**IV})):
        calls.clear()
        with pytest.raises(JobCancelled):
            run_model(model, params, inline_values=500, checkpoint=cancelled_after_two)
        assert len(calls) == 2  # no chunk computed after the cancellation was seen


IV_PRICES = black_scholes(True, 100.0, np.array(STRIKES), 0.5, 0.02, 0.3, engine="numpy").price
IV = {
    "type": "call",
    # some prices below intrinsic: those options have no vol, a status and a null
    "price": [float(p) if i % 50 else 0.0 for i, p in enumerate(IV_PRICES)],
    "spot": 100.0,
    "strike": STRIKES,
    "maturity": 0.5,
    "rate": 0.02,
}


def test_implied_vols_past_the_budget_keep_statuses_and_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(option_arrays, "CHUNK", 64)
    output = run_model("implied_volatility", IV, inline_values=500)
    table = table_of(output)
    assert table.column_names == ["price", "strike", "implied_volatility", "status"]
    inline = run_model("implied_volatility", IV)
    assert table["status"].to_pylist() == inline.result["status"]
    from_file = table["implied_volatility"].to_pylist()
    inline_vols = inline.result["implied_volatility"]
    assert [v is None for v in from_file] == [v is None for v in inline_vols]
    assert [v for v in from_file if v is not None] == pytest.approx(
        [v for v in inline_vols if v is not None], rel=1e-12
    )
    assert output.result["counts"] == inline.result["counts"]
    # where the price is the model's own, the vol it was made with comes back
    priced = [v for i, v in enumerate(inline_vols) if i % 50]
    np.testing.assert_allclose(np.array(priced, dtype=float), 0.3, atol=1e-8)
    reference = implied_volatility(
        True, np.array(IV["price"]), 100.0, np.array(STRIKES), 0.5, 0.02, engine="numpy"
    )
    assert output.result["summary"]["implied_volatility"]["missing"] == int(
        (reference.status != 0).sum()
    )


def test_too_large_results_are_refused_before_any_work() -> None:
    known = KnownSymbols(FakePriceStore())
    # the synchronous route: the chain's 7,218 values are over a 1,000-value response
    with pytest.raises(InputTooLarge) as refused:
        run_sync(
            model="black_scholes",
            params=BS,
            known=known,
            reads=FakePriceStore(),
            prices=FakePriceStore(),
            max_cost=1e9,
            max_values=1000,
        )
    assert (refused.value.estimate, refused.value.limit) == (3 * 401 * 6, 1000)
    assert "submit it as a job" in refused.value.message
    priced = run_sync(
        model="black_scholes",
        params={**BS, "greeks": False},
        known=known,
        reads=FakePriceStore(),
        prices=FakePriceStore(),
        max_cost=1e9,
        max_values=2000,
    )
    assert np.shape(priced["price"]) == (3, 401)


def test_the_issue_case_a_9e6_chain_with_greeks_is_refused_as_a_job(tmp_path: Any) -> None:
    """spot 3000x1 against 3000 strikes: 5.4e7 values, over the default 2e7 job limit."""
    from quantrun.adapters.sql import migrate
    from quantrun.adapters.sql.engine import make_engine
    from quantrun.adapters.sql.job_store import SqlJobStore
    from quantrun.app.submit import submit_job
    from quantrun.clock import utcnow
    from quantrun.settings import LimitSettings
    from tests.fakes import FakeQueue

    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    migrate.upgrade(engine)
    store = SqlJobStore(engine)
    params = {**BS, "spot": [[float(s)] for s in range(1, 3001)], "strike": list(range(1, 3001))}
    with pytest.raises(InputTooLarge) as refused:
        submit_job(
            store=store,
            queue=FakeQueue(),
            known=KnownSymbols(FakePriceStore()),
            user=store.get_or_create_user("u"),
            model="black_scholes",
            params=params,
            idempotency_key=None,
            now=utcnow(),
            max_result_values=LimitSettings().job_max_result_values,
        )
    assert refused.value.estimate == 9e6 * 6 and refused.value.limit == 2e7
    assert store.list_jobs(store.get_or_create_user("u").id, JobQuery(5)).items == []


def test_a_single_option_still_comes_back_as_numbers() -> None:
    """Scalars in, scalars out (not arrays, not a file): a price and back to its vol."""
    priced = run_model("black_scholes", {**BS, "spot": 100.0, "strike": 95.0}).result
    assert isinstance(priced["price"], float)
    solved = run_model(
        "implied_volatility",
        {
            "type": "call",
            "price": priced["price"],
            "spot": 100.0,
            "strike": 95.0,
            "maturity": 0.75,
            "rate": 0.03,
            "dividend_yield": 0.01,
        },
    ).result
    assert solved["status"] == "ok" and solved["implied_volatility"] == pytest.approx(0.25)
    below = run_model(
        "implied_volatility",
        {
            "type": "call",
            "price": 1.0,
            "spot": 100.0,
            "strike": 95.0,
            "maturity": 0.75,
            "rate": 0.03,
        },
    ).result
    assert below == {
        "implied_volatility": None,
        "status": "below_intrinsic",
        "counts": {"ok": 0, "below_intrinsic": 1, "above_max": 0, "no_convergence": 0},
    }


def _history(symbols: set[str]) -> Any:
    from datetime import date, timedelta

    from quantrun.domain.prices import PriceRow

    rng = np.random.default_rng(7)
    days = [date(2011, 1, 3) + timedelta(days=i) for i in range(7 * 365)]
    days = [d for d in days if d.weekday() < 5]
    rows = []
    for symbol in sorted(symbols):
        px = 50 * np.cumprod(1 + rng.normal(0.0003, 0.012, len(days)))
        rows += [PriceRow(d, symbol, float(p)) for d, p in zip(days, px, strict=True)]
    return FakePriceStore(rows)


@pytest.mark.parametrize("model", sorted(REGISTRY))
def test_every_model_stops_at_a_checkpoint(model: str) -> None:
    """CONTRACT 5.1: a cancelled job of any model stops at its next checkpoint: each
    model's run calls it (the long ones between chunks: the tests above and
    test_use_cases' Monte Carlo) and lets JobCancelled through, with no result."""
    spec = REGISTRY[model]
    params = spec.params.model_validate(spec.example)
    symbols = set(spec.symbols(params)) | {"SPY"}
    prices = _history(symbols)
    calls: list[float] = []

    def cancelled(fraction: float) -> None:
        calls.append(fraction)
        raise JobCancelled("cancelled")

    with pytest.raises(JobCancelled):
        spec.run(params, RunContext(prices.load_close, checkpoint=cancelled, charts=False))
    assert len(calls) == 1
