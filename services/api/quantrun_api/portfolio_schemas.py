"""Request and response bodies of /v1/portfolios (CONTRACT 6.1)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PortfolioAlerts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_drawdown: float | None = Field(
        None,
        gt=0,
        lt=1,
        allow_inf_nan=False,
        description="`portfolio.drawdown` on the first day the drawdown passes this fraction",
    )


class CreatePortfolio(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy_id: str = Field(max_length=64, description="a one-set `backtest` strategy of yours")
    name: str = Field(min_length=1, max_length=200)
    cash: float = Field(1e6, gt=0, le=1e15, allow_inf_nan=False, description="starting cash")
    start: date = Field(description="the first day the book may trade (not in the future)")
    alerts: PortfolioAlerts = Field(default_factory=PortfolioAlerts)


class PositionOut(BaseModel):
    symbol: str
    quantity: float
    avg_price: float = Field(description="the entry's cost per unit, fees and slippage included")
    last_price: float = Field(description="the last close (carried over a day without one)")
    market_value: float
    unrealized_pnl: float
    entry_date: date | None
    carried: bool = Field(description="the last booked day had no price for it")


class PortfolioOut(BaseModel):
    id: str
    name: str
    strategy_id: str
    start: date
    initial_cash: float
    alerts: PortfolioAlerts
    created_at: datetime
    as_of: date | None = Field(description="the last booked day (null before the first)")
    cash: float
    equity: float
    positions: list[PositionOut]
    realized_pnl: float
    max_drawdown: float = Field(description="the worst equity / peak - 1 so far (<= 0)")
    days: int = Field(description="trading days booked")
    carried: list[str] = Field(description="symbols whose close the last day carried")


class EquityPoint(BaseModel):
    date: date
    value: float = Field(description="equity after the day's close")
    cash: float
    drawdown: float
    carried: list[str]


class EquityPage(BaseModel):
    items: list[EquityPoint]
    next_cursor: str | None


class OrderOut(BaseModel):
    date: date
    symbol: str
    side: Literal["BUY", "SELL"]
    quantity: float
    price: float = Field(description="the fill: that day's close")
    notional: float
    cost: float = Field(description="fees and slippage")
    reason: str = Field(description="`signal`, `stop_loss` or `take_profit`")


class OrderPage(BaseModel):
    items: list[OrderOut]
    next_cursor: str | None


class TradeOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    symbol: str
    entry_date: date
    entry_price: float
    exit_date: date | None = Field(description="null while open (marked at the last close)")
    exit_price: float
    quantity: float
    pnl: float
    trade_return: float = Field(alias="return", serialization_alias="return")
    days_held: int
    exit_reason: Literal["signal", "stop_loss", "take_profit", "end"]


class TradePage(BaseModel):
    items: list[TradeOut]
    next_cursor: str | None


class StepOut(BaseModel):
    booked: int = Field(
        description="days this step booked (fewer when another step booked some: the"
        " portfolio is caught up either way)"
    )
    portfolio: PortfolioOut
