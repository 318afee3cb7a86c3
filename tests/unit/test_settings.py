from __future__ import annotations

import pytest
from pydantic import ValidationError

from quantrun.settings import Settings


def test_embedded_defaults_need_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("QUANTRUN_MODE", "QUANTRUN_DATABASE_URL", "QUANTRUN_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.mode == "embedded" and s.resolved_database_url.startswith("sqlite:///")


@pytest.mark.parametrize("value", ["changeme", "<your key>", "your-project", "TODO", "xxx"])
def test_placeholders_are_refused_with_the_variable_name(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("QUANTRUN_API_KEY", value)
    with pytest.raises(ValidationError, match="QUANTRUN_API_KEY is a placeholder"):
        Settings()


def test_gcp_mode_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTRUN_MODE", "gcp")
    for var in (
        "QUANTRUN_PROJECT",
        "GOOGLE_CLOUD_PROJECT",
        "QUANTRUN_DATABASE_URL",
        "QUANTRUN_ARTIFACTS_BUCKET",
        "QUANTRUN_CLOUDSQL_INSTANCE",
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
    assert Settings().project == "p1"


def test_bad_types_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTRUN_PORT", "eighty")
    with pytest.raises(ValidationError, match="port"):
        Settings()
