"""QuantRun in gcp mode on the emulator stack: the API and the worker as real processes,
PostgreSQL, the outbox, a real Pub/Sub push subscription, BigQuery and Cloud Storage.
Each reliability test asserts that nothing is lost and nothing runs twice."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from devtools.emulators import Emulators
from devtools.jobs import HAUG_PUT, HULL_CALL, asian_monte_carlo, wait_for_job, wait_until
from devtools.postgres import PostgresServer, free_port
from devtools.stack import QUANTRUN, Stack, start_service, start_stack
from quantrun.adapters.sql.engine import make_engine
from quantrun.adapters.sql.job_store import SqlJobStore
from quantrun.adapters.sql.schema import outbox
from quantrun.catalog import REGISTRY
from quantrun.domain.jobs import Job, JobStatus
from tests.harness.log_filter import extract, matching, read_entries
from tests.harness.sse import Event, events
from tests.infra.monitoring import load as load_monitoring

SYMBOLS = ["AAPL", "AMZN", "XOM", "JPM", "WMT", "PFE", "SPY"]


USER = "e2e"  # the API key's user (tests/e2e/conftest.py)


@pytest.fixture(scope="module")
def stack(postgres_server: PostgresServer, emulators: Emulators) -> Iterator[Stack]:
    s = start_stack(
        postgres=postgres_server,
        emulators=emulators,
        sample_symbols=SYMBOLS,
        service_env={
            "QUANTRUN_LEASE_SECONDS": "2",
            "QUANTRUN_MAX_ATTEMPTS": "5",
            # relays wake at once on their own publishes; the timer only matters for rows
            # another process left behind
            "QUANTRUN_OUTBOX_INTERVAL_SECONDS": "3",
        },
    )
    try:
        yield s
    finally:
        s.stop()


def wait_for(
    client: httpx.Client, job_id: str, *, timeout: float = 90, reclaim: Stack | None = None
) -> dict[str, Any]:
    def sweep() -> None:  # what Cloud Scheduler does in production
        if reclaim is not None:
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(f"{reclaim.worker_url}/tasks/reclaim", timeout=10)

    return wait_for_job(client, job_id, timeout=timeout, interval=0.2, between=sweep)


def succeeded_events(store: SqlJobStore, job_id: str) -> int:
    return [e.to_status for e in store.events(job_id)].count(JobStatus.SUCCEEDED)


@pytest.mark.parametrize("model", ["risk_metrics", "markowitz", "black_scholes"])
def test_a_job_goes_through_every_cloud_part(
    stack: Stack, client: httpx.Client, store: SqlJobStore, model: str
) -> None:
    params = {
        "risk_metrics": {"symbols": ["AAPL", "AMZN"], "start": "2015-01-01", "end": "2017-12-31"},
        "markowitz": {
            "symbols": ["AAPL", "AMZN", "XOM", "JPM", "WMT", "PFE"],
            "start": "2015-01-01",
            "end": "2017-12-31",
        },
        "black_scholes": HULL_CALL,
    }[model]
    created = client.post("/v1/jobs", json={"model": model, "params": params})
    assert created.status_code == 202
    job_id = created.json()["id"]
    assert store.get_job(job_id) is not None  # the row is in PostgreSQL
    done = wait_for(client, job_id)
    assert done["status"] == "succeeded", done["error"]
    for artifact in done["artifacts"]:
        redirect = client.get(artifact["url"], follow_redirects=False)
        assert redirect.status_code == 307
        location = redirect.headers["location"]
        assert f"/jobs/{job_id}/{artifact['name']}" in location and "X-Goog-Signature" in location
        # signed: a browser saves anything but the HTML report, never renders it
        attachment = "response-content-disposition=attachment" in location
        assert attachment == (not artifact["content_type"].startswith("text/html")), location
        body = httpx.get(location, timeout=10)
        assert body.status_code == 200 and len(body.content) == artifact["size_bytes"]
    if model != "black_scholes":
        assert done["artifacts"]
    assert succeeded_events(store, job_id) == 1


def test_readyz_checks_the_cloud_dependencies(stack: Stack) -> None:
    ready = httpx.get(f"{stack.api_url}/readyz").json()
    assert ready["checks"] == {"job_store": "ok", "queue": "ok", "price_store": "ok"}
    worker = httpx.get(f"{stack.worker_url}/readyz").json()
    assert worker["checks"] == {"job_store": "ok", "price_store": "ok", "artifact_store": "ok"}


def test_instruments_and_prices_come_from_bigquery(client: httpx.Client) -> None:
    instruments = {i["symbol"]: i for i in client.get("/v1/instruments").json()}
    assert set(instruments) == set(SYMBOLS)
    assert instruments["AAPL"]["name"] == "Apple Inc."
    prices = client.get(
        "/v1/prices", params={"symbols": "SPY,AAPL", "start": "2018-04-10", "end": "2018-04-11"}
    ).json()
    assert prices["dates"] == ["2018-04-10", "2018-04-11"] and prices["symbols"] == ["SPY", "AAPL"]


def _publish(stack: Stack, topic: str, job_id: str) -> None:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    with stack.env_applied():
        publisher = pubsub_v1.PublisherClient()
        publisher.publish(
            publisher.topic_path(stack.emulators.project, topic),
            json.dumps({"job_id": job_id}).encode(),
            job_id=job_id,
        ).result(10)


def test_the_same_message_delivered_twice_runs_once(
    stack: Stack, client: httpx.Client, store: SqlJobStore
) -> None:
    job = client.post(
        "/v1/jobs",
        json={
            "model": "black_scholes",
            "params": HAUG_PUT,
        },
    ).json()
    done = wait_for(client, job["id"])
    _publish(stack, stack.names.topic, job["id"])
    _publish(stack, stack.names.topic, job["id"])
    time.sleep(2)
    again = client.get(f"/v1/jobs/{job['id']}").json()
    assert again["status"] == "succeeded" and again["attempts"] == 1
    assert again["finished_at"] == done["finished_at"]
    assert succeeded_events(store, job["id"]) == 1


def running_monte_carlo(client: httpx.Client, *, paths: int, seed: int) -> dict[str, Any]:
    """A Monte Carlo job submitted and seen running (the job as read then)."""
    job = client.post(
        "/v1/jobs",
        json={
            "model": "monte_carlo_option",
            "params": asian_monte_carlo(paths=paths, seed=seed),
            "options": {"shards": 1},  # one job, one lease (shards: test_shards.py)
        },
    ).json()
    deadline = time.monotonic() + 60
    while (current := client.get(f"/v1/jobs/{job['id']}").json())["status"] != "running":
        assert time.monotonic() < deadline, current
        time.sleep(0.05)
    return dict(current)


def test_worker_killed_mid_job_is_reclaimed_and_finishes_once(
    stack: Stack, client: httpx.Client, store: SqlJobStore
) -> None:
    job = running_monte_carlo(client, paths=1_000_000, seed=3)
    assert stack.worker is not None
    stack.worker.stop(signal.SIGKILL)
    stack.start_worker()
    done = wait_for(client, job["id"], timeout=120, reclaim=stack)
    assert done["status"] == "succeeded" and done["attempts"] == 2
    assert succeeded_events(store, job["id"]) == 1


def test_sigterm_gives_the_running_job_back_at_once(
    stack: Stack, client: httpx.Client, store: SqlJobStore
) -> None:
    """SIGTERM to a worker mid-job (Cloud Run scaling in or deploying): the job is queued
    again within 5 s with its attempt not counted, and published, so the next worker runs
    it once, as its first attempt; the stopping worker exits within Cloud Run's 10 s."""
    job = running_monte_carlo(client, paths=3_000_000, seed=4)
    assert job["attempts"] == 1 and stack.worker is not None
    signalled = time.monotonic()
    stack.worker.proc.send_signal(signal.SIGTERM)
    while (back := client.get(f"/v1/jobs/{job['id']}").json())["status"] == "running":
        assert time.monotonic() - signalled < 5, "the job was not given back within 5 s"
        time.sleep(0.05)
    assert back["status"] == "queued" and back["attempts"] == 0
    stack.worker.proc.wait(timeout=10)
    assert time.monotonic() - signalled < 10
    reasons = [e.reason for e in store.events(job["id"])]
    assert any("at shutdown; requeued" in r for r in reasons), reasons
    stack.start_worker()
    done = wait_for(client, job["id"], timeout=120, reclaim=stack)
    assert done["status"] == "succeeded" and done["attempts"] == 1
    assert succeeded_events(store, job["id"]) == 1


def test_a_job_too_long_for_a_push_request_runs_once_on_the_pull_consumer(
    stack: Stack, client: httpx.Client, store: SqlJobStore
) -> None:
    """A push request has a deadline (Cloud Run's request timeout); a job estimated past
    what fits in it (QUANTRUN_PUSH_MAX_COST, lowered here) is handed to the long-jobs
    topic and run by `quantrun worker --pull`, once; a small one still runs on push."""
    assert stack.worker is not None
    stack.worker.stop()
    stack.start_worker(QUANTRUN_PUSH_MAX_COST="1e5")
    try:
        long_job = client.post(
            "/v1/jobs",
            json={"model": "monte_carlo_option", "params": asian_monte_carlo(paths=20_000, seed=5)},
        ).json()
        small = client.post("/v1/jobs", json={"model": "black_scholes", "params": HAUG_PUT}).json()
        # its shards too: each is over the push limit, so each runs on the pull consumer
        # and the last one merges there
        sharded = client.post(
            "/v1/jobs",
            json={
                "model": "monte_carlo_option",
                "params": asian_monte_carlo(paths=40_000, seed=5),
                "options": {"shards": 2},
            },
        ).json()
        done = wait_for(client, long_job["id"], timeout=120, reclaim=stack)
        assert done["status"] == "succeeded" and done["attempts"] == 1
        assert succeeded_events(store, long_job["id"]) == 1
        reasons = [e.reason for e in store.events(long_job["id"])]
        assert any("to the long-jobs queue" in r for r in reasons), reasons
        assert wait_for(client, small["id"])["status"] == "succeeded"
        merged = wait_for(client, sharded["id"], timeout=120, reclaim=stack)
        assert merged["status"] == "succeeded" and merged["shards"]["done"] == 2, merged
        worker_log = stack.worker.log.read_text()
        assert "job handed to the long-jobs queue" in worker_log
        pull_log = (stack.workdir / "long-worker.log").read_text()
        assert long_job["id"] in pull_log and small["id"] not in pull_log
        assert sharded["id"] in pull_log  # its merge ("job merged") ran there
    finally:
        stack.worker.stop()
        stack.start_worker()


def test_publish_failing_after_commit_is_recovered_by_the_outbox(
    stack: Stack, client: httpx.Client, store: SqlJobStore
) -> None:
    # An API process whose Pub/Sub is unreachable: the commit succeeds, the publish fails.
    broken = start_service(
        "api-broken",
        ["serve"],
        free_port(),
        {
            **stack.env,
            "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{free_port()}",
            "QUANTRUN_GCP_TIMEOUT_SECONDS": "1",
            "QUANTRUN_OUTBOX_INTERVAL_SECONDS": "3600",
        },
        stack.workdir,
        ready_path="/healthz",
    )
    stack.extra.append(broken)
    key = client.headers["authorization"]
    response = httpx.post(
        f"{broken.url}/v1/jobs",
        headers={"Authorization": key},
        timeout=30,
        json={
            "model": "black_scholes",
            "params": {
                "type": "call",
                "spot": 50,
                "strike": 55,
                "maturity": 1,
                "rate": 0.02,
                "volatility": 0.3,
            },
        },
    )
    assert response.status_code == 202
    job_id = response.json()["id"]
    engine = make_engine(stack.env["QUANTRUN_DATABASE_URL"])
    deadline = time.monotonic() + 20
    while True:  # the broken API's relay tries at once (woken by the submit) and fails
        with engine.connect() as conn:
            row = conn.execute(select(outbox).where(outbox.c.job_id == job_id)).one()
        if row.last_error or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    engine.dispose()
    assert row.last_error and row.attempts >= 1  # the publish was tried and failed
    broken.stop()
    # the healthy processes' relays publish it; it runs once
    done = wait_for(client, job_id)
    assert done["status"] == "succeeded"
    assert succeeded_events(store, job_id) == 1


def _side_subscription(stack: Stack, worker_url: str, *, dead_letter: bool) -> str:
    """A topic whose push subscription targets ``worker_url`` (fast retries, and a
    dead-letter topic pushed to the same worker's /pubsub/dead-letter)."""
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]
    from google.protobuf import duration_pb2

    with stack.env_applied():
        project = stack.emulators.project
        suffix = uuid.uuid4().hex[:8]
        publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        topic = publisher.topic_path(project, f"side-{suffix}")
        dead = publisher.topic_path(project, f"side-dead-{suffix}")
        publisher.create_topic(name=topic)
        publisher.create_topic(name=dead)
        retry = pubsub_v1.types.RetryPolicy(
            minimum_backoff=duration_pb2.Duration(nanos=10**8),
            maximum_backoff=duration_pb2.Duration(seconds=1),
        )
        request: dict[str, Any] = {
            "name": subscriber.subscription_path(project, f"side-{suffix}"),
            "topic": topic,
            "push_config": pubsub_v1.types.PushConfig(push_endpoint=f"{worker_url}/pubsub/push"),
            "ack_deadline_seconds": 30,
            "retry_policy": retry,
        }
        if dead_letter:
            request["dead_letter_policy"] = pubsub_v1.types.DeadLetterPolicy(
                dead_letter_topic=dead, max_delivery_attempts=5
            )
        subscriber.create_subscription(request=request)
        subscriber.create_subscription(
            request={
                "name": subscriber.subscription_path(project, f"side-dead-{suffix}"),
                "topic": dead,
                "push_config": pubsub_v1.types.PushConfig(
                    push_endpoint=f"{worker_url}/pubsub/dead-letter"
                ),
            }
        )
        return f"side-{suffix}"


def _queued_job(store: SqlJobStore, client: httpx.Client) -> str:
    """A job row that no one has published (the test publishes it where it wants)."""
    user = store.get_or_create_user("e2e")
    job = Job(
        id=str(uuid.uuid4()),
        user_id=user.id,
        model="risk_metrics",
        params={
            "symbols": ["AAPL"],
            "start": "2016-01-01",
            "end": "2016-12-31",
            "benchmark": "SPY",
            "risk_free_rate": 0.0,
            "weights": None,
        },
        status=JobStatus.QUEUED,
        created_at=datetime.now(UTC),
    )
    store.create_job(job)
    return job.id


def _worker_without_bigquery(stack: Stack, name: str, port: int, *, max_attempts: int) -> Any:
    """A worker whose BigQuery is unreachable: every run is a transient failure (503)."""
    worker = start_service(
        name,
        ["worker"],
        port,
        {
            **stack.env,
            "BIGQUERY_EMULATOR_HOST": f"http://127.0.0.1:{free_port()}",
            "QUANTRUN_GCP_TIMEOUT_SECONDS": "1",
            "QUANTRUN_MAX_ATTEMPTS": str(max_attempts),
        },
        stack.workdir,
    )
    stack.extra.append(worker)
    return worker


def test_transient_price_store_error_gets_5xx_then_succeeds_on_redelivery(
    stack: Stack, client: httpx.Client, store: SqlJobStore
) -> None:
    port = free_port()
    # a worker whose BigQuery is unreachable answers 503 (transient) to the push
    down = _worker_without_bigquery(stack, "worker-bq-down", port, max_attempts=10)
    topic = _side_subscription(stack, f"http://127.0.0.1:{port}", dead_letter=False)
    job_id = _queued_job(store, client)
    _publish(stack, topic, job_id)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and '"status": 503' not in down.log.read_text():
        time.sleep(0.1)
    assert '"status": 503' in down.log.read_text()  # it answered 503 to Pub/Sub
    held = store.get_job(job_id)
    assert held is not None and held.status == JobStatus.RUNNING and held.result is None
    down.stop()
    # the same port now serves a healthy worker: the next redelivery succeeds
    up = start_service("worker-bq-up", ["worker"], port, stack.env, stack.workdir)
    stack.extra.append(up)
    done = wait_for(client, job_id, timeout=60)
    assert done["status"] == "succeeded" and done["attempts"] >= 2
    assert succeeded_events(store, job_id) == 1


def test_poison_message_is_dead_lettered_and_the_job_fails_with_the_reason(
    stack: Stack, client: httpx.Client, store: SqlJobStore
) -> None:
    port = free_port()
    poisoned = _worker_without_bigquery(stack, "worker-poisoned", port, max_attempts=50)
    topic = _side_subscription(stack, f"http://127.0.0.1:{port}", dead_letter=True)
    job_id = _queued_job(store, client)
    _publish(stack, topic, job_id)
    done = wait_for(client, job_id, timeout=120)
    assert done["status"] == "failed"
    assert done["error"]["code"] == "dead_lettered"
    assert "dead-lettered" in done["error"]["message"]
    poisoned.stop()


def test_pull_runner_processes_a_pulled_job(
    stack: Stack, client: httpx.Client, store: SqlJobStore
) -> None:
    """`quantrun worker --pull SUBSCRIPTION` for environments without push."""
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    suffix = uuid.uuid4().hex[:8]
    with stack.env_applied():
        publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        topic = publisher.topic_path(stack.emulators.project, f"pull-{suffix}")
        publisher.create_topic(name=topic)
        subscriber.create_subscription(
            name=subscriber.subscription_path(stack.emulators.project, f"pull-{suffix}"),
            topic=topic,
            ack_deadline_seconds=60,
        )
    job_id = _queued_job(store, client)
    _publish(stack, f"pull-{suffix}", job_id)
    log = stack.workdir / "worker-pull.log"
    proc = subprocess.Popen(
        [QUANTRUN, "worker", "--pull", f"pull-{suffix}"],
        env={**os.environ, **stack.env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        done = wait_for(client, job_id, timeout=60)
        assert done["status"] == "succeeded" and done["attempts"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_api_with_several_worker_processes(stack: Stack, client: httpx.Client) -> None:
    """`quantrun serve --workers 2` (gcp mode): each process builds its adapters and relay."""
    multi = start_service(
        "api-multi",
        ["serve"],
        free_port(),
        {**stack.env, "QUANTRUN_API_WORKERS": "2"},
        stack.workdir,
        ready_path="/readyz",
    )
    stack.extra.append(multi)
    try:
        key = client.headers["authorization"]
        ids = []
        for _ in range(6):
            response = httpx.post(
                f"{multi.url}/v1/jobs",
                headers={"Authorization": key},
                timeout=30,
                json={
                    "model": "black_scholes",
                    "params": {
                        "type": "call",
                        "spot": 10,
                        "strike": 11,
                        "maturity": 1,
                        "rate": 0.01,
                        "volatility": 0.3,
                    },
                },
            )
            assert response.status_code == 202
            ids.append(response.json()["id"])
        for job_id in ids:
            assert wait_for(client, job_id)["status"] == "succeeded"
        _a_revoked_key_is_refused_within_5_s(client, multi.url)
    finally:
        multi.stop()


def _a_revoked_key_is_refused_within_5_s(client: httpx.Client, multi_url: str) -> None:
    """CONTRACT 5.1: revoked through one API process (the stack's), refused within 5 s
    by both processes of another (each request a new connection, so either may take it)."""
    new = client.post("/v1/keys", json={}).json()
    headers = {"Authorization": f"Bearer {new['key']}"}

    def status() -> int:
        return httpx.get(f"{multi_url}/v1/models", headers=headers, timeout=10).status_code

    assert [status() for _ in range(10)] == [200] * 10  # both processes now cache it
    assert client.delete(f"/v1/keys/{new['prefix']}").status_code == 200
    revoked_at = time.monotonic()
    streak, refused_since = 0, 0.0
    while streak < 20:  # twenty refusals in a row on fresh connections
        asked = time.monotonic() - revoked_at
        if status() == 401:
            refused_since = refused_since if streak else asked
            streak += 1
        else:
            streak = 0
        assert asked < 10, "the revoked key still works 10 s after its revocation"
    print(f"revoked key refused by every process from {refused_since:.1f} s after revocation")
    assert refused_since <= 5.2  # the auth cache's 5 s, and a request's latency


def test_load_prices_in_gcp_mode_writes_to_bigquery(
    stack: Stack, client: httpx.Client, tmp_path: Any
) -> None:
    """`quantrun load-prices` loads into the mode's price store: BigQuery here (it used
    to open a DuckDB file whatever the mode)."""
    csv = tmp_path / "loadtest.csv"
    csv.write_text(
        "date,symbol,close\n2021-03-01,LDTEST,10.5\n2021-03-02,LDTEST,10.75\n"
        "2021-03-03,LDTEST,11.0\n"
    )
    done = subprocess.run(
        [QUANTRUN, "load-prices", str(csv)],
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "loaded 3 rows for 1 symbol(s): LDTEST" in done.stdout
    prices = client.get(
        "/v1/prices", params={"symbols": "LDTEST", "start": "2021-03-01", "end": "2021-03-03"}
    )
    assert prices.status_code == 200, prices.text
    assert prices.json()["close"] == [[10.5], [10.75], [11.0]]


def test_an_event_stream_on_another_api_process_follows_the_job(
    stack: Stack, client: httpx.Client
) -> None:
    """CONTRACT 5.4 across API instances: the job is submitted through one API process
    and followed through another, which learns every change from PostgreSQL. The worker
    is frozen (SIGSTOP) until the stream has told `queued`, so the order is certain."""
    assert stack.worker is not None
    other = start_service(
        "api-events",
        ["serve"],
        free_port(),
        {**stack.env, "QUANTRUN_EVENTS_POLL_SECONDS": "0.1"},
        stack.workdir,
        ready_path="/readyz",
    )
    stack.extra.append(other)
    seen: list[Event] = []

    def follow(job_id: str) -> None:
        with httpx.stream(
            "GET",
            f"{other.url}/v1/jobs/{job_id}/events",
            headers={"Authorization": client.headers["authorization"]},
            timeout=120,
        ) as r:
            assert r.status_code == 200
            seen.extend(events(r))

    worker_group = stack.worker.proc.pid
    os.killpg(worker_group, signal.SIGSTOP)
    try:
        params = asian_monte_carlo(paths=1_000_000, seed=9)  # runs for a second or two
        job = client.post("/v1/jobs", json={"model": "monte_carlo_option", "params": params}).json()
        reader = threading.Thread(target=follow, args=(job["id"],))
        reader.start()
        wait_until(lambda: bool(seen), timeout=30, interval=0.05)
    finally:
        os.killpg(worker_group, signal.SIGCONT)
    reader.join(timeout=120)
    assert not reader.is_alive()
    told = [(e.kind, e.data["status"]) for e in seen if e.kind in ("state", "status")]  # type: ignore[index]
    assert told == [("state", "queued"), ("status", "running"), ("status", "succeeded")]
    other.stop()


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _service_entries(stack: Stack) -> list[dict[str, Any]]:
    logs = [s.log for s in (stack.api, stack.worker, *stack.workers.values()) if s is not None]
    return read_entries(*logs)


def test_one_trace_shows_the_api_and_the_worker(stack: Stack, client: httpx.Client) -> None:
    """A request's traceparent reaches the worker through the job's Pub/Sub message: the
    API's line for the submit and the worker's lines for the run carry the same trace,
    qualified by the project as Cloud Logging wants it (CONTRACT 6.4)."""
    traceparent = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
    created = client.post(
        "/v1/jobs",
        json={"model": "black_scholes", "params": HULL_CALL},
        headers={"traceparent": traceparent},
    )
    job_id = created.json()["id"]
    assert wait_for(client, job_id)["status"] == "succeeded"
    want = f"projects/{stack.emulators.project}/traces/{TRACE_ID}"
    deadline = time.monotonic() + 10
    while True:  # the worker writes its line after the job row says succeeded
        mine = [e for e in _service_entries(stack) if e["jsonPayload"].get("job_id") == job_id]
        said = {e["jsonPayload"]["message"]: e for e in mine}
        if "job finished" in said or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert said["job submitted"]["logging.googleapis.com/trace"] == want
    assert said["job finished"]["logging.googleapis.com/trace"] == want
    assert all(e.get("logging.googleapis.com/trace") == want for e in mine), mine


def test_a_quick_job_reaches_the_worker_marked_quick(stack: Stack, client: httpx.Client) -> None:
    """One option (no price history, cost 1) is published with the ``quick`` attribute
    and the worker's line for its run says so (it ran on the push request's own thread:
    tests/integration/test_quick_push.py); a Markowitz job reads history and is not."""
    quick = client.post("/v1/jobs", json={"model": "black_scholes", "params": HULL_CALL}).json()
    history = {"model": "markowitz", "params": REGISTRY["markowitz"].example}
    plain = client.post("/v1/jobs", json=history).json()
    assert wait_for(client, quick["id"])["status"] == "succeeded"
    assert wait_for(client, plain["id"])["status"] == "succeeded"
    deadline = time.monotonic() + 10
    while True:  # the worker writes its line after the job row says succeeded
        finished = {
            e["jsonPayload"]["job_id"]: e["jsonPayload"]
            for e in _service_entries(stack)
            if e["jsonPayload"].get("message") == "job finished"
        }
        if {quick["id"], plain["id"]} <= set(finished) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert finished[quick["id"]].get("quick") is True
    assert "quick" not in finished[plain["id"]]


def test_the_job_log_metrics_count_lines_the_worker_wrote(
    stack: Stack, client: httpx.Client
) -> None:
    """The log-based metrics of infra/modules/monitoring, applied to the worker's real
    lines: a succeeded and a failed job each counted with their model and status, the
    run time extracted as a number."""
    ok = client.post("/v1/jobs", json={"model": "black_scholes", "params": HULL_CALL}).json()
    infeasible = {**REGISTRY["markowitz"].example, "objective": "target_return", "target": 5.0}
    bad = client.post("/v1/jobs", json={"model": "markowitz", "params": infeasible}).json()
    assert wait_for(client, ok["id"])["status"] == "succeeded"
    assert wait_for(client, bad["id"])["status"] == "failed"
    metrics = load_monitoring().log_metrics
    deadline = time.monotonic() + 10
    while True:
        entries = _service_entries(stack)
        counted = matching(metrics["jobs_finished"].filter, entries)
        by_job = {e["jsonPayload"].get("job_id"): e for e in counted}
        if {ok["id"], bad["id"]} <= set(by_job) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    labels = metrics["jobs_finished"].labels
    assert {k: extract(v, by_job[ok["id"]]) for k, v in labels.items()} == {
        "model": "black_scholes",
        "status": "succeeded",
    }
    assert {k: extract(v, by_job[bad["id"]]) for k, v in labels.items()} == {
        "model": "markowitz",
        "status": "failed",
    }
    timed = {
        e["jsonPayload"].get("job_id"): e for e in matching(metrics["job_seconds"].filter, entries)
    }
    seconds = extract(metrics["job_seconds"].value_extractor or "", timed[ok["id"]])
    assert isinstance(seconds, float) and 0 <= seconds < 60
