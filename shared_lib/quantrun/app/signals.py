"""Signals of a backtest strategy on a date (CONTRACT 5.5): per symbol BUY (flat to long
that day), SELL (long to flat) or HOLD, the position held after the day's close, and the
indicator values the rule compared, computed by the backtest's own signal functions over
the strategy's history from its start to the date (no later price is read)."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np

from quantrun.app.history_loads import loader
from quantrun.app.owned import found
from quantrun.catalog.backtest import BacktestParams
from quantrun.catalog.grids import checked_grid
from quantrun.clock import utcnow
from quantrun.domain.errors import InvalidInput
from quantrun.domain.strategies import Strategy
from quantrun.domain.users import User
from quantrun.models.backtest import SIGNALS
from quantrun.models.signals import indicators, prepare
from quantrun.ports import PriceStore, StrategyStore


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def strategy_signals(
    *, strategies: StrategyStore, prices: PriceStore, user: User, strategy_id: str, day: date | None
) -> dict[str, Any]:
    strategy = found(strategies.strategy(strategy_id, user.id), f"strategy {strategy_id}")
    return signals_on(strategy, day, prices)


def one_set_rule(
    model: str, template: dict[str, Any], what: str
) -> tuple[BacktestParams, dict[str, float]]:
    """The params and the one parameter set of a backtest strategy's template (``what``
    needs one)."""
    if model != "backtest":
        raise InvalidInput(
            f"{what} are for backtest strategies; this one runs {model}", field="strategy_id"
        )
    params = BacktestParams.model_validate(template)
    grid, _ = checked_grid(params.strategy)
    if len(grid) != 1:
        raise InvalidInput(
            f"{what} need one parameter set; this strategy's grid has {len(grid)}",
            field="strategy_id",
        )
    return params, grid[0]


def signals_on(strategy: Strategy, day: date | None, prices: PriceStore) -> dict[str, Any]:
    """The strategy's signals on ``day`` (the last trading day on or before it; None:
    the last with prices)."""
    params, rule = one_set_rule(strategy.model, strategy.params, "signals")
    name = params.strategy.name
    until = day or date.max
    if until < params.start:
        raise InvalidInput(f"date: before the strategy's start {params.start}", field="date")
    load = loader(prices, params)  # as the strategy's jobs read: adjustment, currency
    matrix = load(list(params.symbols), params.start, min(until, utcnow().date()))
    if matrix.dates.size < 2:
        raise InvalidInput("date: fewer than two trading days from the start to it", field="date")
    prepared = prepare(matrix.close)
    held = SIGNALS[name][1](prepared, rule) & prepared.live
    values = indicators(name, prepared, rule)
    t = matrix.dates.size - 1
    whole = {k: int(v) if float(v).is_integer() else v for k, v in rule.items()}
    rows = []
    for j, symbol in enumerate(params.symbols):
        now, before = bool(held[t, j]), bool(held[t - 1, j])
        signal = "BUY" if now and not before else "SELL" if before and not now else "HOLD"
        rows.append(
            {
                "symbol": symbol,
                "signal": signal,
                "position": int(now),
                "close": _number(matrix.close[t, j]),
                "indicators": {k: _number(v[t, j]) for k, v in values.items()},
            }
        )
    return {
        "strategy_id": strategy.id,
        "date": str(np.datetime64(matrix.dates[t], "D")),
        "rule": {"name": name, **whole},
        "signals": rows,
    }
