"""Strategies and schedules (CONTRACT 5.5): saved job templates a user runs by hand or
on a calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Strategy:
    """A validated job template: a history model and its params; ``active`` ones are the
    ones their schedules fire for."""

    id: str
    user_id: str
    name: str
    model: str
    params: dict[str, Any]
    active: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Schedule:
    """A strategy's cron expression in a time zone; ``last_fire_at`` is the latest fire
    time a job was submitted for."""

    id: str
    user_id: str
    strategy_id: str
    cron: str
    timezone: str
    created_at: datetime
    last_fire_at: datetime | None = None
