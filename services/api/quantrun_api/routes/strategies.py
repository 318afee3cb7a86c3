"""The caller's strategies and schedules (CONTRACT 5.5)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from quantrun.app import levels, signals, strategies
from quantrun.clock import utcnow
from quantrun_api.deps import ContainerDep, CurrentUser
from quantrun_api.responses import NO_CONTENT, errors
from quantrun_api.strategy_schemas import (
    ChangeStrategy,
    CreateSchedule,
    CreateStrategy,
    LevelsOut,
    ScheduleOut,
    SignalsOut,
    StrategyOut,
)

router = APIRouter(prefix="/v1", tags=["strategies"])

_ERRORS = errors(401)
_MISSING = errors(401, 404)
_INVALID = errors(401, 404, 413, 422)
_OVER_CAP = (429, "`quota_exceeded`: you have the most a user may (the quota named)")
_CHECKED = errors(401, 404, 422)


@router.post(
    "/strategies",
    status_code=201,
    response_model=StrategyOut,
    summary="Save a strategy: a job template checked as a job is",
    responses=errors(401, 404, 413, 422, _OVER_CAP),
)
def post_strategy(body: CreateStrategy, user: CurrentUser, container: ContainerDep) -> StrategyOut:
    made = strategies.create(
        store=container.strategies,
        user=user,
        name=body.name,
        model=body.model,
        params=body.params,
        active=body.active,
        rules=container.job_rules,
        now=utcnow(),
        most=container.settings.limits.max_strategies,
    )
    return StrategyOut.from_strategy(made)


@router.get(
    "/strategies", response_model=list[StrategyOut], summary="Your strategies", responses=_ERRORS
)
def get_strategies(user: CurrentUser, container: ContainerDep) -> list[StrategyOut]:
    return [StrategyOut.from_strategy(s) for s in container.strategies.strategies(user.id)]


@router.get(
    "/strategies/{strategy_id}",
    response_model=StrategyOut,
    summary="A strategy",
    responses=_MISSING,
)
def get_strategy(strategy_id: str, user: CurrentUser, container: ContainerDep) -> StrategyOut:
    return StrategyOut.from_strategy(strategies.get(container.strategies, user, strategy_id))


@router.patch(
    "/strategies/{strategy_id}",
    response_model=StrategyOut,
    summary="Change a strategy's name, model, params or active flag",
    responses=_INVALID,
)
def patch_strategy(
    strategy_id: str, body: ChangeStrategy, user: CurrentUser, container: ContainerDep
) -> StrategyOut:
    changed = strategies.update(
        store=container.strategies,
        user=user,
        strategy_id=strategy_id,
        changes=body.model_dump(exclude_none=True),
        rules=container.job_rules,
        now=utcnow(),
    )
    return StrategyOut.from_strategy(changed)


@router.delete(
    "/strategies/{strategy_id}",
    **NO_CONTENT,
    summary="Delete a strategy and its schedules",
    responses=_MISSING,
)
def delete_strategy(strategy_id: str, user: CurrentUser, container: ContainerDep) -> None:
    strategies.delete(container.strategies, user, strategy_id, utcnow())


@router.get(
    "/strategies/{strategy_id}/signals",
    response_model=SignalsOut,
    summary="A backtest strategy's signals on a date: BUY, SELL or HOLD per symbol",
    responses=_CHECKED,
)
def get_signals(
    strategy_id: str,
    user: CurrentUser,
    container: ContainerDep,
    day: Annotated[
        date | None,
        Query(alias="date", description="the trading day (or the last before it); default: latest"),
    ] = None,
) -> SignalsOut:
    found = signals.strategy_signals(
        strategies=container.strategies,
        prices=container.prices,
        user=user,
        strategy_id=strategy_id,
        day=day,
    )
    return SignalsOut.model_validate(found)


@router.get(
    "/strategies/{strategy_id}/levels",
    response_model=LevelsOut,
    summary="An index strategy's levels, stitched across its runs",
    responses=_CHECKED,
)
def get_levels(strategy_id: str, user: CurrentUser, container: ContainerDep) -> LevelsOut:
    found = levels.strategy_levels(
        strategies=container.strategies, jobs=container.store, user=user, strategy_id=strategy_id
    )
    return LevelsOut.model_validate(found)


def _schedule_out(schedule: Any) -> ScheduleOut:
    return ScheduleOut.from_schedule(schedule, strategies.next_fires(schedule, utcnow()))


@router.post(
    "/schedules",
    status_code=201,
    response_model=ScheduleOut,
    summary="Run a strategy on a cron schedule in a time zone",
    responses=errors(401, 404, 422, _OVER_CAP),
)
def post_schedule(body: CreateSchedule, user: CurrentUser, container: ContainerDep) -> ScheduleOut:
    made = strategies.add_schedule(
        store=container.strategies,
        user=user,
        strategy_id=body.strategy_id,
        cron=body.cron,
        timezone=body.timezone,
        now=utcnow(),
        most=container.settings.limits.max_schedules,
    )
    return _schedule_out(made)


@router.get(
    "/schedules", response_model=list[ScheduleOut], summary="Your schedules", responses=_ERRORS
)
def get_schedules(user: CurrentUser, container: ContainerDep) -> list[ScheduleOut]:
    return [_schedule_out(s) for s in container.strategies.schedules(user.id)]


@router.get(
    "/schedules/{schedule_id}", response_model=ScheduleOut, summary="A schedule", responses=_MISSING
)
def get_schedule(schedule_id: str, user: CurrentUser, container: ContainerDep) -> ScheduleOut:
    return _schedule_out(strategies.get_schedule(container.strategies, user, schedule_id))


@router.delete(
    "/schedules/{schedule_id}", **NO_CONTENT, summary="Delete a schedule", responses=_MISSING
)
def delete_schedule(schedule_id: str, user: CurrentUser, container: ContainerDep) -> None:
    strategies.delete_schedule(container.strategies, user, schedule_id, utcnow())
