"""Instruments (CONTRACT 6.2): the listing, admins' registrations and changes, and
backfills, whose ingest runs anyone can follow."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from quantrun.app import instruments as instrument_cases
from quantrun.clock import utcnow
from quantrun.domain.prices import InstrumentRecord
from quantrun_api.deps import AdminUser, ContainerDep, CurrentUser
from quantrun_api.instrument_schemas import (
    ChangeInstrument,
    CreateInstrument,
    InstrumentOut,
    InstrumentRecordOut,
)
from quantrun_api.responses import errors

router = APIRouter(prefix="/v1", tags=["instruments"])


@router.get(
    "/instruments",
    response_model=list[InstrumentOut],
    summary="Instruments: registered ones and symbols with prices",
)
def instruments(
    _user: CurrentUser,
    container: ContainerDep,
    active: Annotated[bool | None, Query(description="only active (or inactive) ones")] = None,
) -> list[InstrumentOut]:
    found = instrument_cases.listing(container.prices, container.read_cache, active)
    return [InstrumentOut(**i) for i in found]


class ActionOut(BaseModel):
    date: date
    kind: str = Field(description="`dividend` (value: cash per share) or `split` (value: new "
                      "shares per old share)")  # fmt: skip
    value: float
    source: str = Field(description="the provider, or `upload:<file>`")


@router.get(
    "/instruments/{symbol}/actions",
    response_model=list[ActionOut],
    summary="An instrument's corporate actions (dividends, splits), oldest first",
    responses=errors(401, 404),
)
def instrument_actions(
    symbol: Annotated[str, Path(max_length=32)], _user: CurrentUser, container: ContainerDep
) -> Any:
    return instrument_cases.actions_of(container.prices, container.read_cache, symbol)


_FORBIDDEN = (403, "`forbidden`: admins only")


@router.post(
    "/instruments",
    status_code=201,
    response_model=InstrumentRecordOut,
    summary="Register an instrument (admins)",
    responses=errors(401, _FORBIDDEN, 422, 409),
)
def post_instrument(body: CreateInstrument, user: AdminUser, container: ContainerDep) -> Any:
    made = instrument_cases.create(
        prices=container.prices,
        trail=container.audit,
        cache=container.read_cache,
        user=user,
        record=InstrumentRecord(**body.model_dump()),
        now=utcnow(),
    )
    return asdict(made)


@router.patch(
    "/instruments/{symbol}",
    response_model=InstrumentRecordOut,
    summary="Change an instrument (admins): name, asset type, exchange, currency, active",
    responses=errors(401, _FORBIDDEN, 422, 404),
)
def patch_instrument(
    symbol: Annotated[str, Path(max_length=32)],
    body: ChangeInstrument,
    user: AdminUser,
    container: ContainerDep,
) -> Any:
    changed = instrument_cases.update(
        prices=container.prices,
        trail=container.audit,
        cache=container.read_cache,
        user=user,
        symbol=symbol,
        changes=body.model_dump(exclude_unset=True),
        now=utcnow(),
    )
    return asdict(changed)


class Backfill(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: date = Field(description="the first day to fetch")
    end: date | None = Field(None, description="the last (default: today)")


class BackfillOut(BaseModel):
    run_id: str
    symbol: str
    status: str = Field(description="`queued`: GET /v1/ingest-runs/{run_id} follows it")


class RunSymbol(BaseModel):
    symbol: str
    source: str | None
    status: str
    detail: str | None
    run_at: str
    fetched: int | None
    inserted: int | None
    updated: int | None
    unchanged: int | None
    rejected: int | None


class IngestRunOut(BaseModel):
    run_id: str
    status: str = Field(description="`queued`, then `ok`, `partial` or `failed`")
    symbols: list[RunSymbol]


@router.post(
    "/instruments/{symbol}/backfill",
    status_code=202,
    response_model=BackfillOut,
    summary="Fetch a registered instrument's history from a start date (admins)",
    responses=errors(401, _FORBIDDEN, 422, 404),
)
def post_backfill(
    symbol: Annotated[str, Path(max_length=32)],
    body: Backfill,
    user: AdminUser,
    container: ContainerDep,
) -> Any:
    assert container.launch_ingest is not None  # every mode builds one
    started = instrument_cases.backfill(
        prices=container.prices,
        trail=container.audit,
        launch=container.launch_ingest,
        user=user,
        symbol=symbol,
        start=body.start,
        end=body.end,
        now=utcnow(),
    )
    return JSONResponse(started, status_code=202)


@router.get(
    "/ingest-runs/{run_id}",
    response_model=IngestRunOut,
    summary="An ingest run's outcome, per symbol",
    responses=errors(401, 404),
)
def get_ingest_run(
    run_id: Annotated[str, Path(max_length=36)], _user: CurrentUser, container: ContainerDep
) -> Any:
    return instrument_cases.run_outcome(container.prices, run_id)
