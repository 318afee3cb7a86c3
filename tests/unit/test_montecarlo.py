"""Monte Carlo against closed forms, and seeded reproducibility across chunkings."""

from __future__ import annotations

import warnings

import pytest
from pydantic import ValidationError

from quantrun.catalog.monte_carlo_option import MonteCarloParams
from quantrun.models.montecarlo import McOption, geometric_asian_closed_form, price_monte_carlo
from quantrun.models.options import black_scholes


@pytest.mark.parametrize("is_call", [True, False])
def test_european_within_three_standard_errors_of_black_scholes(is_call: bool) -> None:
    opt = McOption(is_call, 100, 95, 0.75, 0.04, 0.25, 0.01)
    res = price_monte_carlo(opt, paths=400_000, seed=11)
    exact = float(black_scholes(is_call, 100, 95, 0.75, 0.04, 0.25, 0.01).price)
    assert abs(res.price - exact) < 3 * res.std_error
    assert res.ci95[0] < res.price < res.ci95[1]
    assert res.std_error < 0.01 * exact


def test_geometric_asian_within_three_standard_errors_of_its_closed_form() -> None:
    opt = McOption(True, 100, 100, 1.0, 0.05, 0.3, style="asian_geometric", steps=50)
    res = price_monte_carlo(opt, paths=200_000, seed=3)
    assert abs(res.price - geometric_asian_closed_form(opt)) < 3 * res.std_error


def test_arithmetic_asian_sits_above_the_geometric_and_below_the_european() -> None:
    common = dict(
        is_call=True, spot=100.0, strike=100.0, maturity=1.0, rate=0.05, volatility=0.3, steps=50
    )
    arith = price_monte_carlo(McOption(**common, style="asian_arithmetic"), paths=100_000, seed=5)
    geo = price_monte_carlo(McOption(**common, style="asian_geometric"), paths=100_000, seed=5)
    assert geo.price < arith.price < float(black_scholes(True, 100, 100, 1, 0.05, 0.3).price)


def test_knock_out_plus_knock_in_parity_bound() -> None:
    # A knock-out is worth less than the vanilla, more with a farther barrier, and ~vanilla
    # when the barrier is out of reach.
    base = dict(
        is_call=True, spot=100.0, strike=100.0, maturity=1.0, rate=0.05, volatility=0.2, steps=100
    )
    near = price_monte_carlo(
        McOption(**base, style="up_and_out", barrier=120), paths=50_000, seed=1
    )
    far = price_monte_carlo(McOption(**base, style="up_and_out", barrier=200), paths=50_000, seed=1)
    unreachable = price_monte_carlo(
        McOption(**base, style="up_and_out", barrier=1e6), paths=50_000, seed=1
    )
    vanilla = price_monte_carlo(McOption(**base), paths=50_000, seed=1)
    assert near.price < far.price <= unreachable.price
    assert abs(unreachable.price - vanilla.price) < 4 * vanilla.std_error
    down = price_monte_carlo(
        McOption(**{**base, "is_call": False}, style="down_and_out", barrier=1e-6),
        paths=50_000,
        seed=1,
    )
    put = float(black_scholes(False, 100, 100, 1, 0.05, 0.2).price)
    assert abs(down.price - put) < 4 * down.std_error


def test_a_barrier_whose_ratio_to_the_spot_underflows_is_never_hit() -> None:
    # 5e-324 / 1e7 is 0 in double precision: the log of the ratio was a domain error
    # (a 500 from POST /v1/models/monte_carlo_option/run that schemathesis generated)
    base = dict(is_call=False, spot=1e7, strike=1e7, maturity=1.0, rate=0.05, volatility=0.2)
    tiny = McOption(**base, style="down_and_out", barrier=5e-324, steps=20)
    far = McOption(**base, style="down_and_out", barrier=1e-6, steps=20)
    got = price_monte_carlo(tiny, paths=10_000, seed=3)
    assert got.price > 0
    assert got.price == price_monte_carlo(far, paths=10_000, seed=3).price


@pytest.mark.parametrize("style", ["european", "asian_arithmetic", "up_and_out"])
def test_same_seed_same_result_for_1_2_and_7_chunks(style: str) -> None:
    """...and on 1 or 2 threads: the blocks, not the way they are run, fix the result."""
    opt = McOption(True, 100, 100, 1.0, 0.05, 0.2, style=style, barrier=130, steps=20)
    results = {
        price_monte_carlo(opt, paths=100_001, seed=42, chunks=c, threads=th).price
        for c in (1, 2, 7)
        for th in (1, 2)
    }
    assert len(results) == 1
    assert price_monte_carlo(opt, paths=100_001, seed=43).price not in results


def test_antithetic_reduces_the_standard_error() -> None:
    opt = McOption(True, 100, 100, 1.0, 0.05, 0.2)
    plain = price_monte_carlo(opt, paths=200_000, seed=9, antithetic=False)
    anti = price_monte_carlo(opt, paths=200_000, seed=9, antithetic=True)
    assert anti.std_error < plain.std_error


def test_checkpoint_reports_progress_to_one() -> None:
    seen: list[float] = []
    price_monte_carlo(
        McOption(True, 100, 100, 1, 0.05, 0.2), paths=50_000, seed=1, checkpoint=seen.append
    )
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 7


def test_a_cancelled_run_stops_on_threads_too() -> None:
    class Cancelled(Exception):
        pass

    calls: list[float] = []

    def checkpoint(fraction: float) -> None:
        calls.append(fraction)
        if len(calls) == 2:
            raise Cancelled

    opt = McOption(True, 100, 100, 1, 0.05, 0.2, style="asian_arithmetic", steps=50)
    with pytest.raises(Cancelled):
        price_monte_carlo(opt, paths=400_000, seed=1, checkpoint=checkpoint, threads=2)
    assert len(calls) == 2


def test_barrier_params_are_checked() -> None:
    base = dict(
        type="call", spot=100, strike=100, maturity=1, rate=0.05, volatility=0.2, paths=1000
    )
    with pytest.raises(ValidationError, match="barrier"):
        MonteCarloParams.model_validate({**base, "style": "up_and_out"})
    with pytest.raises(ValidationError, match="above spot"):
        MonteCarloParams.model_validate({**base, "style": "up_and_out", "barrier": 90})
    MonteCarloParams.model_validate({**base, "style": "down_and_out", "barrier": 90})


def test_payoffs_that_overflow_are_refused_with_a_reason() -> None:
    """Found by schemathesis: a put struck at 1e308 overflowed the payoff sums (500); it
    is now the model refusing its input (422 for a synchronous run, a failed job)."""
    from quantrun.catalog import REGISTRY
    from quantrun.catalog.spec import RunContext
    from quantrun.domain.errors import ModelInputError

    spec = REGISTRY["monte_carlo_option"]
    params = spec.params.model_validate(
        {
            "type": "put",
            "strike": 1.0554055954043951e308,
            "maturity": 99.5890760586998,
            "rate": 0.8572300790366616,
            "spot": 5.957324394139659e307,
            "volatility": 0.99999,
            "paths": 440399,
        }
    )
    # and numpy does not warn on the way (a warning the worker would log for a refusal)
    with warnings.catch_warnings(), pytest.raises(ModelInputError, match="overflow"):
        warnings.simplefilter("error", RuntimeWarning)
        spec.run(params, RunContext(load_prices=lambda *_: None))  # type: ignore[arg-type,return-value]
