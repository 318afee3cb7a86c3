"""``black_scholes``: European option prices and Greeks (``quantrun.models.options``)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from quantrun.catalog.fields import Params, broadcast_error, element_count, numeric
from quantrun.catalog.spec import ModelOutput, ModelSpec, RunContext
from quantrun.models.options import black_scholes

OptionType = Literal["call", "put"]


class BlackScholesParams(Params):
    type: OptionType | list[OptionType] = Field(description="call or put (or an array)")
    spot: numeric(gt=0) = Field(description="underlying price")  # type: ignore[valid-type]
    strike: numeric(gt=0) = Field(description="strike price")  # type: ignore[valid-type]
    maturity: numeric(gt=0) = Field(description="time to expiry in years")  # type: ignore[valid-type]
    rate: numeric() = Field(description="risk-free rate, continuous, per year")  # type: ignore[valid-type]
    volatility: numeric(gt=0) = Field(description="volatility per sqrt(year)")  # type: ignore[valid-type]
    dividend_yield: numeric() = Field(0.0, description="continuous dividend yield per year")  # type: ignore[valid-type]
    greeks: bool = Field(True, description="also return delta, gamma, vega, theta, rho")

    @model_validator(mode="after")
    def _shapes_broadcast(self) -> BlackScholesParams:
        problem = broadcast_error(**self._arrays())
        if problem:
            raise ValueError(problem)
        return self

    def _arrays(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "spot": self.spot,
            "strike": self.strike,
            "maturity": self.maturity,
            "rate": self.rate,
            "volatility": self.volatility,
            "dividend_yield": self.dividend_yield,
        }


def _out(x: np.ndarray, scalar: bool) -> float | list[Any]:
    return float(x) if scalar else x.tolist()


def run(p: BlackScholesParams, ctx: RunContext) -> ModelOutput:
    arrays = p._arrays()
    scalar = all(np.ndim(v) == 0 for v in arrays.values())
    res = black_scholes(
        np.asarray(p.type) == "call",
        p.spot,
        p.strike,
        p.maturity,
        p.rate,
        p.volatility,
        p.dividend_yield,
        greeks=p.greeks,
        threads=ctx.threads,
    )
    ctx.checkpoint(1.0)
    result: dict[str, Any] = {"price": _out(res.price, scalar)}
    if p.greeks:
        for name in ("delta", "gamma", "vega", "theta", "rho"):
            result[name] = _out(getattr(res, name), scalar)
    result["conventions"] = {"vega": "per 1.00 vol", "theta": "per year", "rho": "per 1.00 rate"}
    return ModelOutput(result=result)


SPEC = ModelSpec(
    name="black_scholes",
    description="Black-Scholes-Merton price and analytic Greeks of European options "
    "with a continuous dividend yield; vectorised over arrays.",
    params=BlackScholesParams,
    run=run,
    cost=lambda p: float(element_count(*p._arrays().values())),
    example={
        "type": "call",
        "spot": 42,
        "strike": 40,
        "maturity": 0.5,
        "rate": 0.1,
        "volatility": 0.2,
    },
)
