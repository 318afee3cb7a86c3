"""``implied_volatility``: BSM implied volatility with a status per option
(``quantrun.models.implied_vol``). Past the inline budget (jobs only) the vols and
statuses go to ``values.parquet`` with a summary (``option_arrays.py``). A job splits
into shards of whole chunks of options (``option_arrays.split``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from quantrun.catalog import option_arrays as oa
from quantrun.catalog.fields import BroadcastParams, element_count, numeric
from quantrun.catalog.spec import ModelOutput, ModelSpec, RunContext, Sharding
from quantrun.models.implied_vol import STATUS_NAMES, implied_volatility

OptionType = Literal["call", "put"]


class ImpliedVolParams(BroadcastParams):
    ARRAYS = ("type", "price", "spot", "strike", "maturity", "rate", "dividend_yield")

    type: OptionType | Annotated[list[OptionType], Field(min_length=1)] = Field(
        description="call or put (or an array)"
    )
    price: numeric(ge=0) = Field(description="market price of the option")  # type: ignore[valid-type]
    spot: numeric(gt=0) = Field(description="underlying price")  # type: ignore[valid-type]
    strike: numeric(gt=0) = Field(description="strike price")  # type: ignore[valid-type]
    maturity: numeric(gt=0) = Field(description="time to expiry in years")  # type: ignore[valid-type]
    rate: numeric() = Field(description="risk-free rate, continuous, per year")  # type: ignore[valid-type]
    dividend_yield: numeric() = Field(0.0, description="continuous dividend yield")  # type: ignore[valid-type]


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
    shape = oa.broadcast_shape(arrays)
    if _result_values(p) > ctx.inline_values:
        table, tally = _tabulated(arrays, shape, ctx)
        return _from_table(table, tally)
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
    return _inline(vol, status)


def _inline(vol: np.ndarray, status: np.ndarray) -> ModelOutput:
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


def _tabulated(
    arrays: dict[str, Any],
    shape: tuple[int, ...],
    ctx: RunContext,
    first: int = 0,
    last: int | None = None,
) -> tuple[oa.ValuesTable, np.ndarray]:
    """The chunks' rows (vol and status name beside the varying inputs) and the
    statuses' tally."""
    tally = np.zeros(len(STATUS_NAMES), dtype=np.int64)
    names = np.asarray(STATUS_NAMES)

    def solve(chunk: oa.Columns) -> oa.Columns:
        nonlocal tally
        vol, status = _solved(chunk, ctx.threads)
        tally += _tally(status)
        return {"implied_volatility": vol, "status": names[status]}

    return oa.tabulate(arrays, shape, solve, ctx, first=first, last=last), tally


def _from_table(table: oa.ValuesTable, tally: np.ndarray) -> ModelOutput:
    result, artifact = table.finish(["implied_volatility"])
    return ModelOutput(result={**result, "counts": _counts(tally)}, artifacts=[artifact])


def _run_shard(p: ImpliedVolParams, shard: dict[str, Any], ctx: RunContext) -> ModelOutput:
    arrays = p.arrays()
    lo, hi = shard["chunks"]
    table, tally = _tabulated(arrays, oa.broadcast_shape(arrays), ctx, lo, hi)
    partial, part = table.part({"tally": tally.tolist()})
    return ModelOutput(result=partial, artifacts=[part])


def _merge(p: ImpliedVolParams, partials: list[dict[str, Any]], ctx: RunContext) -> ModelOutput:
    shape = oa.broadcast_shape(p.arrays())
    tally = np.asarray([part["tally"] for part in partials], dtype=np.int64).sum(axis=0)
    if _result_values(p) > ctx.inline_values:
        return _from_table(oa.merged_table(shape, partials, ctx), tally)
    columns = oa.merged_columns(partials, ctx)
    codes = {name: code for code, name in enumerate(STATUS_NAMES)}
    status = np.array([codes[name] for name in columns["status"]], dtype=np.int64)
    return _inline(columns["implied_volatility"].reshape(shape), status.reshape(shape))


def _shape(p: ImpliedVolParams) -> tuple[int, ...]:
    return oa.broadcast_shape(p.arrays())


SPEC = ModelSpec(
    name="implied_volatility",
    description="Black-Scholes-Merton implied volatility, vectorised, with a status per "
    "option (ok, below_intrinsic, above_max, no_convergence) instead of NaN (a job's large "
    "arrays go to values.parquet, with a summary in the result).",
    params=ImpliedVolParams,
    run=run,
    cost=lambda p: float(element_count(*p.arrays().values())) * 5,
    result_values=_result_values,
    sharding=Sharding(
        most=lambda p: oa.chunk_count(_shape(p)),
        split=lambda p, n: oa.split(_shape(p), n),
        run=_run_shard,
        merge=_merge,
    ),
    example={
        "type": ["call", "put"],
        "price": [4.76, 0.81],
        "spot": 42,
        "strike": 40,
        "maturity": 0.5,
        "rate": 0.1,
    },
)
