"""Response bodies of the public API (CONTRACT section 2)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from quantrun.domain.jobs import Job
from quantrun.domain.users import ApiKey
from quantrun.domain.webhooks import Webhook


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


class ShardsOut(BaseModel):
    total: int
    done: int
    failed: int


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
    shards: ShardsOut | None = Field(
        None, description="a sharded job's shards (CONTRACT 5.2); progress is done / total"
    )
    strategy_id: str | None = Field(None, description="the strategy it was made from")
    schedule_id: str | None = Field(None, description="the schedule that submitted it")

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
            shards=ShardsOut(**job.shards) if job.shards else None,
            strategy_id=job.strategy_id,
            schedule_id=job.schedule_id,
        )


# A job in a list: every field of a job, or only those ``fields=`` names (``id`` always),
# so no field but ``id`` is required.
_OPTIONAL: dict[str, Any] = {
    name: (field.annotation, None) for name, field in JobOut.model_fields.items() if name != "id"
}
JobListItem: Any = create_model(
    "JobListItem",
    __doc__="A job as in GET /v1/jobs/{id}, or only the fields `fields=` names.",
    id=(str, ...),
    **_OPTIONAL,
)


class JobPageOut(BaseModel):
    items: list[JobListItem]
    next_cursor: str | None


class JobOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    shards: int | None = Field(
        None,
        ge=1,
        le=10_000,
        description="run the job as this many shards on many workers (models that split; "
        "at most QUANTRUN_MAX_SHARDS); default: from the cost estimate",
    )


class SubmitJob(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    model: str | None = Field(
        None, description="a model name from GET /v1/models", examples=["black_scholes"]
    )
    params: dict[str, Any] | None = Field(
        None,
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
    strategy_id: str | None = Field(
        None, max_length=64, description="submit a saved strategy's job instead of model and params"
    )
    options: JobOptions | None = None

    def missing(self) -> str | None:
        """The field a body that names neither a model and params nor a strategy lacks,
        or has too many of (the route answers 422 naming it)."""
        if self.strategy_id is not None:
            return "strategy_id" if self.model is not None or self.params is not None else None
        if self.model is None:
            return "model"
        return "params" if self.params is None else None


class RunModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    params: dict[str, Any] = Field(description="the model's params (see its params_schema)")


class ModelInfo(BaseModel):
    name: str
    description: str
    params_schema: dict[str, Any]
    artifacts: list[str] = Field(default_factory=list, description="artifacts a job writes")
    example: dict[str, Any] = Field(
        default_factory=dict, description="params that run on the bundled sample data"
    )


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


Grid = list[list[float | None]]


class PricesOut(BaseModel):
    """Per date, one value per symbol of each field asked for (``fields=``); without
    ``fields``, ``close`` is the adjusted close (what the models read)."""

    dates: list[date]
    symbols: list[str]
    open: Grid | None = None
    high: Grid | None = None
    low: Grid | None = None
    close: Grid | None = Field(None, description="per date, one price per symbol")
    adj_close: Grid | None = None
    volume: Grid | None = None


class LatestPriceOut(BaseModel):
    symbol: str
    date: date
    close: float = Field(description="the close as ingested")
    adj_close: float | None = Field(description="the adjusted close, when the source gave one")
    source: str = Field(description="where the row came from (stooq, alphavantage, upload...)")


class Status(BaseModel):
    status: str
    checks: dict[str, str] | None = None


class KeyOut(BaseModel):
    """An API key as it can be shown again: its prefix, never the key."""

    prefix: str = Field(description="the key's first characters, how it is named")
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = Field(
        None, description="the latest use, recorded at most once a minute"
    )
    revoked_at: datetime | None = None

    @classmethod
    def from_key(cls, key: ApiKey) -> KeyOut:
        return cls.model_validate(key, from_attributes=True)  # never its hash: not a field


class NewKeyOut(KeyOut):
    key: str = Field(description="the new API key: shown this once, stored only as a hash")


def _whole_number(value: Any) -> Any:
    # JSON Schema's integer admits 30.0; the strict model would not
    return int(value) if isinstance(value, float) and value.is_integer() else value


class CreateKey(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    expires_in_days: Annotated[int, Field(ge=1, le=365), BeforeValidator(_whole_number)] | None = (
        Field(
            None,
            description="days until the key stops working (default: QUANTRUN_KEY_EXPIRY_DAYS, 90)",
        )
    )


WebhookEvent = Literal[
    "job.succeeded",
    "job.failed",
    "job.cancelled",
    "signal.changed",
    "order.filled",
    "portfolio.drawdown",
    "data.stale",
]


class CreateWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    url: str = Field(
        max_length=2048,
        description="https URL on a public address (QUANTRUN_WEBHOOK_ALLOW_PRIVATE lifts both)",
    )
    events: list[WebhookEvent] = Field(min_length=1, max_length=7)


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[WebhookEvent]
    created_at: datetime

    @classmethod
    def from_webhook(cls, webhook: Webhook) -> WebhookOut:
        return cls.model_validate(webhook, from_attributes=True)  # never its secret


class NewWebhookOut(WebhookOut):
    secret: str = Field(
        description="signs every delivery (X-QuantRun-Signature: sha256=<hex HMAC-SHA256 of "
        "the raw body>); shown this once"
    )
