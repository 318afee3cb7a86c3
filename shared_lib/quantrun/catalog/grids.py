"""What the grid models (``backtest``, ``walk_forward``) share: the parameter grid of a
strategy, the prices they read, and the overfitting diagnostics a grid reports."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from quantrun.catalog.history_params import HistoryParams, load_matrix
from quantrun.catalog.spec import RunContext
from quantrun.domain.errors import ModelInputError
from quantrun.domain.prices import PriceMatrix
from quantrun.models import backtest as bt
from quantrun.models import overfitting as of
from quantrun.models.history import insufficient

MAX_GRID = 10_000


def grid_lists(strategy: Any) -> dict[str, list[float]]:
    """A strategy's parameter lists by name (each a grid axis)."""
    return {k: list(v) for k, v in strategy.model_dump().items() if k != "name"}


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


def overfitting_report(partials: list[dict[str, Any]], splits: int) -> dict[str, Any]:
    """``deflated_sharpe`` of the best set given the grid's trials, and ``pbo`` by CSCV
    (None for a single set or a history too short for the blocks), from the sets' moment
    and block sums (each range of sets sends its own: ``_partial``)."""
    moments = np.array([m for part in partials for m in part["moments"]], dtype=np.float64)
    details: dict[str, Any] = {"trials": moments.shape[0], "cscv_splits": splits}
    dsr = of.deflated_sharpe_from_moments(moments) if moments[0, 0] >= 3 else None
    pbo = None
    if moments.shape[0] >= 2 and partials[0]["block_size"]:
        sums = np.array([b for part in partials for b in part["block_sums"]]).T
        squares = np.array([b for part in partials for b in part["block_squares"]]).T
        pbo = of.pbo_from_block_sums(sums, squares, partials[0]["block_size"])
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
