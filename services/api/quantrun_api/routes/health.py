"""Liveness and readiness (no auth)."""

from __future__ import annotations

from typing import Protocol

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from quantrun_api.deps import ContainerDep
from quantrun_api.schemas import ErrorResponse, Status

router = APIRouter(tags=["health"])


class Pingable(Protocol):
    def ping(self) -> None: ...


@router.get("/healthz", response_model=Status, summary="The process is up")
def healthz() -> Status:
    return Status(status="ok")


@router.get(
    "/readyz",
    response_model=Status,
    summary="Job store, queue and price store answer",
    responses={503: {"model": ErrorResponse}},
)
def readyz(container: ContainerDep) -> Status | JSONResponse:
    checks: dict[str, Pingable] = {
        "job_store": container.store,
        "queue": container.queue,
        "price_store": container.prices,
    }
    results: dict[str, str] = {}
    for name, dependency in checks.items():
        try:
            dependency.ping()
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"failed: {type(exc).__name__}"
            body = {
                "error": {
                    "code": "not_ready",
                    "message": f"{name} is not answering",
                    "details": [{"check": k, "status": v} for k, v in results.items()],
                }
            }
            return JSONResponse(body, status_code=503)
    return Status(status="ok", checks=results)
