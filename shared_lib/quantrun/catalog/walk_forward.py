"""``walk_forward``: walk-forward optimisation of a backtest strategy
(``quantrun.models.walk_forward``), CONTRACT 5.3."""

from __future__ import annotations

import csv
import io
import itertools
import math
from typing import Any, Literal

import numpy as np
from pydantic import Field

from quantrun.catalog.backtest import Strategy
from quantrun.catalog.fields import Whole
from quantrun.catalog.grids import checked_grid, grid_lists, priced_matrix
from quantrun.catalog.history_params import HistoryParams
from quantrun.catalog.spec import Artifact, ModelOutput, ModelSpec, RunContext, Sharding, chart
from quantrun.catalog.trades import artifacts as trade_artifacts
from quantrun.catalog.trades import window_trades
from quantrun.domain.prices import PriceMatrix
from quantrun.models import charts
from quantrun.models import walk_forward as wf
from quantrun.models.history import insufficient

TRADING_DAYS_PER_CALENDAR_DAY = 252 / 365


class WalkForwardParams(HistoryParams):
    strategy: Strategy = Field(
        description="as backtest's: a name, or {name, ...params}; lists make the in-sample grid"
    )
    train_days: Whole = Field(504, ge=20, le=5040, description="trading days each set is fit on")
    test_days: Whole = Field(126, ge=5, le=2520, description="trading days the chosen set trades")
    anchored: bool = Field(False, description="train from the first day every time")
    objective: Literal["sharpe", "total_return", "cagr"] = Field(
        "sharpe", description="what the in-sample choice maximises"
    )
    fees_bps: float = Field(0.0, ge=0, le=1000, allow_inf_nan=False)
    slippage_bps: float = Field(0.0, ge=0, le=1000, allow_inf_nan=False)
    initial_cash: float = Field(1e6, gt=0, allow_inf_nan=False)

    def windows_estimate(self) -> int:
        rows = (self.end - self.start).days * TRADING_DAYS_PER_CALENDAR_DAY
        return max(1, math.ceil((rows - self.train_days) / self.test_days))

    def cost(self) -> float:
        grid = math.prod(len(v) for v in grid_lists(self.strategy).values())
        return float(
            len(self.symbols) * grid * self.windows_estimate() * (self.train_days + self.test_days)
        )


def _label(params: dict[str, float]) -> dict[str, float | int]:
    return {k: (int(v) if float(v).is_integer() else v) for k, v in params.items()}


Computed = tuple[PriceMatrix, list[dict[str, float]], int, list[wf.WindowResult]]


def _compute(
    p: WalkForwardParams, ctx: RunContext, only: tuple[int, int | None] | None = None
) -> Computed:
    """The prices, the grid, the invalid sets skipped, and the windows' results (all of
    them, or ``only`` windows lo..hi-1)."""
    grid, skipped = checked_grid(p.strategy)
    matrix = priced_matrix(ctx, p)
    rows = matrix.dates.size
    if rows <= p.train_days:
        raise insufficient(
            p.symbols[0],
            f"{rows} trading days in the window; train_days ({p.train_days}) plus at least "
            "one test day are needed",
        )
    done = wf.walk_forward(
        matrix.close,
        p.strategy.name,
        grid,
        train_days=p.train_days,
        test_days=p.test_days,
        anchored=p.anchored,
        objective=p.objective,
        initial_cash=p.initial_cash,
        fees_bps=p.fees_bps,
        slippage_bps=p.slippage_bps,
        checkpoint=lambda f: ctx.checkpoint(0.9 * f),
        threads=ctx.threads,
        only=only,
    )
    return matrix, grid, skipped, done


def run(p: WalkForwardParams, ctx: RunContext) -> ModelOutput:
    return _output(p, ctx, *_compute(p, ctx))


def _output(
    p: WalkForwardParams,
    ctx: RunContext,
    matrix: PriceMatrix,
    grid: list[dict[str, float]],
    skipped: int,
    done: list[wf.WindowResult],
) -> ModelOutput:
    dates = matrix.dates
    windows = []
    for k, w in enumerate(done):
        (a, b), (_, c) = w.window.train, w.window.test
        windows.append(
            {
                "window": k,
                "train_start": str(dates[a]),
                "train_end": str(dates[b - 1]),
                "test_start": str(dates[b]),
                "test_end": str(dates[c - 1]),
                "params": _label(grid[w.chosen]),
                "in_sample": w.in_sample,
                "out_of_sample": w.out_of_sample,
            }
        )
    returns = np.concatenate([w.returns for w in done])
    first_test = done[0].window.test[0]
    oos_dates = dates[first_test:]
    result: dict[str, Any] = {
        "strategy": p.strategy.name,
        "objective": p.objective,
        "anchored": p.anchored,
        "train_days": p.train_days,
        "test_days": p.test_days,
        "windows": windows,
        "out_of_sample": {
            **wf.series_metrics(returns),
            "first_date": str(oos_dates[0]),
            "last_date": str(oos_dates[-1]),
            "observations": int(returns.size),
        },
        "parameter_stability": wf.parameter_stability([grid[w.chosen] for w in done]),
        "grid_size": len(grid),
        "skipped_invalid": skipped,
        "symbols": list(p.symbols),
        "first_date": str(dates[0]),
        "last_date": str(dates[-1]),
    }
    test_trades = window_trades(
        matrix,
        p.strategy.name,
        grid,
        [(w.window.train[0], w.window.test[0], w.window.test[1], w.chosen) for w in done],
        initial_cash=p.initial_cash,
        fees_bps=p.fees_bps,
        slippage_bps=p.slippage_bps,
    )
    artifacts = [
        Artifact("windows.csv", "text/csv", _windows_csv(windows)),
        *trade_artifacts(test_trades),
    ]
    if ctx.charts:
        equity = p.initial_cash * np.cumprod(1.0 + returns)
        artifacts.append(
            chart(
                "walk_forward.png",
                charts.line_chart(
                    {"out of sample (stitched test windows)": (oos_dates, equity)},
                    title=f"Walk-forward: {p.strategy.name}, {len(windows)} windows "
                    f"({'anchored' if p.anchored else 'rolling'})",
                    ylabel="Equity (currency)",
                ),
            )
        )
    ctx.checkpoint(1.0)
    return ModelOutput(result=result, artifacts=artifacts)


def _windows_csv(windows: list[dict[str, Any]]) -> bytes:
    names = list(windows[0]["params"])
    metrics = ["total_return", "sharpe", "max_drawdown"]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(
        ["window", "train_start", "train_end", "test_start", "test_end", *names]
        + [f"in_sample_{m}" for m in metrics]
        + [f"out_of_sample_{m}" for m in metrics]
    )
    for w in windows:
        writer.writerow(
            [w["window"], w["train_start"], w["train_end"], w["test_start"], w["test_end"]]
            + [w["params"][n] for n in names]
            + [w["in_sample"][m] for m in metrics]
            + [w["out_of_sample"][m] for m in metrics]
        )
    return buf.getvalue().encode()


# Shards: ranges of the window plan. The plan comes from the trading days loaded, which
# split() cannot see, so it splits the estimated count and the last shard runs to the end.


def _split(p: WalkForwardParams, n: int) -> list[dict[str, Any]]:
    bounds = np.linspace(0, p.windows_estimate(), min(n, p.windows_estimate()) + 1).astype(int)
    ranges = [[int(lo), int(hi)] for lo, hi in itertools.pairwise(bounds)]
    ranges[-1][1] = -1  # to the end of the plan
    return [{"windows": r} for r in ranges]


def _run_shard(p: WalkForwardParams, shard: dict[str, Any], ctx: RunContext) -> ModelOutput:
    lo, hi = shard["windows"]
    _, _, _, done = _compute(p, ctx, only=(lo, None if hi == -1 else hi))
    return ModelOutput(
        result={
            "windows": [
                {
                    "train": list(w.window.train),
                    "test": list(w.window.test),
                    "chosen": w.chosen,
                    "in_sample": w.in_sample,
                    "out_of_sample": w.out_of_sample,
                    "returns": w.returns.tolist(),
                }
                for w in done
            ]
        }
    )


def _merge(p: WalkForwardParams, partials: list[dict[str, Any]], ctx: RunContext) -> ModelOutput:
    grid, skipped = checked_grid(p.strategy)
    matrix = priced_matrix(ctx, p)
    done = [
        wf.WindowResult(
            wf.Window((w["train"][0], w["train"][1]), (w["test"][0], w["test"][1])),
            int(w["chosen"]),
            w["in_sample"],
            w["out_of_sample"],
            np.asarray(w["returns"], dtype=np.float64),
        )
        for part in partials
        for w in part["windows"]
    ]
    plan = wf.windows(matrix.dates.size, p.train_days, p.test_days, anchored=p.anchored)
    if [d.window for d in done] != plan:
        raise ValueError(f"the shards hold {len(done)} windows of {len(plan)}")
    return _output(p, ctx, matrix, grid, skipped, done)


SPEC = ModelSpec(
    name="walk_forward",
    description="Walk-forward optimisation: in each rolling or anchored window the grid is "
    "backtested in-sample, the best set by the objective trades the next test window; "
    "per-window choices, stitched out-of-sample equity and metrics, parameter stability.",
    params=WalkForwardParams,
    run=run,
    artifacts=("walk_forward.png", "windows.csv", "trades.csv", "trades.parquet"),
    cost=lambda p: p.cost(),
    symbols=lambda p: list(p.symbols),
    sharding=Sharding(
        most=lambda p: p.windows_estimate(), split=_split, run=_run_shard, merge=_merge
    ),
    example={
        "symbols": ["AAPL", "XOM", "JPM"],
        "start": "2010-01-01",
        "end": "2017-12-31",
        "strategy": {"name": "sma_cross", "fast": [10, 20], "slow": [50, 100]},
        "train_days": 504,
        "test_days": 126,
        "fees_bps": 5,
    },
)
