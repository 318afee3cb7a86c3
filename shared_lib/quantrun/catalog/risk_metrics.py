"""``risk_metrics``: per-series performance and risk against a benchmark
(definitions in ``quantrun.models.risk``; missing data per ``quantrun.models.history``)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from quantrun.catalog.fields import Symbol
from quantrun.catalog.history_params import HistoryParams
from quantrun.catalog.spec import Artifact, ModelOutput, ModelSpec, RunContext, chart
from quantrun.domain.errors import ModelInputError
from quantrun.models import charts
from quantrun.models.history import align, fill_interior_gaps
from quantrun.models.risk import drawdown_curve, equity_curve, metrics_matrix, series_metrics

PORTFOLIO = "portfolio"


class RiskMetricsParams(HistoryParams):
    benchmark: Symbol = Field("SPY", description="benchmark symbol for beta and alpha")
    risk_free_rate: float = Field(
        0.0, ge=-1.0, le=1.0, allow_inf_nan=False, description="annual, simple; /252 per day"
    )
    weights: list[float] | None = Field(
        None,
        description="optional weights (one per symbol, summing to 1): the metrics then "
        "describe one portfolio, rebalanced daily to these weights",
    )

    @field_validator("weights")
    @classmethod
    def _weights_match(cls, weights: list[float] | None, info: ValidationInfo) -> Any:
        symbols = info.data.get("symbols")
        if weights is None or symbols is None:
            return weights
        if len(weights) != len(symbols):
            raise ValueError(f"has {len(weights)} entries but symbols has {len(symbols)}")
        if not all(np.isfinite(weights)):
            raise ValueError("must be finite numbers")
        if abs(sum(weights) - 1.0) > 1e-6:
            raise ValueError(f"must sum to 1 (they sum to {sum(weights):.6g})")
        return weights


def _window(dates: np.ndarray) -> dict[str, str]:
    return {"first_date": str(dates[0]), "last_date": str(dates[-1])}


def run(p: RiskMetricsParams, ctx: RunContext) -> ModelOutput:
    names = list(dict.fromkeys([*p.symbols, p.benchmark]))
    matrix = ctx.load_prices(names, p.start, p.end)
    if matrix.dates.size == 0:
        raise ModelInputError(
            f"no prices for {', '.join(names)} between {p.start} and {p.end}",
            code="insufficient_history",
        )
    col = {s: i for i, s in enumerate(matrix.symbols)}
    bench_col = matrix.close[:, col[p.benchmark]]
    series: dict[str, dict[str, Any]] = {}
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    if p.weights is not None:
        cols = [col[s] for s in p.symbols] + [col[p.benchmark]]
        aligned = align(matrix.dates, matrix.close[:, cols], [*p.symbols, p.benchmark])
        port = aligned.returns[:, :-1] @ np.asarray(p.weights)
        m = series_metrics(port, aligned.returns[:, -1], risk_free_rate=p.risk_free_rate)
        series[PORTFOLIO] = {
            **asdict(m),
            **_window(aligned.dates),
            "dates_dropped": aligned.dates_dropped,
            "prices_filled": dict(zip(p.symbols, aligned.prices_filled[:-1].tolist(), strict=True)),
            "weights": dict(zip(p.symbols, p.weights, strict=True)),
        }
        curves[PORTFOLIO] = (aligned.dates, port)
        ctx.checkpoint(0.8)
    else:
        # Each series is aligned with the benchmark on its own common dates; series that
        # share those dates (the usual case) are computed together, vectorised.
        bench_has = ~np.isnan(fill_interior_gaps(bench_col)[0][:, 0])
        groups: dict[bytes, list[str]] = {}
        for symbol in p.symbols:
            has = ~np.isnan(fill_interior_gaps(matrix.close[:, col[symbol]])[0][:, 0])
            groups.setdefault((has & bench_has).tobytes(), []).append(symbol)
        done = 0
        for members in groups.values():
            cols = [col[s] for s in members] + [col[p.benchmark]]
            aligned = align(matrix.dates, matrix.close[:, cols], [*members, p.benchmark])
            metrics = metrics_matrix(
                aligned.returns[:, :-1],
                aligned.returns[:, -1],
                risk_free_rate=p.risk_free_rate,
                threads=ctx.threads,
            )
            for j, (symbol, m) in enumerate(zip(members, metrics, strict=True)):
                series[symbol] = {
                    **asdict(m),
                    **_window(aligned.dates),
                    "dates_dropped": aligned.dates_dropped,
                    "prices_filled": int(aligned.prices_filled[j]),
                }
                curves[symbol] = (aligned.dates, aligned.returns[:, j])
            done += len(members)
            ctx.checkpoint(0.8 * done / len(p.symbols))
        series = {s: series[s] for s in p.symbols}

    bench = align(matrix.dates, bench_col, [p.benchmark])
    bench_m = series_metrics(bench.returns[:, 0], None, risk_free_rate=p.risk_free_rate)
    benchmark = {**asdict(bench_m), **_window(bench.dates), "symbol": p.benchmark}
    result: dict[str, Any] = {
        "series": series,
        "benchmark": benchmark,
        "risk_free_rate": p.risk_free_rate,
        "window": {
            "start": p.start.isoformat(),
            "end": p.end.isoformat(),
            "dates_in_window": int(matrix.dates.size),
        },
        "missing_data": "interior gaps carried forward; each series aligned with the "
        "benchmark on common dates (dates_dropped counts the window dates left out)",
    }
    artifacts = [
        Artifact("metrics.json", "application/json", json.dumps(result, indent=2).encode())
    ]
    if ctx.charts:
        curves[p.benchmark] = (bench.dates, bench.returns[:, 0])
        equity = {k: (d, equity_curve(r)) for k, (d, r) in curves.items()}
        drawdown = {k: (d, drawdown_curve(r)) for k, (d, r) in curves.items()}
        artifacts.append(
            chart(
                "equity.png",
                charts.line_chart(
                    equity,
                    title=f"Growth of 1.00 ({p.start} to {p.end})",
                    ylabel="Equity (start = 1.00)",
                    emphasise=[p.benchmark],
                ),
            )
        )
        artifacts.append(
            chart(
                "drawdown.png",
                charts.line_chart(
                    drawdown,
                    title="Drawdown from running peak",
                    ylabel="Drawdown",
                    percent=True,
                    emphasise=[p.benchmark],
                ),
            )
        )
    ctx.checkpoint(1.0)
    return ModelOutput(result=result, artifacts=artifacts)


SPEC = ModelSpec(
    name="risk_metrics",
    description="CAGR, volatility, Sharpe, Sortino, max drawdown, Calmar, beta/alpha vs a "
    "benchmark and 95% VaR/CVaR per series (or for one weighted portfolio).",
    params=RiskMetricsParams,
    run=run,
    artifacts=("equity.png", "drawdown.png", "metrics.json"),
    cost=lambda p: p.history_size(),
    symbols=lambda p: list(dict.fromkeys([*p.symbols, p.benchmark])),
    example={
        "symbols": ["AAPL", "AMZN"],
        "start": "2015-01-01",
        "end": "2017-12-31",
        "benchmark": "SPY",
    },
)
