"""The model catalogue and synchronous runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from quantrun.errors import NotFound
from quantrun.jobs.catalog import REGISTRY, get_spec
from quantrun.jobs.execute import json_safe
from quantrun.jobs.submit import run_sync
from quantrun_api.deps import ContainerDep, CurrentUser
from quantrun_api.schemas import ErrorResponse, ModelInfo, RunModel

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("", response_model=list[ModelInfo], summary="Models and their params schemas")
def list_models(_user: CurrentUser) -> list[ModelInfo]:
    return [
        ModelInfo(
            name=s.name,
            description=s.description,
            params_schema=s.params_schema(),
            artifacts=list(s.artifacts),
            example=s.example,
        )
        for s in REGISTRY.values()
    ]


@router.post(
    "/{model}/run",
    summary="Run a model on a small input and get the result in the response",
    responses={
        404: {"model": ErrorResponse},
        413: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
    },
)
def run_model(
    model: str, body: RunModel, user: CurrentUser, container: ContainerDep
) -> dict[str, Any]:
    if get_spec(model) is None:
        raise NotFound(f"unknown model {model!r}; GET /v1/models lists them", code="unknown_model")
    output = run_sync(
        model=model,
        params=body.params,
        known=container.known_symbols,
        load_prices=container.prices.load_close,
        max_cost=container.settings.sync_max_cost,
    )
    return json_safe(output.result)  # type: ignore[no-any-return]
