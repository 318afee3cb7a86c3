"""Webhooks (CONTRACT 5.4).

The store, on SQLite and PostgreSQL: a job that ends makes one delivery per webhook and
event type, however often it is scanned; a shard, a job that ended before the webhook
existed, an event not asked for and a deleted webhook make none; one dispatcher takes a
delivery. Then end to end over real HTTP: a receiver on loopback (allowed by the
setting here) that answers 500 twice then 200 gets three deliveries with one delivery
id and a valid signature; a delivery made while no dispatcher ran is sent when one
starts; with the setting off, loopback, private and metadata addresses are refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from devtools.jobs import wait_for_job, wait_until
from quantrun.adapters.sealed import SealError, SecretBox
from quantrun.adapters.sql.job_store import SqlJobStore
from quantrun.adapters.sql.webhook_rows import SqlWebhookStore
from quantrun.domain.jobs import Job, JobEnd, JobStatus
from quantrun.domain.webhooks import Webhook
from quantrun.settings import ApiSettings, LimitSettings, Settings
from tests.harness.api import RunningApi, running_api
from tests.harness.receiver import Receiver

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
BS = {"type": "put", "spot": 100, "strike": 105, "maturity": 1, "rate": 0.02, "volatility": 0.3}


# -- the store ---------------------------------------------------------------------------


def _job(store: SqlJobStore, user_id: str, **fields: Any) -> Job:
    job = Job(
        id=str(uuid.uuid4()),
        user_id=user_id,
        model="black_scholes",
        params={},
        status=JobStatus.QUEUED,
        created_at=T0,
        **fields,
    )
    return store.create_job(job)


def _end(store: SqlJobStore, job: Job, at: datetime, status: JobStatus) -> None:
    store.claim(job.id, worker="w", now=at, lease_until=at + timedelta(minutes=1), max_attempts=3)
    store.finish(job.id, JobEnd(status, result={}), worker="w", now=at)


def _hook(user_id: str, at: datetime, events: tuple[str, ...]) -> Webhook:
    return Webhook(str(uuid.uuid4()), user_id, "https://hooks.example/x", events, "s", at)


def _store(engine: Engine, key: bytes = b"k" * 32) -> SqlWebhookStore:
    return SqlWebhookStore(engine, lambda: SecretBox(key))


def test_secrets_are_stored_sealed_and_open_only_with_their_key(engine: Engine) -> None:
    jobs, hooks = SqlJobStore(engine), _store(engine)
    carol = jobs.get_or_create_user("carol").id
    secret = "whsec_" + "x" * 43
    hook = Webhook(str(uuid.uuid4()), carol, "https://hooks.example/x", ("job.failed",), secret, T0)
    hooks.add(hook)
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT secret FROM webhooks WHERE id = :id"), {"id": hook.id}
        ).scalar_one()
    assert stored.startswith("v1:") and secret not in stored  # a dump gives nothing away
    found = hooks.get(hook.id)
    assert found is not None and found.secret == secret
    assert [w.secret for w in hooks.for_user(carol)] == [""]  # listings never carry it
    with pytest.raises(SealError, match="does not open"):
        _store(engine, key=b"o" * 32).get(hook.id)  # another key
    # a sealed value moved to another row does not open there
    other = Webhook(str(uuid.uuid4()), carol, "https://hooks.example/y", ("job.failed",), "s", T0)
    hooks.add(other)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE webhooks SET secret = :s WHERE id = :id"), {"s": stored, "id": other.id}
        )
    with pytest.raises(SealError):
        hooks.get(other.id)
    # a secret stored before sealing (plain text) is still read
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE webhooks SET secret = 'plain-old' WHERE id = :id"), {"id": other.id}
        )
    assert hooks.get(other.id).secret == "plain-old"  # type: ignore[union-attr]


def test_a_delivery_per_webhook_job_and_type_made_once(engine: Engine) -> None:
    jobs, hooks = SqlJobStore(engine), _store(engine)
    alice = jobs.get_or_create_user("alice").id
    before = _job(jobs, alice)
    _end(jobs, before, T0 + timedelta(seconds=1), JobStatus.SUCCEEDED)  # before any webhook
    both = _hook(alice, T0 + timedelta(seconds=5), ("job.succeeded", "job.failed"))
    failures = _hook(alice, T0 + timedelta(seconds=5), ("job.failed",))
    gone = _hook(alice, T0 + timedelta(seconds=5), ("job.succeeded",))
    for hook in (both, failures, gone):
        hooks.add(hook)
    assert hooks.delete(gone.id, alice, now=T0 + timedelta(seconds=6))
    assert not hooks.delete(gone.id, alice, now=T0 + timedelta(seconds=6))
    ok, bad = _job(jobs, alice), _job(jobs, alice)
    shard = _job(jobs, alice, parent_id=ok.id, shard_index=0)
    _end(jobs, ok, T0 + timedelta(seconds=10), JobStatus.SUCCEEDED)
    _end(jobs, bad, T0 + timedelta(seconds=11), JobStatus.FAILED)
    _end(jobs, shard, T0 + timedelta(seconds=12), JobStatus.SUCCEEDED)
    now = T0 + timedelta(seconds=20)
    assert hooks.make_deliveries(now=now, overlap=60) == 3
    assert hooks.make_deliveries(now=now + timedelta(seconds=1), overlap=60) == 0  # scanned again
    made = {(d.webhook_id, d.job_id, d.type) for d in hooks.due(now=now, limit=10)}
    assert made == {
        (both.id, ok.id, "job.succeeded"),
        (both.id, bad.id, "job.failed"),
        (failures.id, bad.id, "job.failed"),
    }
    assert {w.id for w in hooks.for_user(alice)} == {both.id, failures.id}


def test_one_dispatcher_takes_a_delivery(engine: Engine) -> None:
    jobs, hooks = SqlJobStore(engine), _store(engine)
    bob = jobs.get_or_create_user("bob").id
    hooks.add(_hook(bob, T0, ("job.cancelled",)))
    job = _job(jobs, bob)
    jobs.cancel(job.id, user_id=bob, now=T0 + timedelta(seconds=1))
    now = T0 + timedelta(seconds=2)
    assert hooks.make_deliveries(now=now, overlap=10) == 1
    (due,) = hooks.due(now=now, limit=10)
    assert due.type == "job.cancelled" and due.attempts == 0
    assert hooks.claim(due, until=now + timedelta(seconds=40))
    assert not hooks.claim(due, until=now + timedelta(seconds=40))  # a second dispatcher
    assert hooks.due(now=now, limit=10) == []
    hooks.retry(due.id, at=now + timedelta(seconds=10), error="HTTP 500")
    (again,) = hooks.due(now=now + timedelta(seconds=10), limit=10)
    assert again.id == due.id and again.attempts == 1 and again.last_error == "HTTP 500"
    hooks.delivered(due.id, now=now + timedelta(seconds=11))
    assert hooks.due(now=now + timedelta(days=1), limit=10) == []


def test_reseal_moves_every_secret_to_the_current_key(engine: Engine) -> None:
    jobs = SqlJobStore(engine)
    erin = jobs.get_or_create_user("erin").id
    old, new, lost = b"o" * 32, b"n" * 32, b"l" * 32
    under_old, plain, under_lost = (_hook(erin, T0, ("job.failed",)) for _ in range(3))
    _store(engine, key=old).add(under_old)
    _store(engine, key=lost).add(under_lost)
    _store(engine, key=old).add(plain)
    with engine.begin() as conn:  # as stored before sealing existed
        conn.execute(text("UPDATE webhooks SET secret = 's' WHERE id = :id"), {"id": plain.id})
    rotating = SqlWebhookStore(engine, lambda: SecretBox(new, old))
    done, unreadable = rotating.reseal()
    assert (done, unreadable) == (2, [under_lost.id])  # left as it was
    only_new = _store(engine, key=new)
    assert only_new.get(under_old.id).secret == "s"  # type: ignore[union-attr]
    assert only_new.get(plain.id).secret == "s"  # type: ignore[union-attr]
    with pytest.raises(SealError):
        only_new.get(under_lost.id)


class _PublicTransport:
    """hooks.example resolves to a public address; every POST is answered 200 and kept."""

    def __init__(self) -> None:
        self.posts: list[dict[str, str]] = []

    def addresses(self, host: str) -> list[str]:
        return ["93.184.216.34"]

    def post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout: float,
        address: str | None = None,
    ) -> int:
        self.posts.append(headers)
        return 200


def test_a_secret_under_another_key_is_retried_not_sent_unsigned(engine: Engine) -> None:
    from quantrun.app.webhook_dispatch import Dispatcher
    from quantrun.app.webhooks import WebhookPolicy

    jobs = SqlJobStore(engine)
    dave = jobs.get_or_create_user("dave").id
    hook = _hook(dave, T0, ("job.succeeded",))
    _store(engine, key=b"a" * 32).add(hook)
    _end(jobs, _job(jobs, dave), T0 + timedelta(seconds=1), JobStatus.SUCCEEDED)
    transport, now = _PublicTransport(), T0 + timedelta(seconds=2)

    def dispatcher(key: bytes) -> Dispatcher:
        return Dispatcher(
            webhooks=_store(engine, key=key),
            jobs=jobs,
            transport=transport,
            policy=WebhookPolicy(),
            clock=lambda: now,
        )

    dispatcher(b"b" * 32).tick()  # the key was changed: nothing is sent
    assert transport.posts == []
    (waiting,) = _store(engine).due(now=now + timedelta(seconds=10), limit=10)
    assert waiting.attempts == 1 and "does not open" in (waiting.last_error or "")
    now += timedelta(seconds=10)
    dispatcher(b"a" * 32).tick()  # the key put back: sent, signed with the secret
    assert [h["X-QuantRun-Event"] for h in transport.posts] == ["job.succeeded"]


# -- end to end ----------------------------------------------------------------------------


def _settings(data_dir: Path, *, allow_private: bool) -> Settings:
    return Settings(
        data_dir=data_dir,
        api=ApiSettings(
            webhook_allow_private=allow_private,
            webhook_interval_seconds=0.1,
            webhook_first_retry_seconds=0.5,
        ),
        limits=LimitSettings(rate_requests_per_second=0),
    )


def api_settings(data_dir: Path) -> Settings:
    return _settings(data_dir, allow_private=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([])
    yield r
    r.close()


def _register(client: httpx.Client, url: str, events: list[str]) -> dict[str, Any]:
    r = client.post("/v1/webhooks", json={"url": url, "events": events})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-QuantRun-Signature"], expected)


def test_a_failing_receiver_is_retried_with_one_delivery_id(
    api: RunningApi, receiver: Receiver
) -> None:
    receiver.statuses = [500, 500]
    api.container.start_webhooks()
    with api.client("hooked") as client:
        hook = _register(client, receiver.url, ["job.succeeded"])
        assert hook["secret"].startswith("whsec_") and hook["events"] == ["job.succeeded"]
        job = client.post("/v1/jobs", json={"model": "black_scholes", "params": BS}).json()
        assert wait_for_job(client, job["id"], timeout=30)["status"] == "succeeded"
        wait_until(lambda: len(receiver.received) >= 3, timeout=30, interval=0.1)
        time.sleep(1.0)  # and no fourth: the 200 ended it
    assert len(receiver.received) == 3
    ids = {headers["X-QuantRun-Delivery"] for _, headers, _ in receiver.received}
    assert len(ids) == 1
    assert all(_valid(hook["secret"], h, b) for _, h, b in receiver.received)
    assert not _valid("whsec_other", *receiver.received[0][1:])
    times = [t for t, _, _ in receiver.received]
    assert times[2] - times[1] > times[1] - times[0] > 0.4  # 0.5 s, then 1 s (backoff)
    _, headers, body = receiver.received[-1]
    sent = json.loads(body)
    assert headers["X-QuantRun-Event"] == sent["type"] == "job.succeeded"
    assert sent["id"] == ids.pop() and sent["created_at"].endswith("Z")
    # each attempt signs its own time: a replayed body shows its age
    first, last = (
        json.loads(r[2])["sent_at"] for r in (receiver.received[0], receiver.received[-1])
    )
    assert sent["created_at"] <= first < last
    assert sent["job"]["id"] == job["id"] and sent["job"]["status"] == "succeeded"
    assert "result" not in sent["job"] and sent["job"]["artifacts"][0]["name"] == "manifest.json"
    assert headers["Content-Type"] == "application/json"


def test_a_delivery_made_while_no_dispatcher_ran_is_sent_later(
    tmp_path: Path, receiver: Receiver
) -> None:
    """The deliveries live in the database: an API that was down when the job ended
    (here: its dispatcher not started) delivers once it runs."""
    # no worker: the job stays queued, so the cancel always lands (a worker could finish
    # so small a job first, and then no job.cancelled would ever come)
    settings = _settings(tmp_path, allow_private=True)
    with running_api(settings, with_worker=False) as api, api.client("later") as c:
        hook = _register(c, receiver.url, ["job.cancelled"])
        job = c.post("/v1/jobs", json={"model": "black_scholes", "params": BS})
        assert c.post(f"/v1/jobs/{job.json()['id']}/cancel").status_code == 200
        time.sleep(0.5)
        assert receiver.received == []
        api.container.start_webhooks()
        wait_until(lambda: receiver.received, timeout=30, interval=0.1)
    (_, headers, body) = receiver.received[0]
    assert json.loads(body)["type"] == "job.cancelled" and _valid(hook["secret"], headers, body)


def test_list_and_delete_webhooks(api: RunningApi) -> None:
    with api.client("owner") as owner, api.client("other") as other:
        hook = _register(owner, "https://hooks.example.com/q", ["job.failed", "job.succeeded"])
        assert hook["events"] == ["job.succeeded", "job.failed"]  # in the contract's order
        listed = owner.get("/v1/webhooks").json()
        assert [w["id"] for w in listed] == [hook["id"]] and "secret" not in listed[0]
        assert other.get("/v1/webhooks").json() == []
        assert other.delete(f"/v1/webhooks/{hook['id']}").status_code == 404
        assert owner.delete(f"/v1/webhooks/{hook['id']}").status_code == 204
        assert owner.delete(f"/v1/webhooks/{hook['id']}").status_code == 404
        assert owner.get("/v1/webhooks").json() == []


def test_bad_webhooks_are_422_naming_the_field(api: RunningApi) -> None:
    with api.client("careless") as client:
        for body, field in [
            ({"url": "ftp://x.example/h", "events": ["job.failed"]}, "url"),
            ({"url": "https://x.example/h", "events": []}, "events"),
            ({"url": "https://x.example/h", "events": ["job.started"]}, "events"),
            ({"url": "https://user:pw@x.example/h", "events": ["job.failed"]}, "url"),
            ({"url": "https://[::1/h", "events": ["job.failed"]}, "url"),
            ({"url": "https://x.example:99999/h", "events": ["job.failed"]}, "url"),
        ]:
            r = client.post("/v1/webhooks", json=body)
            assert r.status_code == 422, (body, r.text)
            assert r.json()["error"]["details"][0]["field"].startswith(field), r.text


def test_private_addresses_are_refused_unless_the_setting_allows_them(tmp_path: Path) -> None:
    with running_api(_settings(tmp_path, allow_private=False)) as api, api.client("x") as c:
        for url in (
            "http://127.0.0.1:8080/hook",  # plain http, and loopback
            "https://127.0.0.1/hook",
            "https://localhost/hook",
            "https://10.1.2.3/hook",
            "https://169.254.169.254/computeMetadata/v1/",  # the metadata server
            "https://[::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
        ):
            r = c.post("/v1/webhooks", json={"url": url, "events": ["job.failed"]})
            assert r.status_code == 422, (url, r.text)
            assert r.json()["error"]["details"][0]["field"] == "url"
        # a public address literal needs no lookup and is accepted
        public = c.post(
            "/v1/webhooks", json={"url": "https://93.184.216.34/hook", "events": ["job.failed"]}
        )
        assert public.status_code == 201, public.text
