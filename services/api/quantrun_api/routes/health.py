"""Liveness and readiness (no auth)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from quantrun.app.health import readiness
from quantrun_api.deps import ContainerDep
from quantrun_api.responses import errors
from quantrun_api.schemas import Status

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Status, summary="The process is up")
@router.get(
    "/healthz",
    response_model=Status,
    summary="The process is up (as /health; Cloud Run keeps /healthz on public URLs)",
)
def healthz() -> Status:
    return Status(status="ok")


@router.get(
    "/readyz",
    response_model=Status,
    summary="Job store, queue and price store answer",
    responses=errors(503),
)
def readyz(container: ContainerDep) -> Status | JSONResponse:
    ready = readiness(
        {"job_store": container.store, "queue": container.queue, "price_store": container.prices}
    )
    if ready.failed is None:
        return Status(status="ok", checks=ready.checks)
    return JSONResponse(ready.error(), status_code=503)
