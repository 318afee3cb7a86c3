"""Cron expressions in a time zone (domain/cron.py): crontab(5)'s syntax, and a change
of offset that neither skips nor doubles a fire time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from quantrun.domain.cron import Cron, CronError

NEW_YORK = "America/New_York"


def fires(expression: str, zone: str, start: datetime, hours: float) -> list[datetime]:
    cron, end = Cron.parse(expression, zone), start + timedelta(hours=hours)
    out = []
    for at in cron.after(start):
        if at > end:
            break
        out.append(at)
    return out


def test_every_five_minutes_is_twelve_an_hour() -> None:
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    got = fires("*/5 * * * *", "UTC", start, 1)  # (start, start + 1 h]
    assert len(got) == 12 and got[0] == start + timedelta(minutes=5)
    assert got[-1] == start + timedelta(hours=1)


def test_fields_lists_ranges_steps_and_names() -> None:
    c = Cron.parse("0,30 9-17/4 * JAN-MAR MON-FRI", "UTC")
    assert c.minutes == {0, 30} and c.hours == {9, 13, 17} and c.months == {1, 2, 3}
    assert c.weekdays == {1, 2, 3, 4, 5}
    assert Cron.parse("0 0 * * 7", "UTC").weekdays == {0}  # 7 is Sunday too
    # both day fields restricted: either matches (crontab(5))
    either = Cron.parse("0 12 13 * FRI", "UTC")
    days = [d.date() for d in either.next(datetime(2026, 2, 1, tzinfo=UTC), 6)]
    assert all(d.day == 13 or d.isoweekday() == 5 for d in days)
    assert datetime(2026, 2, 13).date() in days and datetime(2026, 2, 6).date() in days


@pytest.mark.parametrize(
    "expression",
    ["* * * *", "61 * * * *", "* 24 * * *", "5-1 * * * *", "*/0 * * * *", "x * * * *"],
)
def test_bad_expressions_are_refused(expression: str) -> None:
    with pytest.raises(CronError):
        Cron.parse(expression, "UTC")


def test_an_unknown_zone_is_refused() -> None:
    with pytest.raises(CronError, match="time zone"):
        Cron.parse("* * * * *", "Mars/Olympus")


def test_spring_forward_fires_once_as_the_clocks_land() -> None:
    """2026-03-08 in New York: 02:00 EST becomes 03:00 EDT; a 02:30 schedule fires at
    03:00 EDT that day (not skipped), once."""
    got = fires("30 2 * * *", NEW_YORK, datetime(2026, 3, 6, tzinfo=UTC), 24 * 4)
    local = [g.astimezone(Cron.parse("* * * * *", NEW_YORK).zone) for g in got]
    assert [(d.day, d.hour, d.minute) for d in local] == [
        (6, 2, 30),
        (7, 2, 30),
        (8, 3, 0),
        (9, 2, 30),
    ]


def test_fall_back_fires_once_in_the_repeated_hour() -> None:
    """2026-11-01 in New York: 02:00 EDT becomes 01:00 EST; 01:30 happens twice and the
    schedule fires the first time only."""
    got = fires("30 1 * * *", NEW_YORK, datetime(2026, 10, 30, tzinfo=UTC), 24 * 4)
    assert [g.isoformat() for g in got] == [
        "2026-10-30T05:30:00+00:00",
        "2026-10-31T05:30:00+00:00",
        "2026-11-01T05:30:00+00:00",  # 01:30 EDT, the first of the two
        "2026-11-02T06:30:00+00:00",  # 01:30 EST
    ]


@pytest.mark.parametrize("day", [(2026, 3, 8), (2026, 11, 1)])
def test_every_half_hour_across_a_change_neither_skips_nor_doubles(
    day: tuple[int, int, int],
) -> None:
    cron = Cron.parse("*/30 * * * *", NEW_YORK)
    start = datetime(*day, tzinfo=cron.zone)
    got = [g for g in cron.after(start - timedelta(seconds=1)) if g < start + timedelta(days=1)]
    assert got == sorted(set(got))  # none twice
    walls = {(g.astimezone(cron.zone).hour, g.astimezone(cron.zone).minute) for g in got}
    missing = {(h, m) for h in range(24) for m in (0, 30)} - walls
    # every wall time of the day fired, but those the clocks jumped over, which fired
    # as they landed (03:00, a wall time of its own)
    assert missing == ({(2, 0), (2, 30)} if day[1] == 3 else set())
    assert len(got) == (46 if day[1] == 3 else 48)


def test_latest_due_looks_back_as_far_as_it_must() -> None:
    cron = Cron.parse("0 9 1 1 *", "UTC")  # once a year
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert cron.latest(datetime(2025, 1, 1, tzinfo=UTC), now) == datetime(2026, 1, 1, 9, tzinfo=UTC)
    assert cron.latest(datetime(2026, 1, 2, tzinfo=UTC), now) is None
