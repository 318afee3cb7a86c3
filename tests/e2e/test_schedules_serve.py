"""A schedule on `quantrun serve` (embedded mode, default settings; CONTRACT 5.5): every
minute, it produces a job within 70 s of being made, the job carrying its strategy and
schedule, and its fire time shows on the schedule."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from devtools.postgres import free_port
from tests.harness.serve import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("schedules") / "data", free_port())
    srv.start()
    yield srv
    srv.stop()


def test_a_schedule_every_minute_makes_a_job_within_70_s(server: Server) -> None:
    with server.client() as client:
        strategy = client.post(
            "/v1/strategies",
            json={
                "name": "every minute",
                "model": "risk_metrics",
                "params": {"symbols": ["AAPL"], "start": "2017-01-01", "end": "2017-12-31"},
            },
        ).json()
        made = time.monotonic()
        schedule = client.post(
            "/v1/schedules", json={"strategy_id": strategy["id"], "cron": "* * * * *"}
        ).json()
        jobs: list[dict[str, object]] = []
        while time.monotonic() - made < 70 and not jobs:
            time.sleep(1)
            listed = client.get("/v1/jobs", params={"fields": "id,strategy_id,schedule_id"})
            jobs = [j for j in listed.json()["items"] if j["schedule_id"] == schedule["id"]]
        waited = time.monotonic() - made
        print(f"schedule every minute: first job {waited:.1f} s after the schedule was made")
        assert jobs, "no job within 70 s"
        assert jobs[0]["strategy_id"] == strategy["id"]
        shown = client.get(f"/v1/schedules/{schedule['id']}").json()
        assert shown["last_fire_at"] is not None
        assert shown["next_fire_times"][0] > shown["last_fire_at"]
