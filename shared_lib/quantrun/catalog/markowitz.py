"""``markowitz``: mean-variance optimisation (``quantrun.models.portfolio``)."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from quantrun.catalog.fields import Pair, Whole
from quantrun.catalog.history_params import HistoryParams, data_summary, load_aligned
from quantrun.catalog.spec import ModelOutput, ModelSpec, RunContext, chart
from quantrun.models import charts, estimators
from quantrun.models import portfolio as pf

CHART_FRONTIER_POINTS = 25


class MarkowitzParams(HistoryParams):
    objective: Literal[
        "max_sharpe", "min_variance", "target_return", "target_volatility", "frontier"
    ] = "max_sharpe"
    risk_free_rate: float = Field(0.0, ge=-1, le=1, allow_inf_nan=False, description="annual")
    bounds: Pair = Field((0.0, 1.0), description="[min, max] weight per asset")
    target: float | None = Field(
        None,
        allow_inf_nan=False,
        validate_default=True,
        description="annual return or volatility for target_* objectives",
    )
    frontier_points: Whole = Field(50, ge=2, le=500)
    returns: Literal["mean", "cagr"] = "mean"
    covariance: Literal["sample", "ledoit_wolf"] = "sample"
    sector_map: dict[str, str] | None = Field(None, description="symbol -> sector")
    sector_bounds: dict[str, Pair] | None = Field(
        None, description="sector -> [min, max] total weight"
    )

    @field_validator("bounds")
    @classmethod
    def _ordered_bounds(cls, b: tuple[float, float]) -> tuple[float, float]:
        if not (math.isfinite(b[0]) and math.isfinite(b[1])) or b[0] > b[1]:
            raise ValueError(f"must be [min, max] with min <= max, got {list(b)}")
        if b[0] < -10 or b[1] > 10:
            raise ValueError("must lie within [-10, 10]")
        return b

    @field_validator("target")
    @classmethod
    def _target_when_needed(cls, target: float | None, info: ValidationInfo) -> float | None:
        objective = info.data.get("objective")
        if objective in ("target_return", "target_volatility") and target is None:
            raise ValueError(f"is required for objective {objective}")
        if objective == "target_volatility" and target is not None and target <= 0:
            raise ValueError("a target volatility must be > 0")
        return target

    @field_validator("sector_map")
    @classmethod
    def _sectors_name_symbols(
        cls, m: dict[str, str] | None, info: ValidationInfo
    ) -> dict[str, str] | None:
        symbols = info.data.get("symbols")
        if m is not None and symbols is not None:
            upper = {k.strip().upper(): v for k, v in m.items()}
            unknown = sorted(set(upper) - set(symbols))
            if unknown:
                raise ValueError(f"names symbols not in symbols: {', '.join(unknown)}")
            return upper
        return m

    @field_validator("sector_bounds")
    @classmethod
    def _sector_bounds_known(
        cls, sb: dict[str, tuple[float, float]] | None, info: ValidationInfo
    ) -> dict[str, tuple[float, float]] | None:
        if sb is None:
            return sb
        sectors = set((info.data.get("sector_map") or {}).values())
        unknown = sorted(set(sb) - sectors)
        if unknown:
            raise ValueError(
                f"names sectors no symbol belongs to (see sector_map): {', '.join(unknown)}"
            )
        for name, (lo, hi) in sb.items():
            if lo > hi:
                raise ValueError(f"sector {name!r}: min {lo} is above max {hi}")
        return sb


def _stats(w: np.ndarray, mu: np.ndarray, cov: np.ndarray, rf: float) -> dict[str, Any]:
    ret = float(mu @ w)
    vol = math.sqrt(max(float(w @ cov @ w), 0.0))
    return {
        "expected_return": ret,
        "volatility": vol,
        "sharpe": (ret - rf) / vol if vol > 1e-12 else None,
    }


def run(p: MarkowitzParams, ctx: RunContext) -> ModelOutput:
    symbols = list(p.symbols)
    aligned = load_aligned(ctx, symbols, p.start, p.end)
    mu = estimators.expected_returns(aligned.prices, aligned.returns, p.returns)
    cov = estimators.covariance(aligned.returns, p.covariance)
    cons = pf.build_constraints(symbols, p.bounds, p.sector_map, p.sector_bounds)
    pf.check_feasible(cons)
    ctx.checkpoint(0.1)
    frontier_pts: list[np.ndarray] | None = None
    if p.objective == "min_variance":
        w = pf.min_variance(cov, cons)
    elif p.objective == "max_sharpe":
        w = pf.max_sharpe(mu, cov, cons, p.risk_free_rate)
    elif p.objective == "target_return":
        w = pf.target_return_portfolio(mu, cov, cons, float(p.target))  # type: ignore[arg-type]
    elif p.objective == "target_volatility":
        w = pf.target_volatility_portfolio(mu, cov, cons, float(p.target))  # type: ignore[arg-type]
    else:
        frontier_pts = pf.frontier(
            mu, cov, cons, p.frontier_points, checkpoint=lambda f: ctx.checkpoint(0.1 + 0.8 * f)
        )
        sharpes = [
            (float(mu @ x) - p.risk_free_rate) / max(math.sqrt(float(x @ cov @ x)), 1e-12)
            for x in frontier_pts
        ]
        w = frontier_pts[int(np.argmax(sharpes))]
    result: dict[str, Any] = {
        "objective": p.objective,
        "weights": dict(zip(symbols, w.tolist(), strict=True)),
        **_stats(w, mu, cov, p.risk_free_rate),
        "risk_free_rate": p.risk_free_rate,
        "asset_expected_returns": dict(zip(symbols, mu.tolist(), strict=True)),
        "asset_volatilities": dict(zip(symbols, np.sqrt(np.diag(cov)).tolist(), strict=True)),
        "returns_method": p.returns,
        "covariance_method": p.covariance,
        "data": data_summary(aligned, symbols),
    }
    if p.covariance == "ledoit_wolf":
        result["shrinkage"] = estimators.ledoit_wolf(aligned.returns)[1]
    if frontier_pts is not None:
        result["frontier"] = [
            {
                "return": float(mu @ x),
                "volatility": math.sqrt(max(float(x @ cov @ x), 0.0)),
                "weights": dict(zip(symbols, x.tolist(), strict=True)),
            }
            for x in frontier_pts
        ]
    artifacts = []
    if ctx.charts:
        if frontier_pts is None:
            frontier_pts = pf.frontier(mu, cov, cons, CHART_FRONTIER_POINTS)
        curve = (
            np.array([math.sqrt(max(float(x @ cov @ x), 0.0)) for x in frontier_pts]),
            np.array([float(mu @ x) for x in frontier_pts]),
        )
        assets = {s: (math.sqrt(cov[i, i]), float(mu[i])) for i, s in enumerate(symbols)}
        artifacts.append(
            chart(
                "frontier.png",
                charts.frontier_chart(
                    frontier=curve,
                    assets=assets,
                    chosen=(result["volatility"], result["expected_return"]),
                    chosen_label=p.objective.replace("_", " "),
                ),
            )
        )
    ctx.checkpoint(1.0)
    return ModelOutput(result=result, artifacts=artifacts)


SPEC = ModelSpec(
    name="markowitz",
    description="Mean-variance optimisation: max Sharpe, min variance, target return or "
    "volatility, efficient frontier; asset and sector bounds; sample or Ledoit-Wolf "
    "covariance. Infeasible problems fail naming the constraint.",
    params=MarkowitzParams,
    run=run,
    artifacts=("frontier.png",),
    cost=lambda p: p.history_size() * (p.frontier_points if p.objective == "frontier" else 1),
    symbols=lambda p: list(p.symbols),
    example={
        "symbols": ["AAPL", "AMZN", "XOM", "JPM", "WMT", "PFE"],
        "start": "2015-01-01",
        "end": "2017-12-31",
        "objective": "max_sharpe",
    },
)
