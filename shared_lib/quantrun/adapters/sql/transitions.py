"""Job state transitions as SQL, derived from the domain's table (``TRANSITIONS``).

Each transition is written once, here, as data: the guard comes from the table (which
states it starts from, what the lease must be, attempts left, the owner), plus what it
sets and the reason its event records. A runner, chosen once per engine, turns it into
statements:

- PostgreSQL: one statement of data-modifying CTEs (the guarded UPDATE, its event row
  and, where the job goes on the queue in gcp mode, its outbox row), run in autocommit:
  one round trip, still atomic. A transition with several source states reads the
  previous state in a ``FOR UPDATE`` CTE, so the event says what the job really was.
- SQLite (embedded mode, which has no data-modifying CTEs): the same guard, UPDATE and
  inserts as statements in one transaction; the UPDATE also requires the state it read,
  so a writer that moved the job in between makes it look again, never lose an update.

A transition that ends a job (``Transition.ends_job``) also takes it off its user's
active count in ``job_quotas`` (a shard counts nothing: its job does), and creating a
job adds to the counts only within the quota (an upsert whose guard is the limits), in
the same statement or transaction: the counts are exact on any number of instances.

Either way a transition the table does not allow updates no row, and the runner
returns None. Statements are built once with bound parameters (``p_*``): building a
CTE costs more CPU than running it. The runners are in ``runners.py``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    or_,
    update,
)

from quantrun.adapters.sql.schema import UTCDateTime, job_events, job_quotas, jobs, outbox
from quantrun.domain.jobs import INITIAL_STATUS, TRANSITIONS, LeaseRule, Transition

EVENT_COLUMNS = ["job_id", "at", "from_status", "to_status", "reason"]
OUTBOX_COLUMNS = ["job_id", "created_at", "attempts"]
MAX_REASON = 2000  # characters of an event's reason kept (an error message can be long)


class Bind:
    """The bound parameters the statements share (values are given at execution)."""

    job_id = bindparam("p_job_id", type_=String)
    now = bindparam("p_now", type_=UTCDateTime())
    worker = bindparam("p_worker", type_=String)
    max_attempts = bindparam("p_max_attempts", type_=Integer)
    user_id = bindparam("p_user_id", type_=String)
    reason = bindparam("p_reason", type_=String)
    status = bindparam("p_status", type_=String)
    previous = bindparam("p_previous", type_=String)
    previous_owner = bindparam("p_previous_owner", type_=String)
    day = bindparam("p_day", type_=Date)
    max_active = bindparam("p_max_active", type_=Integer)
    max_per_day = bindparam("p_max_per_day", type_=Integer)

    @staticmethod
    def of(column: str) -> Any:
        return bindparam(f"p_{column}", type_=jobs.c[column].type)


def guard(rule: Transition) -> ColumnElement[bool]:
    """The WHERE clause of a transition, from the domain's table."""
    allowed = []
    for status, lease in rule.sources.items():
        clause = jobs.c.status == status.value
        if lease is LeaseRule.EXPIRED:
            clause = and_(clause, jobs.c.lease_expires_at < Bind.now)
        elif lease is LeaseRule.HELD:
            clause = and_(clause, jobs.c.lease_owner == Bind.worker)
        allowed.append(clause)
    clauses = [jobs.c.id == Bind.job_id, or_(*allowed)]
    if rule.needs_attempts_left:
        clauses.append(jobs.c.attempts < Bind.max_attempts)
    if rule.owner_only:
        clauses.append(jobs.c.user_id == Bind.user_id)
    return and_(*clauses)


_RELEASE = {"lease_owner": None, "lease_expires_at": None}


@dataclass(frozen=True)
class SqlTransition:
    rule: Transition
    # the SET clause but the status, which comes from the table (bound parameters or SQL)
    changes: Callable[[], dict[str, Any]]
    # the event's reason, from the moved row's columns and the lease owner it had
    reason: Callable[[Any, Any], ColumnElement[str]] = lambda _c, _owner: func.substr(
        Bind.reason, 1, MAX_REASON
    )
    # return every column (the use case reads the job), or just the id and status
    returns_row: bool = False

    def columns(self) -> list[Any]:
        if self.returns_row:
            return list(jobs.c)
        return [jobs.c.id, jobs.c.status, jobs.c.user_id, jobs.c.parent_id]

    def values(self) -> dict[str, Any]:
        """The SET clause: the changes, and the status the table says the job ends in (a
        bound ``p_status`` where it may end in several; none where it stays put)."""
        targets = self.rule.targets
        if targets == set(self.rule.sources):
            return self.changes()
        status = next(iter(targets)).value if len(targets) == 1 else Bind.status
        return {**self.changes(), "status": status}


_FINISHED = {"finished_at": Bind.now, "updated_at": Bind.now, **_RELEASE}
_FAILED = {**_FINISHED, "error": Bind.of("error")}
# a running job given back to the queue by its worker: its attempt not counted
_GIVEN_BACK = {
    "updated_at": Bind.now,
    **_RELEASE,
    "attempts": case((jobs.c.attempts > 0, jobs.c.attempts - 1), else_=0),
}


def _claimed_reason(c: Any, owner: Any) -> ColumnElement[str]:
    # a running job is claimed only once its lease expired: the reason says whose (a
    # queued one has no owner, and the NULL leaves the suffix out)
    expired = literal(" after the lease of ", String) + owner + literal(" expired", String)
    return (
        literal("claimed by ", String)
        + Bind.worker
        + literal(" (attempt ", String)
        + cast(c.attempts, String)
        + literal(")", String)
        + func.coalesce(expired, literal("", String))
    )


def _requeued_reason(_c: Any, owner: Any) -> ColumnElement[str]:
    # the update clears the lease: the reason names the worker it expired on
    named = func.coalesce(owner, literal("its worker", String))
    return literal("lease of ", String) + named + literal(" expired; requeued", String)


SQL: Mapping[str, SqlTransition] = {
    "claim": SqlTransition(
        TRANSITIONS["claim"],
        lambda: {
            "lease_owner": Bind.worker,
            "lease_expires_at": Bind.of("lease_expires_at"),
            "attempts": jobs.c.attempts + 1,
            "started_at": func.coalesce(jobs.c.started_at, Bind.now),
            "updated_at": Bind.now,
        },
        _claimed_reason,
        returns_row=True,
    ),
    "renew": SqlTransition(
        TRANSITIONS["renew"],
        lambda: {
            "lease_expires_at": Bind.of("lease_expires_at"),
            "progress": func.coalesce(Bind.of("progress"), jobs.c.progress),
        },
    ),
    "finish": SqlTransition(
        TRANSITIONS["finish"],
        lambda: {
            **_FINISHED,
            "result": Bind.of("result"),
            "error": Bind.of("error"),
            "artifacts": Bind.of("artifacts"),
            "manifest": Bind.of("manifest"),
            # a failed job keeps the progress it reached
            "progress": func.coalesce(Bind.of("progress"), jobs.c.progress),
        },
    ),
    "fail": SqlTransition(TRANSITIONS["fail"], lambda: _FAILED),
    "dead_letter": SqlTransition(TRANSITIONS["dead_letter"], lambda: _FAILED),
    "cancel": SqlTransition(TRANSITIONS["cancel"], lambda: _FINISHED, returns_row=True),
    "release": SqlTransition(
        TRANSITIONS["release"],
        lambda: _GIVEN_BACK,
        lambda _c, _owner: (
            literal("released by ", String)
            + Bind.worker
            + literal(" at shutdown; requeued", String)
        ),
    ),
    "hand_off": SqlTransition(
        TRANSITIONS["hand_off"],
        lambda: _GIVEN_BACK,
        lambda _c, _owner: (
            literal("handed by ", String) + Bind.worker + literal(" to the long-jobs queue", String)
        ),
    ),
    "requeue": SqlTransition(
        TRANSITIONS["requeue"], lambda: {"updated_at": Bind.now, **_RELEASE}, _requeued_reason
    ),
    "start_shards": SqlTransition(
        TRANSITIONS["start_shards"],
        lambda: {"started_at": Bind.now, "updated_at": Bind.now},
        lambda _c, _owner: literal("first shard started", String),
    ),
}


def released_quota(user_id: Any) -> Any:
    """The ended job's user has one active job fewer."""
    active = job_quotas.c.active
    return (
        update(job_quotas)
        .where(job_quotas.c.user_id == user_id)
        .values(active=case((active > 0, active - 1), else_=0))
    )


def counted_submit(dialect_insert: Callable[[Any], Any]) -> Any:
    """Count a new job for its user (``p_user_id``) if both quotas allow it: returns the
    user's id, or no row when a quota is full. A new UTC day (``p_day``) starts the day's
    count again. ``dialect_insert`` is PostgreSQL's or SQLite's ``insert`` (upserts)."""
    q = job_quotas.c
    first = dialect_insert(job_quotas).values(
        user_id=Bind.of("user_id"), active=1, day=Bind.day, submitted=1
    )
    same_day = q.day == first.excluded.day
    return first.on_conflict_do_update(
        index_elements=[q.user_id],
        set_={
            "active": q.active + 1,
            "submitted": case((same_day, q.submitted + 1), else_=1),
            "day": first.excluded.day,
        },
        where=and_(q.active < Bind.max_active, or_(~same_day, q.submitted < Bind.max_per_day)),
    ).returning(q.user_id)


# columns a new job leaves NULL until it runs
_SET_LATER = {"started_at", "finished_at", "lease_owner", "lease_expires_at", "result", "error"}
CREATE_COLUMNS = [c.name for c in jobs.c if c.name not in _SET_LATER]


@functools.cache
def create_statements(with_outbox: bool) -> tuple[Any, ...]:
    # bind names differ from column names: SQLAlchemy reserves those for VALUES
    job = insert(jobs).values(**{name: Bind.of(name) for name in CREATE_COLUMNS})
    event = insert(job_events).values(
        job_id=Bind.of("id"),
        at=Bind.of("created_at"),
        from_status=None,
        to_status=INITIAL_STATUS.value,
        reason="submitted",
    )
    statements = [job, event]
    if with_outbox:
        statements.append(
            insert(outbox).values(
                job_id=Bind.of("id"), created_at=Bind.of("created_at"), attempts=0
            )
        )
    return tuple(statements)
