"""``implied_volatility``: BSM implied volatility with a status per option
(``quantrun.models.implied_vol``). Past the inline budget (jobs only) the vols and
statuses go to ``values.parquet`` with a summary (``option_arrays.py``)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from quantrun.catalog.fields import Params, broadcast_error, element_count, numeric
from quantrun.catalog.option_arrays import ValuesTable, broadcast_shape, chunks, varying
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


def _solved(arrays: dict[str, Any], threads: int) -> tuple[np.ndarray, np.ndarray]:
    """(vol, NaN where not solved; status codes)."""
    res = implied_volatility(
        np.asarray(arrays["type"]) == "call",
        arrays["price"],
        arrays["spot"],
        arrays["strike"],
        arrays["maturity"],
        arrays["rate"],
        arrays["dividend_yield"],
        threads=threads,
    )
    return np.where(res.status == 0, res.vol, np.nan), np.asarray(res.status)


def _result_values(p: ImpliedVolParams) -> float:
    return float(element_count(*p.arrays().values())) * 2  # a vol and a status each


def _tally(status: np.ndarray) -> np.ndarray:
    return np.bincount(status.ravel(), minlength=len(STATUS_NAMES))


def _counts(tally: np.ndarray) -> dict[str, int]:
    return {name: int(tally[i]) for i, name in enumerate(STATUS_NAMES)}


def run(p: ImpliedVolParams, ctx: RunContext) -> ModelOutput:
    arrays = p.arrays()
    shape = broadcast_shape(arrays)
    if _result_values(p) > ctx.inline_values:
        return _run_to_artifact(arrays, shape, ctx)
    vol, status = _solved(arrays, ctx.threads)
    ctx.checkpoint(1.0)
    if not shape:
        solved = int(status) == 0
        return ModelOutput(
            result={
                "implied_volatility": float(vol) if solved else None,
                "status": STATUS_NAMES[int(status)],
                "counts": _counts(_tally(status)),
            }
        )
    names = np.asarray(STATUS_NAMES, dtype=object)[status]
    vols = vol.astype(object)
    vols[status != 0] = None
    return ModelOutput(
        result={
            "implied_volatility": vols.tolist(),
            "status": names.tolist(),
            "counts": _counts(_tally(status)),
        }
    )


def _run_to_artifact(
    arrays: dict[str, Any], shape: tuple[int, ...], ctx: RunContext
) -> ModelOutput:
    table, inputs = ValuesTable(shape), varying(arrays)
    tally = np.zeros(len(STATUS_NAMES), dtype=np.int64)
    names = np.asarray(STATUS_NAMES)
    for done, chunk in chunks(arrays, shape):
        vol, status = _solved(chunk, ctx.threads)
        tally += _tally(status)
        table.add(
            {
                **{name: chunk[name] for name in inputs},
                "implied_volatility": vol,
                "status": names[status],
            }
        )
        ctx.checkpoint(done)
    result, artifact = table.finish(["implied_volatility"])
    result["counts"] = _counts(tally)
    return ModelOutput(result=result, artifacts=[artifact])


SPEC = ModelSpec(
    name="implied_volatility",
    description="Black-Scholes-Merton implied volatility, vectorised, with a status per "
    "option (ok, below_intrinsic, above_max, no_convergence) instead of NaN (a job's large "
    "arrays go to values.parquet, with a summary in the result).",
    params=ImpliedVolParams,
    run=run,
    cost=lambda p: float(element_count(*p.arrays().values())) * 5,
    result_values=_result_values,
    example={
        "type": ["call", "put"],
        "price": [4.76, 0.81],
        "spot": 42,
        "strike": 40,
        "maturity": 0.5,
        "rate": 0.1,
    },
)
