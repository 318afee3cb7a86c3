"""No user can change another's rows: every write route, sent by another user with the
owner's ids, answers 404 and leaves the owner's rows exactly as they were (strategies,
schedules, webhooks, keys, jobs). Each store statement names the owner; before this
test, DELETE /v1/strategies/{id} answered another user 404 and still deleted the
owner's schedules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from quantrun.settings import ApiSettings, LimitSettings, Settings, WorkerSettings
from tests.harness.api import RunningApi

RISK = {"symbols": ["AAPL", "XOM"], "start": "2016-01-01", "end": "2017-12-31"}


def api_settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        api=ApiSettings(webhook_allow_private=True),
        limits=LimitSettings(rate_requests_per_second=0),
        worker=WorkerSettings(),
    )


WITH_WORKER = False  # the owner's job stays queued, so a cancel would show


@pytest.fixture(scope="module")
def owner(api: RunningApi) -> Iterator[httpx.Client]:
    with api.client("owner") as c:
        yield c


@pytest.fixture(scope="module")
def intruder(api: RunningApi) -> Iterator[httpx.Client]:
    with api.client("intruder") as c:
        yield c


def _owned(owner: httpx.Client) -> dict[str, Any]:
    """One of each thing the owner can make."""
    strategy = owner.post(
        "/v1/strategies", json={"name": "mine", "model": "risk_metrics", "params": RISK}
    ).json()
    schedule = owner.post(
        "/v1/schedules",
        json={"strategy_id": strategy["id"], "cron": "0 18 * * 1-5", "timezone": "UTC"},
    ).json()
    webhook = owner.post(
        "/v1/webhooks", json={"url": "https://127.0.0.1:9/hook", "events": ["job.succeeded"]}
    ).json()
    key = owner.post("/v1/keys", json={}).json()
    job = owner.post("/v1/jobs", json={"strategy_id": strategy["id"]}).json()
    return {"strategy": strategy, "schedule": schedule, "webhook": webhook, "key": key, "job": job}


def _state(owner: httpx.Client, api: RunningApi, made: dict[str, Any]) -> dict[str, Any]:
    """Everything of the owner's a write could have touched, as the owner reads it."""
    with httpx.Client(
        base_url=api.url, headers={"Authorization": f"Bearer {made['key']['key']}"}
    ) as by_new_key:
        key_works = by_new_key.get("/v1/jobs").status_code == 200
    return {
        "strategy": owner.get(f"/v1/strategies/{made['strategy']['id']}").json(),
        "schedules": owner.get("/v1/schedules").json(),
        "webhooks": owner.get("/v1/webhooks").json(),
        "keys": owner.get("/v1/keys").json(),
        "key_works": key_works,
        "job": owner.get(f"/v1/jobs/{made['job']['id']}").json(),
    }


def _writes(made: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    strategy, schedule = made["strategy"]["id"], made["schedule"]["id"]
    return [
        ("PATCH", f"/v1/strategies/{strategy}", {"name": "taken", "active": False}),
        ("DELETE", f"/v1/strategies/{strategy}", None),
        (
            "POST",
            "/v1/schedules",
            {"strategy_id": strategy, "cron": "* * * * *", "timezone": "UTC"},
        ),
        ("DELETE", f"/v1/schedules/{schedule}", None),
        ("DELETE", f"/v1/webhooks/{made['webhook']['id']}", None),
        ("DELETE", f"/v1/keys/{made['key']['prefix']}", None),
        ("POST", f"/v1/jobs/{made['job']['id']}/cancel", None),
        ("POST", "/v1/jobs", {"strategy_id": strategy}),
    ]


def test_every_write_by_another_user_is_404_and_changes_nothing(
    api: RunningApi, owner: httpx.Client, intruder: httpx.Client
) -> None:
    made = _owned(owner)
    assert all("id" in made[k] or "prefix" in made[k] for k in made), made
    before = _state(owner, api, made)
    assert before["key_works"] and len(before["schedules"]) == 1
    assert before["job"]["status"] == "queued"
    for method, path, body in _writes(made):
        answer = intruder.request(method, path, json=body)
        assert answer.status_code == 404, f"{method} {path}: {answer.status_code} {answer.text}"
        assert _state(owner, api, made) == before, f"{method} {path} changed the owner's rows"
    # the intruder made nothing either
    assert intruder.get("/v1/schedules").json() == []
    assert intruder.get("/v1/jobs").json()["items"] == []


def test_the_owner_can_do_each_of_them(api: RunningApi, owner: httpx.Client) -> None:
    """The same writes by the owner succeed: the 404s above are about ownership."""
    made = _owned(owner)
    strategy, schedule = made["strategy"]["id"], made["schedule"]["id"]
    expected = [
        ("PATCH", f"/v1/strategies/{strategy}", {"name": "renamed"}, 200),
        ("POST", f"/v1/jobs/{made['job']['id']}/cancel", None, 200),
        ("DELETE", f"/v1/schedules/{schedule}", None, 204),
        ("DELETE", f"/v1/webhooks/{made['webhook']['id']}", None, 204),
        ("DELETE", f"/v1/keys/{made['key']['prefix']}", None, 200),
        ("DELETE", f"/v1/strategies/{strategy}", None, 204),
    ]
    for method, path, body, status in expected:
        answer = owner.request(method, path, json=body)
        assert answer.status_code == status, f"{method} {path}: {answer.text}"
