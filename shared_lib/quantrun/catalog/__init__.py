"""The model registry: one place mapping a model name to its params, function and artifacts."""

from __future__ import annotations

from typing import Any

from quantrun.catalog import (
    backtest,
    black_scholes,
    implied_volatility,
    index_strategy,
    markowitz,
    monte_carlo_option,
    portfolio_var,
    risk_metrics,
    walk_forward,
)
from quantrun.catalog.spec import ModelSpec

REGISTRY: dict[str, ModelSpec[Any]] = {
    spec.name: spec
    for spec in (
        black_scholes.SPEC,
        implied_volatility.SPEC,
        monte_carlo_option.SPEC,
        portfolio_var.SPEC,
        markowitz.SPEC,
        risk_metrics.SPEC,
        backtest.SPEC,
        index_strategy.SPEC,
        walk_forward.SPEC,
    )
}


def get_spec(name: str) -> ModelSpec[Any] | None:
    return REGISTRY.get(name)
