"""Schedules (CONTRACT 5.5) on SQLite and PostgreSQL with a controllable clock: a
schedule every 5 minutes, ticked every minute for one simulated hour by two tickers
racing, submits exactly 12 jobs, each carrying its strategy and schedule; a missed tick
catches up one fire time, not all; an inactive strategy's schedule does not fire; one
fire time in a time zone whose clocks fall back is submitted once."""

from __future__ import annotations

import math
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from quantrun.adapters.sql.job_store import SqlJobStore
from quantrun.adapters.sql.schema import jobs
from quantrun.adapters.sql.strategy_rows import SqlStrategyStore
from quantrun.app import strategies as app
from quantrun.app.submit import KnownSymbols
from quantrun.domain.prices import PriceRow
from quantrun.domain.strategies import Schedule
from quantrun.domain.users import User
from tests.fakes import FakePriceStore, FakeQueue

T0 = datetime(2026, 3, 2, 14, 0, 30, tzinfo=UTC)  # 30 s past a minute, as a tick lands
RISK = {"symbols": ["AAA"], "start": "2020-01-01", "end": "2020-04-30", "benchmark": "AAA"}


@pytest.fixture
def world(engine: Engine) -> tuple[SqlJobStore, SqlStrategyStore, app.JobRules, User]:
    prices = FakePriceStore(
        [PriceRow(date(2020, 1, 1) + timedelta(days=i), "AAA", 100.0 + i) for i in range(150)]
    )
    store = SqlJobStore(engine)
    rules = app.JobRules(
        store=store,
        queue=FakeQueue(),
        known=KnownSymbols(prices),
        submit_limits={},
        max_cost=math.inf,
    )
    return store, SqlStrategyStore(engine), rules, store.get_or_create_user("planner")


def schedule(world: tuple, cron: str, zone: str = "UTC", active: bool = True) -> Schedule:
    _, strategies, rules, user = world
    strategy = app.create(
        store=strategies,
        user=user,
        name="nightly risk",
        model="risk_metrics",
        params=RISK,
        active=active,
        rules=rules,
        now=T0 - timedelta(hours=1),
    )
    return app.add_schedule(
        store=strategies,
        user=user,
        strategy_id=strategy.id,
        cron=cron,
        timezone=zone,
        now=T0 - timedelta(minutes=1),
    )


def made(engine: Engine, schedule_id: str) -> list[datetime]:
    with engine.connect() as conn:
        return [
            r.created_at
            for r in conn.execute(
                select(jobs.c.created_at).where(jobs.c.schedule_id == schedule_id)
            )
        ]


def test_two_racing_tickers_submit_each_fire_time_once(world: tuple, engine: Engine) -> None:
    store, strategies, rules, user = world
    sched = schedule(world, "*/5 * * * *")
    for minute in range(60):
        now = T0 + timedelta(minutes=minute)
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def ticker(
            at: datetime = now,
            barrier: threading.Barrier = start,
            seen: list[BaseException] = errors,
        ) -> None:
            barrier.wait()
            try:
                app.tick(strategies=strategies, users=store, rules=rules, now=at)
            except BaseException as exc:
                seen.append(exc)

        threads = [threading.Thread(target=ticker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
    assert len(made(engine, sched.id)) == 12
    with engine.connect() as conn:
        rows = conn.execute(select(jobs).where(jobs.c.schedule_id == sched.id)).all()
    assert {r.strategy_id for r in rows} == {sched.strategy_id}
    keys = sorted(r.idempotency_key for r in rows)
    # made at 13:59:30, ticked 14:00:30 to 14:59:30: the fire times 14:00 to 14:55
    assert keys[0] == f"schedule:{sched.id}:2026-03-02T14:00:00+00:00"
    assert keys[-1] == f"schedule:{sched.id}:2026-03-02T14:55:00+00:00"
    latest = strategies.schedule(sched.id, user.id)
    assert latest is not None and latest.last_fire_at == datetime(2026, 3, 2, 14, 55, tzinfo=UTC)


def test_a_missed_tick_catches_up_one_fire_time(world: tuple, engine: Engine) -> None:
    store, strategies, rules, _ = world
    sched = schedule(world, "*/5 * * * *")
    app.tick(strategies=strategies, users=store, rules=rules, now=T0)
    assert len(made(engine, sched.id)) == 1  # 14:00
    app.tick(strategies=strategies, users=store, rules=rules, now=T0 + timedelta(minutes=30))
    assert len(made(engine, sched.id)) == 2  # 14:30 only, not the six fire times between


def test_an_inactive_strategy_does_not_fire(world: tuple, engine: Engine) -> None:
    store, strategies, rules, _ = world
    sched = schedule(world, "* * * * *", active=False)
    app.tick(strategies=strategies, users=store, rules=rules, now=T0 + timedelta(minutes=5))
    assert made(engine, sched.id) == []


def test_an_hourly_schedule_across_fall_back_fires_each_wall_hour_once(
    world: tuple, engine: Engine
) -> None:
    """2026-11-01 in New York: ticked every 10 minutes from 23:55 to 04:35 wall time (one
    wall hour happens twice): one job per wall hour, none for the repeated 01:00."""
    store, strategies, rules, _ = world
    sched = schedule(world, "0 * * * *", zone="America/New_York")
    start = datetime(2026, 11, 1, 3, 55, tzinfo=UTC)  # 23:55 EDT
    for step in range(34):  # to 09:35 UTC = 04:35 EST
        app.tick(
            strategies=strategies,
            users=store,
            rules=rules,
            now=start + timedelta(minutes=10 * step),
        )
    with engine.connect() as conn:
        keys = sorted(
            r.idempotency_key.removeprefix(f"schedule:{sched.id}:")[:13]  # the hour (UTC)
            for r in conn.execute(
                select(jobs.c.idempotency_key).where(jobs.c.schedule_id == sched.id)
            )
        )
    # the first tick catches up one fire time (23:00 EDT, 03:00Z); then 00:00 EDT (04Z),
    # 01:00 EDT (05Z), and after the clocks fall back 02:00, 03:00, 04:00 EST (07-09Z):
    # no job for the second 01:00 (06Z)
    assert keys == ["2026-11-01T03", "2026-11-01T04", "2026-11-01T05", "2026-11-01T07",
                    "2026-11-01T08", "2026-11-01T09"]  # fmt: skip


def test_another_users_delete_leaves_the_strategy_and_its_schedules(world: tuple) -> None:
    """The store names the owner in every statement of a delete (SQLite and PostgreSQL)."""
    store, strategies, _, owner = world
    sched = schedule(world, "0 18 * * *")
    intruder = store.get_or_create_user("intruder")
    assert not strategies.delete_strategy(sched.strategy_id, intruder.id, now=T0)
    assert not strategies.delete_schedule(sched.id, intruder.id, now=T0)
    assert strategies.schedules(owner.id) == [sched]
    assert strategies.strategy(sched.strategy_id, owner.id) is not None
    assert strategies.delete_strategy(sched.strategy_id, owner.id, now=T0)
    assert strategies.schedules(owner.id) == []
