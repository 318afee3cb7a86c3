"""Faults under load on the emulator stack (#14): while clients submit a steady stream of
jobs, a dependency goes away and comes back. Afterwards no job is lost, none completed
twice, every accepted job succeeds within two minutes of the fault clearing, and no
client saw a 500 (an outage is a 503, which a client retries with its Idempotency-Key).
The time to recover is printed."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from devtools.jobs import wait_for_job
from devtools.stack import Stack, provision, start_stack
from quantrun.adapters.sql.engine import make_engine
from quantrun.adapters.sql.job_store import SqlJobStore
from quantrun.domain.jobs import JobStatus

RATE = 50  # jobs a second offered
SECONDS = 12
FAULT_AT, FAULT_FOR = 4.0, 3.0
BS = {"type": "call", "spot": 100, "strike": 100, "maturity": 1, "rate": 0.01, "volatility": 0.2}


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    # its own PostgreSQL and emulators: the faults must not reach other tests' stacks
    s = start_stack(
        sample_symbols=["AAPL"],
        # the emulator redelivers a failed push after the ack deadline (it has no retry
        # policy): short, so recovery is measured in seconds, not in minutes
        ack_deadline=10,
        service_env={
            "QUANTRUN_LEASE_SECONDS": "2",
            "QUANTRUN_MAX_ATTEMPTS": "5",
            "QUANTRUN_OUTBOX_INTERVAL_SECONDS": "2",
            "QUANTRUN_RATE_REQUESTS_PER_SECOND": "0",
        },
    )
    try:
        yield s
    finally:
        s.stop()


class SteadyClients:
    """Submit RATE jobs a second for SECONDS; a refused or failed submit is retried with
    the same Idempotency-Key until accepted (as a careful client does)."""

    def __init__(self, stack: Stack, key: str) -> None:
        self.url, self.key = stack.api_url, key
        self.accepted: dict[str, str] = {}  # idempotency key -> job id
        self.statuses: list[int] = []
        self.first_accept_after: dict[float, float] = {}
        self._lock = threading.Lock()

    def submit(self, idem: str, deadline: float) -> None:
        headers = {"Authorization": f"Bearer {self.key}", "Idempotency-Key": idem}
        while time.monotonic() < deadline:
            try:
                r = httpx.post(
                    f"{self.url}/v1/jobs",
                    json={"model": "black_scholes", "params": BS},
                    headers=headers,
                    timeout=10,
                )
            except httpx.HTTPError:
                time.sleep(0.2)
                continue
            with self._lock:
                self.statuses.append(r.status_code)
            if r.status_code in (200, 202):
                with self._lock:
                    self.accepted[idem] = r.json()["id"]
                return
            time.sleep(0.2)

    def run(self) -> None:
        started = time.monotonic()
        threads = []
        for i in range(RATE * SECONDS):
            due = started + i / RATE
            time.sleep(max(0.0, due - time.monotonic()))
            t = threading.Thread(target=self.submit, args=(str(uuid.uuid4()), due + 60))
            t.start()
            threads.append(t)
        for t in threads:
            t.join()


def under_load(stack: Stack, fault: Callable[[], None], heal: Callable[[], None]) -> None:
    key = stack.create_key(f"faults-{uuid.uuid4().hex[:6]}")
    clients = SteadyClients(stack, key)
    loader = threading.Thread(target=clients.run)
    loader.start()
    time.sleep(FAULT_AT)
    fault()
    time.sleep(FAULT_FOR)
    heal()
    cleared = time.monotonic()
    loader.join()
    assert 500 not in clients.statuses and len(clients.accepted) == RATE * SECONDS
    engine = make_engine(stack.env["QUANTRUN_DATABASE_URL"])
    store = SqlJobStore(engine)
    with httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as client:
        last_done = cleared
        for job_id in clients.accepted.values():
            remaining = max(1.0, 120 - (time.monotonic() - cleared))
            done = wait_for_job(
                client, job_id, timeout=remaining, interval=0.2, between=sweep(stack)
            )
            assert done["status"] == "succeeded", done
            last_done = max(last_done, time.monotonic())
        twice = [
            j
            for j in clients.accepted.values()
            if [e.to_status for e in store.events(j)].count(JobStatus.SUCCEEDED) != 1
        ]
    engine.dispose()
    assert twice == []
    refused = sum(1 for s in clients.statuses if s == 503)
    print(
        f"\n{RATE * SECONDS} jobs, {refused} submits answered 503 during the fault; "
        f"every job done {last_done - cleared:.1f} s after it cleared"
    )


def sweep(stack: Stack) -> Callable[[], Any]:
    def run() -> None:  # what Cloud Scheduler does in production
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{stack.worker_url}/tasks/reclaim", timeout=10)

    return run


def test_postgresql_stopping_and_starting_again_under_load(stack: Stack) -> None:
    under_load(stack, stack.postgres.halt, stack.postgres.resume)


def _replace_worker(stack: Stack, sig: signal.Signals) -> tuple[Callable[[], None], ...]:
    def fault() -> None:
        assert stack.worker is not None
        stack.worker.stop(sig)  # SIGTERM: its jobs are given back; SIGKILL: leases expire

    def heal() -> None:
        stack.start_worker()

    return fault, heal


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_the_worker_killed_or_stopped_under_load(stack: Stack, sig: signal.Signals) -> None:
    under_load(stack, *_replace_worker(stack, sig))


def test_the_pubsub_emulator_restarting_under_load(stack: Stack) -> None:
    """Pub/Sub away and back, empty (the emulator keeps nothing): the outbox holds what
    the API could not publish, the topics and subscriptions are provisioned again (as
    Terraform's would still exist), and the sweep republishes what was lost in flight."""

    def heal() -> None:
        stack.emulators.start_pubsub()
        provision(stack.env, stack.names, stack.worker_url, load_sample=False)

    under_load(stack, stack.emulators.stop_pubsub, heal)
