"""The settings groups of the workers and the platform: running jobs (``worker``), Google
Cloud (``gcp``), embedded mode (``embedded``) and the ingest functions (``ingest``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr

from quantrun.settings.base import SettingsGroup, comma_list


class WorkerSettings(SettingsGroup):
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


class GcpSettings(SettingsGroup):
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


class EmbeddedSettings(SettingsGroup):
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


class IngestSettings(SettingsGroup):
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
