"""The model catalogue, and running a small input in the request."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from quantrun.app.history_loads import HistoryReads, loader
from quantrun.app.limits import check_cost
from quantrun.app.submit import KnownSymbols, validate_params
from quantrun.catalog import REGISTRY, get_spec
from quantrun.catalog.spec import RunContext
from quantrun.domain.errors import NotFound
from quantrun.domain.results import json_safe
from quantrun.ports import PriceStore


@dataclass(frozen=True)
class ModelEntry:
    name: str
    description: str
    params_schema: dict[str, Any]
    artifacts: list[str]
    example: dict[str, Any]


def catalogue() -> list[ModelEntry]:
    return list(_catalogue())


@functools.cache
def _catalogue() -> tuple[ModelEntry, ...]:
    # the registry is fixed for the process: its JSON Schemas took 12 ms a request to build
    return tuple(
        ModelEntry(s.name, s.description, s.params_schema(), list(s.artifacts), s.example)
        for s in REGISTRY.values()
    )


def run_sync(
    *,
    model: str,
    params: dict[str, Any],
    known: KnownSymbols,
    reads: HistoryReads,
    prices: PriceStore,
    max_cost: float,
    max_values: int,
) -> dict[str, Any]:
    """Run a model in the request (no job, no charts) when its input is small enough and
    its result has at most ``max_values`` array values; the result as JSON (no NaN)."""
    spec = get_spec(model)
    if spec is None:
        raise NotFound(f"unknown model {model!r}; GET /v1/models lists them", code="unknown_model")
    parsed = validate_params(spec, params, known)
    check_cost(spec, parsed, limit=max_cost, what="synchronous", max_values=max_values)
    context = RunContext(
        load_prices=loader(prices, parsed, reads),
        charts=False,
        inline_values=max_values,
    )
    output = spec.run(parsed, context)
    result: dict[str, Any] = json_safe(output.result)
    return result
