"""``black_scholes``: European option prices and Greeks (``quantrun.models.options``).

Up to the inline budget the result holds the arrays; past it (jobs only) they go to
``values.parquet`` with a summary (``option_arrays.py``). A job splits into shards of
whole chunks of options (``option_arrays.split``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from quantrun.catalog import option_arrays as oa
from quantrun.catalog.fields import BroadcastParams, element_count, numeric
from quantrun.catalog.spec import ModelOutput, ModelSpec, RunContext, Sharding
from quantrun.models.options import black_scholes

OptionType = Literal["call", "put"]


class BlackScholesParams(BroadcastParams):
    ARRAYS = ("type", "spot", "strike", "maturity", "rate", "volatility", "dividend_yield")

    type: OptionType | Annotated[list[OptionType], Field(min_length=1)] = Field(
        description="call or put (or an array)"
    )
    spot: numeric(gt=0) = Field(description="underlying price")  # type: ignore[valid-type]
    strike: numeric(gt=0) = Field(description="strike price")  # type: ignore[valid-type]
    maturity: numeric(gt=0) = Field(description="time to expiry in years")  # type: ignore[valid-type]
    rate: numeric() = Field(description="risk-free rate, continuous, per year")  # type: ignore[valid-type]
    volatility: numeric(gt=0) = Field(description="volatility per sqrt(year)")  # type: ignore[valid-type]
    dividend_yield: numeric() = Field(0.0, description="continuous dividend yield per year")  # type: ignore[valid-type]
    greeks: bool = Field(True, description="also return delta, gamma, vega, theta, rho")


GREEKS = ("delta", "gamma", "vega", "theta", "rho")
CONVENTIONS = {"vega": "per 1.00 vol", "theta": "per year", "rho": "per 1.00 rate"}


def _outputs(p: BlackScholesParams) -> list[str]:
    return ["price", *GREEKS] if p.greeks else ["price"]


def _result_values(p: BlackScholesParams) -> float:
    return float(element_count(*p.arrays().values())) * len(_outputs(p))


def _priced(p: BlackScholesParams, arrays: dict[str, Any], threads: int) -> dict[str, np.ndarray]:
    res = black_scholes(
        np.asarray(arrays["type"]) == "call",
        arrays["spot"],
        arrays["strike"],
        arrays["maturity"],
        arrays["rate"],
        arrays["volatility"],
        arrays["dividend_yield"],
        greeks=p.greeks,
        threads=threads,
    )
    return {name: getattr(res, name) for name in _outputs(p)}


def run(p: BlackScholesParams, ctx: RunContext) -> ModelOutput:
    arrays = p.arrays()
    shape = oa.broadcast_shape(arrays)
    if _result_values(p) > ctx.inline_values:
        table = oa.tabulate(arrays, shape, lambda chunk: _priced(p, chunk, ctx.threads), ctx)
        return _from_table(p, table)
    priced = _priced(p, arrays, ctx.threads)
    ctx.checkpoint(1.0)
    return _inline(shape, priced)


def _inline(shape: tuple[int, ...], priced: dict[str, np.ndarray]) -> ModelOutput:
    result: dict[str, Any] = {
        name: float(values) if not shape else values.tolist() for name, values in priced.items()
    }
    return ModelOutput(result={**result, "conventions": CONVENTIONS})


def _from_table(p: BlackScholesParams, table: oa.ValuesTable) -> ModelOutput:
    result, artifact = table.finish(_outputs(p))
    return ModelOutput(result={**result, "conventions": CONVENTIONS}, artifacts=[artifact])


def _run_shard(p: BlackScholesParams, shard: dict[str, Any], ctx: RunContext) -> ModelOutput:
    arrays = p.arrays()
    lo, hi = shard["chunks"]
    table = oa.tabulate(
        arrays,
        oa.broadcast_shape(arrays),
        lambda chunk: _priced(p, chunk, ctx.threads),
        ctx,
        first=lo,
        last=hi,
    )
    partial, part = table.part()
    return ModelOutput(result=partial, artifacts=[part])


def _merge(p: BlackScholesParams, partials: list[dict[str, Any]], ctx: RunContext) -> ModelOutput:
    shape = oa.broadcast_shape(p.arrays())
    if _result_values(p) > ctx.inline_values:
        return _from_table(p, oa.merged_table(shape, partials, ctx))
    columns = oa.merged_columns(partials, ctx)
    return _inline(shape, {name: columns[name].reshape(shape) for name in _outputs(p)})


SPEC = ModelSpec(
    name="black_scholes",
    description="Black-Scholes-Merton price and analytic Greeks of European options "
    "with a continuous dividend yield; vectorised over arrays (a job's large arrays go to "
    "values.parquet, with a summary in the result).",
    params=BlackScholesParams,
    run=run,
    cost=lambda p: float(element_count(*p.arrays().values())),
    result_values=_result_values,
    sharding=Sharding(
        most=lambda p: oa.chunk_count(oa.broadcast_shape(p.arrays())),
        split=lambda p, n: oa.split(oa.broadcast_shape(p.arrays()), n),
        run=_run_shard,
        merge=_merge,
    ),
    example={
        "type": "call",
        "spot": 42,
        "strike": 40,
        "maturity": 0.5,
        "rate": 0.1,
        "volatility": 0.2,
    },
)
