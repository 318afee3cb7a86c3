"""The caller's paper portfolios (CONTRACT 6.1). Stepping is the worker's in gcp mode:
``POST .../step`` there publishes the request and answers 202; embedded, it steps at
once and answers 200."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
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
from quantrun_api.responses import NO_CONTENT, errors, over_quota

router = APIRouter(prefix="/v1", tags=["portfolios"])

_MISSING = errors(401, 404)
_PAGED = errors(401, 404, 422)
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
    responses=errors(
        401, 404, (413, "its history is over the job cost limit"), 422, over_quota("portfolios")
    ),
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
    responses=errors(401),
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
    "/portfolios/{portfolio_id}", **NO_CONTENT, summary="Delete a portfolio", responses=_MISSING
)
def delete_portfolio(portfolio_id: str, user: CurrentUser, container: ContainerDep) -> None:
    portfolios.delete(container.portfolios, user, portfolio_id, utcnow())


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


def _listing(kind: Literal["equity", "orders", "trades"]) -> Callable[..., Any]:
    def page(
        portfolio_id: str, user: CurrentUser, container: ContainerDep, limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Any:  # fmt: skip
        return portfolios.listing(container.portfolios, user, portfolio_id, kind, limit, cursor)

    return page


# GET /v1/portfolios/{id}/equity, /orders and /trades: one cursor-paged listing each.
_LISTINGS: tuple[tuple[Literal["equity", "orders", "trades"], type, str], ...] = (
    ("equity", EquityPage, "The portfolio's equity after each booked day, oldest first"),
    ("orders", OrderPage, "The portfolio's filled market-on-close orders, oldest first"),
    ("trades", TradePage, "The portfolio's round trips as trades.csv has them (open ones last)"),
)
for _kind, _page, _summary in _LISTINGS:
    router.add_api_route(
        f"/portfolios/{{portfolio_id}}/{_kind}",
        _listing(_kind),
        methods=["GET"],
        name=f"get_{_kind}",
        response_model=_page,
        summary=_summary,
        responses=_PAGED,
    )
