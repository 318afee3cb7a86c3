"""The job store against the domain's transition table, on every engine (SQLite,
PostgreSQL through the prepared-statement dialect and through the stock one).

For each transition, each state a job can be in and each lease it can hold, the store
must move the job exactly when ``TRANSITIONS`` allows it, into one of the transition's
target states, and record the event the table asks for (with the state it really had).
Nothing here restates a rule: the expectations come from the table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from quantrun.adapters.sql.job_store import SqlJobStore
from quantrun.adapters.sql.schema import jobs, outbox
from quantrun.domain.jobs import (
    TRANSITIONS,
    ClaimOutcome,
    JobEnd,
    JobError,
    JobStatus,
    LeaseState,
)
from tests.integration.helpers import queued_job
from tests.integration.test_job_store import T0

ME, OTHER = "worker-me", "worker-other"
LEASES: dict[LeaseState, tuple[str | None, Any]] = {
    LeaseState.NONE: (None, None),
    LeaseState.EXPIRED: (OTHER, T0 - timedelta(minutes=1)),
    LeaseState.MINE: (ME, T0 + timedelta(minutes=1)),
    LeaseState.OTHERS: (OTHER, T0 + timedelta(minutes=1)),
}


def _attempt(store: SqlJobStore, name: str, job_id: str, user_id: str) -> bool:
    """Run one transition as its caller would (as ``ME``, at ``T0``); did the job move?"""
    later = T0 + timedelta(minutes=5)
    calls: dict[str, Callable[[], Any]] = {
        "claim": lambda: (
            store.claim(job_id, worker=ME, now=T0, lease_until=later, max_attempts=3).outcome
            == ClaimOutcome.CLAIMED
        ),
        "renew": lambda: store.heartbeat(job_id, worker=ME, progress=0.5, lease_until=later),
        "finish": lambda: store.finish(job_id, JobEnd.succeeded({"x": 1}), worker=ME, now=T0),
        "fail": lambda: store.fail(job_id, now=T0, error=JobError("boom", "it broke")),
        "dead_letter": lambda: store.dead_letter(job_id, now=T0, error=JobError("dead", "gone")),
        "cancel": lambda: store.cancel(job_id, user_id=user_id, now=T0) is not None,
        "requeue": lambda: store.requeue(job_id, now=T0),
        "release": lambda: store.release(job_id, worker=ME, now=T0),
        "hand_off": lambda: store.hand_off(job_id, worker=ME, now=T0),
        "start_shards": lambda: store.start_shards(job_id, now=T0),
    }
    return bool(calls[name]())


def _put_in_state(engine: Engine, job_id: str, status: JobStatus, lease: LeaseState) -> None:
    owner, expires = LEASES[lease]
    with engine.begin() as conn:
        conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(status=status.value, lease_owner=owner, lease_expires_at=expires, attempts=1)
        )


def _outbox_rows(engine: Engine, job_id: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.job_id == job_id)
            ).scalar_one()
        )


@pytest.mark.parametrize("outbox_mode", [False, True], ids=["embedded", "gcp-outbox"])
def test_every_transition_moves_exactly_when_the_table_allows(
    engine: Engine, outbox_mode: bool
) -> None:
    store = SqlJobStore(engine, outbox=outbox_mode)
    user_id = store.get_or_create_user("alice").id
    wrong: list[str] = []
    for name, rule in TRANSITIONS.items():
        for status in JobStatus:
            for lease in LeaseState:
                job = queued_job(store, user_id)
                _put_in_state(engine, job.id, status, lease)
                events_before = len(store.events(job.id))
                outbox_before = _outbox_rows(engine, job.id)
                moved = _attempt(store, name, job.id, user_id)
                case = f"{name} from {status.value} with lease {lease.value}"
                expected = rule.allows(status, lease)
                if moved != expected:
                    wrong.append(f"{case}: moved={moved}, table says {expected}")
                    continue
                after = store.get_job(job.id)
                assert after is not None
                events = store.events(job.id)[events_before:]
                if not moved:
                    if after.status != status or events:
                        wrong.append(f"{case}: refused, yet the job changed or an event")
                    continue
                if after.status not in rule.targets:
                    wrong.append(f"{case}: ended {after.status.value}")
                wants_event = rule.records_event and (
                    rule.event_on_same_status or after.status != status
                )
                got = [(e.from_status, e.to_status) for e in events]
                if got != ([(status, after.status)] if wants_event else []):
                    wrong.append(f"{case}: events {got}")
                queued_rows = _outbox_rows(engine, job.id) - outbox_before
                if queued_rows != int(outbox_mode and rule.enqueues):
                    wrong.append(f"{case}: {queued_rows} outbox rows")
    assert wrong == []


def test_only_the_owner_cancels_and_only_with_attempts_left_a_claim_moves(
    store: SqlJobStore,
) -> None:
    alice = store.get_or_create_user("alice").id
    bob = store.get_or_create_user("bob").id
    job = queued_job(store, alice)
    assert TRANSITIONS["cancel"].owner_only
    assert store.cancel(job.id, user_id=bob, now=T0) is None
    assert TRANSITIONS["claim"].needs_attempts_left
    claim = store.claim(job.id, worker=ME, now=T0, lease_until=T0, max_attempts=0)
    assert claim.outcome == ClaimOutcome.ATTEMPTS_EXHAUSTED
    assert store.cancel(job.id, user_id=alice, now=T0) is not None
