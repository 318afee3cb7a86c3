"""The caller's paper portfolios (CONTRACT 6.1). Stepping is the worker's in gcp mode:
``POST .../step`` there publishes the request and answers 202; embedded, it steps at
once and answers 200."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from quantrun.app import paper_steps, portfolios
from quantrun.clock import utcnow
from quantrun_api.deps import ContainerDep, CurrentUser
from quantrun_api.portfolio_schemas import (
    CreatePortfolio,
    EquityPage,
    OrderPage,
    PortfolioOut,
    StepOut,
    TradePage,
)
from quantrun_api.schemas import ErrorResponse

router = APIRouter(prefix="/v1", tags=["portfolios"])

_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorResponse}}
_MISSING: dict[int | str, dict[str, Any]] = {**_ERRORS, 404: {"model": ErrorResponse}}
_PAGED: dict[int | str, dict[str, Any]] = {**_MISSING, 422: {"model": ErrorResponse}}
Limit = Annotated[int, Query(ge=1, le=200, description="items per page")]
Cursor = Annotated[
    str | None,
    Query(max_length=32, pattern="^[0-9]+$", description="next_cursor of the page before"),
]


@router.post(
    "/portfolios",
    status_code=201,
    response_model=PortfolioOut,
    summary="Run a one-set backtest strategy forward as a paper portfolio",
    responses={
        **_PAGED,
        413: {"model": ErrorResponse, "description": "its history is over the job cost limit"},
        429: {"model": ErrorResponse, "description": "`quota_exceeded` (quota `portfolios`)"},
    },
)
def post_portfolio(body: CreatePortfolio, user: CurrentUser, container: ContainerDep) -> Any:
    made = portfolios.create(
        store=container.portfolios,
        strategies=container.strategies,
        user=user,
        strategy_id=body.strategy_id,
        name=body.name,
        cash=body.cash,
        start=body.start,
        max_drawdown=body.alerts.max_drawdown,
        now=utcnow(),
        most=container.settings.limits.max_portfolios,
        max_cost=container.settings.limits.job_max_cost,
    )
    return portfolios.document(container.portfolios, made)


@router.get(
    "/portfolios",
    response_model=list[PortfolioOut],
    summary="Your paper portfolios",
    responses=_ERRORS,
)
def get_portfolios(user: CurrentUser, container: ContainerDep) -> Any:
    store = container.portfolios
    return [portfolios.document(store, p) for p in store.for_user(user.id)]


@router.get(
    "/portfolios/{portfolio_id}",
    response_model=PortfolioOut,
    summary="A portfolio: cash, equity, positions, P&L after its last booked day",
    responses=_MISSING,
)
def get_portfolio(portfolio_id: str, user: CurrentUser, container: ContainerDep) -> Any:
    found = portfolios.get(container.portfolios, user, portfolio_id)
    return portfolios.document(container.portfolios, found)


@router.delete(
    "/portfolios/{portfolio_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a portfolio",
    responses=_MISSING,
)
def delete_portfolio(portfolio_id: str, user: CurrentUser, container: ContainerDep) -> Response:
    portfolios.delete(container.portfolios, user, portfolio_id, utcnow())
    return Response(status_code=204)


@router.post(
    "/portfolios/{portfolio_id}/step",
    response_model=StepOut,
    summary="Catch the portfolio up to the latest stored day",
    responses={
        **_MISSING,
        202: {"model": StepOut, "description": "gcp mode: the worker steps it"},
    },
)
def post_step(portfolio_id: str, user: CurrentUser, container: ContainerDep) -> Any:
    store = container.portfolios
    found = portfolios.get(store, user, portfolio_id)
    if container.step_portfolio is not None:  # gcp: the worker steps it
        container.step_portfolio(found.id)
        body = {"booked": 0, "portfolio": portfolios.document(store, found)}
        return JSONResponse(StepOut.model_validate(body).model_dump(mode="json", by_alias=True),
                            status_code=202)  # fmt: skip
    now = utcnow()
    booked = paper_steps.step(
        store=store, prices=container.prices, portfolio=found, today=now.date(), now=now
    )
    return {"booked": booked, "portfolio": portfolios.document(store, found)}


@router.get(
    "/portfolios/{portfolio_id}/equity",
    response_model=EquityPage,
    summary="The portfolio's equity after each booked day, oldest first",
    responses=_PAGED,
)
def get_equity(
    portfolio_id: str, user: CurrentUser, container: ContainerDep, limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:  # fmt: skip
    return portfolios.listing(container.portfolios, user, portfolio_id, "equity", limit, cursor)


@router.get(
    "/portfolios/{portfolio_id}/orders",
    response_model=OrderPage,
    summary="The portfolio's filled market-on-close orders, oldest first",
    responses=_PAGED,
)
def get_orders(
    portfolio_id: str, user: CurrentUser, container: ContainerDep, limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:  # fmt: skip
    return portfolios.listing(container.portfolios, user, portfolio_id, "orders", limit, cursor)


@router.get(
    "/portfolios/{portfolio_id}/trades",
    response_model=TradePage,
    response_model_by_alias=True,
    summary="The portfolio's round trips as trades.csv has them (open ones last)",
    responses=_PAGED,
)
def get_trades(
    portfolio_id: str, user: CurrentUser, container: ContainerDep, limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:  # fmt: skip
    return portfolios.listing(container.portfolios, user, portfolio_id, "trades", limit, cursor)
