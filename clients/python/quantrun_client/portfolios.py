"""Paper portfolios (CONTRACT 6.1) as plain methods of ``Client`` and ``AsyncClient``:
made from a one-set backtest strategy, stepped, read back as tables."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Literal, Protocol

import pandas as pd

from quantrun_client import _calls, frames
from quantrun_client._calls import Call

Listing = Literal["equity", "orders", "trades"]
INDEX: dict[Listing, str | None] = {"equity": "date", "orders": None, "trades": None}


def new_portfolio(
    strategy_id: str, name: str, start: str | date, cash: float, max_drawdown: float | None
) -> Call:
    body: dict[str, Any] = {"strategy_id": strategy_id, "name": name, "cash": cash,
                            "start": _calls.iso_day(start)}  # fmt: skip
    if max_drawdown is not None:
        body["alerts"] = {"max_drawdown": max_drawdown}
    return _calls.create("portfolios", body)


def step(portfolio_id: str) -> Call:
    # a day is booked once whatever steps it: resending changes nothing
    return Call("POST", f"/v1/portfolios/{_calls.path_part(portfolio_id)}/step", resendable=True)


def listing(portfolio_id: str, what: Listing, cursor: str | None) -> Call:
    params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
    path = f"/v1/portfolios/{_calls.path_part(portfolio_id)}/{what}"
    return Call("GET", path, params=params, resendable=True)


def table(items: list[Mapping[str, Any]], what: Listing) -> pd.DataFrame:
    frame = frames.records(items, index=INDEX[what])
    if what == "equity" and len(frame):
        frame.index = pd.to_datetime(frame.index)
    return frame


class _Sends(Protocol):
    def call(self, call: Call) -> Any: ...


class PortfolioMethods:
    """``Client``'s portfolio calls."""

    def portfolios(self: _Sends) -> list[dict[str, Any]]:
        return list(self.call(_calls.collection("portfolios")))

    def portfolio(self: _Sends, portfolio_id: str) -> dict[str, Any]:
        """As of its last booked day: cash, equity, positions, P&L."""
        return dict(self.call(_calls.item("portfolios", portfolio_id)))

    def create_portfolio(
        self: _Sends,
        strategy_id: str,
        name: str,
        start: str | date,
        cash: float = 1e6,
        max_drawdown: float | None = None,
    ) -> dict[str, Any]:
        return dict(self.call(new_portfolio(strategy_id, name, start, cash, max_drawdown)))

    def step_portfolio(self: _Sends, portfolio_id: str) -> dict[str, Any]:
        """Catch it up to the latest stored day: ``{"booked", "portfolio"}`` (gcp mode
        answers before the worker steps it: ``booked`` 0)."""
        return dict(self.call(step(portfolio_id)))

    def delete_portfolio(self: _Sends, portfolio_id: str) -> None:
        self.call(_calls.delete("portfolios", portfolio_id))

    def portfolio_frame(self: _Sends, portfolio_id: str, what: Listing) -> pd.DataFrame:
        """Every page of its ``equity`` (indexed by date), ``orders`` or ``trades``."""
        items: list[Mapping[str, Any]] = []
        cursor = None
        while True:
            page = self.call(listing(portfolio_id, what, cursor))
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return table(items, what)


class _AsyncSends(Protocol):
    async def call(self, call: Call) -> Any: ...


class AsyncPortfolioMethods:
    """``AsyncClient``'s portfolio calls (``PortfolioMethods``, awaited)."""

    async def portfolios(self: _AsyncSends) -> list[dict[str, Any]]:
        return list(await self.call(_calls.collection("portfolios")))

    async def portfolio(self: _AsyncSends, portfolio_id: str) -> dict[str, Any]:
        return dict(await self.call(_calls.item("portfolios", portfolio_id)))

    async def create_portfolio(
        self: _AsyncSends,
        strategy_id: str,
        name: str,
        start: str | date,
        cash: float = 1e6,
        max_drawdown: float | None = None,
    ) -> dict[str, Any]:
        return dict(await self.call(new_portfolio(strategy_id, name, start, cash, max_drawdown)))

    async def step_portfolio(self: _AsyncSends, portfolio_id: str) -> dict[str, Any]:
        return dict(await self.call(step(portfolio_id)))

    async def delete_portfolio(self: _AsyncSends, portfolio_id: str) -> None:
        await self.call(_calls.delete("portfolios", portfolio_id))

    async def portfolio_frame(self: _AsyncSends, portfolio_id: str, what: Listing) -> pd.DataFrame:
        items: list[Mapping[str, Any]] = []
        cursor = None
        while True:
            page = await self.call(listing(portfolio_id, what, cursor))
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return table(items, what)
