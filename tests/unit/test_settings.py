from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from quantrun.settings import ClientSettings, DbSettings, Settings

ROOT = Path(__file__).resolve().parents[2]


def test_embedded_defaults_need_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("QUANTRUN_MODE", "QUANTRUN_DATABASE_URL", "QUANTRUN_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.mode == "embedded" and s.database_url.startswith("sqlite:///")


@pytest.mark.parametrize("value", ["changeme", "<your key>", "your-project", "TODO", "xxx"])
def test_placeholders_are_refused_with_the_variable_name(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("QUANTRUN_API_KEY", value)
    with pytest.raises(ValidationError, match="QUANTRUN_API_KEY is a placeholder"):
        Settings()


def test_a_group_names_its_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTRUN_DB_POOL_SIZE", "7")
    monkeypatch.setenv("QUANTRUN_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("QUANTRUN_DB_USER", "changeme")
    with pytest.raises(ValidationError, match="QUANTRUN_DB_USER is a placeholder"):
        Settings()
    monkeypatch.delenv("QUANTRUN_DB_USER")
    db = Settings().db
    assert (db.pool_size, db.url) == (7, "postgresql://u@h/db")
    assert DbSettings(url="sqlite://").url == "sqlite://"  # by field name in code


def test_gcp_mode_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTRUN_MODE", "gcp")
    for var in (
        "QUANTRUN_PROJECT",
        "GOOGLE_CLOUD_PROJECT",
        "QUANTRUN_DATABASE_URL",
        "QUANTRUN_ARTIFACTS_BUCKET",
        "QUANTRUN_CLOUDSQL_INSTANCE",
        "QUANTRUN_DB_USER",
    ):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(
        ValidationError,
        match="QUANTRUN_PROJECT, QUANTRUN_ARTIFACTS_BUCKET, "
        "QUANTRUN_DATABASE_URL or QUANTRUN_CLOUDSQL_INSTANCE",
    ):
        Settings()
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p1")
    monkeypatch.setenv("QUANTRUN_ARTIFACTS_BUCKET", "b1")
    monkeypatch.setenv("QUANTRUN_CLOUDSQL_INSTANCE", "p1:europe-west1:db")
    with pytest.raises(ValidationError, match="QUANTRUN_DB_USER"):
        Settings()
    monkeypatch.setenv("QUANTRUN_DB_USER", "api@p1.iam")
    assert Settings().gcp.project == "p1"


def test_bad_types_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTRUN_PORT", "eighty")
    with pytest.raises(ValidationError, match="port"):
        Settings()


def _readme_variables() -> set[str]:
    """Variables named in the first column of README's configuration table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    found: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            found.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", first_cell))
    return found


def test_readme_documents_every_setting_and_nothing_else() -> None:
    read: set[str] = set()
    for variable in [*Settings.documented_variables(), *ClientSettings.variables().values()]:
        read.update(v.strip() for v in variable.split(" or "))
    documented = _readme_variables()
    assert read - documented == set(), "settings missing from README's configuration table"
    assert documented - read == set(), "README documents variables no setting reads"


def test_the_queued_grace_follows_the_lease_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from quantrun.bootstrap import _worker_config

    monkeypatch.setenv("QUANTRUN_LEASE_SECONDS", "30")
    assert _worker_config(Settings()).queued_grace_seconds == 300
    monkeypatch.setenv("QUANTRUN_LEASE_SECONDS", "2")
    assert _worker_config(Settings()).queued_grace_seconds == 60
    monkeypatch.setenv("QUANTRUN_QUEUED_GRACE_SECONDS", "15")
    assert _worker_config(Settings()).queued_grace_seconds == 15
    monkeypatch.setenv("QUANTRUN_QUEUED_GRACE_SECONDS", "0")
    with pytest.raises(ValidationError, match="queued_grace_seconds"):
        Settings()
