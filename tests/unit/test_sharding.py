"""Sharded models (CONTRACT 5.2) at the catalog level: split, run each shard, carry the
partials through JSON as a job row does, merge; the result is the one-piece run's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from quantrun.catalog import REGISTRY
from quantrun.catalog.spec import RunContext

MC = REGISTRY["monte_carlo_option"]
NO_PRICES = RunContext(load_prices=lambda *_a: (_ for _ in ()).throw(AssertionError("no prices")))


def sharded(model: str, params: dict[str, Any], n: int) -> dict[str, Any]:
    spec = REGISTRY[model]
    assert spec.sharding is not None
    p = spec.params.model_validate(params)
    shards = json.loads(json.dumps(spec.sharding.split(p, n)))
    partials = [json.loads(json.dumps(spec.sharding.run(s, NO_PRICES))) for s in shards]
    return spec.sharding.merge(p, partials, NO_PRICES).result


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
