"""Instruments and price history from the price store."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query

from quantrun.jobs.fields import parse_symbol
from quantrun_api.deps import ContainerDep, CurrentUser
from quantrun_api.errors import ApiError
from quantrun_api.schemas import ErrorResponse, InstrumentOut, PricesOut

router = APIRouter(prefix="/v1", tags=["prices"])

MAX_SYMBOLS = 100


@router.get("/instruments", response_model=list[InstrumentOut], summary="Symbols with prices")
def instruments(_user: CurrentUser, container: ContainerDep) -> list[InstrumentOut]:
    return [InstrumentOut(**vars(i)) for i in container.prices.instruments()]


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
    known = container.known_symbols.get()
    unknown = [s for s in wanted if s not in known]
    if unknown:
        message = f"no prices stored for {', '.join(unknown)}"
        raise ApiError(422, "unknown_symbol", message, [{"field": "symbols", "message": message}])
    matrix = container.prices.load_close(wanted, start, end)
    close = [[None if np.isnan(v) else float(v) for v in row] for row in matrix.close]
    return PricesOut(
        dates=matrix.dates.astype(object).tolist(), symbols=list(matrix.symbols), close=close
    )
