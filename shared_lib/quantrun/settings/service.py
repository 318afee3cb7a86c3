"""The API process's settings groups: the job database (``db``), the HTTP API (``api``)
and the limits on requests, runs and jobs (``limits``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from quantrun.settings.base import SECRET_PREFIX, SettingsGroup, comma_list, most_per_user


class DbSettings(SettingsGroup):
    model_config = SettingsConfigDict(env_prefix="QUANTRUN_DB_")

    url: str | None = Field(
        None,
        validation_alias="QUANTRUN_DATABASE_URL",
        description="SQLAlchemy URL of the job store (default: SQLite in the data dir); "
        "`postgresql+pg8000://...` for PostgreSQL",
    )
    pool_size: int = Field(
        5,
        ge=1,
        le=200,
        description="PostgreSQL connections per process; a request beyond them waits for a "
        "free one. Few on purpose: more concurrent writers than cores convoy on "
        "PostgreSQL's locks (p99 of a submit under load: ~115 ms with 4, ~290 ms with 10). "
        "Keep pool size x instances under the Cloud SQL tier's max_connections",
    )
    prepared_statements: bool = Field(
        True,
        description="keep statements prepared per PostgreSQL connection (fewer round trips); "
        "false behind a transaction-pooling proxy",
    )
    cloudsql_instance: str | None = Field(
        None,
        validation_alias="QUANTRUN_CLOUDSQL_INSTANCE",
        description="gcp: PROJECT:REGION:INSTANCE, reached through the Cloud SQL connector",
    )
    cloudsql_ip_type: Literal["public", "private"] = Field(
        "public",
        validation_alias="QUANTRUN_CLOUDSQL_IP_TYPE",
        description="gcp: how the connector reaches the instance: its public IP (TLS and IAM "
        "through the connector, no VPC needed) or its private IP (the service needs VPC "
        "egress to the instance's network)",
    )
    user: str | None = Field(None, description="gcp: database user (IAM user with the connector)")
    name: str = Field("quantrun", description="gcp: database name on the Cloud SQL instance")
    password: SecretStr | None = Field(
        None,
        validation_alias=SECRET_PREFIX + "DB_PASSWORD",
        description="gcp: a database password instead of IAM database authentication",
    )


class ApiSettings(SettingsGroup):
    host: str = Field("127.0.0.1", description="where `quantrun serve` listens")
    port: int = Field(8080, ge=1, le=65535, description="its port (`PORT` wins on Cloud Run)")
    api_workers: int = Field(
        1, ge=1, le=64, description="gcp: API processes of `quantrun serve` (or `--workers N`)"
    )
    auth_cache_seconds: float = Field(
        5.0,
        ge=0,
        le=5,
        description="how long a process remembers a valid API key (at most 5 s: a revoked or "
        "expired key stops working within it everywhere; refused keys are never cached)",
    )
    read_cache_seconds: float = Field(
        5.0, ge=0, description="TTL of the instruments and coverage read cache"
    )
    history_cache_seconds: float = Field(
        60.0, ge=0, description="TTL of price windows (`/v1/prices`) in the read cache"
    )
    latest_cache_seconds: float = Field(
        5.0, ge=0, description="TTL of latest prices (`/v1/prices/latest`) in the read cache"
    )
    cache_stale_seconds: float = Field(
        30.0,
        ge=0,
        description="past its TTL, a cached price read is still served this long while one "
        "refresh runs (stale-while-revalidate; the `Cache-Status` header says so)",
    )
    events_poll_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description="the longest a job's event stream (`/v1/jobs/{id}/events`) waits between "
        "reads of the job (it reads after 0.05 s first, each wait 1.5 times the last)",
    )
    events_keepalive_seconds: float = Field(
        15.0, gt=0, le=15, description="the longest an event stream stays silent (a comment)"
    )
    webhook_allow_private: bool = Field(
        False,
        description="webhooks may go to private, loopback or link-local addresses and over "
        "plain http (local development and tests only)",
    )
    webhook_interval_seconds: float = Field(
        2.0, gt=0, le=30, description="how often an API process makes and sends webhook deliveries"
    )
    webhook_first_retry_seconds: float = Field(
        10.0,
        gt=0,
        le=30,
        description="a failed webhook delivery's first retry comes after this long; each "
        "next one twice as long (at most an hour)",
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=60, description="how long a webhook receiver may take to answer"
    )
    webhook_retry_hours: float = Field(
        24.0, gt=0, le=72, description="how long a failing webhook delivery is retried"
    )
    events_max_seconds: float = Field(
        3300.0,
        gt=0,
        description="an event stream ends after this long (the client reconnects); under the "
        "API's request timeout (Cloud Run: 3600 s in infra/)",
    )
    google_audience: str | None = Field(
        None,
        description="accept Google ID tokens for this audience (the API's URL) beside API "
        "keys; needs QUANTRUN_ALLOWED_EMAILS or QUANTRUN_ALLOWED_DOMAINS",
    )
    allowed_emails: str = Field(
        "", description="Google sign-in: emails allowed in, comma-separated"
    )
    allowed_domains: str = Field(
        "", description="Google sign-in: email domains allowed in, comma-separated"
    )
    google_certs_url: str = Field(
        "https://www.googleapis.com/oauth2/v1/certs",
        description="where Google's token-signing certificates are fetched (Google sign-in, "
        "and the worker's push token check)",
    )
    cors_origins: str = Field(
        "",
        description="origins allowed to call the API from a browser, comma-separated "
        "(default none: CORS off; the console is served from the API's own origin)",
    )

    @property
    def allowed_origins(self) -> list[str]:
        return comma_list(self.cors_origins)

    @model_validator(mode="after")
    def _google_needs_an_allow_list(self) -> ApiSettings:
        if self.google_audience and not (
            comma_list(self.allowed_emails) or comma_list(self.allowed_domains)
        ):
            raise ValueError(
                "QUANTRUN_GOOGLE_AUDIENCE needs QUANTRUN_ALLOWED_EMAILS or "
                "QUANTRUN_ALLOWED_DOMAINS (else any Google account could sign in)"
            )
        return self


class LimitSettings(SettingsGroup):
    """What one request or one job may ask for (CONTRACT 5.1)."""

    max_request_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="request body limit, declared or chunked (413 above)"
    )
    sync_max_cost: float = Field(
        5e6,
        gt=0,
        description="largest estimated cost of a synchronous run (model units: options, "
        "path-steps, symbol-days)",
    )
    job_max_cost: float = Field(
        1e10,
        gt=0,
        description="largest estimated cost of a job, checked at submit and again before it "
        "runs (413 `input_too_large` with the estimate and the limit)",
    )
    quick_job_cost: float = Field(
        1e3,
        ge=0,
        description="a job that reads no price history and is estimated at most this cost "
        "is quick: its message says so and a push worker runs it on the request's own thread "
        "instead of handing it to a thread (0: none is)",
    )
    result_inline_values: int = Field(
        100_000,
        ge=1000,
        description="array values a result keeps in its JSON: a synchronous run over it is "
        "refused (413), a job writes its arrays to `values.parquet` and keeps a summary",
    )
    job_max_result_values: float = Field(
        2e7,
        gt=0,
        description="array values a job's result may hold (in `values.parquet`), checked at "
        "submit and before it runs (413 `input_too_large`)",
    )
    max_params_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="largest params a job keeps, as stored JSON (413 above)",
    )
    max_shards: int = Field(
        256,
        ge=1,
        le=10_000,
        description="most shards a job may run as (`options.shards`; 422 above)",
    )
    shard_cost: float = Field(
        2e8,
        gt=0,
        description="the estimated cost a shard is sized to when `options.shards` is not "
        "given (a job of a model that splits runs as cost / this many shards)",
    )
    rate_requests_per_second: float = Field(
        50.0,
        ge=0,
        description="requests a second one user may make on /v1, per API process (0: no "
        "limit); over it, 429 `rate_limited` with Retry-After",
    )
    rate_burst: int = Field(
        100, ge=1, description="requests one user may make at once before the rate applies"
    )
    quota_active_jobs: int = Field(
        1000,
        ge=1,
        le=2**31 - 1,
        description="jobs one user may have queued or running at once, across every API "
        "instance; over it, 429 `quota_exceeded` with Retry-After",
    )
    quota_jobs_per_day: int = Field(
        100_000,
        ge=1,
        le=2**31 - 1,
        description="jobs one user may submit per UTC day, across every API instance (429 "
        "`quota_exceeded`, Retry-After: the seconds to midnight UTC)",
    )
    max_api_keys: int = Field(
        20,
        ge=1,
        le=10_000,
        description="usable (unrevoked, unexpired) API keys one user may hold; `POST /v1/keys` "
        "over it: 429 `quota_exceeded` naming `api_keys`",
    )
    max_webhooks: int = most_per_user(20, "webhooks")
    max_strategies: int = most_per_user(200, "strategies", le=100_000)
    max_schedules: int = most_per_user(50, "schedules")
    max_portfolios: int = most_per_user(50, "paper portfolios")
    max_event_streams: int = Field(
        20,
        ge=1,
        le=10_000,
        description="event streams (`GET /v1/jobs/{id}/events`) one user may hold open on one "
        "API process (429 `quota_exceeded`, Retry-After 5)",
    )
    key_expiry_days: int = Field(
        90,
        ge=1,
        le=365,
        description="days a key made by `POST /v1/keys` works when the request names none "
        "(`expires_in_days`: 1 to 365)",
    )
