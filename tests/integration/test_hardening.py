"""Smaller holes, each closed (issue: no user can hurt another): CORS lets a browser
change a strategy (PATCH); the console's files carry its policy at every path; the docs
page loads nothing from elsewhere; a job's rows stop listing artifacts the bucket's
lifecycle has deleted."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from quantrun.app.auth import create_key
from quantrun.domain.artifacts import ArtifactRef
from quantrun.domain.jobs import Job, JobEnd, JobStatus
from quantrun.settings import ApiSettings, GcpSettings, LimitSettings, Settings
from tests.harness.api import RunningApi, running_api

ORIGIN = "https://desk.example"


def api_settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        api=ApiSettings(cors_origins=ORIGIN),
        limits=LimitSettings(rate_requests_per_second=0),
        gcp=GcpSettings(artifact_retention_days=30),
    )


WITH_WORKER = False


def test_a_browser_may_patch_a_strategy(api: RunningApi) -> None:
    preflight = httpx.options(
        f"{api.url}/v1/strategies/x",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert "PATCH" in preflight.headers["access-control-allow-methods"]


@pytest.mark.parametrize("path", ["/", "/console/index.html", "/console/app.js"])
def test_the_console_carries_its_policy_at_every_path(api: RunningApi, path: str) -> None:
    r = httpx.get(f"{api.url}{path}")
    assert r.status_code == 200
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_the_docs_page_loads_everything_from_this_origin(api: RunningApi) -> None:
    page = httpx.get(f"{api.url}/docs")
    assert (
        page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    )
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(refs) >= 3 and "<script>" not in page.text  # no inline script either
    for ref in refs:
        assert ref.startswith("/") and not ref.startswith("//"), ref
        asset = httpx.get(f"{api.url}{ref}")
        assert asset.status_code == 200 and asset.content, ref
        assert asset.headers["x-content-type-options"] == "nosniff"
    init = httpx.get(f"{api.url}/docs-ui/init.js").text
    assert "/openapi.json" in init and "http" not in init


def _finished_job(api: RunningApi, user: str, started: datetime) -> str:
    store = api.container.store
    owner = store.get_or_create_user(user)
    job = store.create_job(
        Job(str(uuid.uuid4()), owner.id, "black_scholes", {}, JobStatus.QUEUED, started)
    )
    store.claim(
        job.id, worker="w", now=started, lease_until=started + timedelta(hours=1), max_attempts=3
    )
    manifest = ArtifactRef("manifest.json", "application/json", 10)
    store.finish(job.id, JobEnd.succeeded({}, (manifest,)), worker="w", now=started)
    return job.id


def test_rows_stop_listing_artifacts_the_lifecycle_deleted(api: RunningApi) -> None:
    """QUANTRUN_ARTIFACT_RETENTION_DAYS (Terraform sets it from the bucket's lifecycle
    variable): a job started longer ago lists no artifacts and their download is 404."""
    now = datetime.now(UTC)
    old = _finished_job(api, "keeper", now - timedelta(days=31))
    recent = _finished_job(api, "keeper", now - timedelta(days=29))
    key = create_key(api.container.store, "keeper").key
    with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {key}"}) as c:
        assert c.get(f"/v1/jobs/{old}").json()["artifacts"] == []
        assert [a["name"] for a in c.get(f"/v1/jobs/{recent}").json()["artifacts"]] == [
            "manifest.json"
        ]
        listed = {j["id"]: j["artifacts"] for j in c.get("/v1/jobs").json()["items"]}
        assert listed[old] == [] and len(listed[recent]) == 1
        assert c.get(f"/v1/jobs/{old}/artifacts/manifest.json").status_code == 404


def test_without_retention_artifacts_are_listed_for_ever(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, limits=LimitSettings(rate_requests_per_second=0))
    with running_api(settings, with_worker=False) as api:
        old = _finished_job(api, "keeper", datetime.now(UTC) - timedelta(days=3650))
        key = create_key(api.container.store, "keeper").key
        job = httpx.get(f"{api.url}/v1/jobs/{old}", headers={"Authorization": f"Bearer {key}"})
        assert len(job.json()["artifacts"]) == 1
