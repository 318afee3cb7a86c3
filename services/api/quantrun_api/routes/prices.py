"""Instruments, price history and the market-data status from the price store."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Path, Query, Response

from quantrun.app import prices as use_cases
from quantrun.app.currency import fields_in
from quantrun.app.market_data import market_data_status
from quantrun.clock import utcnow
from quantrun.domain.actions import Adjustment
from quantrun.domain.prices import PriceMatrix
from quantrun.domain.symbols import SYMBOL_INPUT
from quantrun_api.deps import ContainerDep, CurrentUser
from quantrun_api.market_data_schemas import MarketDataStatusOut
from quantrun_api.responses import errors
from quantrun_api.schemas import (
    CoverageOut,
    LatestPriceOut,
    PricesOut,
)

router = APIRouter(prefix="/v1", tags=["prices"])


SYMBOLS = Query(
    description="comma-separated symbols (at most 500)",
    examples=["AAPL,MSFT"],
    json_schema_extra={"pattern": use_cases.SYMBOLS_PATTERN},
)

FIELDS = Query(
    max_length=100,
    json_schema_extra={"pattern": use_cases.FIELDS_PATTERN},
    description="comma-separated: open, high, low, close (as ingested), adj_close, "
    "volume; default: close, the adjusted close",
)


@router.get(
    "/instruments/{symbol}/coverage",
    response_model=CoverageOut,
    summary="Stored dates of a symbol, gaps against a weekday calendar, the last ingest",
    responses=errors(404),
)
def coverage(
    symbol: Annotated[str, Path(pattern=SYMBOL_INPUT, description="a ticker symbol")],
    _user: CurrentUser,
    container: ContainerDep,
) -> CoverageOut:
    found = use_cases.coverage(prices=container.prices, cache=container.read_cache, symbol=symbol)
    return CoverageOut(
        **vars(found.instrument),
        missing_weekdays=found.missing_weekdays,
        missing_sample=found.missing_sample,
        last_ingest=found.last_ingest,
    )


@router.get(
    "/prices",
    response_model=PricesOut,
    response_model_exclude_none=True,
    summary="Prices: the adjusted close, or the stored fields asked for",
    responses=errors(422),
)
def prices(
    _user: CurrentUser,
    container: ContainerDep,
    response: Response,
    symbols: Annotated[str, SYMBOLS],
    start: Annotated[date, Query(description="YYYY-MM-DD, inclusive")],
    end: Annotated[date, Query(description="YYYY-MM-DD, inclusive")],
    fields: Annotated[str | None, FIELDS] = None,
    adjustment: Annotated[
        Adjustment,
        Query(
            description="the adjusted close (`close` by default, `adj_close` when asked "
            "for): total_return (splits and dividends reinvested), splits, or none (the "
            "close as traded)"
        ),
    ] = "total_return",
    currency: Annotated[
        str | None,
        Query(
            pattern="^[A-Z]{3}$",
            description="convert to this currency at each day's close of an FX instrument "
            "(EURUSD-style); a missing rate is a 422 naming it and the day",
        ),
    ] = None,
) -> PricesOut:
    found, served = use_cases.field_window(
        reads=container.cached_reads,
        known=container.known_symbols,
        symbols=symbols,
        start=start,
        end=end,
        fields=use_cases.parse_fields(fields),
        adjustment=adjustment,
    )
    response.headers["Cache-Status"] = served.header()
    found = fields_in(container.prices, found, currency, start, end)
    first = next(iter(found.values()))
    return PricesOut(
        dates=_dates(first),
        symbols=list(first.symbols),
        **{name: _grid(matrix) for name, matrix in found.items()},
    )


@router.get(
    "/prices/latest",
    response_model=list[LatestPriceOut],
    summary="Each symbol's last stored price, its date and source",
    responses=errors(422),
)
def latest_prices(
    _user: CurrentUser,
    container: ContainerDep,
    response: Response,
    symbols: Annotated[str, SYMBOLS],
) -> list[LatestPriceOut]:
    api = container.settings.api
    found, served = use_cases.latest(
        prices=container.prices,
        cache=container.read_cache,
        known=container.known_symbols,
        symbols=symbols,
        rule=use_cases.CacheRule(api.latest_cache_seconds, api.cache_stale_seconds),
    )
    response.headers["Cache-Status"] = served.header()
    return [LatestPriceOut(**vars(p)) for p in found]


@router.get(
    "/market-data/status",
    response_model=MarketDataStatusOut,
    summary="Per provider its last success, last error and rate-limit state; the read cache",
)
def market_data(_user: CurrentUser, container: ContainerDep) -> MarketDataStatusOut:
    api = container.settings.api
    found = market_data_status(
        prices=container.prices,
        cache=container.read_cache,
        ttl=api.latest_cache_seconds,
        now=utcnow(),
    )
    return MarketDataStatusOut.of(found, api)


def _dates(matrix: PriceMatrix) -> list[date]:
    return list(matrix.dates.astype(object).tolist())


def _grid(matrix: PriceMatrix) -> list[list[float | None]]:
    return [[None if np.isnan(v) else float(v) for v in row] for row in matrix.close]
