"""``backtest``: rule-based long/flat strategies over a parameter grid
(``quantrun.models.backtest``)."""

from __future__ import annotations

import csv
import io
import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, Field, WithJsonSchema

from quantrun.catalog.fields import Params, Whole
from quantrun.catalog.history_params import HistoryParams, load_matrix
from quantrun.catalog.spec import Artifact, ModelOutput, ModelSpec, RunContext
from quantrun.domain.errors import ModelInputError
from quantrun.domain.prices import PriceMatrix
from quantrun.models import backtest as bt
from quantrun.models import charts
from quantrun.models import overfitting as of
from quantrun.models.history import insufficient

MAX_GRID = 10_000

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


class BacktestParams(HistoryParams):
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


def grid_lists(strategy: Any) -> dict[str, list[float]]:
    """A strategy's parameter lists by name (each a grid axis)."""
    return {k: list(v) for k, v in strategy.model_dump().items() if k != "name"}


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


def _overfitting(equity: np.ndarray, splits: int) -> dict[str, Any]:
    """``deflated_sharpe`` of the best set given the grid's trials, and ``pbo`` by CSCV
    (None for a single set or a history too short for the blocks), from daily returns."""
    returns = (equity[:, 1:] / equity[:, :-1] - 1).T
    details: dict[str, Any] = {"trials": returns.shape[1], "cscv_splits": splits}
    dsr = of.deflated_sharpe(returns) if returns.shape[0] >= 3 else None
    pbo = None
    if returns.shape[1] >= 2 and returns.shape[0] >= 2 * splits:
        pbo = of.probability_of_backtest_overfitting(returns, splits)
        details["cscv_combinations"] = pbo.combinations
    if dsr is not None:
        details.update(
            best_sharpe_daily=dsr.sharpe,
            expected_max_sharpe_daily=dsr.expected_max_sharpe,
            skewness=dsr.skewness,
            kurtosis=dsr.kurtosis,
            observations=dsr.observations,
        )
    return {
        "deflated_sharpe": _finite(dsr.probability) if dsr is not None else None,
        "pbo": pbo.probability if pbo is not None else None,
        "overfitting": details,
    }


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def checked_grid(strategy: Any) -> tuple[list[dict[str, float]], int]:
    """The valid parameter sets of a strategy's lists, and how many were skipped."""
    lists = grid_lists(strategy)
    size = math.prod(len(v) for v in lists.values())
    if size > MAX_GRID:
        raise ModelInputError(
            f"the grid has {size} parameter sets; at most {MAX_GRID} are run at once",
            code="grid_too_large",
            field="params.strategy",
        )
    grid, skipped = bt.expand_grid(strategy.name, lists)
    if not grid:
        raise ModelInputError(
            "no valid parameter set in the grid (fast must be below slow, lower below upper)",
            code="invalid_grid",
            field="params.strategy",
        )
    return grid, skipped


def priced_matrix(ctx: RunContext, p: HistoryParams) -> PriceMatrix:
    """The window's prices, every symbol priced at least once, two dates or more."""
    symbols = list(p.symbols)
    matrix = load_matrix(ctx, symbols, p.start, p.end)
    for j, s in enumerate(symbols):
        if np.isnan(matrix.close[:, j]).all():
            raise insufficient(s, "no prices in the requested date range")
    if matrix.dates.size < 2:
        raise insufficient(symbols[0], "fewer than two dates in the window")
    return matrix


def run(p: BacktestParams, ctx: RunContext) -> ModelOutput:
    grid, skipped = checked_grid(p.strategy)
    symbols = list(p.symbols)
    matrix = priced_matrix(ctx, p)
    res = bt.run_grid(
        matrix.close,
        p.strategy.name,
        grid,
        initial_cash=p.initial_cash,
        fees_bps=p.fees_bps,
        slippage_bps=p.slippage_bps,
        checkpoint=lambda f: ctx.checkpoint(0.9 * f),
        threads=ctx.threads,
    )
    rows = [_row(g, res, i) for i, g in enumerate(grid)]
    finite = np.where(np.isfinite(res.sharpe), res.sharpe, -np.inf)
    best = int(np.argmax(finite))
    result: dict[str, Any] = {
        "strategy": p.strategy.name,
        "results": rows,
        "best": rows[best],
        **_overfitting(res.equity, p.cscv_splits),
        "grid_size": len(grid),
        "skipped_invalid": skipped,
        "first_date": str(matrix.dates[0]),
        "last_date": str(matrix.dates[-1]),
        "symbols": symbols,
    }
    buf = io.StringIO()
    names = list(grid[0])
    writer = csv.writer(buf)
    writer.writerow(
        [*names, "total_return", "cagr", "sharpe", "max_drawdown", "trades", "turnover"]
    )
    for row in rows:
        writer.writerow(
            [
                *(row["params"][n] for n in names),
                row["total_return"],
                row["cagr"],
                row["sharpe"],
                row["max_drawdown"],
                row["trades"],
                row["turnover"],
            ]
        )
    artifacts = [Artifact("grid.csv", "text/csv", buf.getvalue().encode())]
    if ctx.charts:
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
            f"best: {p.strategy.name} ({label})": (matrix.dates, res.equity[best]),
            "buy and hold (equal sleeves)": (matrix.dates, hold.equity[0]),
        }
        artifacts.append(
            Artifact(
                "equity.png",
                "image/png",
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


SPEC = ModelSpec(
    name="backtest",
    description="Long/flat backtests of sma_cross, rsi, macd or momentum over a parameter "
    "grid, vectorised, no look-ahead, with fees and slippage; best set by Sharpe.",
    params=BacktestParams,
    run=run,
    artifacts=("equity.png", "grid.csv"),
    cost=lambda p: p.history_size() * p.grid_size(),
    symbols=lambda p: list(p.symbols),
    example={
        "symbols": ["AAPL", "XOM", "JPM"],
        "start": "2012-01-01",
        "end": "2017-12-31",
        "strategy": {"name": "sma_cross", "fast": [10, 20], "slow": [50, 100]},
        "fees_bps": 5,
    },
)
