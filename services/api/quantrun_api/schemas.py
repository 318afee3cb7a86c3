"""Response bodies of the public API (CONTRACT section 2)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from quantrun.domain.jobs import Job


class ErrorBody(BaseModel):
    code: str = Field(description="stable snake_case code", examples=["validation_error"])
    message: str = Field(description="human-readable explanation")
    details: list[dict[str, Any]] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    error: ErrorBody


class ArtifactOut(BaseModel):
    name: str
    content_type: str
    size_bytes: int
    url: str


class JobErrorOut(BaseModel):
    code: str
    message: str


class JobOut(BaseModel):
    id: str
    model: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    params: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: float
    attempts: int
    result: dict[str, Any] | None
    error: JobErrorOut | None
    artifacts: list[ArtifactOut]

    @classmethod
    def from_job(cls, job: Job) -> JobOut:
        return cls(
            id=job.id,
            model=job.model,
            status=job.status.value,
            params=job.params,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            progress=job.progress,
            attempts=job.attempts,
            result=job.result,
            error=JobErrorOut(code=job.error.code, message=job.error.message)
            if job.error
            else None,
            artifacts=[
                ArtifactOut(
                    name=a.name,
                    content_type=a.content_type,
                    size_bytes=a.size_bytes,
                    url=f"/v1/jobs/{job.id}/artifacts/{a.name}",
                )
                for a in job.artifacts
            ],
        )


class JobPageOut(BaseModel):
    items: list[JobOut]
    next_cursor: str | None


class SubmitJob(BaseModel):
    model: str = Field(description="a model name from GET /v1/models", examples=["black_scholes"])
    params: dict[str, Any] = Field(
        description="the model's params (see its params_schema)",
        examples=[
            {
                "type": "call",
                "spot": 100,
                "strike": 100,
                "maturity": 1.0,
                "rate": 0.05,
                "volatility": 0.2,
            }
        ],
    )


class RunModel(BaseModel):
    params: dict[str, Any] = Field(description="the model's params (see its params_schema)")


class ModelInfo(BaseModel):
    name: str
    description: str
    params_schema: dict[str, Any]
    artifacts: list[str] = Field(default_factory=list, description="artifacts a job writes")
    example: dict[str, Any] = Field(
        default_factory=dict, description="params that run on the bundled sample data"
    )


class InstrumentOut(BaseModel):
    symbol: str
    name: str
    first_date: date
    last_date: date
    rows: int


class CoverageOut(BaseModel):
    symbol: str
    name: str
    first_date: date
    last_date: date
    rows: int
    missing_weekdays: int = Field(
        description="weekdays between first and last date with no price (holidays included)"
    )
    missing_sample: list[str] = Field(description="up to 50 of those dates")
    last_ingest: dict[str, Any] | None = Field(
        description="the latest ingest run that touched the symbol (source, counts, time)"
    )


class PricesOut(BaseModel):
    dates: list[date]
    symbols: list[str]
    close: list[list[float | None]] = Field(description="per date, one price per symbol")


class Status(BaseModel):
    status: str
    checks: dict[str, str] | None = None
