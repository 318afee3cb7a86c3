"""Instruments and price history from the price store."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query

from quantrun.errors import NotFound
from quantrun.jobs.fields import parse_symbol
from quantrun.ports import Instrument
from quantrun_api.deps import ContainerDep, CurrentUser
from quantrun_api.errors import ApiError
from quantrun_api.schemas import CoverageOut, ErrorResponse, InstrumentOut, PricesOut

router = APIRouter(prefix="/v1", tags=["prices"])

MAX_SYMBOLS = 100


@router.get("/instruments", response_model=list[InstrumentOut], summary="Symbols with prices")
def instruments(_user: CurrentUser, container: ContainerDep) -> list[InstrumentOut]:
    return [InstrumentOut(**vars(i)) for i in _instruments(container)]


def _instruments(container: ContainerDep) -> list[Instrument]:
    """The price store's instruments through the read cache (one GROUP BY per TTL)."""
    return container.read_cache.get(("instruments",), container.prices.instruments)


@router.get(
    "/instruments/{symbol}/coverage",
    response_model=CoverageOut,
    summary="Stored dates of a symbol, gaps against a weekday calendar, the last ingest",
    responses={404: {"model": ErrorResponse}},
)
def coverage(symbol: str, _user: CurrentUser, container: ContainerDep) -> CoverageOut:
    try:
        symbol = parse_symbol(symbol)
    except ValueError as exc:
        raise ApiError(
            422, "validation_error", f"symbol: {exc}", [{"field": "symbol", "message": str(exc)}]
        ) from None
    found = next((i for i in _instruments(container) if i.symbol == symbol), None)
    if found is None:
        raise NotFound(f"no prices stored for {symbol}")
    matrix = container.prices.load_close([symbol], found.first_date, found.last_date)
    weekdays = np.arange(np.datetime64(found.first_date), np.datetime64(found.last_date) + 1)
    weekdays = weekdays[np.is_busday(weekdays)]
    missing = np.setdiff1d(weekdays, matrix.dates)
    return CoverageOut(
        symbol=symbol,
        name=found.name,
        first_date=found.first_date,
        last_date=found.last_date,
        rows=found.rows,
        missing_weekdays=int(missing.size),
        missing_sample=[str(d) for d in missing[:50]],
        last_ingest=container.prices.last_ingest_run(symbol),
    )


@router.get(
    "/prices",
    response_model=PricesOut,
    summary="Adjusted close prices",
    responses={422: {"model": ErrorResponse}},
)
def prices(
    _user: CurrentUser,
    container: ContainerDep,
    symbols: Annotated[str, Query(description="comma-separated symbols", examples=["AAPL,MSFT"])],
    start: Annotated[date, Query(description="YYYY-MM-DD, inclusive")],
    end: Annotated[date, Query(description="YYYY-MM-DD, inclusive")],
) -> PricesOut:
    wanted: list[str] = []
    for raw in symbols.split(","):
        if not raw.strip():
            continue
        try:
            wanted.append(parse_symbol(raw))
        except ValueError as exc:
            raise ApiError(
                422,
                "validation_error",
                f"symbols: {exc}",
                [{"field": "symbols", "message": str(exc)}],
            ) from None
    wanted = list(dict.fromkeys(wanted))
    if not wanted or len(wanted) > MAX_SYMBOLS:
        message = f"give 1 to {MAX_SYMBOLS} symbols"
        raise ApiError(
            422,
            "validation_error",
            f"symbols: {message}",
            [{"field": "symbols", "message": message}],
        )
    if start > end:
        message = f"must not be before start ({start.isoformat()})"
        raise ApiError(
            422, "validation_error", f"end: {message}", [{"field": "end", "message": message}]
        )
    unknown = container.known_symbols.missing(wanted)
    if unknown:
        message = f"no prices stored for {', '.join(unknown)}"
        raise ApiError(422, "unknown_symbol", message, [{"field": "symbols", "message": message}])
    matrix = container.read_cache.get(
        ("prices", tuple(wanted), start, end),
        lambda: container.prices.load_close(wanted, start, end),
    )
    close = [[None if np.isnan(v) else float(v) for v in row] for row in matrix.close]
    return PricesOut(
        dates=matrix.dates.astype(object).tolist(), symbols=list(matrix.symbols), close=close
    )
