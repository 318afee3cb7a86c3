"""Walk-forward optimisation of a rule-based strategy over a parameter grid.

The rows of the price matrix (trading days) are cut into windows: a training window of
``train_days`` rows followed by a test window of the next ``test_days`` rows; the next
window starts where the last test window ended. Rolling windows keep the training
length; anchored ones train from the first row each time. The last test window may be
shorter.

In each window every parameter set of the grid is backtested on the training rows only
(``quantrun.models.backtest``, whose signals use closes up to the day they are taken),
the best by ``objective`` (NaN counts as worst; a tie goes to the first set) trades the
test rows. A symbol with no price in a window keeps its sleeve in cash there. The chosen
set's out-of-sample returns come from running it from the training window's first row to
the test window's last, so its indicators are warm when the test starts and its position on the
test's first day is the one its rule set from training-window closes; the switch between
windows' sets is not charged. Nothing after a test window's last row can change any
decision in it or before it (no look-ahead).

Metrics of a return series follow the backtest's: ``total_return``, ``cagr`` (252
periods a year), ``sharpe`` (rf = 0, x sqrt(252); None when the series does not vary)
and ``max_drawdown``. Out-of-sample returns of all test windows are stitched into one
series. No I/O.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from quantrun.models import backtest as bt

OBJECTIVES = ("sharpe", "total_return", "cagr")


@dataclass(frozen=True)
class Window:
    train: tuple[int, int]  # rows [lo, hi)
    test: tuple[int, int]


@dataclass(frozen=True)
class WindowResult:
    window: Window
    chosen: int  # index into the grid
    in_sample: dict[str, float | None]
    out_of_sample: dict[str, float | None]
    returns: np.ndarray  # the test rows' daily returns


def windows(rows: int, train_days: int, test_days: int, *, anchored: bool) -> list[Window]:
    """The train/test windows over ``rows`` rows (none when no test row is left)."""
    out = []
    start = train_days
    while start < rows:
        end = min(start + test_days, rows)
        out.append(Window((0 if anchored else start - train_days, start), (start, end)))
        start = end
    return out


def series_metrics(returns: np.ndarray) -> dict[str, float | None]:
    """The backtest's metrics of one series of daily returns."""
    growth = np.cumprod(1.0 + returns)
    total = float(growth[-1] - 1.0) if returns.size else 0.0
    years = max(returns.size, 1) / bt.PERIODS
    cagr = math.copysign(abs(1 + total) ** (1 / years), 1 + total) - 1 if total > -1 else -1.0
    sd = float(returns.std(ddof=1)) if returns.size > 1 else 0.0
    sharpe = float(returns.mean()) / sd * math.sqrt(bt.PERIODS) if sd > 1e-12 else None
    curve = np.concatenate([[1.0], growth])
    drawdown = float((curve / np.maximum.accumulate(curve) - 1.0).min())
    return {"total_return": total, "cagr": cagr, "sharpe": sharpe, "max_drawdown": drawdown}


def walk_forward(
    close: np.ndarray,
    strategy: str,
    grid: list[dict[str, float]],
    *,
    train_days: int,
    test_days: int,
    anchored: bool,
    objective: str,
    initial_cash: float,
    fees_bps: float,
    slippage_bps: float,
    checkpoint: Callable[[float], None] = lambda _f: None,
    threads: int = 1,
    only: tuple[int, int | None] | None = None,
) -> list[WindowResult]:
    """Each window's choice and results, in order (``close``: T x N, NaN where absent);
    with ``only`` = (lo, hi), just windows lo..hi-1 of the plan (a shard's)."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}")

    def equity(rows: np.ndarray, sets: list[dict[str, float]]) -> np.ndarray:
        """Portfolio equity (G, T) of the sets on ``rows``. A symbol with no price in
        them keeps its sleeve in cash (as the backtest keeps one before its listing):
        the priced symbols trade their share of the cash, the rest of it stays put."""
        priced = ~np.isnan(rows).all(axis=0)
        share = float(priced.sum()) / rows.shape[1]
        if share == 0:
            return np.full((len(sets), rows.shape[0]), initial_cash)
        run = bt.run_grid(
            rows[:, priced],
            strategy,
            sets,
            initial_cash=initial_cash * share,
            fees_bps=fees_bps,
            slippage_bps=slippage_bps,
            threads=threads,
        )
        return np.asarray(run.equity + initial_cash * (1 - share), dtype=np.float64)

    plan = windows(close.shape[0], train_days, test_days, anchored=anchored)
    if only is not None:
        plan = plan[only[0] : only[1]]
    results = []
    for k, w in enumerate(plan):
        (a, b), (_, c) = w.train, w.test
        trained = equity(close[a:b], grid)
        total, cagr, sharpe, drawdown, _ = bt.grid_metrics(
            trained, initial_cash, np.zeros(len(grid))
        )
        score = {"total_return": total, "cagr": cagr, "sharpe": sharpe}[objective]
        chosen = int(np.argmax(np.where(np.isfinite(score), score, -np.inf)))
        curve = equity(close[a:c], [grid[chosen]])[0]
        returns = curve[b - a :] / curve[b - a - 1 : -1] - 1.0
        results.append(
            WindowResult(
                w,
                chosen,
                {
                    "total_return": float(total[chosen]),
                    "cagr": float(cagr[chosen]),
                    "sharpe": float(sharpe[chosen]) if math.isfinite(sharpe[chosen]) else None,
                    "max_drawdown": float(drawdown[chosen]),
                },
                series_metrics(returns),
                returns,
            )
        )
        checkpoint((k + 1) / len(plan))
    return results


def parameter_stability(
    chosen: list[dict[str, float]],
) -> dict[str, dict[str, object]]:
    """Per parameter: how often each value was chosen and how often it changed between
    consecutive windows."""
    out: dict[str, dict[str, object]] = {}
    for name in chosen[0] if chosen else {}:
        values = [c[name] for c in chosen]
        counts: dict[str, int] = {}
        for v in values:
            label = str(int(v)) if float(v).is_integer() else str(v)
            counts[label] = counts.get(label, 0) + 1
        changes = sum(1 for x, y in itertools.pairwise(values) if x != y)
        out[name] = {"chosen": counts, "changes": changes}
    return out
