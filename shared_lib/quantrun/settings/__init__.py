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

The groups live in ``base`` (what they share), ``service`` (db, api, limits) and
``platform`` (worker, gcp, embedded, ingest); import them from here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from quantrun.settings.base import SECRET_PREFIX, LogFormat, LogLevel, SettingsGroup, comma_list
from quantrun.settings.platform import EmbeddedSettings, GcpSettings, IngestSettings, WorkerSettings
from quantrun.settings.service import ApiSettings, DbSettings, LimitSettings

__all__ = [
    "SECRET_PREFIX",
    "ApiSettings",
    "ClientSettings",
    "ConfigurationError",
    "DbSettings",
    "EmbeddedSettings",
    "GcpSettings",
    "IngestSettings",
    "LimitSettings",
    "Settings",
    "WorkerSettings",
    "comma_list",
    "load_settings",
    "secret_environment",
]


class Settings(SettingsGroup):
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
            assert isinstance(group, type) and issubclass(group, SettingsGroup)
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


class ClientSettings(SettingsGroup):
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
