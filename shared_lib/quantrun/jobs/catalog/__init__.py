"""The model registry: one place mapping a model name to its params, function and artifacts."""

from __future__ import annotations

from typing import Any

from quantrun.jobs.catalog import black_scholes, monte_carlo_option, risk_metrics
from quantrun.jobs.spec import ModelSpec

REGISTRY: dict[str, ModelSpec[Any]] = {
    spec.name: spec for spec in (black_scholes.SPEC, monte_carlo_option.SPEC, risk_metrics.SPEC)
}


def get_spec(name: str) -> ModelSpec[Any] | None:
    return REGISTRY.get(name)
