"""Cost before work: every model estimates its cost from its params (``ModelSpec.cost``,
in the model's work units) and the array values its result will hold
(``ModelSpec.result_values``), and an input over a limit is refused before anything
runs, at submit (the job limits), in the worker before it starts (the same limits, for
jobs queued before they were lowered), and for synchronous runs (their smaller cost
limit, and a response no larger than the inline budget)."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel

from quantrun.catalog.spec import ModelSpec
from quantrun.domain.errors import InputTooLarge


def check_cost(
    spec: ModelSpec[Any],
    params: BaseModel,
    *,
    limit: float,
    what: str,
    max_values: float = math.inf,
) -> float:
    """The cost estimate, or ``InputTooLarge`` naming the estimate and the limit it is
    over (the cost, or the result's array values)."""
    as_job = "; submit it as a job with POST /v1/jobs" if what == "synchronous" else ""
    estimate = float(spec.cost(params))
    if estimate > limit:
        raise InputTooLarge(
            f"{spec.name}: estimated cost {estimate:.3g} exceeds the {what} limit {limit:.3g}"
            + as_job,
            estimate=estimate,
            limit=limit,
        )
    values = float(spec.result_values(params))
    if values > max_values:
        raise InputTooLarge(
            f"{spec.name}: the result would hold {values:.3g} values, over the {what} limit "
            f"of {max_values:.3g}"
            + (as_job + " (its arrays go to values.parquet)" if as_job else ""),
            estimate=values,
            limit=max_values,
        )
    return estimate
