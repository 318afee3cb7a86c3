"""GET /v1/jobs/{id}/events over real HTTP (CONTRACT 5.4), on the embedded store: the
first event is the job's state, comments keep a quiet stream alive, a change is told
and the stream ends after the event that says the job has ended; a finished job's
stream ends at once; a job that is not yours is 404 before any stream."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from devtools.jobs import asian_monte_carlo, wait_for_job
from quantrun.settings import ApiSettings, LimitSettings, Settings
from tests.harness.api import RunningApi, running_api
from tests.harness.sse import Event, events

BS = {"type": "call", "spot": 100, "strike": 95, "maturity": 0.5, "rate": 0.01, "volatility": 0.2}


def settings(data_dir: object) -> Settings:
    return Settings(
        data_dir=data_dir,
        api=ApiSettings(events_poll_seconds=0.05, events_keepalive_seconds=0.3),
        limits=LimitSettings(rate_requests_per_second=0),
    )


@pytest.fixture(scope="module")
def idle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    """An API with no worker: a job stays queued until cancelled."""
    with running_api(settings(tmp_path_factory.mktemp("idle")), with_worker=False) as api:
        yield api


@pytest.fixture(scope="module")
def working(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    with running_api(settings(tmp_path_factory.mktemp("working"))) as api:
        yield api


def follow(client: httpx.Client, job_id: str, seen: list[Event]) -> float:
    """Read the job's stream to its end into ``seen``; the seconds it was open."""
    began = time.monotonic()
    with client.stream("GET", f"/v1/jobs/{job_id}/events", timeout=30) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache"
        seen.extend(events(r))
    return time.monotonic() - began


def test_a_quiet_stream_keeps_alive_and_ends_with_the_cancel(idle: RunningApi) -> None:
    with idle.client("watcher") as client:
        job = client.post("/v1/jobs", json={"model": "black_scholes", "params": BS}).json()
        seen: list[Event] = []
        reader = threading.Thread(target=follow, args=(client, job["id"], seen))
        reader.start()
        time.sleep(1.0)
        assert client.post(f"/v1/jobs/{job['id']}/cancel").status_code == 200
        reader.join(timeout=10)
        assert not reader.is_alive(), "the stream did not end after the job did"
    told = [e for e in seen if e.kind != "comment"]
    assert [(e.kind, e.data["status"]) for e in told] == [  # type: ignore[index]
        ("state", "queued"),
        ("status", "cancelled"),
    ]
    assert sum(e.kind == "comment" for e in seen) >= 2  # 1 s quiet, a comment every 0.3 s
    assert [e.id for e in told] == ["1", "2"]


def test_a_running_job_is_followed_to_its_end(working: RunningApi) -> None:
    with working.client("follower") as client:
        r = client.post(
            "/v1/jobs",
            json={
                "model": "monte_carlo_option",
                "params": asian_monte_carlo(paths=400_000, seed=1),
                "options": {"shards": 8},
            },
        )
        seen: list[Event] = []
        follow(client, r.json()["id"], seen)
        done = client.get(f"/v1/jobs/{r.json()['id']}").json()
    told = [e for e in seen if e.kind != "comment"]
    assert told[0].kind == "state" and told[-1].kind == "status"
    assert told[-1].data == {  # the last event is the job as it ended
        "id": done["id"],
        "status": "succeeded",
        "progress": 1.0,
        "shards": {"total": 8, "done": 8, "failed": 0},
        "error": None,
        "finished_at": done["finished_at"],
    }
    shards_done = [e.data["shards"]["done"] for e in told if e.kind == "shards"]  # type: ignore[index]
    assert shards_done == sorted(shards_done) and shards_done[-1] == 8


def test_a_finished_job_streams_its_state_and_ends(working: RunningApi) -> None:
    with working.client("late") as client:
        job = client.post("/v1/jobs", json={"model": "black_scholes", "params": BS}).json()
        wait_for_job(client, job["id"], timeout=30)
        seen: list[Event] = []
        seconds = follow(client, job["id"], seen)
    assert [(e.kind, e.data["status"]) for e in seen] == [("state", "succeeded")]  # type: ignore[index]
    assert seconds < 1.0


def test_another_users_job_or_no_job_is_404(working: RunningApi) -> None:
    with working.client("owner") as owner, working.client("stranger") as stranger:
        job = owner.post("/v1/jobs", json={"model": "black_scholes", "params": BS}).json()
        for job_id in (job["id"], "no-such-job"):
            r = stranger.get(f"/v1/jobs/{job_id}/events")
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_a_reopened_stream_numbers_on_from_last_event_id(working: RunningApi) -> None:
    """A client that reconnects says the last id it read; the new stream's ids go on
    from it (its first event is still the whole state), and junk ids start again at 1."""
    with working.client("reconnecting") as client:
        job = client.post("/v1/jobs", json={"model": "black_scholes", "params": BS}).json()
        wait_for_job(client, job["id"], timeout=30)
        path = f"/v1/jobs/{job['id']}/events"
        for sent, first in (("7", "8"), ("not-a-number", "1"), ("-3", "1"), ("9" * 20, "1")):
            with client.stream("GET", path, headers={"Last-Event-ID": sent}) as r:
                told = list(events(r))
            assert [(e.kind, e.id) for e in told] == [("state", first)]
