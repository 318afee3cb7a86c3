"""``implied_volatility``: BSM implied volatility with a status per option
(``quantrun.models.implied_vol``)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from quantrun.catalog.fields import Params, broadcast_error, element_count, numeric
from quantrun.catalog.spec import ModelOutput, ModelSpec, RunContext
from quantrun.models.implied_vol import STATUS_NAMES, implied_volatility

OptionType = Literal["call", "put"]


class ImpliedVolParams(Params):
    type: OptionType | list[OptionType] = Field(description="call or put (or an array)")
    price: numeric(ge=0) = Field(description="market price of the option")  # type: ignore[valid-type]
    spot: numeric(gt=0) = Field(description="underlying price")  # type: ignore[valid-type]
    strike: numeric(gt=0) = Field(description="strike price")  # type: ignore[valid-type]
    maturity: numeric(gt=0) = Field(description="time to expiry in years")  # type: ignore[valid-type]
    rate: numeric() = Field(description="risk-free rate, continuous, per year")  # type: ignore[valid-type]
    dividend_yield: numeric() = Field(0.0, description="continuous dividend yield")  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _shapes_broadcast(self) -> ImpliedVolParams:
        problem = broadcast_error(**self.arrays())
        if problem:
            raise ValueError(problem)
        return self

    def arrays(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "price": self.price,
            "spot": self.spot,
            "strike": self.strike,
            "maturity": self.maturity,
            "rate": self.rate,
            "dividend_yield": self.dividend_yield,
        }


def run(p: ImpliedVolParams, ctx: RunContext) -> ModelOutput:
    scalar = all(np.ndim(v) == 0 for v in p.arrays().values())
    res = implied_volatility(
        np.asarray(p.type) == "call",
        p.price,
        p.spot,
        p.strike,
        p.maturity,
        p.rate,
        p.dividend_yield,
        threads=ctx.threads,
    )
    ctx.checkpoint(1.0)
    names = np.asarray(STATUS_NAMES, dtype=object)[res.status]
    vol = np.where(res.status == 0, res.vol, np.nan).astype(object)
    vol[res.status != 0] = None
    counts = {name: int((res.status == i).sum()) for i, name in enumerate(STATUS_NAMES)}
    if scalar:
        return ModelOutput(
            result={"implied_volatility": vol.item(), "status": names.item(), "counts": counts}
        )
    return ModelOutput(
        result={"implied_volatility": vol.tolist(), "status": names.tolist(), "counts": counts}
    )


SPEC = ModelSpec(
    name="implied_volatility",
    description="Black-Scholes-Merton implied volatility, vectorised, with a status per "
    "option (ok, below_intrinsic, above_max, no_convergence) instead of NaN.",
    params=ImpliedVolParams,
    run=run,
    cost=lambda p: float(element_count(*p.arrays().values())) * 5,
    example={
        "type": ["call", "put"],
        "price": [4.76, 0.81],
        "spot": 42,
        "strike": 40,
        "maturity": 0.5,
        "rate": 0.1,
    },
)
