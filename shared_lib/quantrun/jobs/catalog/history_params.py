"""Params shared by the models that read price history."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from quantrun.jobs.fields import Symbols


class HistoryParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbols: Symbols = Field(description="ticker symbols, as stored in the price store")
    start: date = Field(description="first date of the window, YYYY-MM-DD (inclusive)")
    end: date = Field(description="last date of the window, YYYY-MM-DD (inclusive)")

    @field_validator("end")
    @classmethod
    def _window_is_ordered(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("start")
        if start is not None and start >= end:
            raise ValueError(f"must be after start ({start.isoformat()}), got {end.isoformat()}")
        return end

    def history_size(self) -> float:
        return float(len(self.symbols) * max((self.end - self.start).days, 1))
