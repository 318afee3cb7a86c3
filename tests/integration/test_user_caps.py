"""Per-user caps on what a user can create or hold open: keys, webhooks, strategies,
schedules and event streams. Over a cap: 429 ``quota_exceeded`` naming it; deleting one
makes room; another user is not affected. Keys made by ``POST /v1/keys`` expire by
default; an open event stream ends within 5 s of its key's revocation."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from quantrun.settings import ApiSettings, LimitSettings, Settings
from tests.harness.api import RunningApi

RISK = {"symbols": ["AAPL", "XOM"], "start": "2016-01-01", "end": "2017-12-31"}
BS = {"type": "put", "spot": 100, "strike": 105, "maturity": 1, "rate": 0.02, "volatility": 0.3}


def api_settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        api=ApiSettings(webhook_allow_private=True, events_poll_seconds=0.2),
        limits=LimitSettings(
            rate_requests_per_second=0,
            max_api_keys=3,
            max_webhooks=2,
            max_strategies=2,
            max_schedules=2,
            max_event_streams=2,
        ),
    )


WITH_WORKER = False  # jobs stay queued


def _over(r: httpx.Response, quota: str) -> None:
    assert r.status_code == 429, r.text
    error = r.json()["error"]
    assert error["code"] == "quota_exceeded" and error["details"][0]["quota"] == quota
    assert quota in error["message"]


def test_keys_are_capped_and_expire_by_default(api: RunningApi) -> None:
    with api.client("keyholder") as c:  # this client's key is the first
        made = [c.post("/v1/keys", json={}) for _ in range(2)]
        assert all(r.status_code == 201 for r in made)
        expires = datetime.fromisoformat(made[0].json()["expires_at"].replace("Z", "+00:00"))
        assert abs(expires - (datetime.now(UTC) + timedelta(days=90))) < timedelta(minutes=5)
        _over(c.post("/v1/keys", json={}), "api_keys")
        assert c.post("/v1/keys", json={"expires_in_days": 366}).status_code == 422
        assert c.delete(f"/v1/keys/{made[0].json()['prefix']}").status_code == 200
        assert c.post("/v1/keys", json={"expires_in_days": 365}).status_code == 201


def test_webhooks_strategies_and_schedules_are_capped(api: RunningApi) -> None:
    with api.client("builder") as c, api.client("neighbour") as other:
        hook = {"url": "http://127.0.0.1:9/x", "events": ["job.failed"]}
        hooks = [c.post("/v1/webhooks", json=hook) for _ in range(2)]
        assert [h.status_code for h in hooks] == [201, 201]
        _over(c.post("/v1/webhooks", json=hook), "webhooks")
        strategy: dict[str, Any] = {"name": "s", "model": "risk_metrics", "params": RISK}
        made = [c.post("/v1/strategies", json=strategy) for _ in range(2)]
        assert [s.status_code for s in made] == [201, 201]
        _over(c.post("/v1/strategies", json=strategy), "strategies")
        sid = made[0].json()["id"]
        cron = {"strategy_id": sid, "cron": "0 18 * * 1-5", "timezone": "UTC"}
        schedules = [c.post("/v1/schedules", json=cron) for _ in range(2)]
        assert [s.status_code for s in schedules] == [201, 201]
        _over(c.post("/v1/schedules", json=cron), "schedules")
        # deleting makes room; a neighbour was never limited by these
        assert c.delete(f"/v1/schedules/{schedules[0].json()['id']}").status_code == 204
        assert c.post("/v1/schedules", json=cron).status_code == 201
        assert other.post("/v1/strategies", json=strategy).status_code == 201


def _open_stream(api: RunningApi, key: str, job_id: str) -> tuple[httpx.Client, httpx.Response]:
    client = httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {key}"})
    response = client.send(client.build_request("GET", f"/v1/jobs/{job_id}/events"), stream=True)
    return client, response


def test_open_event_streams_are_capped_and_a_revoked_keys_stream_ends(api: RunningApi) -> None:
    with api.client("watcher") as c:
        job = c.post("/v1/jobs", json={"model": "black_scholes", "params": BS}).json()
        second = c.post("/v1/keys", json={}).json()
        key = c.headers["Authorization"].split()[1]
        opened = [_open_stream(api, key, job["id"]), _open_stream(api, second["key"], job["id"])]
        assert [r.status_code for _, r in opened] == [200, 200]
        refused = c.get(f"/v1/jobs/{job['id']}/events")
        _over(refused, "event_streams")
        assert refused.headers["Retry-After"] == "5"
        # revoking the second key ends its stream (read to its end in a thread)
        ended = threading.Event()

        def drain() -> None:
            for _ in opened[1][1].iter_bytes():
                pass
            ended.set()

        threading.Thread(target=drain, daemon=True).start()
        revoked_at = time.monotonic()
        assert c.delete(f"/v1/keys/{second['prefix']}").status_code == 200
        assert ended.wait(8), "the revoked key's stream is still open"
        assert time.monotonic() - revoked_at < 5
        # its slot is free again: a new stream opens
        deadline = time.monotonic() + 5
        while True:
            client, response = _open_stream(api, key, job["id"])
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            response.close()
            client.close()
            time.sleep(0.2)
        assert response.status_code == 200
        for cl, r in [*opened, (client, response)]:
            r.close()
            cl.close()
