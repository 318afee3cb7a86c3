"""Request and response bodies of /v1/strategies and /v1/schedules (CONTRACT 5.5)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from quantrun.domain.cron import CRON_SHAPE, time_zones
from quantrun.domain.strategies import Schedule, Strategy


class CreateStrategy(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=200)
    model: str = Field(max_length=64, description="a model that reads price history")
    params: dict[str, Any] = Field(description="the model's params, checked as a job's are")
    active: bool = Field(True, description="its schedules fire only while it is active")


class ChangeStrategy(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = Field(None, min_length=1, max_length=200)
    model: str | None = Field(None, max_length=64)
    params: dict[str, Any] | None = None
    active: bool | None = None


class StrategyOut(BaseModel):
    id: str
    name: str
    model: str
    params: dict[str, Any]
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_strategy(cls, s: Strategy) -> StrategyOut:
        return cls.model_validate(s, from_attributes=True)


class CreateSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    strategy_id: str = Field(max_length=64)
    cron: str = Field(
        max_length=200,
        description="minute hour day-of-month month day-of-week, as crontab(5)",
        examples=["30 17 * * MON-FRI"],
        json_schema_extra={"pattern": CRON_SHAPE},
    )
    timezone: str = Field(
        "UTC",
        max_length=64,
        description="an IANA time zone name",
        json_schema_extra={"enum": list[JsonValue](sorted(time_zones()))},
    )


class ScheduleOut(BaseModel):
    id: str
    strategy_id: str
    cron: str
    timezone: str
    created_at: datetime
    last_fire_at: datetime | None = Field(description="the latest fire time a job was made for")
    next_fire_times: list[datetime] = Field(description="the next 5 fire times (UTC)")

    @classmethod
    def from_schedule(cls, s: Schedule, next_fire_times: list[datetime]) -> ScheduleOut:
        return cls.model_validate({**asdict(s), "next_fire_times": next_fire_times})


class SymbolSignal(BaseModel):
    symbol: str
    signal: Literal["BUY", "SELL", "HOLD"]
    position: int = Field(description="1 long, 0 flat, after the day's close")
    close: float | None = Field(description="the day's (adjusted) close")
    indicators: dict[str, float | None] = Field(description="the values the rule compared")


class SignalsOut(BaseModel):
    strategy_id: str
    date: date
    rule: dict[str, Any] = Field(description="the rule's name and its one parameter set")
    signals: list[SymbolSignal]


class LevelRun(BaseModel):
    job_id: str
    first_date: date
    last_date: date


class LevelsOut(BaseModel):
    strategy_id: str
    dates: list[date]
    values: list[float] = Field(description="the index level on each date, chain-linked")
    runs: list[LevelRun] = Field(description="the jobs stitched, oldest first")
