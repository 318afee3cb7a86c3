"""The model catalogue and synchronous runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from quantrun.app.models import catalogue, run_sync
from quantrun_api.deps import ContainerDep, CurrentUser
from quantrun_api.responses import errors
from quantrun_api.schemas import ModelInfo, RunModel

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("", response_model=list[ModelInfo], summary="Models and their params schemas")
def list_models(_user: CurrentUser) -> list[ModelInfo]:
    return [ModelInfo(**vars(entry)) for entry in catalogue()]


@router.post(
    "/{model}/run",
    summary="Run a model on a small input and get the result in the response",
    responses=errors(404, 413, 422),
)
def run_model(
    model: str, body: RunModel, user: CurrentUser, container: ContainerDep
) -> dict[str, Any]:
    return run_sync(
        model=model,
        params=body.params,
        known=container.known_symbols,
        reads=container.cached_reads,
        prices=container.prices,
        max_cost=container.settings.limits.sync_max_cost,
        max_values=container.settings.limits.result_inline_values,
    )
