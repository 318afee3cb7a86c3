"""A pushed quick job runs on the request's own thread (the event loop's), any other
job in the worker's thread pool, as does a quick one while verifying the push token
would need a network call (``services/worker/quantrun_worker/push.py``)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from quantrun.adapters.gcp.oidc import AcceptAll
from quantrun.app.submit import submit_job
from quantrun.bootstrap import Container, bootstrap
from quantrun.clock import utcnow
from quantrun.domain.jobs import JobStatus
from quantrun.settings import Settings
from quantrun_worker.push import create_push_app
from tests.fakes import FakeQueue

BS = {"type": "call", "spot": 100, "strike": 100, "maturity": 1, "rate": 0.05, "volatility": 0.2}


class CertificatesDue(AcceptAll):
    """A verifier whose certificates are due for a refresh: verifying would fetch them."""

    def offline(self) -> bool:
        return False


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    built = bootstrap(Settings(data_dir=tmp_path))
    yield built
    built.close()


def _pushed(container: Container, verifier: AcceptAll, *, quick: bool) -> tuple[str, int]:
    """Submit a black_scholes job, push its message (marked quick or not); the job's id
    and the push's status."""
    job, _ = submit_job(
        store=container.store,
        queue=FakeQueue(),
        known=container.known_symbols,
        user=container.store.get_or_create_user("quick"),
        model="black_scholes",
        params=BS,
        idempotency_key=None,
        now=utcnow(),
    )
    attributes = {"job_id": job.id, **({"quick": "true"} if quick else {})}
    data = base64.b64encode(json.dumps({"job_id": job.id}).encode()).decode()
    envelope = {"message": {"data": data, "attributes": attributes, "messageId": "m1"}}

    async def push() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_push_app(container, verifier))
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            return await client.post("/pubsub/push", json=envelope)

    return job.id, asyncio.run(push()).status_code


def _finished_on(caplog: pytest.LogCaptureFixture, job_id: str) -> int:
    """The thread that logged the job's finish."""
    (record,) = [
        r
        for r in caplog.records
        if r.getMessage() == "job finished" and r.__dict__["fields"]["job_id"] == job_id
    ]
    return record.thread  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("quick", "verifier", "on_the_loop"),
    [
        (True, AcceptAll(), True),
        (False, AcceptAll(), False),
        (True, CertificatesDue(), False),
    ],
    ids=["quick", "not-quick", "quick-certificates-due"],
)
def test_where_a_pushed_job_runs(
    container: Container,
    caplog: pytest.LogCaptureFixture,
    quick: bool,
    verifier: AcceptAll,
    on_the_loop: bool,
) -> None:
    caplog.set_level(logging.INFO, logger="quantrun")
    job_id, status = _pushed(container, verifier, quick=quick)
    assert status == 204
    job = container.store.get_job(job_id)
    assert job is not None and job.status == JobStatus.SUCCEEDED
    # Hull, Options, Futures and Other Derivatives: S = K = 100, T = 1, r = 5%, sigma = 20%
    assert job.result is not None and job.result["price"] == pytest.approx(10.4506, abs=1e-4)
    # asyncio.run ran the app's event loop on this thread
    assert (_finished_on(caplog, job_id) == threading.get_ident()) is on_the_loop
