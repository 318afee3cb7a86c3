"""Configuration: the only reader of ``QUANTRUN_*`` (and the emulator) variables.

``Settings()`` gathers one group per concern, each a pydantic-settings class that reads
its own variables and is validated when it is built, so a misconfigured service stops at
start naming the variable, not at its first request:

- ``db``: the job store (``QUANTRUN_DATABASE_URL``, ``QUANTRUN_DB_*``, Cloud SQL);
- ``api``: the HTTP API (``QUANTRUN_HOST``, ``QUANTRUN_PORT``, processes, caches);
- ``limits``: request size and the cost a synchronous run or a job may have;
- ``worker``: running jobs (threads, leases, attempts, push verification);
- ``gcp``: Google Cloud names, timeouts and the emulator hosts;
- ``embedded``: embedded mode's files and dev key;
- ``ingest``: the ingest functions' providers.

``ClientSettings`` is what the CLI's client commands (``submit``, ``status``) read, and
``secret_environment()`` the ``QUANTRUN_SECRET_<NAME>`` variables (Cloud Run injects
secrets that way). Variable names are the public contract's: the groups only arrange them.
Embedded mode needs nothing: every value has a local default under ``data_dir``.

Long on purpose: it is the one reader of the environment, and a group's variables,
defaults and descriptions (README's configuration table) read best side by side.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDER = re.compile(
    r"^\s*(<.*>|changeme|change[-_ ]me|todo|tbd|xxx+|placeholder|your[-_].*|replace[-_]?me)\s*$",
    re.IGNORECASE,
)
SECRET_PREFIX = "QUANTRUN_SECRET_"  # noqa: S105 (a variable name prefix)

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["auto", "json", "text"]


def comma_list(text: str) -> list[str]:
    """The non-empty items of a comma-separated setting, stripped."""
    return [item.strip() for item in text.split(",") if item.strip()]


class _Group(BaseSettings):
    """A group of settings: frozen, unknown variables ignored, placeholders refused."""

    model_config = SettingsConfigDict(
        env_prefix="QUANTRUN_", extra="ignore", frozen=True, populate_by_name=True
    )

    @classmethod
    def variables(cls) -> dict[str, str]:
        """The environment variable(s) each field is read from, by field name."""
        prefix = cls.model_config.get("env_prefix", "")
        names: dict[str, str] = {}
        for name, info in cls.model_fields.items():
            alias = info.validation_alias
            if isinstance(alias, AliasChoices):
                names[name] = " or ".join(str(c) for c in alias.choices)
            elif isinstance(alias, str):
                names[name] = alias
            else:
                names[name] = f"{prefix}{name}".upper()
        return names

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_placeholders(cls, value: Any, info: Any) -> Any:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(raw, str) and _PLACEHOLDER.match(raw):
            variable = cls.variables().get(info.field_name, info.field_name)
            raise ValueError(f"{variable} is a placeholder ({raw!r}); set a real value")
        return value


class DbSettings(_Group):
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


class ApiSettings(_Group):
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


class LimitSettings(_Group):
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
    max_webhooks: int = Field(
        20, ge=1, le=10_000, description="webhooks one user may have (429 `quota_exceeded`)"
    )
    max_strategies: int = Field(
        200, ge=1, le=100_000, description="strategies one user may have (429 `quota_exceeded`)"
    )
    max_schedules: int = Field(
        50, ge=1, le=10_000, description="schedules one user may have (429 `quota_exceeded`)"
    )
    max_portfolios: int = Field(
        50, ge=1, le=10_000, description="paper portfolios one user may have (429 `quota_exceeded`)"
    )
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


class WorkerSettings(_Group):
    worker_threads: int = Field(1, ge=1, le=64, description="jobs one worker process runs at once")
    lease_seconds: float = Field(
        30.0, gt=0, description="a running job's lease (renewed every third of it)"
    )
    max_attempts: int = Field(
        3, ge=1, description="runs a job may start before it fails `attempts_exhausted`"
    )
    reclaim_interval_seconds: float = Field(
        5.0, gt=0, description="embedded: how often the worker sweeps for stale jobs"
    )
    schedule_tick_seconds: float = Field(
        10.0,
        gt=0,
        le=60,
        description="embedded: how often the worker submits the schedules' due fire times and "
        "steps the paper portfolios (gcp: Cloud Scheduler calls /tasks/schedules every minute "
        "and /tasks/portfolios every 10 minutes)",
    )
    stale_after_days: int = Field(
        3,
        ge=1,
        le=365,
        description="`data.stale` alert: an instrument's latest price is more than this many "
        "trading days (weekdays) old",
    )
    queued_grace_seconds: float | None = Field(
        None,
        gt=0,
        description="a job queued this long without a worker taking it is published again "
        "by the sweep (its message was lost); default 10 leases, at least 60 s",
    )
    verify_push_token: bool = Field(
        True,
        description="gcp worker: verify the OIDC token of push requests (off only for emulators)",
    )
    push_audience: str | None = Field(None, description="gcp worker: the URL the token is for")
    push_service_account: str | None = Field(
        None, description="gcp worker: the push identity's email"
    )
    push_max_cost: float = Field(
        1e9,
        gt=0,
        description="gcp push worker: a job estimated above it (model cost units) is not run "
        "inside a push request, whose deadline it could outlive, but handed to the long-jobs "
        "topic, where `quantrun worker --pull` runs it",
    )
    code_version: str | None = Field(
        None,
        description="the code version `manifest.json` records (the image sets the commit it "
        "was built from); default: the source tree's git commit, else `unknown`",
    )


class GcpSettings(_Group):
    project: str | None = Field(
        None,
        validation_alias=AliasChoices("QUANTRUN_PROJECT", "GOOGLE_CLOUD_PROJECT"),
        description="gcp: the Google Cloud project id",
    )
    jobs_topic: str = Field("quantrun-jobs", description="gcp: the jobs topic")
    dead_letter_topic: str = Field("quantrun-jobs-dead", description="gcp: the dead-letter topic")
    ingest_topic: str = Field(
        "quantrun-ingest", description="gcp: the ingest topic (the API publishes backfills)"
    )
    long_jobs_topic: str = Field(
        "quantrun-jobs-long", description="gcp: jobs too long for a push request"
    )
    long_jobs_subscription: str = Field(
        "quantrun-jobs-long-pull",
        description="gcp: the pull subscription `quantrun worker --pull` reads by default",
    )
    push_subscription: str = Field(
        "quantrun-jobs-push", description="gcp: the worker's push subscription"
    )
    bq_dataset: str = Field("quantrun", description="gcp: the BigQuery dataset")
    bq_table: str = Field("prices", description="gcp: the prices table")
    bq_max_bytes_billed: int = Field(
        10 * 1024**3,
        ge=10 * 1024**2,
        description="gcp: the most one BigQuery query may bill (`maximum_bytes_billed` on "
        "every query; over it the query fails before it costs anything: 413 "
        "`input_too_large`, or a failed job)",
    )
    artifacts_bucket: str | None = Field(None, description="gcp: bucket for jobs/<id>/<name>")
    uploads_bucket: str | None = Field(None, description="gcp: bucket whose uploads/ are ingested")
    signed_url_seconds: int = Field(
        900, ge=60, le=7 * 24 * 3600, description="gcp: lifetime of a signed artifact URL"
    )
    artifact_retention_days: int = Field(
        0,
        ge=0,
        le=36500,
        description="days the artifacts bucket keeps a job's files (its lifecycle rule; "
        "Terraform sets both from one variable): a job started longer ago lists no "
        "artifacts and their downloads answer 404 (0: kept for ever, embedded mode)",
    )
    signing_service_account: str | None = Field(
        None, description="gcp: email that signs URLs through IAM signBlob (Cloud Run)"
    )
    outbox_interval_seconds: float = Field(
        1.0,
        gt=0,
        description="gcp: how often the outbox relay sweeps for rows nobody published within "
        "5 s (it publishes its own process's jobs as soon as they are submitted)",
    )
    gcp_timeout_seconds: float = Field(
        30.0, gt=0, description="gcp: bound on every Google API call, retries included"
    )
    storage_emulator_host: str | None = Field(
        None,
        validation_alias="STORAGE_EMULATOR_HOST",
        description="the storage emulator (the standard variable)",
    )
    bigquery_emulator_host: str | None = Field(
        None,
        validation_alias="BIGQUERY_EMULATOR_HOST",
        description="the BigQuery emulator, an http:// URL",
    )


class EmbeddedSettings(_Group):
    price_db_path: Path | None = Field(None, description="DuckDB file (default: in the data dir)")
    artifacts_dir: Path | None = Field(
        None, description="artifact folder (default: in the data dir)"
    )
    api_key: SecretStr | None = Field(
        None, description="embedded mode's dev API key (generated and printed when unset)"
    )
    load_sample_data: bool = Field(
        True, description="load the bundled sample prices into an empty price store"
    )


class IngestSettings(_Group):
    ingest_providers: str = Field(
        "stooq,alphavantage",
        description="functions (and embedded backfills): provider order, comma-separated "
        "(`synthetic` for demos)",
    )
    stooq_url: str = Field("https://stooq.com", description="functions: Stooq's base URL")
    alphavantage_url: str = Field(
        "https://www.alphavantage.co", description="functions: Alpha Vantage's base URL"
    )
    secrets_from_env_only: bool = Field(
        False, description="functions: read provider keys only from QUANTRUN_SECRET_* variables"
    )

    @property
    def providers(self) -> list[str]:
        return comma_list(self.ingest_providers)


class Settings(_Group):
    """Everything a QuantRun process reads, by group; built once in each entrypoint."""

    mode: Literal["embedded", "gcp"] = Field(
        "embedded", description="`embedded` (one machine, no cloud) or `gcp`"
    )
    data_dir: Path = Field(
        Path(".quantrun"), description="embedded mode's home (job DB, price DB, artifacts, key)"
    )
    log_level: LogLevel = Field(
        "INFO", description="logs are JSON lines with Cloud Logging's fields"
    )
    log_format: LogFormat = Field(
        "auto",
        description="`json` (Cloud Logging's fields), `text` (short readable lines), or "
        "`auto`: text on a terminal, JSON otherwise",
    )
    db: DbSettings = Field(default_factory=DbSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    gcp: GcpSettings = Field(default_factory=GcpSettings)
    embedded: EmbeddedSettings = Field(default_factory=EmbeddedSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)

    GROUPS: ClassVar[tuple[str, ...]] = (
        "db",
        "api",
        "limits",
        "worker",
        "gcp",
        "embedded",
        "ingest",
    )

    @model_validator(mode="after")
    def _require_gcp_values(self) -> Settings:
        if self.mode == "gcp":
            missing = []
            if not self.gcp.project:
                missing.append("QUANTRUN_PROJECT")
            if not self.gcp.artifacts_bucket:
                missing.append("QUANTRUN_ARTIFACTS_BUCKET")
            if not self.db.url and not self.db.cloudsql_instance:
                missing.append("QUANTRUN_DATABASE_URL or QUANTRUN_CLOUDSQL_INSTANCE")
            if self.db.cloudsql_instance and not self.db.url and not self.db.user:
                missing.append("QUANTRUN_DB_USER (for QUANTRUN_CLOUDSQL_INSTANCE)")
            if missing:
                raise ValueError(f"QUANTRUN_MODE=gcp needs {', '.join(missing)}")
        return self

    @classmethod
    def documented_variables(cls) -> dict[str, str]:
        """Every variable the settings read, with its description (README's table)."""
        found: dict[str, str] = {}
        for group in (cls, *(cls.model_fields[g].annotation for g in cls.GROUPS)):
            assert isinstance(group, type) and issubclass(group, _Group)
            for name, variable in group.variables().items():
                if name in cls.GROUPS:
                    continue
                found[variable] = group.model_fields[name].description or ""
        return found

    @property
    def log_project(self) -> str | None:
        """The project trace ids are qualified with in log lines (gcp mode only)."""
        return self.gcp.project if self.mode == "gcp" else None

    @property
    def database_url(self) -> str:
        if self.db.url:
            return self.db.url
        return f"sqlite:///{(self.data_dir / 'quantrun.db').resolve()}"

    @property
    def price_db_path(self) -> Path:
        return self.embedded.price_db_path or self.data_dir / "prices.duckdb"

    @property
    def artifacts_dir(self) -> Path:
        return self.embedded.artifacts_dir or self.data_dir / "artifacts"


class ClientSettings(_Group):
    """The CLI's client commands: where the API is and which key to send."""

    url: str = Field("http://127.0.0.1:8080", description="CLI: the API the client commands call")
    api_key: SecretStr | None = Field(
        None, description="the API key the CLI sends (default: embedded mode's dev key file)"
    )
    data_dir: Path = Field(Path(".quantrun"), description="where the dev key file is looked for")
    log_level: LogLevel = Field("WARNING", description="client commands' log level (stderr)")


def secret_environment() -> dict[str, str]:
    """The ``QUANTRUN_SECRET_<NAME>`` variables (a secret by env var; else Secret Manager)."""
    return {k: v for k, v in os.environ.items() if k.startswith(SECRET_PREFIX) and v}


def load_settings() -> Settings:
    """``Settings()`` with the groups' errors gathered; raises ``ConfigurationError``."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise ConfigurationError(problems) from None


class ConfigurationError(ValueError):
    """The environment does not configure a runnable service; the message names why."""
