"""Sharded models (CONTRACT 5.2) at the catalog level: split, run each shard, carry the
partials through JSON as a job row does, merge; the result is the one-piece run's."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from quantrun.adapters.embedded.prices import DuckDBPriceStore
from quantrun.catalog import REGISTRY
from quantrun.catalog.spec import ModelOutput, ModelSpec, RunContext

MC = REGISTRY["monte_carlo_option"]
NO_PRICES = RunContext(load_prices=lambda *_a: (_ for _ in ()).throw(AssertionError("no prices")))


def sharded(
    model: str, params: dict[str, Any], n: int, ctx: RunContext = NO_PRICES
) -> dict[str, Any]:
    spec = REGISTRY[model]
    assert spec.sharding is not None
    p = spec.params.model_validate(params)
    return merged(spec, p, n, ctx).result


def merged(spec: ModelSpec[Any], p: Any, n: int, ctx: RunContext = NO_PRICES) -> ModelOutput:
    """What app/shards.py does with a job's shards, in one process: each shard's input
    and partial through JSON (as a job row holds them), its parts kept aside and named in
    the partial, read back by the merge."""
    assert spec.sharding is not None
    shards = json.loads(json.dumps(spec.sharding.split(p, n)))
    assert len(shards) == min(n, spec.sharding.most(p))
    stored: dict[tuple[str, str], bytes] = {}
    partials = []
    for i, shard in enumerate(shards):
        output = spec.sharding.run(p, shard, ctx)
        partial = dict(output.result)
        if output.artifacts:
            partial["parts"] = {}
            for a in output.artifacts:
                stored[(f"shard-{i}", a.name)] = a.data
                partial["parts"][a.name] = {"job_id": f"shard-{i}", "name": a.name, "attempt": 1}
        partials.append(json.loads(json.dumps(partial)))
    reading = replace(ctx, read_part=lambda ref: stored[(ref["job_id"], ref["name"])])
    return spec.sharding.merge(p, partials, reading)


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
    assert len({s["seed"] for s in shards}) == 1


def test_no_more_shards_than_blocks_and_every_block_once() -> None:
    assert MC.sharding is not None
    p = MC.params.model_validate({**MC.example, "paths": 20_000})  # 3 blocks
    assert MC.sharding.most(p) == 3
    shards = MC.sharding.split(p, 10)
    assert [s["blocks"] for s in shards] == [[0, 1], [1, 2], [2, 3]]


def test_a_missing_partial_is_refused_not_merged_short() -> None:
    assert MC.sharding is not None
    p = MC.params.model_validate({**MC.example, "paths": 50_000, "seed": 1})
    partials = [MC.sharding.run(p, s, NO_PRICES).result for s in MC.sharding.split(p, 3)]
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


# The option models shard by whole chunks of options; CHUNK is made small here so a few
# thousand options make several chunks (in production a chunk is 262,144 options).
OPTION_CHAIN = {
    "spot": [[80.0 + i] for i in range(60)],  # 60 x 1, broadcast against 100 strikes
    "strike": [50.0 + i for i in range(100)],
    "maturity": [0.25, 0.5, 1.0, 2.0] * 25,
    "rate": 0.02,
}


def _parquet(output: ModelOutput) -> Any:
    import io

    import pyarrow.parquet as pq

    (artifact,) = output.artifacts
    assert artifact.name == "values.parquet"
    return pq.read_table(io.BytesIO(artifact.data))


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    from quantrun.catalog import option_arrays

    monkeypatch.setattr(option_arrays, "CHUNK", 1000)


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("n", [1, 4, 6])
@pytest.mark.parametrize("inline", [100_000, 1000])
def test_black_scholes_shards_give_the_one_piece_result_and_file(n: int, inline: int) -> None:
    spec = REGISTRY["black_scholes"]
    assert spec.sharding is not None
    p = spec.params.model_validate({**OPTION_CHAIN, "type": "put", "volatility": 0.3})
    assert spec.sharding.most(p) == 6  # 6000 options in chunks of 1000
    ctx = replace(NO_PRICES, inline_values=inline)
    whole = spec.run(p, ctx)
    parts = merged(spec, p, n, ctx)
    assert parts.result == whole.result
    if inline == 1000:  # past the budget: values.parquet, rows in the one-piece order
        assert parts.result["values"]["rows"] == 6000
        assert _parquet(parts).equals(_parquet(whole))
    else:
        assert not parts.artifacts and len(parts.result["price"]) == 60


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("n", [1, 5])
@pytest.mark.parametrize("inline", [100_000, 1000])
def test_implied_volatility_shards_keep_statuses_and_counts(n: int, inline: int) -> None:
    spec = REGISTRY["implied_volatility"]
    assert spec.sharding is not None
    # prices from 0 to 29.5 against strikes 50..149 on a spot of 100: the cheap
    # in-the-money calls are below intrinsic (a status and no vol, a null in the file)
    prices = [[0.5 * i] for i in range(60)]
    p = spec.params.model_validate({**OPTION_CHAIN, "type": "call", "price": prices, "spot": 100.0})
    ctx = replace(NO_PRICES, inline_values=inline)
    whole = spec.run(p, ctx)
    parts = merged(spec, p, n, ctx)
    assert parts.result == whole.result
    counts = whole.result["counts"]
    assert counts["ok"] > 0 and counts["below_intrinsic"] > 0 and sum(counts.values()) == 6000
    if inline == 1000:
        assert _parquet(parts).equals(_parquet(whole))
        assert whole.result["summary"]["implied_volatility"]["missing"] == 6000 - counts["ok"]
