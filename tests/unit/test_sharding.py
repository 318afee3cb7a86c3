"""Sharded models (CONTRACT 5.2) at the catalog level: split, run each shard, carry the
partials through JSON as a job row does, merge; the result is the one-piece run's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from quantrun.adapters.embedded.prices import DuckDBPriceStore
from quantrun.catalog import REGISTRY
from quantrun.catalog.spec import RunContext

MC = REGISTRY["monte_carlo_option"]
NO_PRICES = RunContext(load_prices=lambda *_a: (_ for _ in ()).throw(AssertionError("no prices")))


def sharded(
    model: str, params: dict[str, Any], n: int, ctx: RunContext = NO_PRICES
) -> dict[str, Any]:
    spec = REGISTRY[model]
    assert spec.sharding is not None
    p = spec.params.model_validate(params)
    shards = json.loads(json.dumps(spec.sharding.split(p, n)))
    assert len(shards) == min(n, spec.sharding.most(p))
    partials = [json.loads(json.dumps(spec.sharding.run(s, ctx))) for s in shards]
    return spec.sharding.merge(p, partials, ctx).result


@pytest.mark.parametrize("n", [1, 3, 16, 64])
def test_monte_carlo_is_bit_identical_for_any_shard_count(n: int) -> None:
    params = {**MC.example, "style": "european", "paths": 600_000, "seed": 11}
    whole = MC.run(MC.params.model_validate(params), NO_PRICES).result
    assert sharded("monte_carlo_option", params, n) == whole


def test_an_asian_option_too_and_a_seed_left_to_chance_is_shared() -> None:
    params = {**MC.example, "paths": 100_000, "seed": 5}
    whole = MC.run(MC.params.model_validate(params), NO_PRICES).result
    assert sharded("monte_carlo_option", params, 5) == whole
    unseeded = {k: v for k, v in params.items() if k != "seed"}
    p = MC.params.model_validate(unseeded)
    assert MC.sharding is not None
    shards = MC.sharding.split(p, 4)
    assert len({s["params"]["seed"] for s in shards}) == 1


def test_no_more_shards_than_blocks_and_every_block_once() -> None:
    assert MC.sharding is not None
    p = MC.params.model_validate({**MC.example, "paths": 20_000})  # 3 blocks
    assert MC.sharding.most(p) == 3
    shards = MC.sharding.split(p, 10)
    assert [s["blocks"] for s in shards] == [[0, 1], [1, 2], [2, 3]]


def test_a_missing_partial_is_refused_not_merged_short() -> None:
    assert MC.sharding is not None
    p = MC.params.model_validate({**MC.example, "paths": 50_000, "seed": 1})
    partials = [MC.sharding.run(s, NO_PRICES) for s in MC.sharding.split(p, 3)]
    with pytest.raises(ValueError, match="blocks"):
        MC.sharding.merge(p, partials[:2], NO_PRICES)


@pytest.fixture(scope="module")
def sample() -> RunContext:
    store = DuckDBPriceStore(":memory:")
    store.load_sample_data()
    return RunContext(load_prices=store.load_close, charts=False)


@pytest.mark.parametrize("n", [1, 3, 8])
def test_walk_forward_shards_give_the_one_piece_windows(sample: RunContext, n: int) -> None:
    """Ranges of the window plan; the last shard runs to the plan's end, so an estimate
    of the window count that is off by some still covers every window once."""
    wf = REGISTRY["walk_forward"]
    params = {**wf.example, "train_days": 252, "test_days": 63}
    whole = wf.run(wf.params.model_validate(params), sample).result
    assert len(whole["windows"]) == 28
    assert sharded("walk_forward", params, n, sample) == whole


@pytest.mark.parametrize("n", [1, 2, 5])
def test_monte_carlo_var_shards_give_the_one_piece_numbers_bit_for_bit(
    sample: RunContext, n: int
) -> None:
    """VaR and CVaR read only the largest losses, which each shard sends in scenario
    order; the mean and volatility come from exact sums of per-block sums: identical."""
    pv = REGISTRY["portfolio_var"]
    params = {
        **pv.example,
        "method": "monte_carlo",
        "scenarios": 300_000,  # 5 blocks of 65,536
        "seed": 8,
        "confidence": 0.975,
        "horizon_days": 5,
    }
    whole = pv.run(pv.params.model_validate(params), sample).result
    assert sharded("portfolio_var", params, n, sample) == whole


def test_monte_carlo_var_still_converges_to_the_parametric_numbers(sample: RunContext) -> None:
    pv = REGISTRY["portfolio_var"]
    base = {**pv.example, "confidence": 0.99, "horizon_days": 1}
    mc = sharded(
        "portfolio_var",
        {**base, "method": "monte_carlo", "scenarios": 500_000, "seed": 3},
        4,
        sample,
    )
    normal = pv.run(pv.params.model_validate({**base, "method": "parametric"}), sample).result
    assert mc["var"] == pytest.approx(normal["var"], rel=0.02)
    assert mc["cvar"] == pytest.approx(normal["cvar"], rel=0.02)


@pytest.mark.parametrize("n", [1, 3, 8])
def test_backtest_shards_give_the_one_piece_grid(sample: RunContext, n: int) -> None:
    """Ranges of the grid's sets: identical per-set metrics, best set and diagnostics
    (the deflated Sharpe and PBO from the sets' sums, whoever computed them)."""
    spec = REGISTRY["backtest"]
    params = {
        **spec.example,
        "strategy": {"name": "rsi", "period": [7, 14], "lower": [25, 30], "upper": [70, 75]},
    }
    whole = spec.run(spec.params.model_validate(params), sample).result
    assert whole["grid_size"] == 8 and whole["pbo"] is not None
    assert sharded("backtest", params, n, sample) == whole
