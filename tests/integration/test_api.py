"""The API over real HTTP against the real app, embedded adapters and worker."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.jobs import HULL_CALL, asian_monte_carlo, wait_for_job
from quantrun.app.auth import create_key
from quantrun.catalog import REGISTRY
from quantrun.clock import utcnow
from quantrun.models.options import black_scholes
from quantrun.settings import ApiSettings, LimitSettings, Settings, WorkerSettings
from tests.harness.api import RunningApi, running_api

BS_PARAMS = HULL_CALL


def api_settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        worker=WorkerSettings(lease_seconds=5),
        limits=LimitSettings(
            max_request_bytes=64 * 1024,
            sync_max_cost=1000,
            job_max_cost=1e8,
            max_params_bytes=16 * 1024,
            rate_requests_per_second=1000,  # these tests poll fast; the limit has its own
            rate_burst=1000,
        ),
    )


def _client(api: RunningApi, user: str) -> httpx.Client:
    return api.client(user)


@pytest.fixture(scope="module")
def alice(api: RunningApi) -> Iterator[httpx.Client]:
    with _client(api, "alice") as client:
        yield client


@pytest.fixture(scope="module")
def bob(api: RunningApi) -> Iterator[httpx.Client]:
    with _client(api, "bob") as client:
        yield client


def assert_error(
    response: httpx.Response, status: int, code: str, field: str | None = None
) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if field is not None:
        fields = [d.get("field") for d in body["error"]["details"]]
        assert field in fields, body


def test_health_and_readiness_need_no_key(api: RunningApi) -> None:
    assert httpx.get(f"{api.url}/healthz").json() == {"status": "ok", "checks": None}
    ready = httpx.get(f"{api.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"job_store": "ok", "queue": "ok", "price_store": "ok"}


def test_missing_or_wrong_key_is_401(api: RunningApi) -> None:
    assert_error(httpx.get(f"{api.url}/v1/jobs"), 401, "unauthenticated")
    wrong = httpx.get(f"{api.url}/v1/models", headers={"Authorization": "Bearer qr_nope"})
    assert_error(wrong, 401, "unauthenticated")
    assert wrong.headers["www-authenticate"] == "Bearer"


def test_keys_are_listed_made_and_revoked_by_their_owner(api: RunningApi) -> None:
    with _client(api, "keyholder") as owner, _client(api, "neighbour") as neighbour:
        made = owner.post("/v1/keys", json={"expires_in_days": 30})
        assert made.status_code == 201, made.text
        new = made.json()
        assert new["key"].startswith(new["prefix"]) and len(new["prefix"]) == 12
        assert new["expires_at"] is not None and new["revoked_at"] is None
        listed = owner.get("/v1/keys").json()
        assert {k["prefix"] for k in listed} >= {new["prefix"]}
        assert all("key" not in k for k in listed)  # never shown again
        headers = {"Authorization": f"Bearer {new['key']}"}
        assert httpx.get(f"{api.url}/v1/models", headers=headers).status_code == 200
        used = {k["prefix"]: k for k in owner.get("/v1/keys").json()}[new["prefix"]]
        assert used["last_used_at"] is not None
        # another user's prefix is as unknown as a made-up one
        assert_error(neighbour.delete(f"/v1/keys/{new['prefix']}"), 404, "not_found")
        revoked = owner.delete(f"/v1/keys/{new['prefix']}")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
        # the serving process forgets the key at once
        assert_error(httpx.get(f"{api.url}/v1/models", headers=headers), 401, "unauthenticated")
        assert_error(owner.post("/v1/keys", json={"expires_in_days": 0}), 422, "validation_error")
        assert_error(owner.post("/v1/keys", json={"colour": 1}), 422, "validation_error")


def test_cors_is_off_unless_origins_are_configured(api: RunningApi, tmp_path: Path) -> None:
    preflight = {
        "Origin": "https://console.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    off = httpx.options(f"{api.url}/v1/jobs", headers=preflight)
    assert "access-control-allow-origin" not in off.headers
    settings = Settings(data_dir=tmp_path, api=ApiSettings(cors_origins="https://console.example"))
    with running_api(settings, with_worker=False) as allowed:
        on = httpx.options(f"{allowed.url}/v1/jobs", headers=preflight)
        assert on.status_code == 200
        assert on.headers["access-control-allow-origin"] == "https://console.example"
        other = httpx.options(
            f"{allowed.url}/v1/jobs", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers


def test_a_user_over_the_request_rate_gets_429_with_retry_after(tmp_path: Path) -> None:
    # A token back every 2 s: the five hasty requests must land inside one refill, which
    # holds on a loaded machine (at 2 a second, four took over 0.5 s in CI once). The
    # bucket's arithmetic is unit-tested with a clock in test_ratelimit.py.
    settings = Settings(
        data_dir=tmp_path, limits=LimitSettings(rate_requests_per_second=0.5, rate_burst=3)
    )
    with running_api(settings, with_worker=False) as limited:
        hasty = {"Authorization": f"Bearer {create_key(limited.container.store, 'hasty').key}"}
        calm = {"Authorization": f"Bearer {create_key(limited.container.store, 'calm').key}"}
        codes = [httpx.get(f"{limited.url}/v1/keys", headers=hasty).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = httpx.get(f"{limited.url}/v1/keys", headers=hasty)
        assert_error(refused, 429, "rate_limited")
        assert refused.headers["retry-after"] in {"1", "2"}
        # one user's haste costs another nothing; health checks are not limited
        assert httpx.get(f"{limited.url}/v1/keys", headers=calm).status_code == 200
        assert all(httpx.get(f"{limited.url}/healthz").status_code == 200 for _ in range(5))
        time.sleep(int(refused.headers["retry-after"]))  # the header tells the truth
        assert httpx.get(f"{limited.url}/v1/keys", headers=hasty).status_code == 200


def test_a_user_over_a_job_quota_gets_429_quota_exceeded(tmp_path: Path) -> None:
    """Jobs queued or running at once: 429 with the quota in the details and a
    Retry-After; cancelling one makes room at once (the count comes from the store)."""
    settings = Settings(data_dir=tmp_path, limits=LimitSettings(quota_active_jobs=2))
    with running_api(settings, with_worker=False) as api:
        key = create_key(api.container.store, "busy").key
        with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {key}"}) as busy:
            job = {"model": "black_scholes", "params": BS_PARAMS}
            ids = [busy.post("/v1/jobs", json=job).json()["id"] for _ in range(2)]
            refused = busy.post("/v1/jobs", json=job)
            assert_error(refused, 429, "quota_exceeded")
            assert refused.headers["retry-after"] == "10"
            assert refused.json()["error"]["details"] == [{"quota": "active_jobs", "limit": 2}]
            assert len(busy.get("/v1/jobs").json()["items"]) == 2
            assert busy.post(f"/v1/jobs/{ids[0]}/cancel").status_code == 200
            assert busy.post("/v1/jobs", json=job).status_code == 202


def test_an_expired_key_is_401(api: RunningApi) -> None:
    soon = create_key(api.container.store, "brief", expires_at=utcnow() + timedelta(seconds=1))
    headers = {"Authorization": f"Bearer {soon.key}"}
    assert httpx.get(f"{api.url}/v1/models", headers=headers).status_code == 200
    time.sleep(1.2)
    assert_error(httpx.get(f"{api.url}/v1/models", headers=headers), 401, "unauthenticated")


# CONTRACT section 2: what a job is; 5.2: its shards (null for a job in one piece)
JOB_FIELDS = {
    "id", "model", "status", "params", "created_at", "started_at", "finished_at",
    "progress", "attempts", "result", "error", "artifacts", "shards", "strategy_id",
    "schedule_id",
}  # fmt: skip


def test_black_scholes_job_matches_the_closed_form(alice: httpx.Client) -> None:
    created = alice.post("/v1/jobs", json={"model": "black_scholes", "params": BS_PARAMS})
    assert created.status_code == 202
    assert created.headers["content-type"] == "application/json"
    job = created.json()
    assert set(job) == JOB_FIELDS
    assert job["status"] == "queued" and job["attempts"] == 0 and job["result"] is None
    done = wait_for_job(alice, job["id"])
    assert done["status"] == "succeeded" and done["progress"] == 1.0 and done["attempts"] == 1
    expected = black_scholes(True, 42, 40, 0.5, 0.1, 0.2)
    assert done["result"]["price"] == pytest.approx(float(expected.price), rel=1e-12)
    assert done["result"]["price"] == pytest.approx(4.76, abs=0.005)  # Hull, Example 15.6
    assert done["started_at"] and done["finished_at"] and done["created_at"].endswith("Z")
    assert set(done) == JOB_FIELDS


def test_array_inputs_give_array_results(alice: httpx.Client) -> None:
    params = {**BS_PARAMS, "type": ["call", "put"], "strike": [[40], [45]]}
    done = wait_for_job(
        alice,
        alice.post("/v1/jobs", json={"model": "black_scholes", "params": params}).json()["id"],
    )
    assert done["status"] == "succeeded"
    assert len(done["result"]["price"]) == 2 and len(done["result"]["price"][0]) == 2


def test_risk_metrics_job_with_downloadable_charts(alice: httpx.Client) -> None:
    params = {"symbols": ["AAPL", "AMZN"], "start": "2015-01-01", "end": "2017-12-31"}
    job = alice.post("/v1/jobs", json={"model": "risk_metrics", "params": params}).json()
    done = wait_for_job(alice, job["id"])
    assert done["status"] == "succeeded", done["error"]
    assert set(done["result"]["series"]) == {"AAPL", "AMZN"}
    assert done["result"]["benchmark"]["symbol"] == "SPY"
    names = {a["name"]: a for a in done["artifacts"]}
    assert {"equity.png", "drawdown.png"} <= set(names)
    png = alice.get(names["equity.png"]["url"])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.headers["x-content-type-options"] == "nosniff"
    assert (
        png.content.startswith(b"\x89PNG") and len(png.content) == names["equity.png"]["size_bytes"]
    )
    assert_error(alice.get(f"/v1/jobs/{job['id']}/artifacts/nope.png"), 404, "not_found")


def test_another_users_job_is_404(alice: httpx.Client, bob: httpx.Client) -> None:
    job = alice.post("/v1/jobs", json={"model": "black_scholes", "params": BS_PARAMS}).json()
    assert_error(bob.get(f"/v1/jobs/{job['id']}"), 404, "not_found")
    assert_error(bob.post(f"/v1/jobs/{job['id']}/cancel"), 404, "not_found")
    wait_for_job(alice, job["id"])
    assert_error(bob.get(f"/v1/jobs/{job['id']}/artifacts/x.png"), 404, "not_found")
    assert job["id"] not in {j["id"] for j in bob.get("/v1/jobs").json()["items"]}


def test_idempotency_key_replays_and_conflicts(alice: httpx.Client, bob: httpx.Client) -> None:
    body = {"model": "black_scholes", "params": BS_PARAMS}
    first = alice.post("/v1/jobs", json=body, headers={"Idempotency-Key": "order-42"})
    again = alice.post("/v1/jobs", json=body, headers={"Idempotency-Key": "order-42"})
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    other = {"model": "black_scholes", "params": {**BS_PARAMS, "spot": 43}}
    assert_error(
        alice.post("/v1/jobs", json=other, headers={"Idempotency-Key": "order-42"}),
        409,
        "idempotency_key_reused",
    )
    # keys are per user
    theirs = bob.post("/v1/jobs", json=body, headers={"Idempotency-Key": "order-42"})
    assert theirs.status_code == 202 and theirs.json()["id"] != first.json()["id"]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"model": "nope", "params": {}}, 422, "unknown_model", "model"),
        (
            {"model": "black_scholes", "params": {**BS_PARAMS, "volatility": -0.2}},
            422,
            "validation_error",
            "params.volatility",
        ),
        (
            {"model": "black_scholes", "params": {**BS_PARAMS, "spot": "abc"}},
            422,
            "validation_error",
            "params.spot",
        ),
        # JSON integers have no range; one past a float's was a 500 (OverflowError)
        (
            {"model": "black_scholes", "params": {**BS_PARAMS, "spot": 10**400}},
            422,
            "validation_error",
            "params.spot",
        ),
        (
            {"model": "black_scholes", "params": {**BS_PARAMS, "strike": [100, 10**400]}},
            422,
            "validation_error",
            "params.strike",
        ),
        (
            {"model": "black_scholes", "params": {**BS_PARAMS, "strike": [1, [2, 3]]}},
            422,
            "validation_error",
            "params.strike",
        ),
        (
            {
                "model": "black_scholes",
                "params": {**BS_PARAMS, "strike": [1, 2, 3], "spot": [1, 2]},
            },
            422,
            "validation_error",
            "params",
        ),
        (
            {
                "model": "black_scholes",
                "params": {k: v for k, v in BS_PARAMS.items() if k != "rate"},
            },
            422,
            "validation_error",
            "params.rate",
        ),
        (
            {"model": "black_scholes", "params": {**BS_PARAMS, "colour": "red"}},
            422,
            "validation_error",
            "params.colour",
        ),
        (
            {
                "model": "risk_metrics",
                "params": {"symbols": ["AAPL"], "start": "2017-01-01", "end": "2016-01-01"},
            },
            422,
            "validation_error",
            "params.end",
        ),
        (
            {
                "model": "risk_metrics",
                "params": {"symbols": ["AAPL", "ZZZZ"], "start": "2016-01-01", "end": "2017-01-01"},
            },
            422,
            "unknown_symbol",
            "params.symbols[1]",
        ),
        (
            {
                "model": "risk_metrics",
                "params": {"symbols": ["AAPL"], "start": "2016-13-01", "end": "2017-01-01"},
            },
            422,
            "validation_error",
            "params.start",
        ),
        ({"model": "black_scholes"}, 422, "validation_error", "params"),
        ({"model": 5, "params": []}, 422, "validation_error", "model"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_problem(
    alice: httpx.Client, body: dict[str, Any], status: int, code: str, field: str
) -> None:
    assert_error(alice.post("/v1/jobs", json=body), status, code, field)


def test_garbage_json_and_wrong_media_are_4xx(alice: httpx.Client) -> None:
    garbage = alice.post(
        "/v1/jobs", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(garbage, 400, "invalid_json")
    assert garbage.status_code < 500
    assert (
        alice.post(
            "/v1/jobs", content=b"\xff\xfe", headers={"Content-Type": "application/json"}
        ).status_code
        < 500
    )
    assert (
        alice.post(
            "/v1/jobs", content=b"[]", headers={"Content-Type": "application/json"}
        ).status_code
        == 422
    )


def test_body_over_the_limit_is_413(alice: httpx.Client) -> None:
    big = {"model": "black_scholes", "params": {**BS_PARAMS, "spot": [100.0] * 20000}}
    assert_error(alice.post("/v1/jobs", json=big), 413, "payload_too_large")


def test_a_chunked_body_over_the_limit_is_413_too(alice: httpx.Client) -> None:
    """No Content-Length: the body arrives in chunks, and the limit still holds."""
    chunk = b" " * 8192

    def body() -> Iterator[bytes]:
        yield b'{"model": "black_scholes", "params": {"spot": 1'
        for _ in range(20):  # 160 KB of whitespace, over the test server's 64 KB
            yield chunk
        yield b"}}"

    response = alice.post("/v1/jobs", content=body(), headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        # Python's json (and so the API) reads these as inf and nan
        ('"sector_bounds": {"tech": [0, 1e309]}, "sector_map": {"AAPL": "tech"}', "sector_bounds"),
        ('"risk_free_rate": NaN', "risk_free_rate"),
        ('"risk_free_rate": -Infinity', "risk_free_rate"),
    ],
)
def test_numbers_that_are_not_finite_are_422_naming_the_field(
    alice: httpx.Client, raw: str, field: str
) -> None:
    body = (
        '{"model": "markowitz", "params": {"symbols": ["AAPL", "XOM"], '
        f'"start": "2015-01-01", "end": "2016-12-31", {raw}}}}}'
    )
    response = alice.post("/v1/jobs", content=body, headers={"Content-Type": "application/json"})
    assert_error(response, 422, "validation_error")
    assert response.json()["error"]["details"][0]["field"].startswith(f"params.{field}")


def test_a_crafted_cursor_is_422_not_a_server_error(alice: httpx.Client) -> None:
    """Year 1 at +05:00 is before the first moment a UTC datetime can hold."""
    raw = b"0001-01-01T00:00:00+05:00|00000000-0000-4000-8000-000000000000"
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert_error(
        alice.get("/v1/jobs", params={"cursor": cursor}), 422, "validation_error", "cursor"
    )


def test_a_job_over_the_cost_limit_is_413_before_any_work(api: RunningApi) -> None:
    """CONTRACT 5.1: the estimate (paths x steps here) and the limit (1e8 on this test
    server) in ``details``; nothing is recorded."""
    with _client(api, "spender") as client:
        huge = asian_monte_carlo(paths=1_000_000, seed=1)  # 2.52e8 path-steps
        refused = client.post("/v1/jobs", json={"model": "monte_carlo_option", "params": huge})
        assert_error(refused, 413, "input_too_large")
        assert refused.json()["error"]["details"] == [{"estimate": 2.52e8, "limit": 1e8}]
        assert client.get("/v1/jobs").json()["items"] == []
        fits = {**huge, "paths": 100_000}
        assert (
            client.post(
                "/v1/jobs", json={"model": "monte_carlo_option", "params": fits}
            ).status_code
            == 202
        )


def test_params_too_large_to_keep_are_413(alice: httpx.Client) -> None:
    """Strings in a map count too: a 20 KB sector name on a 16 KB params limit."""
    params = {
        "symbols": ["AAPL", "XOM"],
        "start": "2015-01-01",
        "end": "2016-12-31",
        "sector_map": {"AAPL": "x" * 20_000, "XOM": "energy"},
    }
    refused = alice.post("/v1/jobs", json={"model": "markowitz", "params": params})
    assert_error(refused, 413, "input_too_large")
    (limits,) = refused.json()["error"]["details"]
    assert limits["limit"] == 16 * 1024 and limits["estimate"] > 20_000


def test_list_pagination_and_filters(api: RunningApi) -> None:
    with _client(api, "lister") as client:
        ids = [
            client.post("/v1/jobs", json={"model": "black_scholes", "params": BS_PARAMS}).json()[
                "id"
            ]
            for _ in range(5)
        ]
        seen, cursor = [], None
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/v1/jobs", params=params).json()
            seen += [j["id"] for j in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == list(reversed(ids))
        assert_error(client.get("/v1/jobs", params={"limit": 0}), 422, "validation_error", "limit")
        assert_error(
            client.get("/v1/jobs", params={"limit": 201}), 422, "validation_error", "limit"
        )
        assert_error(
            client.get("/v1/jobs", params={"cursor": "garbage"}), 422, "validation_error", "cursor"
        )
        assert_error(
            client.get("/v1/jobs", params={"status": "bogus"}), 422, "validation_error", "status"
        )
        for job_id in ids:
            wait_for_job(client, job_id)
        page = client.get(
            "/v1/jobs", params={"status": "succeeded", "model": "black_scholes"}
        ).json()
        assert len(page["items"]) == 5
        # a list leaves the result out unless asked: a page's size does not grow with it
        assert all(set(item) == JOB_FIELDS - {"result"} for item in page["items"])
        named = client.get(
            "/v1/jobs", params={"status": "succeeded", "fields": ",".join(JOB_FIELDS)}
        ).json()
        assert all(set(item) == JOB_FIELDS and item["result"] for item in named["items"])


def test_a_list_returns_only_the_fields_asked_for(api: RunningApi) -> None:
    """``fields=`` leaves the result and params out of a list (and the store does not
    read them); ``id`` is always there; an unknown field is a 422 naming it."""
    with _client(api, "fields") as client:
        job = client.post("/v1/jobs", json={"model": "black_scholes", "params": BS_PARAMS})
        done = wait_for_job(client, job.json()["id"])
        slim = client.get("/v1/jobs", params={"fields": "status, progress"}).json()
        assert slim["items"] == [{"id": done["id"], "status": "succeeded", "progress": 1.0}]
        with_result = client.get("/v1/jobs", params={"fields": "result"}).json()["items"]
        assert with_result == [{"id": done["id"], "result": done["result"]}]
        refused = client.get("/v1/jobs", params={"fields": "status,secret_sauce"})
        assert_error(refused, 422, "validation_error", "fields")
        assert "secret_sauce" in refused.json()["error"]["message"]


def test_cancel_then_409_when_finished(alice: httpx.Client) -> None:
    job = alice.post("/v1/jobs", json={"model": "black_scholes", "params": BS_PARAMS}).json()
    done = wait_for_job(alice, job["id"])
    assert done["status"] == "succeeded"
    assert_error(alice.post(f"/v1/jobs/{job['id']}/cancel"), 409, "conflict")


def test_cancel_a_queued_job(api: RunningApi) -> None:
    # Without a worker consuming, the job stays queued until cancelled.
    with _client(api, "canceller") as client:
        queue = api.container.embedded_queue
        assert queue is not None
        job = client.post("/v1/jobs", json={"model": "black_scholes", "params": BS_PARAMS}).json()
        cancelled = client.post(f"/v1/jobs/{job['id']}/cancel")
        if cancelled.status_code == 409:  # the worker was faster
            assert client.get(f"/v1/jobs/{job['id']}").json()["status"] == "succeeded"
        else:
            assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
            time.sleep(0.3)
            assert client.get(f"/v1/jobs/{job['id']}").json()["status"] == "cancelled"


def test_models_list_has_json_schemas(alice: httpx.Client) -> None:
    models = {m["name"]: m for m in alice.get("/v1/models").json()}
    assert {"black_scholes", "risk_metrics"} <= set(models)
    schema = models["black_scholes"]["params_schema"]
    assert set(schema["required"]) == {"type", "spot", "strike", "maturity", "rate", "volatility"}
    assert schema["properties"]["volatility"]["anyOf"][0]["exclusiveMinimum"] == 0
    assert models["risk_metrics"]["params_schema"]["properties"]["benchmark"]["default"] == "SPY"


def test_sync_run_returns_the_result_and_limits_size(alice: httpx.Client) -> None:
    ok = alice.post("/v1/models/black_scholes/run", json={"params": BS_PARAMS})
    assert ok.status_code == 200 and ok.json()["price"] == pytest.approx(4.7594, abs=1e-4)
    big = {**BS_PARAMS, "strike": list(range(1, 2001))}
    refused = alice.post("/v1/models/black_scholes/run", json={"params": big})
    assert_error(refused, 413, "input_too_large")
    assert refused.json()["error"]["details"] == [{"estimate": 2000.0, "limit": 1000.0}]
    assert_error(alice.post("/v1/models/nope/run", json={"params": {}}), 404, "unknown_model")
    assert_error(
        alice.post("/v1/models/black_scholes/run", json={"params": {**BS_PARAMS, "maturity": 0}}),
        422,
        "validation_error",
        "params.maturity",
    )


def test_sync_run_passes_model_errors_as_422(alice: httpx.Client) -> None:
    params = {"symbols": ["FB"], "start": "2012-05-20", "end": "2012-05-31"}
    response = alice.post("/v1/models/risk_metrics/run", json={"params": params})
    assert_error(response, 422, "insufficient_history")
    assert "FB" in response.json()["error"]["message"]


def test_sync_run_of_extreme_monte_carlo_params_is_a_422_not_a_500(alice: httpx.Client) -> None:
    # schemathesis's case: a subnormal barrier (its ratio to the spot is 0 in double
    # precision: a math domain error, answered 500) and a strike whose payoffs overflow
    params = {
        "type": "put", "style": "down_and_out", "spot": 1e7, "strike": 1.2043480868346881e308,
        "barrier": 5e-324, "volatility": 5e-324, "maturity": 1 / 3, "rate": 0.9457,
        "dividend_yield": -0.689, "steps": 10, "paths": 50,
    }  # fmt: skip
    response = alice.post("/v1/models/monte_carlo_option/run", json={"params": params})
    assert_error(response, 422, "invalid_input")
    assert "overflow" in response.json()["error"]["message"]


def test_instruments_and_prices(alice: httpx.Client) -> None:
    instruments = {i["symbol"]: i for i in alice.get("/v1/instruments").json()}
    assert instruments["FB"]["first_date"] == "2012-05-18" and instruments["SPY"]["rows"] == 6765
    prices = alice.get(
        "/v1/prices", params={"symbols": "FB,AAPL", "start": "2012-05-16", "end": "2012-05-18"}
    ).json()
    assert prices["symbols"] == ["FB", "AAPL"]
    assert prices["dates"] == ["2012-05-16", "2012-05-17", "2012-05-18"]
    assert prices["close"][0][0] is None and prices["close"][2][0] is not None
    assert_error(
        alice.get(
            "/v1/prices", params={"symbols": "ZZZZ", "start": "2012-01-01", "end": "2012-02-01"}
        ),
        422,
        "unknown_symbol",
    )
    assert_error(
        alice.get(
            "/v1/prices", params={"symbols": "AAPL", "start": "2012-03-01", "end": "2012-02-01"}
        ),
        422,
        "validation_error",
        "end",
    )
    assert_error(
        alice.get("/v1/prices", params={"symbols": "AAPL"}), 422, "validation_error", "start"
    )


def test_openapi_documents_every_route(api: RunningApi) -> None:
    spec = httpx.get(f"{api.url}/openapi.json").json()
    paths = set(spec["paths"])
    assert {
        "/healthz",
        "/readyz",
        "/v1/models",
        *(f"/v1/models/{model}/run" for model in REGISTRY),
        "/v1/jobs",
        "/v1/jobs/{job_id}",
        "/v1/jobs/{job_id}/cancel",
        "/v1/jobs/{job_id}/artifacts/{name}",
        "/v1/instruments",
        "/v1/prices",
    } <= paths
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    # the job routes return a serialised job, still documented as the JobOut schema
    for path, method, status in [
        ("/v1/jobs", "post", "202"),
        ("/v1/jobs", "post", "200"),
        ("/v1/jobs/{job_id}", "get", "200"),
        ("/v1/jobs/{job_id}/cancel", "post", "200"),
    ]:
        content = spec["paths"][path][method]["responses"][status]["content"]
        assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/JobOut"}
    assert set(spec["components"]["schemas"]["JobOut"]["properties"]) == JOB_FIELDS


def test_openapi_is_exact_for_generated_clients(api: RunningApi) -> None:
    """CONTRACT 5.1: params per model (a union discriminated by `model`), every error
    status with the error schema, the artifact content types."""
    spec = httpx.get(f"{api.url}/openapi.json").json()
    schemas = spec["components"]["schemas"]
    body = spec["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]
    by_model, by_strategy = body["schema"]["oneOf"]
    assert by_strategy["$ref"].endswith("/Submit_strategy")
    assert schemas["Submit_strategy"]["required"] == ["strategy_id"]
    union = by_model
    assert set(union["discriminator"]["mapping"]) == set(REGISTRY)
    branch = schemas[union["discriminator"]["mapping"]["black_scholes"].split("/")[-1]]
    assert branch["properties"]["model"]["const"] == "black_scholes"
    params = schemas[branch["properties"]["params"]["$ref"].split("/")[-1]]
    assert params == schemas[params["title"]] and "spot" in params["required"]
    assert params["additionalProperties"] is False
    run = spec["paths"]["/v1/models/markowitz/run"]["post"]["requestBody"]["content"]
    assert run["application/json"]["schema"]["properties"]["params"]["$ref"].endswith(
        "/MarkowitzParams"
    )
    error = {"$ref": "#/components/schemas/ErrorResponse"}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            if path.startswith("/v1/"):
                assert {"401", "429"} <= set(responses), (method, path)
                assert "Retry-After" in responses["429"]["headers"]
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= set(responses), (method, path)
            for status, response in responses.items():
                if status >= "400":
                    assert response["content"]["application/json"]["schema"] == error
    assert "HTTPValidationError" not in schemas
    download = spec["paths"]["/v1/jobs/{job_id}/artifacts/{name}"]["get"]["responses"]["200"]
    assert set(download["content"]) == {
        "application/json",
        "application/vnd.apache.parquet",
        "image/png",
        "text/csv",
        "text/html",
    }
    assert httpx.get(f"{api.url}/docs").status_code == 200


def test_unknown_route_uses_the_error_format(api: RunningApi, alice: httpx.Client) -> None:
    assert_error(alice.get("/v1/nothing"), 404, "not_found")
    # anonymous callers learn nothing of what exists under /v1
    assert_error(httpx.get(f"{api.url}/v1/nothing"), 401, "unauthenticated")
    assert_error(httpx.delete(f"{api.url}/healthz"), 405, "method_not_allowed")


def test_an_anonymous_request_is_refused_before_its_body_is_read(api: RunningApi) -> None:
    """The request declares a 60 KB body and sends none: refused at once, not awaited."""
    host, port = api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(
            b"POST /v1/jobs HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
            b"Content-Length: 60000\r\n\r\n"
        )
        answer = conn.recv(4096)  # a server waiting for the body would time out here
    assert answer.startswith(b"HTTP/1.1 401"), answer[:80]
    assert b'"unauthenticated"' in answer


def test_readyz_names_a_failed_dependency(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with running_api(settings, with_worker=False) as api:
        api.container.prices.close()  # type: ignore[attr-defined]
        response = httpx.get(f"{api.url}/readyz")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "not_ready"
        assert "price_store" in response.json()["error"]["message"]


@pytest.mark.parametrize("model", sorted(REGISTRY))
def test_every_model_runs_as_a_job_on_the_sample_data(alice: httpx.Client, model: str) -> None:
    spec = REGISTRY[model]
    job = alice.post("/v1/jobs", json={"model": model, "params": spec.example})
    assert job.status_code == 202, job.text
    done = wait_for_job(alice, job.json()["id"], timeout=120)
    assert done["status"] == "succeeded", done["error"]
    names = {a["name"] for a in done["artifacts"]}
    assert set(spec.artifacts) <= names
    for artifact in done["artifacts"]:
        body = alice.get(artifact["url"])
        assert body.status_code == 200 and len(body.content) == artifact["size_bytes"]
        if artifact["name"].endswith(".png"):
            assert body.content.startswith(b"\x89PNG")


def test_infeasible_markowitz_fails_with_a_reason(alice: httpx.Client) -> None:
    params = {**REGISTRY["markowitz"].example, "objective": "target_return", "target": 5.0}
    done = wait_for_job(
        alice, alice.post("/v1/jobs", json={"model": "markowitz", "params": params}).json()["id"]
    )
    assert done["status"] == "failed"
    assert done["error"]["code"] == "infeasible"
    assert "exceeds the highest attainable" in done["error"]["message"]
    small = {
        **params,
        "symbols": ["AAPL", "XOM", "JPM"],
        "start": "2017-01-01",
        "end": "2017-06-01",
    }  # under this server's sync limit
    assert_error(alice.post("/v1/models/markowitz/run", json={"params": small}), 422, "infeasible")


def test_no_bearer_token_reaches_the_logs(api: RunningApi) -> None:
    """Everything the server logs while serving an authenticated request, a refused one
    and a job, at DEBUG: neither the good key nor the wrong one appears."""
    import io
    import logging

    from quantrun.logging import CloudLoggingFormatter

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(CloudLoggingFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        key = create_key(api.container.store, "quiet").key
        wrong = "qr_" + "w" * 43
        good = {"Authorization": f"Bearer {key}"}
        job = httpx.post(
            f"{api.url}/v1/jobs", headers=good, json={"model": "black_scholes", "params": HULL_CALL}
        ).json()
        with httpx.Client(base_url=api.url, headers=good) as client:
            wait_for_job(client, job["id"])
        httpx.get(f"{api.url}/v1/jobs", headers={"Authorization": f"Bearer {wrong}"})
        logging.getLogger("quantrun.test").info("served")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    logged = out.getvalue()
    assert "served" in logged  # the capture works
    assert key not in logged and wrong not in logged
