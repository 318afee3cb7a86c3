"""Cron expressions in a time zone (CONTRACT 5.5 schedules).

Five fields, as in crontab(5): minute (0-59), hour (0-23), day of month (1-31), month
(1-12 or JAN-DEC) and day of week (0-7 or SUN-SAT, 0 and 7 both Sunday); each a ``*``,
a number or name, a range ``a-b``, a list ``a,b``, with an optional step ``/n``. As in
cron, when both day fields are restricted a day matching either fires.

Fire times are wall-clock times in the schedule's zone, and a change of offset neither
skips nor doubles one: a wall time the clocks jump over (spring forward) fires at the
first instant after the jump; a wall time that happens twice (fall back) fires once, the
first time. Fire times are returned as aware UTC datetimes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
MONTHS = {m: i + 1 for i, m in enumerate(MONTH_NAMES)}
DAYS = {d: i for i, d in enumerate(DAY_NAMES)}
LOOKAHEAD_DAYS = 366 * 5  # the furthest a valid expression's next fire can be (29 Feb)


class CronError(ValueError):
    pass


def _field(text: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    values: set[int] = set()
    for part in text.upper().split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise CronError(f"bad step in {part!r}")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        else:
            first, _, last = base.partition("-")
            start = _value(first, low, high, names)
            end = _value(last, low, high, names) if last else (high if step_text else start)
            if end < start:
                raise CronError(f"range {base!r} runs backwards")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, low: int, high: int, names: dict[str, int]) -> int:
    if text in names:
        return names[text]
    if not text.isdigit():
        raise CronError(f"{text!r} is not a number or name")
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{value} is outside {low}-{high}")
    return value


# five fields apart by spaces or tabs (what the OpenAPI document publishes; the values of
# each field are checked by ``_field``)
CRON_SHAPE = r"^[ \t]*[^ \t\r\n]+(?:[ \t]+[^ \t\r\n]+){4}[ \t]*$"


@functools.cache
def time_zones() -> frozenset[str]:
    """The IANA names this machine's zone database has (the ones a schedule may name)."""
    return frozenset(available_timezones())


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day of month is *
    any_weekday: bool  # day of week is *
    zone: ZoneInfo

    @classmethod
    def parse(cls, expression: str, timezone: str) -> Cron:
        fields = expression.split()
        if len(fields) != 5 or not re.fullmatch(CRON_SHAPE, expression):
            raise CronError("a cron expression has 5 fields: minute hour day month weekday")
        if timezone not in time_zones():
            raise CronError(f"unknown time zone {timezone!r} (an IANA name)")
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CronError(f"unknown time zone {timezone!r} (an IANA name)") from None
        weekdays = _field(fields[4], 0, 7, DAYS)
        return cls(
            minutes=_field(fields[0], 0, 59, {}),
            hours=_field(fields[1], 0, 23, {}),
            days=_field(fields[2], 1, 31, {}),
            months=_field(fields[3], 1, 12, MONTHS),
            weekdays=frozenset(d % 7 for d in weekdays),
            any_day=fields[2] == "*",
            any_weekday=fields[4] == "*",
            zone=zone,
        )

    def _day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week

    def _real(self, wall: datetime) -> bool:
        """Whether a naive wall time happens in the zone (not in a spring-forward gap)."""
        aware = wall.replace(tzinfo=self.zone)
        return aware.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None) == wall

    def _instant(self, day: date, hour: int, minute: int) -> datetime:
        """When the wall time ``day hour:minute`` happens in the zone: the first time if it
        happens twice (fold 0); the first wall minute after the gap if it never does."""
        wall = datetime.combine(day, time(hour, minute))
        while not self._real(wall):
            wall += timedelta(minutes=1)
        return wall.replace(tzinfo=self.zone).astimezone(UTC)

    def _fires_from(self, day: date) -> Iterator[datetime]:
        for offset in range(LOOKAHEAD_DAYS):
            current = day + timedelta(days=offset)
            if not self._day_matches(current):
                continue
            seen: set[datetime] = set()
            for hour in sorted(self.hours):
                for minute in sorted(self.minutes):
                    at = self._instant(current, hour, minute)
                    if at not in seen:  # several gap times land on one instant: once
                        seen.add(at)
                        yield at

    def after(self, moment: datetime) -> Iterator[datetime]:
        """Fire times strictly after ``moment``, in order."""
        start = moment.astimezone(self.zone).date() - timedelta(days=1)
        for at in self._fires_from(start):
            if at > moment:
                yield at

    def next(self, moment: datetime, count: int = 1) -> list[datetime]:
        found = []
        for at in self.after(moment):
            found.append(at)
            if len(found) == count:
                break
        return found

    def latest(self, after: datetime, until: datetime) -> datetime | None:
        """The last fire time in (``after``, ``until``], or None; looks back a day first,
        then further only when it must (a schedule left unticked for long)."""
        for span in (1, 32, 367, LOOKAHEAD_DAYS):
            start = max(after, until - timedelta(days=span))
            last = None
            for at in self.after(start):
                if at > until:
                    break
                last = at
            if last is not None or start == after:
                return last
        return None
