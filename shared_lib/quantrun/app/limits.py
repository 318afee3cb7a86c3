"""Cost before work: every model estimates its cost from its params (``ModelSpec.cost``,
in the model's work units), and an input over a limit is refused before anything runs,
at submit (the job limit), in the worker before it starts (the same limit, for jobs
queued before it was lowered), and for synchronous runs (their smaller limit)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from quantrun.catalog.spec import ModelSpec
from quantrun.domain.errors import InputTooLarge


def check_cost(spec: ModelSpec[Any], params: BaseModel, *, limit: float, what: str) -> float:
    """The estimate, or ``InputTooLarge`` naming it and the limit."""
    estimate = float(spec.cost(params))
    if estimate > limit:
        raise InputTooLarge(
            f"{spec.name}: estimated cost {estimate:.3g} exceeds the {what} limit {limit:.3g}"
            + ("; submit it as a job with POST /v1/jobs" if what == "synchronous" else ""),
            estimate=estimate,
            limit=limit,
        )
    return estimate
