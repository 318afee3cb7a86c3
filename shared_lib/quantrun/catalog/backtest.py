"""``backtest``: rule-based long/flat strategies over a parameter grid
(``quantrun.models.backtest``)."""

from __future__ import annotations

import csv
import io
import itertools
import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, Field, WithJsonSchema

from quantrun.catalog.fields import Params, Whole
from quantrun.catalog.grids import checked_grid, grid_lists, overfitting_report, priced_matrix
from quantrun.catalog.history_params import HistoryParams
from quantrun.catalog.spec import Artifact, ModelOutput, ModelSpec, RunContext, Sharding, chart
from quantrun.catalog.trades import STATISTICS, TradeParams
from quantrun.catalog.trades import artifacts as trade_artifacts
from quantrun.catalog.trades import table as trade_table
from quantrun.domain.prices import PriceMatrix
from quantrun.models import backtest as bt
from quantrun.models import charts
from quantrun.models import ledger as lg
from quantrun.models import overfitting as of

PosInt = Annotated[Whole, Field(ge=1, le=2520)]
Level = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


def _listed(x: Any) -> Any:
    return x if isinstance(x, list) else [x]


def _one_or_list(item: dict[str, Any]) -> Any:
    """The schema of a grid axis: one value or a list of them."""
    return WithJsonSchema(
        {"anyOf": [item, {"type": "array", "items": item, "minItems": 1, "maxItems": 200}]}
    )


IntList = Annotated[
    list[PosInt],
    BeforeValidator(_listed),
    Field(min_length=1, max_length=200),
    _one_or_list({"type": "integer", "minimum": 1, "maximum": 2520}),
]
LevelList = Annotated[
    list[Level],
    BeforeValidator(_listed),
    Field(min_length=1, max_length=200),
    _one_or_list({"type": "number", "minimum": 0, "maximum": 100}),
]


class _Strategy(Params):
    """A strategy and its parameter lists (each list a grid axis)."""


class SmaCross(_Strategy):
    name: Literal["sma_cross"]
    fast: IntList = Field([20], description="fast SMA window(s), days")
    slow: IntList = Field([50], description="slow SMA window(s), days")


class Rsi(_Strategy):
    name: Literal["rsi"]
    period: IntList = Field([14])
    lower: LevelList = Field([30.0], description="enter below this RSI")
    upper: LevelList = Field([70.0], description="exit above this RSI")


class Macd(_Strategy):
    name: Literal["macd"]
    fast: IntList = Field([12])
    slow: IntList = Field([26])
    signal: IntList = Field([9])


class Momentum(_Strategy):
    name: Literal["momentum"]
    lookback: IntList = Field([126], description="trailing return window, days")
    top_n: IntList = Field([1], description="symbols held")


def _named(x: Any) -> Any:
    return {"name": x} if isinstance(x, str) else x


Strategy = Annotated[
    SmaCross | Rsi | Macd | Momentum, Field(discriminator="name"), BeforeValidator(_named)
]


class BacktestParams(HistoryParams, TradeParams):
    strategy: Strategy = Field(description="a name, or {name, ...params}; lists make a grid")
    fees_bps: float = Field(0.0, ge=0, le=1000, allow_inf_nan=False)
    slippage_bps: float = Field(0.0, ge=0, le=1000, allow_inf_nan=False)
    initial_cash: float = Field(1e6, gt=0, allow_inf_nan=False)
    cscv_splits: Whole = Field(
        16,
        ge=2,
        le=16,
        multiple_of=2,
        description="blocks the history is cut into for `pbo` (combinatorially symmetric "
        "cross-validation over every half of them)",
    )

    def grid_lists(self) -> dict[str, list[float]]:
        return grid_lists(self.strategy)

    def grid_size(self) -> int:
        return math.prod(len(v) for v in self.grid_lists().values())


def _row(params: dict[str, float], r: bt.GridResult, i: int) -> dict[str, Any]:
    sharpe = float(r.sharpe[i])
    return {
        "params": {k: (int(v) if float(v).is_integer() else v) for k, v in params.items()},
        "total_return": float(r.total_return[i]),
        "cagr": float(r.cagr[i]),
        "sharpe": sharpe if math.isfinite(sharpe) else None,
        "max_drawdown": float(r.max_drawdown[i]),
        "trades": int(r.trades[i]),
        "turnover": float(r.turnover[i]),
    }


def _partial(
    p: BacktestParams,
    ctx: RunContext,
    matrix: PriceMatrix,
    grid: list[dict[str, float]],
    sets: tuple[int, int],
) -> dict[str, Any]:
    """Sets lo..hi-1 of the grid: their result rows, and the sums the overfitting
    diagnostics read (a set's results do not depend on the other sets run with it)."""
    lo, hi = sets
    res = bt.run_grid(
        matrix.close,
        p.strategy.name,
        grid[lo:hi],
        initial_cash=p.initial_cash,
        fees_bps=p.fees_bps,
        slippage_bps=p.slippage_bps,
        checkpoint=lambda f: ctx.checkpoint(0.9 * f),
        threads=ctx.threads,
        rules=p.rules(),
    )
    returns = (res.equity[:, 1:] / res.equity[:, :-1] - 1).T
    partial: dict[str, Any] = {
        "rows": [_row(g, res, i) for i, g in enumerate(grid[lo:hi])],
        "moments": of.moment_sums(returns).tolist(),
        "block_size": 0,
    }
    if returns.shape[0] >= 2 * p.cscv_splits:
        sums, squares, size = of.block_sums(returns, p.cscv_splits)
        partial.update(
            block_sums=sums.T.tolist(), block_squares=squares.T.tolist(), block_size=size
        )
    return partial


def run(p: BacktestParams, ctx: RunContext) -> ModelOutput:
    grid, skipped = checked_grid(p.strategy)
    matrix = priced_matrix(ctx, p)
    partial = _partial(p, ctx, matrix, grid, (0, len(grid)))
    return _output(p, ctx, matrix, grid, skipped, [partial])


def _output(
    p: BacktestParams,
    ctx: RunContext,
    matrix: PriceMatrix,
    grid: list[dict[str, float]],
    skipped: int,
    partials: list[dict[str, Any]],
) -> ModelOutput:
    symbols = list(p.symbols)
    rows = [row for part in partials for row in part["rows"]]
    if len(rows) != len(grid):
        raise ValueError(f"the shards hold {len(rows)} of the grid's {len(grid)} sets")
    ledger = bt.trade_ledger(
        matrix.close,
        p.strategy.name,
        grid,
        initial_cash=p.initial_cash,
        fees_bps=p.fees_bps,
        slippage_bps=p.slippage_bps,
        rules=p.rules(),
    )
    for row, stats in zip(
        rows, lg.set_statistics(ledger, len(grid), matrix.dates.size), strict=True
    ):
        row.update(stats)
    finite = np.array([-np.inf if r["sharpe"] is None else r["sharpe"] for r in rows])
    best = int(np.argmax(finite))
    result: dict[str, Any] = {
        "strategy": p.strategy.name,
        "results": rows,
        "best": rows[best],
        **overfitting_report(partials, p.cscv_splits),
        "grid_size": len(grid),
        "skipped_invalid": skipped,
        "first_date": str(matrix.dates[0]),
        "last_date": str(matrix.dates[-1]),
        "symbols": symbols,
    }
    buf = io.StringIO()
    names = list(grid[0])
    figures = ["total_return", "cagr", "sharpe", "max_drawdown", "trades", "turnover", *STATISTICS]
    writer = csv.writer(buf)
    writer.writerow([*names, *figures])
    writer.writerows([*(r["params"][n] for n in names), *(r[f] for f in figures)] for r in rows)
    artifacts = [
        Artifact("grid.csv", "text/csv", buf.getvalue().encode()),
        *trade_artifacts(trade_table(ledger, matrix)),
    ]
    if ctx.charts:
        chosen = bt.run_grid(
            matrix.close,
            p.strategy.name,
            [grid[best]],
            initial_cash=p.initial_cash,
            fees_bps=p.fees_bps,
            slippage_bps=p.slippage_bps,
            rules=p.rules(),
        )
        hold = bt.run_grid(
            matrix.close,
            "momentum",
            [{"lookback": 1, "top_n": len(symbols)}],
            initial_cash=p.initial_cash,
            fees_bps=0,
            slippage_bps=0,
        )
        label = ", ".join(f"{k}={v}" for k, v in rows[best]["params"].items())
        series = {
            f"best: {p.strategy.name} ({label})": (matrix.dates, chosen.equity[0]),
            "buy and hold (equal sleeves)": (matrix.dates, hold.equity[0]),
        }
        artifacts.append(
            chart(
                "equity.png",
                charts.line_chart(
                    series,
                    title="Backtest equity",
                    ylabel="Equity (currency)",
                    emphasise=["buy and hold (equal sleeves)"],
                ),
            )
        )
    ctx.checkpoint(1.0)
    return ModelOutput(result=result, artifacts=artifacts)


# Shards: ranges of the grid's valid sets, each sending its rows and the sums the
# overfitting diagnostics read; the merge puts them side by side (``_output``).


def _split(p: BacktestParams, n: int) -> list[dict[str, Any]]:
    grid, _ = checked_grid(p.strategy)
    bounds = np.linspace(0, len(grid), min(n, len(grid)) + 1).astype(int)
    return [{"sets": [int(a), int(b)]} for a, b in itertools.pairwise(bounds)]


def _run_shard(p: BacktestParams, shard: dict[str, Any], ctx: RunContext) -> ModelOutput:
    grid, _ = checked_grid(p.strategy)
    lo, hi = shard["sets"]
    return ModelOutput(result=_partial(p, ctx, priced_matrix(ctx, p), grid, (lo, hi)))


def _merge(p: BacktestParams, partials: list[dict[str, Any]], ctx: RunContext) -> ModelOutput:
    grid, skipped = checked_grid(p.strategy)
    return _output(p, ctx, priced_matrix(ctx, p), grid, skipped, partials)


SPEC = ModelSpec(
    name="backtest",
    description="Long/flat backtests of sma_cross, rsi, macd or momentum over a parameter "
    "grid, vectorised, no look-ahead, with fees and slippage, optional stops and "
    "volatility-target sizing; every round trip in trades.csv/.parquet; best set by Sharpe.",
    params=BacktestParams,
    run=run,
    artifacts=("equity.png", "grid.csv", "trades.csv", "trades.parquet"),
    cost=lambda p: p.history_size() * p.grid_size(),
    symbols=lambda p: list(p.symbols),
    sharding=Sharding(most=lambda p: p.grid_size(), split=_split, run=_run_shard, merge=_merge),
    example={
        "symbols": ["AAPL", "XOM", "JPM"],
        "start": "2012-01-01",
        "end": "2017-12-31",
        "strategy": {"name": "sma_cross", "fast": [10, 20], "slow": [50, 100]},
        "fees_bps": 5,
    },
)
