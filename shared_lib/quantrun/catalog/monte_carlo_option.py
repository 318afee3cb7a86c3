"""``monte_carlo_option``: GBM Monte Carlo for European, Asian and barrier options
(``quantrun.models.montecarlo``). Inputs are scalars: one option per job."""

from __future__ import annotations

import secrets
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from quantrun.catalog.fields import Params, Whole
from quantrun.catalog.spec import ModelOutput, ModelSpec, RunContext
from quantrun.models.montecarlo import McOption, price_monte_carlo

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
    seed: Whole | None = Field(None, ge=0, lt=2**63, description="same seed, same result")
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


def run(p: MonteCarloParams, ctx: RunContext) -> ModelOutput:
    seed = p.seed if p.seed is not None else secrets.randbits(63)
    opt = McOption(
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
    res = price_monte_carlo(
        opt,
        paths=p.paths,
        seed=seed,
        antithetic=p.antithetic,
        checkpoint=ctx.checkpoint,
        threads=ctx.threads,
    )
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


def _cost(p: MonteCarloParams) -> float:
    return float(p.paths * (1 if p.style == "european" else p.steps))


SPEC = ModelSpec(
    name="monte_carlo_option",
    description="Monte Carlo price, standard error and 95% interval of a European, "
    "arithmetic/geometric Asian or knock-out barrier option under GBM; seeded, chunked.",
    params=MonteCarloParams,
    run=run,
    cost=_cost,
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
