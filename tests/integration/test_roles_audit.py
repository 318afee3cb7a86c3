"""Roles, ``/v1/me`` and the audit trail (CONTRACT 6.2) over real HTTP.

Every route of the API is in ``NEEDS`` with the role it needs (None: no key at all): a
route added without an entry fails the first test. Each admin route answers 403 to a
member and not to an admin; each member route answers 401 without a key. Every change
through the API (keys, strategies, schedules, portfolios, webhooks) and every role
change writes exactly one audit entry naming who, what, when and from where; refused
changes write none; no secret is ever in the trail."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from quantrun.app.users import set_role
from quantrun.clock import utcnow
from quantrun.settings import ApiSettings, LimitSettings, Settings
from quantrun_api.app import create_app
from tests.harness.api import RunningApi

WITH_WORKER = False
MEMBER, ADMIN = "member", "admin"
# (method, path) -> the role a route needs; None: open to anyone
NEEDS: dict[tuple[str, str], str | None] = {
    ("GET", "/healthz"): None,
    ("GET", "/health"): None,
    ("GET", "/readyz"): None,
    ("GET", "/v1/models"): MEMBER,
    ("POST", "/v1/models/{model}/run"): MEMBER,
    ("POST", "/v1/jobs"): MEMBER,
    ("GET", "/v1/jobs"): MEMBER,
    ("GET", "/v1/jobs/{job_id}"): MEMBER,
    ("POST", "/v1/jobs/{job_id}/cancel"): MEMBER,
    ("GET", "/v1/jobs/{job_id}/artifacts/{name}"): MEMBER,
    ("GET", "/v1/jobs/{job_id}/events"): MEMBER,
    ("GET", "/v1/instruments"): MEMBER,
    ("POST", "/v1/instruments"): ADMIN,
    ("PATCH", "/v1/instruments/{symbol}"): ADMIN,
    ("POST", "/v1/instruments/{symbol}/backfill"): ADMIN,
    ("GET", "/v1/ingest-runs/{run_id}"): MEMBER,
    ("GET", "/v1/instruments/{symbol}/coverage"): MEMBER,
    ("GET", "/v1/instruments/{symbol}/actions"): MEMBER,
    ("GET", "/v1/prices"): MEMBER,
    ("GET", "/v1/prices/latest"): MEMBER,
    ("GET", "/v1/market-data/status"): MEMBER,
    ("GET", "/v1/keys"): MEMBER,
    ("POST", "/v1/keys"): MEMBER,
    ("DELETE", "/v1/keys/{prefix}"): MEMBER,
    ("GET", "/v1/webhooks"): MEMBER,
    ("POST", "/v1/webhooks"): MEMBER,
    ("DELETE", "/v1/webhooks/{webhook_id}"): MEMBER,
    ("GET", "/v1/strategies"): MEMBER,
    ("POST", "/v1/strategies"): MEMBER,
    ("GET", "/v1/strategies/{strategy_id}"): MEMBER,
    ("PATCH", "/v1/strategies/{strategy_id}"): MEMBER,
    ("DELETE", "/v1/strategies/{strategy_id}"): MEMBER,
    ("GET", "/v1/strategies/{strategy_id}/signals"): MEMBER,
    ("GET", "/v1/strategies/{strategy_id}/levels"): MEMBER,
    ("GET", "/v1/schedules"): MEMBER,
    ("POST", "/v1/schedules"): MEMBER,
    ("GET", "/v1/schedules/{schedule_id}"): MEMBER,
    ("DELETE", "/v1/schedules/{schedule_id}"): MEMBER,
    ("GET", "/v1/portfolios"): MEMBER,
    ("POST", "/v1/portfolios"): MEMBER,
    ("GET", "/v1/portfolios/{portfolio_id}"): MEMBER,
    ("DELETE", "/v1/portfolios/{portfolio_id}"): MEMBER,
    ("POST", "/v1/portfolios/{portfolio_id}/step"): MEMBER,
    ("GET", "/v1/portfolios/{portfolio_id}/equity"): MEMBER,
    ("GET", "/v1/portfolios/{portfolio_id}/orders"): MEMBER,
    ("GET", "/v1/portfolios/{portfolio_id}/trades"): MEMBER,
    ("GET", "/v1/me"): MEMBER,
    ("GET", "/v1/audit"): ADMIN,
}
STRATEGY = {
    "name": "audited",
    "model": "backtest",
    "params": {"symbols": ["AAPL"], "start": "2016-01-01", "end": "2017-12-29",
               "strategy": {"name": "sma_cross", "fast": 10, "slow": 40}},
}  # fmt: skip


def api_settings(data_dir: Path) -> Settings:
    # no auth cache: a role change is seen by the next request
    return Settings(
        data_dir=data_dir,
        api=ApiSettings(auth_cache_seconds=0, webhook_allow_private=True),
        limits=LimitSettings(rate_requests_per_second=0),
    )


def routes(api: RunningApi) -> set[tuple[str, str]]:
    """Every operation the API publishes (its OpenAPI document: the routes it serves; the
    synchronous run route is documented once per model)."""
    paths = create_app(api.container).openapi()["paths"]
    one_run = re.compile(r"^/v1/models/[a-z_]+/run$")
    return {
        (method.upper(), one_run.sub("/v1/models/{model}/run", path))
        for path, ops in paths.items()
        for method in ops
    }


def concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]+\}", "x", path)


def test_every_route_says_which_role_it_needs(api: RunningApi) -> None:
    assert routes(api) == set(NEEDS), "a route has no role in NEEDS (or NEEDS names a gone one)"


def test_admin_routes_refuse_members_and_member_routes_refuse_no_key(api: RunningApi) -> None:
    with api.client("plain member") as member, api.client("the admin") as admin:
        set_role(api.container.store, "the admin", "admin", utcnow())
        anonymous = httpx.Client(base_url=api.url, timeout=30)
        for (method, path), role in NEEDS.items():
            url = concrete(path)
            if role == ADMIN:
                refused = member.request(method, url)
                assert refused.status_code == 403, (method, path, refused.text)
                assert refused.json()["error"]["code"] == "forbidden"
                assert admin.request(method, url).status_code not in (401, 403), (method, path)
            if role is not None:
                assert anonymous.request(method, url).status_code == 401, (method, path)
        anonymous.close()
        me = member.get("/v1/me").json()
        assert me["role"] == "member" and me["user"]["name"] == "plain member"
        assert admin.get("/v1/me").json()["role"] == "admin"


def test_me_tells_quotas_and_usage(api: RunningApi) -> None:
    with api.client("counted") as client:
        client.post("/v1/keys", json={})
        client.post("/v1/strategies", json=STRATEGY)
        me = client.get("/v1/me").json()
    limits = api.container.settings.limits
    assert me["quotas"]["strategies"] == limits.max_strategies
    assert me["quotas"]["portfolios"] == limits.max_portfolios
    assert me["quotas"]["requests_per_second"] is None  # no rate limit here
    assert me["usage"] == {"active_jobs": 0, "jobs_today": 0, "api_keys": 2, "webhooks": 0,
                           "strategies": 1, "schedules": 0, "portfolios": 0}  # fmt: skip


def trail(api: RunningApi) -> list[dict[str, Any]]:
    with api.client("auditor") as auditor:
        set_role(api.container.store, "auditor", "admin", utcnow())
        items, cursor = [], None
        while True:
            page = auditor.get(
                "/v1/audit", params={"limit": 7, **({"cursor": cursor} if cursor else {})}
            )
            assert page.status_code == 200, page.text
            items += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return items


def test_each_change_is_audited_once_and_refused_ones_not_at_all(api: RunningApi) -> None:
    before = {e["id"] for e in trail(api)}
    with api.client("changer") as client:
        user_id = client.get("/v1/me").json()["user"]["id"]
        made: list[tuple[str, str]] = []
        key = client.post("/v1/keys", json={"expires_in_days": 5}).json()
        made.append(("key.create", key["prefix"]))
        assert client.delete(f"/v1/keys/{key['prefix']}").status_code == 200
        made.append(("key.revoke", key["prefix"]))
        strategy = client.post("/v1/strategies", json=STRATEGY).json()
        made.append(("strategy.create", strategy["id"]))
        client.patch(f"/v1/strategies/{strategy['id']}", json={"active": False})
        made.append(("strategy.update", strategy["id"]))
        schedule = client.post("/v1/schedules", json={"strategy_id": strategy["id"],
                                                      "cron": "0 18 * * 1-5"}).json()  # fmt: skip
        made.append(("schedule.create", schedule["id"]))
        client.delete(f"/v1/schedules/{schedule['id']}")
        made.append(("schedule.delete", schedule["id"]))
        portfolio = client.post("/v1/portfolios", json={"strategy_id": strategy["id"], "name": "p",
                                                        "start": "2017-01-01"}).json()  # fmt: skip
        made.append(("portfolio.create", portfolio["id"]))
        client.delete(f"/v1/portfolios/{portfolio['id']}")
        made.append(("portfolio.delete", portfolio["id"]))
        hook = client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/h",
                                                 "events": ["job.failed"]}).json()  # fmt: skip
        made.append(("webhook.create", hook["id"]))
        client.delete(f"/v1/webhooks/{hook['id']}")
        made.append(("webhook.delete", hook["id"]))
        client.delete(f"/v1/strategies/{strategy['id']}")
        made.append(("strategy.delete", strategy["id"]))
        # refused changes: nothing audited
        assert client.post("/v1/strategies", json={**STRATEGY, "model": "nope"}).status_code == 422
        assert client.delete(f"/v1/strategies/{strategy['id']}").status_code == 404
        assert client.delete("/v1/keys/qr_nothere").status_code == 404
        orphan = {"strategy_id": "x", "name": "p", "start": "2017-01-01"}
        assert client.post("/v1/portfolios", json=orphan).status_code == 404
    set_role(api.container.store, "changer", "admin", utcnow())
    made.append(("role.grant", user_id))
    set_role(api.container.store, "changer", "admin", utcnow())  # no change: no entry
    # the harness's keys (``api.client``) are made at the command line: left aside
    mine: list[dict[str, Any]] = [
        e for e in trail(api)
        if e["id"] not in before and not (e["action"] == "key.create" and e["actor"]["id"] is None)
    ]  # fmt: skip
    assert [(e["action"], e["subject"]["id"]) for e in reversed(mine)] == made
    for e in mine:
        if e["action"] == "role.grant":
            assert e["actor"] == {"id": None, "name": "command line"} and e["address"] is None
        else:
            assert e["actor"] == {"id": user_id, "name": "changer"}
            assert e["address"] == "127.0.0.1"
    text = json.dumps(mine)
    assert "whsec_" not in text and hook["secret"] not in text and key["key"] not in text


def test_the_forwarded_address_is_the_one_the_proxy_added(api: RunningApi) -> None:
    with api.client("forwarded") as client:
        client.headers["X-Forwarded-For"] = "6.6.6.6, 203.0.113.9"
        strategy = client.post("/v1/strategies", json=STRATEGY).json()
    (entry,) = [e for e in trail(api) if e["subject"]["id"] == strategy["id"]]
    assert entry["address"] == "203.0.113.9"


def test_set_role_refuses_an_unknown_user_or_role(api: RunningApi) -> None:
    from quantrun.domain.errors import InvalidInput, NotFound

    with pytest.raises(NotFound):
        set_role(api.container.store, "nobody at all", "admin", utcnow())
    with pytest.raises(InvalidInput):
        set_role(api.container.store, "auditor", "owner", utcnow())
