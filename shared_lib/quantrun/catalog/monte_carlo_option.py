"""``monte_carlo_option``: GBM Monte Carlo for European, Asian and barrier options
(``quantrun.models.montecarlo``). Inputs are scalars: one option per job."""

from __future__ import annotations

import secrets
from itertools import pairwise
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from quantrun.catalog.fields import Params, Whole, whole
from quantrun.catalog.spec import ModelOutput, ModelSpec, RunContext, Sharding
from quantrun.models.montecarlo import (
    BLOCK,
    McOption,
    McResult,
    combine,
    plan_paths,
    price_monte_carlo,
    range_sums,
)

MAX_PATHS = 100_000_000


class MonteCarloParams(Params):
    type: Literal["call", "put"]
    spot: float = Field(gt=0, allow_inf_nan=False)
    strike: float = Field(gt=0, allow_inf_nan=False)
    maturity: float = Field(gt=0, le=100, allow_inf_nan=False, description="years")
    rate: float = Field(ge=-1, le=1, allow_inf_nan=False, description="continuous, per year")
    volatility: float = Field(gt=0, le=10, allow_inf_nan=False, description="per sqrt(year)")
    dividend_yield: float = Field(0.0, ge=-1, le=1, allow_inf_nan=False)
    style: Literal[
        "european", "asian_arithmetic", "asian_geometric", "up_and_out", "down_and_out"
    ] = "european"
    barrier: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        validate_default=True,
        description="required for up_and_out / down_and_out",
    )
    steps: Whole = Field(252, ge=1, le=10_000, description="monitoring dates (equal steps)")
    paths: Whole = Field(ge=2, le=MAX_PATHS)
    seed: whole(ge=0, lt=2**63) | None = Field(  # type: ignore[valid-type]
        None, description="same seed, same result"
    )
    antithetic: bool = True

    @field_validator("barrier")
    @classmethod
    def _barrier_fits_style(cls, barrier: float | None, info: ValidationInfo) -> float | None:
        style, spot = info.data.get("style"), info.data.get("spot")
        if style in ("up_and_out", "down_and_out"):
            if barrier is None:
                raise ValueError(f"is required for style {style}")
            if spot is not None and style == "up_and_out" and barrier <= spot:
                raise ValueError("must be above spot for up_and_out (it would start knocked out)")
            if spot is not None and style == "down_and_out" and barrier >= spot:
                raise ValueError("must be below spot for down_and_out (it would start knocked out)")
        return barrier


def _option(p: MonteCarloParams) -> McOption:
    return McOption(
        is_call=p.type == "call",
        spot=p.spot,
        strike=p.strike,
        maturity=p.maturity,
        rate=p.rate,
        volatility=p.volatility,
        dividend_yield=p.dividend_yield,
        style=p.style,
        barrier=p.barrier,
        steps=p.steps,
    )


def _output(p: MonteCarloParams, res: McResult, seed: int) -> ModelOutput:
    result: dict[str, Any] = {
        "price": res.price,
        "std_error": res.std_error,
        "ci95": list(res.ci95),
        "paths": res.paths,
        "steps": res.steps,
        "seed": seed,
        "style": p.style,
        "antithetic": p.antithetic,
    }
    return ModelOutput(result=result)


def run(p: MonteCarloParams, ctx: RunContext) -> ModelOutput:
    seed = p.seed if p.seed is not None else secrets.randbits(63)
    res = price_monte_carlo(
        _option(p),
        paths=p.paths,
        seed=seed,
        antithetic=p.antithetic,
        checkpoint=ctx.checkpoint,
        threads=ctx.threads,
    )
    return _output(p, res, seed)


# Shards: contiguous ranges of the seeded blocks; a shard's partial is its blocks' sums,
# which JSON carries exactly (floats as their shortest repr), merged in block order.


def _blocks(p: MonteCarloParams) -> int:
    return len(plan_paths(p.paths, p.antithetic)[1])


def _split(p: MonteCarloParams, n: int) -> list[dict[str, Any]]:
    seed = p.seed if p.seed is not None else secrets.randbits(63)
    bounds = np.linspace(0, _blocks(p), min(n, _blocks(p)) + 1).astype(int)
    return [{"seed": seed, "blocks": [int(lo), int(hi)]} for lo, hi in pairwise(bounds)]


def _run_shard(p: MonteCarloParams, shard: dict[str, Any], ctx: RunContext) -> ModelOutput:
    lo, hi = shard["blocks"]
    sums = range_sums(
        _option(p),
        paths=p.paths,
        seed=int(shard["seed"]),
        blocks=(lo, hi),
        antithetic=p.antithetic,
        checkpoint=ctx.checkpoint,
        threads=ctx.threads,
    )
    return ModelOutput(
        result={"seed": int(shard["seed"]), "blocks": [lo, hi], "sums": [list(b) for b in sums]}
    )


def _merge(p: MonteCarloParams, partials: list[dict[str, Any]], _ctx: RunContext) -> ModelOutput:
    per_block = [(s, q, int(c)) for part in partials for s, q, c in part["sums"]]
    if len(per_block) != _blocks(p):
        raise ValueError(f"the shards hold {len(per_block)} blocks of {_blocks(p)}")
    seed = int(partials[0]["seed"])
    res = combine(_option(p), per_block, plan_paths(p.paths, p.antithetic)[0])
    return _output(p, res, seed)


def _cost(p: MonteCarloParams) -> float:
    return float(p.paths * (1 if p.style == "european" else p.steps))


SPEC = ModelSpec(
    name="monte_carlo_option",
    description="Monte Carlo price, standard error and 95% interval of a European, "
    "arithmetic/geometric Asian or knock-out barrier option under GBM; seeded, chunked.",
    params=MonteCarloParams,
    run=run,
    cost=_cost,
    sharding=Sharding(most=_blocks, split=_split, run=_run_shard, merge=_merge),
    seeding=f"paths in blocks of {BLOCK}; block i draws from "
    "Generator(PCG64(SeedSequence(seed, spawn_key=(i,)))); sums combined in block order",
    example={
        "type": "call",
        "spot": 100,
        "strike": 100,
        "maturity": 1,
        "rate": 0.05,
        "volatility": 0.2,
        "style": "asian_arithmetic",
        "paths": 100000,
        "seed": 42,
    },
)
