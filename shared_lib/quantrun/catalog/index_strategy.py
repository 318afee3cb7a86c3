"""``index_strategy``: a rules-based index rebalanced on a calendar, against a benchmark
(``quantrun.models.index``; metrics as ``risk_metrics``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

import numpy as np
from pydantic import Field

from quantrun.catalog.fields import Symbol, Whole, whole
from quantrun.catalog.history_params import HistoryParams, load_matrix
from quantrun.catalog.spec import ModelOutput, ModelSpec, RunContext, chart
from quantrun.models import charts
from quantrun.models.history import align
from quantrun.models.index import START_LEVEL, build_index
from quantrun.models.risk import series_metrics


class IndexParams(HistoryParams):
    weighting: Literal["equal", "inverse_volatility", "risk_parity", "min_variance", "momentum"] = (
        "equal"
    )
    rebalance: Literal["monthly", "weekly", "quarterly"] = "monthly"
    lookback_days: Whole = Field(126, ge=2, le=2520)
    top_n: whole(ge=1, le=500) | None = Field(  # type: ignore[valid-type]
        None, description="momentum: symbols held"
    )
    benchmark: Symbol = "SPY"
    fees_bps: float = Field(0.0, ge=0, le=1000, allow_inf_nan=False)


def run(p: IndexParams, ctx: RunContext) -> ModelOutput:
    symbols = list(p.symbols)
    names = list(dict.fromkeys([*symbols, p.benchmark]))
    matrix = load_matrix(ctx, names, p.start, p.end)
    cols = [names.index(s) for s in symbols]
    res = build_index(
        matrix.dates,
        matrix.close[:, cols],
        symbols,
        weighting=p.weighting,
        rebalance=p.rebalance,
        lookback_days=p.lookback_days,
        top_n=p.top_n,
        fees_bps=p.fees_bps,
        checkpoint=lambda f: ctx.checkpoint(0.8 * f),
    )
    bench_full = matrix.close[:, names.index(p.benchmark)]
    start = matrix.dates.size - res.dates.size
    pair = np.column_stack([res.levels, bench_full[start:]])
    aligned = align(res.dates, pair, ["index", p.benchmark])
    metrics = series_metrics(aligned.returns[:, 0], aligned.returns[:, 1])
    bench_metrics = series_metrics(aligned.returns[:, 1], None)
    result: dict[str, Any] = {
        "levels": {"dates": [str(d) for d in res.dates], "values": res.levels.tolist()},
        "weights_history": [
            {"date": str(d), "weights": {s: float(w[i]) for i, s in enumerate(symbols) if w[i]}}
            for d, w in zip(res.rebalance_dates, res.weights, strict=True)
        ],
        "metrics": {
            **asdict(metrics),
            "first_date": str(aligned.dates[0]),
            "last_date": str(aligned.dates[-1]),
            "dates_dropped": aligned.dates_dropped,
        },
        "benchmark": {"symbol": p.benchmark, **asdict(bench_metrics)},
        "turnover": res.turnover,
        "fees_paid_points": res.fees_paid,
        "weighting": p.weighting,
        "rebalance": p.rebalance,
        "start_level": START_LEVEL,
    }
    artifacts = []
    if ctx.charts:
        b = aligned.prices[:, 1]
        series = {
            f"index ({p.weighting}, {p.rebalance})": (aligned.dates, aligned.prices[:, 0]),
            p.benchmark: (aligned.dates, START_LEVEL * b / b[0]),
        }
        artifacts.append(
            chart(
                "index_vs_benchmark.png",
                charts.line_chart(
                    series,
                    title="Index vs benchmark (both start at 100)",
                    ylabel="Level",
                    emphasise=[p.benchmark],
                ),
            )
        )
    ctx.checkpoint(1.0)
    return ModelOutput(result=result, artifacts=artifacts)


SPEC = ModelSpec(
    name="index_strategy",
    description="Rules-based index (equal, inverse-volatility, risk-parity, min-variance or "
    "momentum weights) rebalanced weekly/monthly/quarterly with fees, vs a benchmark.",
    params=IndexParams,
    run=run,
    artifacts=("index_vs_benchmark.png",),
    cost=lambda p: p.history_size() * (20 if p.weighting in ("min_variance", "risk_parity") else 1),
    symbols=lambda p: list(dict.fromkeys([*p.symbols, p.benchmark])),
    example={
        "symbols": ["AAPL", "XOM", "JPM", "WMT", "PFE"],
        "start": "2012-01-01",
        "end": "2017-12-31",
        "weighting": "risk_parity",
        "rebalance": "monthly",
    },
)
