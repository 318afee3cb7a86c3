"""/v1/strategies and /v1/schedules over real HTTP (CONTRACT 5.5): a strategy is checked
as a job is (422 naming the field), changed, run (the job carries its id) and deleted
with its schedules; a schedule shows its next fire times; another user's are not found."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from devtools.jobs import wait_for_job
from tests.harness.api import RunningApi

RISK = {"symbols": ["AAPL", "XOM"], "start": "2016-01-01", "end": "2017-12-31"}

USER = "strategist"


def create(client: httpx.Client, **body: object) -> httpx.Response:
    return client.post(
        "/v1/strategies", json={"name": "risk", "model": "risk_metrics", "params": RISK, **body}
    )


def test_a_strategy_is_saved_changed_run_and_deleted(client: httpx.Client) -> None:
    r = create(client)
    assert r.status_code == 201, r.text
    strategy = r.json()
    assert strategy["active"] is True and strategy["params"]["benchmark"] == "SPY"  # defaults
    assert client.get(f"/v1/strategies/{strategy['id']}").json() == strategy
    changed = client.patch(f"/v1/strategies/{strategy['id']}", json={"active": False})
    assert changed.status_code == 200 and changed.json()["active"] is False
    job = client.post("/v1/jobs", json={"strategy_id": strategy["id"]})
    assert job.status_code == 202, job.text
    assert job.json()["strategy_id"] == strategy["id"] and job.json()["schedule_id"] is None
    done = wait_for_job(client, job.json()["id"], timeout=60)
    assert done["status"] == "succeeded" and done["model"] == "risk_metrics"
    assert done["params"] == strategy["params"]
    assert client.delete(f"/v1/strategies/{strategy['id']}").status_code == 204
    assert client.get(f"/v1/strategies/{strategy['id']}").status_code == 404
    gone = client.post("/v1/jobs", json={"strategy_id": strategy["id"]})
    assert gone.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "black_scholes", "params": {"type": "call"}}, "model"),
        ({"model": "nope"}, "model"),
        ({"params": {**RISK, "symbols": ["AAPL", "NOPE"]}}, "params.symbols[1]"),
        ({"params": {**RISK, "start": "2018-01-01"}}, "params"),
        ({"name": ""}, "name"),
    ],
)
def test_a_bad_strategy_is_422_naming_the_field(
    client: httpx.Client, body: dict[str, object], field: str
) -> None:
    r = create(client, **body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"][0]["field"].startswith(field), r.text


def test_a_job_names_its_source_once(client: httpx.Client) -> None:
    strategy = create(client).json()
    both = {"strategy_id": strategy["id"], "model": "risk_metrics", "params": RISK}
    for body, field in (
        ({}, "model"),
        ({"model": "risk_metrics"}, "params"),
        (both, "strategy_id"),
    ):
        r = client.post("/v1/jobs", json=body)
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == field


def test_schedules_show_their_next_fire_times(api: RunningApi, client: httpx.Client) -> None:
    strategy = create(client).json()
    r = client.post(
        "/v1/schedules",
        json={
            "strategy_id": strategy["id"],
            "cron": "30 17 * * MON-FRI",
            "timezone": "Europe/London",
        },
    )
    assert r.status_code == 201, r.text
    schedule = r.json()
    fires = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in schedule["next_fire_times"]]
    assert len(fires) == 5 and fires == sorted(fires)
    assert all(f.isoweekday() <= 5 and f.minute == 30 and f.hour in (16, 17) for f in fires)
    assert schedule["last_fire_at"] is None
    assert [s["id"] for s in client.get("/v1/schedules").json()] == [schedule["id"]]
    with api.client("someone") as other:
        assert other.get(f"/v1/schedules/{schedule['id']}").status_code == 404
        assert other.delete(f"/v1/strategies/{strategy['id']}").status_code == 404
        refused = other.post(
            "/v1/schedules", json={"strategy_id": strategy["id"], "cron": "* * * * *"}
        )
        assert refused.status_code == 404
    for bad, field in (({"cron": "61 * * * *"}, "cron"), ({"timezone": "Mars/Base"}, "timezone")):
        body = {"strategy_id": strategy["id"], "cron": "0 9 * * *", **bad}
        r = client.post("/v1/schedules", json=body)
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == field
    # deleting the strategy deletes its schedules
    assert client.delete(f"/v1/strategies/{strategy['id']}").status_code == 204
    assert client.get(f"/v1/schedules/{schedule['id']}").status_code == 404
