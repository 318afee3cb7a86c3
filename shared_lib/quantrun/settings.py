"""Configuration from ``QUANTRUN_*`` environment variables (pydantic-settings).

``Settings()`` refuses to build on a missing or placeholder value and names the
variable, so a misconfigured service fails at start, not at its first request.
Embedded mode needs nothing: every value has a local default under ``data_dir``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDER = re.compile(
    r"^\s*(<.*>|changeme|change[-_ ]me|todo|tbd|xxx+|placeholder|your[-_].*|replace[-_]?me)\s*$",
    re.IGNORECASE,
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUANTRUN_", extra="ignore", frozen=True)

    mode: Literal["embedded", "gcp"] = Field(
        "embedded", description="embedded: one machine, no cloud. gcp: Google Cloud adapters."
    )
    data_dir: Path = Field(
        Path(".quantrun"), description="Embedded mode's home: job DB, price DB, artifacts."
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the job store (default: SQLite in data_dir)."
    )
    db_pool_size: int = Field(
        5,
        ge=1,
        le=200,
        description="PostgreSQL connections per process; a request beyond them waits for a "
        "free one. Few on purpose: each statement is one short round trip, and more "
        "concurrent writers than cores convoy on PostgreSQL's locks (p99 of a submit under "
        "load: ~115 ms with 4, ~290 ms with 10, measured here). Keep pool size x "
        "instances under the Cloud SQL tier's max_connections.",
    )
    db_prepared_statements: bool = Field(
        True,
        description="Keep statements prepared per connection (fewer round trips); false "
        "behind a transaction-pooling proxy (PgBouncer transaction mode).",
    )
    price_db_path: Path | None = Field(None, description="DuckDB file (default: data_dir).")
    artifacts_dir: Path | None = Field(None, description="Artifact folder (default: data_dir).")
    api_key: SecretStr | None = Field(
        None, description="Embedded mode's dev API key (created and printed when unset)."
    )
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    lease_seconds: float = Field(
        30.0, gt=0, description="A running job's lease; renewed while it runs."
    )
    max_attempts: int = Field(3, ge=1, description="Runs a job may start before it fails.")
    worker_threads: int = Field(1, ge=1, le=64, description="Jobs one worker runs at once.")
    reclaim_interval_seconds: float = Field(5.0, gt=0)
    max_request_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    sync_max_cost: float = Field(
        5e6, gt=0, description="Largest input (model-specific cost units) a sync run accepts."
    )
    auth_cache_seconds: float = Field(
        30.0, ge=0, description="how long the API remembers a valid API key (0: always ask)"
    )
    read_cache_seconds: float = Field(
        5.0, ge=0, description="TTL of the API's cache of instruments and price windows"
    )
    load_sample_data: bool = Field(
        True, description="Embedded: load the bundled prices into an empty price store."
    )

    # gcp mode (required there; checked below). Resource names default to CONTRACT section 4.
    project: str | None = Field(
        None,
        validation_alias=AliasChoices("QUANTRUN_PROJECT", "GOOGLE_CLOUD_PROJECT"),
        description="Google Cloud project id (QUANTRUN_PROJECT or GOOGLE_CLOUD_PROJECT).",
    )
    cloudsql_instance: str | None = Field(
        None, description="PROJECT:REGION:INSTANCE; connects through the Cloud SQL connector."
    )
    db_user: str | None = Field(None, description="database user (IAM user with the connector)")
    db_name: str = "quantrun"
    jobs_topic: str = "quantrun-jobs"
    dead_letter_topic: str = "quantrun-jobs-dead"
    push_subscription: str = "quantrun-jobs-push"
    bq_dataset: str = "quantrun"
    bq_table: str = "prices"
    artifacts_bucket: str | None = Field(None, description="bucket for jobs/<id>/<name>")
    uploads_bucket: str | None = Field(None, description="bucket whose uploads/ are ingested")
    verify_push_token: bool = Field(
        True, description="verify the OIDC token on /pubsub/push (off only for emulators)"
    )
    push_audience: str | None = Field(None, description="the worker URL the token is for")
    push_service_account: str | None = Field(None, description="the push identity's email")
    signed_url_seconds: int = Field(900, ge=60, le=7 * 24 * 3600)
    signing_service_account: str | None = Field(
        None, description="email that signs URLs through IAM signBlob (Cloud Run)"
    )
    outbox_interval_seconds: float = Field(1.0, gt=0)
    gcp_timeout_seconds: float = Field(30.0, gt=0, description="per call to a Google API")

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_placeholders(cls, value: Any, info: Any) -> Any:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(raw, str) and _PLACEHOLDER.match(raw):
            raise ValueError(
                f"QUANTRUN_{info.field_name.upper()} is a placeholder ({raw!r}); set a real value"
            )
        return value

    @model_validator(mode="after")
    def _require_gcp_values(self) -> Settings:
        if self.mode == "gcp":
            missing = [
                f"QUANTRUN_{name.upper()}"
                for name in ("project", "artifacts_bucket")
                if getattr(self, name) in (None, "")
            ]
            if not self.database_url and not self.cloudsql_instance:
                missing.append("QUANTRUN_DATABASE_URL or QUANTRUN_CLOUDSQL_INSTANCE")
            if missing:
                raise ValueError(f"QUANTRUN_MODE=gcp needs {', '.join(missing)}")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'quantrun.db').resolve()}"

    @property
    def resolved_price_db_path(self) -> Path:
        return self.price_db_path or self.data_dir / "prices.duckdb"

    @property
    def resolved_artifacts_dir(self) -> Path:
        return self.artifacts_dir or self.data_dir / "artifacts"
