"""Params shared by the models that read price history."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from quantrun.catalog.fields import Day, Params, Symbols
from quantrun.catalog.spec import RunContext
from quantrun.domain.actions import Adjustment
from quantrun.domain.errors import ModelInputError
from quantrun.domain.prices import PriceMatrix
from quantrun.models.history import AlignedSeries, align


class HistoryParams(Params):
    symbols: Symbols = Field(description="ticker symbols, as stored in the price store")
    start: Day = Field(description="first date of the window, YYYY-MM-DD (inclusive)")
    end: Day = Field(description="last date of the window, YYYY-MM-DD (inclusive)")
    currency: str | None = Field(
        None,
        pattern="^[A-Z]{3}$",
        description="prices converted to this currency at each day's FX close (an `fx` "
        "instrument such as EURUSD); default: each symbol's own",
    )

    adjustment: Adjustment = Field(
        "total_return",
        description="total_return: splits and dividends reinvested (the provider's adjusted "
        "close, or made from corporate actions); splits: split-adjusted only; none: the "
        "close as traded",
    )

    @field_validator("end")
    @classmethod
    def _window_is_ordered(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("start")
        if start is not None and start >= end:
            raise ValueError(f"must be after start ({start.isoformat()}), got {end.isoformat()}")
        return end

    def history_size(self) -> float:
        return float(len(self.symbols) * max((self.end - self.start).days, 1))


def load_matrix(ctx: RunContext, symbols: list[str], start: date, end: date) -> PriceMatrix:
    """Prices for the window, or ``insufficient_history`` when the store has none."""
    matrix = ctx.load_prices(symbols, start, end)
    if matrix.dates.size == 0:
        raise ModelInputError(
            f"no prices for {', '.join(symbols)} between {start} and {end}",
            code="insufficient_history",
        )
    return matrix


def load_aligned(ctx: RunContext, symbols: list[str], start: date, end: date) -> AlignedSeries:
    """Prices of all symbols on their common dates (``quantrun.models.history``)."""
    matrix = load_matrix(ctx, symbols, start, end)
    return align(matrix.dates, matrix.close, symbols)


def data_summary(aligned: AlignedSeries, symbols: list[str]) -> dict[str, Any]:
    """What a result says about the dates and symbols it used."""
    return {
        "symbols": symbols,
        "first_date": str(aligned.dates[0]),
        "last_date": str(aligned.dates[-1]),
        "observations": int(aligned.returns.shape[0]),
        "dates_dropped": aligned.dates_dropped,
        "prices_filled": dict(zip(symbols, aligned.prices_filled.tolist(), strict=True)),
        "missing_data": "interior gaps carried forward; common dates of all symbols used",
    }
