"""Edges of the Google Cloud adapters: the outbox when publishing fails, Secret Manager
through the real client against an in-process gRPC server, and OIDC push tokens through
google-auth's real verifier against locally served certificates."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from datetime import UTC, datetime
from typing import Any

import grpc
import httpx
import pytest
from sqlalchemy import Engine, select

from devtools.emulators import Emulators
from devtools.jobs import wait_until
from devtools.postgres import free_port
from quantrun.adapters.embedded.secrets import EnvSecrets
from quantrun.adapters.gcp.clients import publisher_client
from quantrun.adapters.gcp.oidc import GoogleCerts, InvalidPushToken, verify_push_token
from quantrun.adapters.gcp.pubsub import PubSubPublisher
from quantrun.adapters.gcp.secret_manager import SecretManagerSecrets
from quantrun.adapters.sql.job_store import SqlJobStore
from quantrun.adapters.sql.outbox import OutboxQueue
from quantrun.adapters.sql.schema import outbox
from quantrun.domain.errors import Conflict
from tests.harness.oidc import google_id_token, google_signer
from tests.integration.helpers import pulled_topic, queued_job


def _outbox_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(outbox).order_by(outbox.c.id)))


def test_outbox_row_commits_with_the_job_and_survives_a_failed_publish(
    engine: Engine, gcp_env: Emulators, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqlJobStore(engine, outbox=True)
    user = store.get_or_create_user("u").id
    job = queued_job(store, user, key="k")
    with pytest.raises(Conflict):
        queued_job(store, user, key="k")  # the failed insert leaves no outbox row behind
    assert [r.job_id for r in _outbox_rows(engine)] == [job.id]

    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    topic = f"outbox-{uuid.uuid4().hex[:8]}"
    admin = pubsub_v1.PublisherClient()
    admin.create_topic(name=admin.topic_path(gcp_env.project, topic))
    # a publisher whose broker is unreachable: the real client, pointed at a closed port
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{free_port()}")
    broken = OutboxQueue(
        engine, PubSubPublisher(publisher_client(), gcp_env.project, topic, timeout=1.0)
    )
    assert broken.flush() == 0
    (row,) = _outbox_rows(engine)
    assert row.sent_at is None and row.attempts == 1 and row.last_error
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", gcp_env.pubsub_host)
    healthy = OutboxQueue(
        engine, PubSubPublisher(publisher_client(), gcp_env.project, topic, timeout=10)
    )
    assert healthy.flush() == 1
    assert _outbox_rows(engine)[0].sent_at is not None
    assert healthy.flush() == 0 and healthy.pending() == 0
    # a requeue (the reclaim sweep) writes a fresh row with the transition; publish sends it
    assert store.requeue(job.id, now=datetime.now(UTC))
    assert healthy.pending() == 1
    healthy.publish(job.id)
    assert len(_outbox_rows(engine)) == 2 and healthy.pending() == 0


def test_outbox_relay_thread_retries_until_published(engine: Engine, gcp_env: Emulators) -> None:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    topic = f"relay-{uuid.uuid4().hex[:8]}"
    admin = pubsub_v1.PublisherClient()
    store = SqlJobStore(engine, outbox=True)
    user = store.get_or_create_user("u").id
    queued_job(store, user)
    # nobody asked to publish the row: the relay's sweep takes it once it is an orphan
    # (0.2 s old here, 5 s by default)
    queue = OutboxQueue(
        engine,
        PubSubPublisher(publisher_client(), gcp_env.project, topic, timeout=1.0),
        orphan_after=0.2,
    )
    queue.start_relay(0.2)
    try:
        # the topic does not exist yet: the sweeps' publishes fail, each counted
        wait_until(lambda: _outbox_rows(engine)[0].attempts >= 2, timeout=10, interval=0.05)
        assert queue.pending() == 1
        admin.create_topic(name=admin.topic_path(gcp_env.project, topic))
        deadline = time.monotonic() + 15
        while queue.pending() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert queue.pending() == 0
    finally:
        queue.stop_relay()


def test_two_relays_publish_each_job_once(engine: Engine, gcp_env: Emulators) -> None:
    """Two API processes, each with its relay, on one database: every job is published
    exactly once (a relay publishing the other's fresh rows made the other's request look
    like a republish: 1 in 3 jobs ran twice under load)."""
    topic, receive = pulled_topic(gcp_env.project, "relays")
    store = SqlJobStore(engine, outbox=True)
    user = store.get_or_create_user("u").id
    relays = [
        OutboxQueue(engine, PubSubPublisher(publisher_client(), gcp_env.project, topic))
        for _ in range(2)
    ]
    for relay in relays:
        relay.start_relay(0.05)
    try:
        jobs = [queued_job(store, user) for _ in range(60)]
        for i, job in enumerate(jobs):
            relays[i % 2].publish(job.id)
        deadline = time.monotonic() + 20
        while relays[0].pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert relays[0].pending() == 0
    finally:
        for relay in relays:
            relay.stop_relay()
    assert sorted(receive(len(jobs))) == sorted(j.id for j in jobs)


def test_the_relay_marks_what_it_published_in_one_statement(
    engine: Engine, gcp_env: Emulators
) -> None:
    """Jobs published one by one are marked sent together once ``mark_delay`` has
    passed (a statement per publish cost the API and the database under load), and
    stopping the relay marks what it published last."""
    from sqlalchemy import event

    topic, receive = pulled_topic(gcp_env.project, "marks")
    store = SqlJobStore(engine, outbox=True)
    user = store.get_or_create_user("u").id
    marks: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE OUTBOX"):
            marks.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    relay = OutboxQueue(
        engine, PubSubPublisher(publisher_client(), gcp_env.project, topic), mark_delay=0.5
    )
    relay.start_relay(30)

    def wait_marked() -> None:
        deadline = time.monotonic() + 5
        while relay.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert relay.pending() == 0

    try:
        first = queued_job(store, user)
        relay.publish(first.id)  # its wake also runs the relay's first sweep
        assert receive(1) == [first.id]
        wait_marked()
        marks.clear()
        jobs = [queued_job(store, user) for _ in range(20)]
        for job in jobs:
            relay.publish(job.id)
            time.sleep(0.01)  # each on its own wake of the relay
        assert sorted(receive(len(jobs))) == sorted(j.id for j in jobs)
        wait_marked()
        assert len(marks) == 1
        last = queued_job(store, user)
        relay.publish(last.id)
        assert receive(1) == [last.id]
    finally:
        relay.stop_relay()
        event.remove(engine, "before_cursor_execute", count)
    assert relay.pending() == 0 and len(marks) == 2


# -- Secret Manager ----------------------------------------------------------------------


@pytest.fixture
def secret_manager_server() -> Iterator[tuple[str, dict[str, bytes], list[str]]]:
    """A gRPC server answering AccessSecretVersion like Secret Manager does."""
    from google.cloud.secretmanager_v1 import types

    secrets: dict[str, bytes] = {}
    calls: list[str] = []

    def access(request_bytes: bytes, context: grpc.ServicerContext) -> bytes:
        request = types.AccessSecretVersionRequest.deserialize(request_bytes)
        calls.append(request.name)
        if request.name not in secrets:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Secret [{request.name}] not found")
        return types.AccessSecretVersionResponse.serialize(
            types.AccessSecretVersionResponse(
                name=request.name, payload=types.SecretPayload(data=secrets[request.name])
            )
        )

    handler = grpc.method_handlers_generic_handler(
        "google.cloud.secretmanager.v1.SecretManagerService",
        {"AccessSecretVersion": grpc.unary_unary_rpc_method_handler(access)},
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", secrets, calls
    server.stop(0)


def test_secret_manager_env_first_then_api_cached(
    secret_manager_server: tuple[str, dict[str, bytes], list[str]],
) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import secretmanager
    from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
        SecretManagerServiceGrpcTransport,
    )

    address, secrets, calls = secret_manager_server
    secrets["projects/p1/secrets/db-password/versions/latest"] = b"s3cret"
    transport = SecretManagerServiceGrpcTransport(
        channel=grpc.insecure_channel(address), credentials=AnonymousCredentials()
    )
    client = secretmanager.SecretManagerServiceClient(transport=transport)
    env = EnvSecrets({"QUANTRUN_SECRET_PROVIDER_KEY": "from-env"})
    store = SecretManagerSecrets(client, "p1", env=env, timeout=5)
    assert store.get("provider-key") == "from-env"  # Cloud Run's secret env var wins
    assert store.get("db-password") == "s3cret"
    assert store.get("db-password") == "s3cret"
    assert calls == ["projects/p1/secrets/db-password/versions/latest"]  # cached
    assert store.get("missing") is None


# -- OIDC push tokens --------------------------------------------------------------------


@pytest.fixture(scope="module")
def signer_and_certs() -> Iterator[tuple[Any, str]]:
    with google_signer() as rig:
        yield rig


def _token(signer: Any, **claims: Any) -> str:
    push = {"aud": "https://worker.example", "email": "push@p1.iam.gserviceaccount.com"}
    return google_id_token(signer, **{**push, **claims})


def test_push_tokens_are_verified(signer_and_certs: tuple[Any, str]) -> None:
    signer, certs = signer_and_certs
    ok = {
        "audience": "https://worker.example",
        "email": "push@p1.iam.gserviceaccount.com",
        "certs": GoogleCerts(certs),
    }
    claims = verify_push_token(f"Bearer {_token(signer)}", **ok)
    assert claims["email"] == "push@p1.iam.gserviceaccount.com"
    bad = [
        None,
        "Basic abc",
        f"Bearer {_token(signer, aud='https://elsewhere')}",
        f"Bearer {_token(signer, email='intruder@evil.example')}",
        f"Bearer {_token(signer, iss='https://evil.example')}",
        f"Bearer {_token(signer, exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)}",
        f"Bearer {_token(signer)[:-4]}AAAA",
    ]
    for header in bad:
        with pytest.raises(InvalidPushToken):
            verify_push_token(header, **ok)


def test_push_certificates_are_fetched_once_and_a_fetch_failure_is_503(
    signer_and_certs: tuple[Any, str],
) -> None:
    """The worker verifies every push against certificates it holds (one fetch an hour,
    not one per push); when it holds none and cannot fetch them, the push is answered
    503 (a dependency is down), not 401 (a bad token), and verified once they are back."""
    from quantrun.adapters.gcp.oidc import OidcPushVerifier
    from quantrun_worker.push import create_push_app

    signer, url = signer_and_certs
    push = {"audience": "https://worker.example", "email": "push@p1.iam.gserviceaccount.com"}
    held = GoogleCerts(url)
    before = len(signer.fetches)
    for _ in range(20):
        verify_push_token(f"Bearer {_token(signer)}", **push, certs=held)
    assert len(signer.fetches) - before == 1

    async def push_with(verifier: OidcPushVerifier, token: str) -> httpx.Response:
        app = create_push_app(None, verifier)  # type: ignore[arg-type]  # refused before work
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            return await client.post(
                "/pubsub/push", json={}, headers={"Authorization": f"Bearer {token}"}
            )

    down = OidcPushVerifier(**push, certs=GoogleCerts("http://127.0.0.1:9/certs", timeout=1))
    answer = asyncio.run(push_with(down, _token(signer)))
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "unavailable"
    forged = asyncio.run(push_with(OidcPushVerifier(**push, certs=held), "a.b.c"))
    assert forged.status_code == 401


def test_the_push_verifier_is_offline_while_its_certificates_are_held_and_fresh() -> None:
    """What lets a worker verify a quick job's push on its event loop: no fetch is due."""
    from quantrun.adapters.gcp.oidc import OidcPushVerifier

    class Held(GoogleCerts):
        def _fetch(self) -> dict[str, str]:
            return {"kid-1": "PEM"}

    push = {"audience": "https://worker.example", "email": "push@p1.iam.gserviceaccount.com"}
    hourly, stale = Held("http://unused.example"), Held("http://unused.example", cache_seconds=0)
    verifier = OidcPushVerifier(**push, certs=hourly)
    assert not verifier.offline()  # none held yet: the first verify fetches them
    hourly.current(), stale.current()
    assert verifier.offline() and hourly.fresh()
    assert not stale.fresh()  # held, but due for a refresh


def test_a_failed_certificate_refresh_keeps_the_held_ones_without_retrying_each_call() -> None:
    """Past the hour, a refresh that fails serves the certificates held and waits a minute
    before trying again: requests do not each wait on a failing fetch."""
    fetched: list[float] = []

    class Flaky(GoogleCerts):
        def _fetch(self) -> dict[str, str]:
            fetched.append(time.monotonic())
            if len(fetched) > 1:
                raise ValueError("certificate endpoint down")
            return {"kid-1": "PEM"}

    certs = Flaky("http://unused.example", cache_seconds=0.0)
    assert certs.current() == {"kid-1": "PEM"}
    for _ in range(20):
        assert certs.current() == {"kid-1": "PEM"}
    assert len(fetched) == 2  # the first fetch, one failed refresh, then a minute's rest
