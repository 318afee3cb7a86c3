"""Strategies and schedules (CONTRACT 5.5).

A strategy is a job template validated as a job would be (the model reads price history,
its params parse, its symbols have prices, its cost is within the job limit), so a job
made from it later fails only if the data changed. A schedule fires a strategy on a cron
expression in a time zone (``domain/cron.py``). A tick submits, for each schedule of an
active strategy, the latest fire time due since the one before (so a missed tick catches
up one fire time, not all of them) with the Idempotency-Key ``schedule:<id>:<fire time>``:
two ticks, on one instance or several, make one job per fire time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from quantrun.app.audit import entry
from quantrun.app.limits import check_cost
from quantrun.app.owned import admitted, found, removed
from quantrun.app.submit import KnownSymbols, resolve_spec, submit_job, validate_params
from quantrun.domain.cron import Cron, CronError
from quantrun.domain.errors import InvalidInput, QuantRunError
from quantrun.domain.jobs import Job
from quantrun.domain.strategies import Schedule, Strategy
from quantrun.domain.users import User
from quantrun.logging import get_logger
from quantrun.ports import JobQueue, JobStore, StrategyStore

log = get_logger(__name__)


@dataclass(frozen=True)
class JobRules:
    """What a job made from a strategy is held to (the submit route's limits)."""

    store: JobStore
    queue: JobQueue
    known: KnownSymbols
    submit_limits: dict[str, Any]
    max_cost: float


def checked_template(model: str, params: dict[str, Any], rules: JobRules) -> dict[str, Any]:
    """The params as a job of ``model`` would store them; raises what a submit would."""
    spec = resolve_spec(model)
    if "symbols" not in spec.params.model_fields:  # the history models name their symbols
        raise InvalidInput(
            f"{model} reads no price history: a strategy is a template for a model that does",
            field="model",
        )
    parsed = validate_params(spec, params, rules.known)  # pydantic's ValidationError: 422
    check_cost(spec, parsed, limit=rules.max_cost, what="job")
    return parsed.model_dump(mode="json")


def create(
    *,
    store: StrategyStore,
    user: User,
    name: str,
    model: str,
    params: dict[str, Any],
    active: bool,
    rules: JobRules,
    now: datetime,
    most: int | None = None,
) -> Strategy:
    """A new strategy, checked as a job is; ``QuotaExceeded`` when the user already has
    ``most``."""
    strategy = Strategy(
        id=str(uuid.uuid4()),
        user_id=user.id,
        name=name,
        model=model,
        params=checked_template(model, params, rules),
        active=active,
        created_at=now,
        updated_at=now,
    )
    audit = entry(user, "strategy.create", strategy.id, now, name=name, model=model)
    admitted(store.add_strategy(strategy, most=most, audit=audit), "strategies", most, now)
    return strategy


def get(store: StrategyStore, user: User, strategy_id: str) -> Strategy:
    return found(store.strategy(strategy_id, user.id), f"strategy {strategy_id}")


def update(
    *,
    store: StrategyStore,
    user: User,
    strategy_id: str,
    changes: dict[str, Any],
    rules: JobRules,
    now: datetime,
) -> Strategy:
    """Change some of name, model, params, active; a new model or params is checked as
    a new strategy is."""
    current = get(store, user, strategy_id)
    changed = replace(current, **changes, updated_at=now)
    if "model" in changes or "params" in changes:
        changed = replace(changed, params=checked_template(changed.model, changed.params, rules))
    audit = entry(user, "strategy.update", strategy_id, now, changed=sorted(changes))
    removed(store.update_strategy(changed, audit=audit), f"strategy {strategy_id}")
    return changed


def delete(store: StrategyStore, user: User, strategy_id: str, now: datetime) -> None:
    audit = entry(user, "strategy.delete", strategy_id, now)
    done = store.delete_strategy(strategy_id, user.id, now=now, audit=audit)
    removed(done, f"strategy {strategy_id}")


def submit_from(
    *,
    strategies: StrategyStore,
    user: User,
    strategy_id: str,
    rules: JobRules,
    now: datetime,
    idempotency_key: str | None = None,
    schedule_id: str | None = None,
    shards: int | None = None,
    trace: str | None = None,
) -> tuple[Job, bool]:
    """Submit the strategy's job (checked again: prices or limits may have changed)."""
    strategy = found(strategies.strategy(strategy_id, user.id), f"strategy {strategy_id}",
                     field="strategy_id")  # fmt: skip
    return submit_job(
        store=rules.store,
        queue=rules.queue,
        known=rules.known,
        user=user,
        model=strategy.model,
        params=strategy.params,
        idempotency_key=idempotency_key,
        now=now,
        shards=shards,
        strategy_id=strategy.id,
        schedule_id=schedule_id,
        trace=trace,
        **rules.submit_limits,
    )


def parse_cron(expression: str, timezone: str) -> Cron:
    try:
        return Cron.parse(expression, timezone)
    except CronError as exc:
        field = "timezone" if "time zone" in str(exc) else "cron"
        raise InvalidInput(f"{field}: {exc}", field=field) from None


def add_schedule(
    *,
    store: StrategyStore,
    user: User,
    strategy_id: str,
    cron: str,
    timezone: str,
    now: datetime,
    most: int | None = None,
) -> Schedule:
    """A schedule of the user's strategy; ``QuotaExceeded`` when they have ``most``."""
    parse_cron(cron, timezone)
    found(store.strategy(strategy_id, user.id), f"strategy {strategy_id}", field="strategy_id")
    schedule = Schedule(
        id=str(uuid.uuid4()),
        user_id=user.id,
        strategy_id=strategy_id,
        cron=cron,
        timezone=timezone,
        created_at=now,
    )
    audit = entry(user, "schedule.create", schedule.id, now, strategy_id=strategy_id,
                  cron=cron, timezone=timezone)  # fmt: skip
    admitted(store.add_schedule(schedule, most=most, audit=audit), "schedules", most, now)
    return schedule


def get_schedule(store: StrategyStore, user: User, schedule_id: str) -> Schedule:
    return found(store.schedule(schedule_id, user.id), f"schedule {schedule_id}")


def delete_schedule(store: StrategyStore, user: User, schedule_id: str, now: datetime) -> None:
    audit = entry(user, "schedule.delete", schedule_id, now)
    done = store.delete_schedule(schedule_id, user.id, now=now, audit=audit)
    removed(done, f"schedule {schedule_id}")


def next_fires(schedule: Schedule, now: datetime, count: int = 5) -> list[datetime]:
    start = max(now, schedule.last_fire_at or schedule.created_at)
    return Cron.parse(schedule.cron, schedule.timezone).next(start, count)


def tick(
    *, strategies: StrategyStore, users: JobStore, rules: JobRules, now: datetime
) -> list[Job]:
    """Submit each live schedule's latest fire time due since its last one; the jobs
    made (a fire time another tick took is not made again)."""
    made = []
    for schedule in strategies.live_schedules():
        cron = Cron.parse(schedule.cron, schedule.timezone)
        fire = cron.latest(schedule.last_fire_at or schedule.created_at, now)
        if fire is None:
            continue
        fields = {"schedule_id": schedule.id, "fire_at": fire.isoformat()}
        user = users.user_by_id(schedule.user_id)
        if user is None:
            continue
        try:
            job, created = submit_from(
                strategies=strategies,
                user=user,
                strategy_id=schedule.strategy_id,
                rules=rules,
                now=now,
                idempotency_key=f"schedule:{schedule.id}:{fire.isoformat()}",
                schedule_id=schedule.id,
            )
        except (QuantRunError, ValidationError) as exc:
            # the strategy no longer makes a valid job (data, limits, quota): this fire
            # time is passed over, and said so; the next one tries again
            log.warning(
                "scheduled job not submitted", extra={"fields": {**fields, "reason": str(exc)}}
            )
            strategies.take_fire(schedule, fire)
            continue
        strategies.take_fire(schedule, fire)
        if created:
            made.append(job)
            log.info("scheduled job submitted", extra={"fields": {**fields, "job_id": job.id}})
    return made
