"""``portfolio_var``: historical, parametric and Monte Carlo VaR/CVaR of a weighted
portfolio (``quantrun.models.var``)."""

from __future__ import annotations

import itertools
import secrets
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from quantrun.catalog.fields import Whole, whole
from quantrun.catalog.history_params import HistoryParams, data_summary, load_aligned
from quantrun.catalog.spec import ModelOutput, ModelSpec, RunContext, Sharding, chart
from quantrun.models import charts
from quantrun.models.history import AlignedSeries
from quantrun.models.var import (
    MC_BLOCK,
    McPartial,
    McSetup,
    VarResult,
    historical_var,
    mc_blocks,
    mc_combine,
    mc_partial,
    mc_setup,
    monte_carlo_var,
    parametric_var,
)


class PortfolioVarParams(HistoryParams):
    weights: list[float] = Field(description="fraction of portfolio_value in each symbol")
    method: Literal["historical", "parametric", "monte_carlo"] = "historical"
    confidence: float = Field(0.99, gt=0.5, lt=1.0)
    horizon_days: Whole = Field(1, ge=1, le=252)
    portfolio_value: float = Field(1e6, gt=0, allow_inf_nan=False)
    scenarios: Whole = Field(100_000, ge=100, le=20_000_000, description="monte_carlo only")
    seed: whole(ge=0, lt=2**63) | None = None  # type: ignore[valid-type]

    @field_validator("weights")
    @classmethod
    def _one_weight_per_symbol(cls, weights: list[float], info: ValidationInfo) -> list[float]:
        symbols = info.data.get("symbols")
        if symbols is not None and len(weights) != len(symbols):
            raise ValueError(f"has {len(weights)} entries but symbols has {len(symbols)}")
        if not all(np.isfinite(weights)):
            raise ValueError("must be finite numbers")
        return weights


def run(p: PortfolioVarParams, ctx: RunContext) -> ModelOutput:
    aligned = load_aligned(ctx, list(p.symbols), p.start, p.end)
    ctx.checkpoint(0.1)
    w = np.asarray(p.weights)
    common: dict[str, Any] = {
        "confidence": p.confidence,
        "horizon_days": p.horizon_days,
        "value": p.portfolio_value,
    }
    result: dict[str, Any] = {"method": p.method}
    if p.method == "historical":
        res = historical_var(aligned.returns, w, **common)
    elif p.method == "parametric":
        res = parametric_var(aligned.returns, w, **common)
    else:
        seed = p.seed if p.seed is not None else secrets.randbits(63)
        res = monte_carlo_var(
            aligned.returns,
            w,
            scenarios=p.scenarios,
            seed=seed,
            checkpoint=lambda f: ctx.checkpoint(0.1 + 0.8 * f),
            threads=ctx.threads,
            **common,
        )
        result["seed"] = seed
    return _output(p, ctx, aligned, res, result)


def _output(
    p: PortfolioVarParams,
    ctx: RunContext,
    aligned: AlignedSeries,
    res: VarResult,
    result: dict[str, Any],
) -> ModelOutput:
    result.update(
        {
            "var": res.var,
            "cvar": res.cvar,
            "observations": res.observations,
            "confidence": p.confidence,
            "horizon_days": p.horizon_days,
            "portfolio_value": p.portfolio_value,
            "horizon_return_mean": res.mean_return,
            "horizon_return_volatility": res.volatility,
            "data": data_summary(aligned, list(p.symbols)),
        }
    )
    artifacts = []
    if ctx.charts:
        markers = {"-VaR": -res.var, "-CVaR": -res.cvar}
        title = (
            f"{p.horizon_days}-day P&L ({p.method}); {p.confidence:.1%} VaR "
            f"{res.var:,.0f}, CVaR {res.cvar:,.0f}"
        )
        if res.histogram is not None:
            figure = charts.pnl_distribution(
                title=title,
                xlabel="Profit and loss (currency)",
                markers=markers,
                histogram=res.histogram,
            )
        elif res.losses.size:
            figure = charts.pnl_distribution(
                title=title,
                xlabel="Profit and loss (currency)",
                markers=markers,
                samples=-res.losses,
            )
        else:
            normal = (p.portfolio_value * res.mean_return, p.portfolio_value * res.volatility)
            figure = charts.pnl_distribution(
                title=title, xlabel="Profit and loss (currency)", markers=markers, normal=normal
            )
        artifacts.append(chart("pnl_histogram.png", figure))
    ctx.checkpoint(1.0)
    return ModelOutput(result=result, artifacts=artifacts)


# Shards (method monte_carlo): ranges of the seeded scenario blocks. A shard's partial is
# its blocks' sums, its largest losses (as many as the quantile and CVaR can read) with
# their scenario numbers, and its histogram counts; the merge gives the one-piece numbers.


def _blocks(p: PortfolioVarParams) -> int:
    return mc_blocks(p.scenarios) if p.method == "monte_carlo" else 1


def _split(p: PortfolioVarParams, n: int) -> list[dict[str, Any]]:
    seed = p.seed if p.seed is not None else secrets.randbits(63)
    bounds = np.linspace(0, _blocks(p), min(n, _blocks(p)) + 1).astype(int)
    return [{"seed": seed, "blocks": [int(lo), int(hi)]} for lo, hi in itertools.pairwise(bounds)]


def _setup(p: PortfolioVarParams, ctx: RunContext) -> tuple[AlignedSeries, McSetup]:
    aligned = load_aligned(ctx, list(p.symbols), p.start, p.end)
    return aligned, mc_setup(aligned.returns, np.asarray(p.weights), p.horizon_days)


def _run_shard(p: PortfolioVarParams, shard: dict[str, Any], ctx: RunContext) -> ModelOutput:
    if p.method != "monte_carlo":
        raise ValueError("only a monte_carlo portfolio_var runs as shards")
    seed = int(shard["seed"])
    _, setup = _setup(p, ctx)
    lo, hi = shard["blocks"]
    part = mc_partial(
        setup,
        value=p.portfolio_value,
        scenarios=p.scenarios,
        seed=seed,
        confidence=p.confidence,
        blocks=(lo, hi),
        checkpoint=ctx.checkpoint,
        threads=ctx.threads,
    )
    return ModelOutput(
        result={
            "seed": seed,
            "sums": [list(x) for x in part.sums],
            "tail_index": part.tail_index.tolist(),
            "tail_loss": part.tail_loss.tolist(),
            "counts": part.counts.tolist(),
        }
    )


def _merge(p: PortfolioVarParams, partials: list[dict[str, Any]], ctx: RunContext) -> ModelOutput:
    if p.method != "monte_carlo":
        return run(p, ctx)  # one shard: nothing was split
    aligned, setup = _setup(p, ctx)
    parts = [
        McPartial(
            [(s, q) for s, q in part["sums"]],
            np.asarray(part["tail_index"], dtype=np.int64),
            np.asarray(part["tail_loss"], dtype=np.float64),
            np.asarray(part["counts"], dtype=np.int64),
        )
        for part in partials
    ]
    if sum(len(x.sums) for x in parts) != _blocks(p):
        raise ValueError(
            f"the shards hold {sum(len(x.sums) for x in parts)} of {_blocks(p)} blocks"
        )
    res = mc_combine(
        setup, parts, value=p.portfolio_value, scenarios=p.scenarios, confidence=p.confidence
    )
    result = {"method": p.method, "seed": int(partials[0]["seed"])}
    return _output(p, ctx, aligned, res, result)


SPEC = ModelSpec(
    name="portfolio_var",
    description="Value at Risk and CVaR (expected shortfall) of a weighted portfolio: "
    "historical, parametric (normal) or Monte Carlo, over a horizon.",
    params=PortfolioVarParams,
    run=run,
    artifacts=("pnl_histogram.png",),
    cost=lambda p: (
        p.history_size() + (p.scenarios * len(p.symbols) if p.method == "monte_carlo" else 0)
    ),
    symbols=lambda p: list(p.symbols),
    sharding=Sharding(most=_blocks, split=_split, run=_run_shard, merge=_merge),
    seeding=f"monte_carlo: scenarios in blocks of {MC_BLOCK}; block i draws from "
    "Generator(PCG64(SeedSequence(seed, spawn_key=(i,))))",
    example={
        "symbols": ["AAPL", "XOM", "JPM"],
        "weights": [0.4, 0.3, 0.3],
        "start": "2015-01-01",
        "end": "2017-12-31",
        "method": "historical",
        "confidence": 0.99,
    },
)
