"""QuantRun's hot paths against references that need no third-party library: a plain
Python loop of the textbook definition, or the floor (bare normal-number generation,
a raw columnar fetch)."""

from __future__ import annotations

import functools
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np

from benchmarks.harness import Row, paired


def two_threads(name: str, unit: str, run: Callable[[int], object], units: float) -> Row:
    """The same workload on 2 threads against 1 (the ratio is the speed-up)."""
    return paired(
        f"{name}, 2 threads", unit, lambda: run(2), units, "the same on 1 thread",
        lambda: run(1), units,
    )  # fmt: skip


def bench_black_scholes() -> list[Row]:
    from quantrun.models.options import black_scholes

    n = 1_000_000
    rng = np.random.default_rng(0)
    s, k = rng.uniform(50, 150, n), rng.uniform(50, 150, n)
    t, v = rng.uniform(0.05, 3, n), rng.uniform(0.05, 0.8, n)
    is_call = rng.random(n) < 0.5
    m = 5_000

    def loop() -> None:  # per-option textbook formulas in plain Python (math.erf)
        for i in range(m):
            sq = math.sqrt(t[i])
            d1 = (math.log(s[i] / k[i]) + (0.03 + 0.5 * v[i] ** 2) * t[i]) / (v[i] * sq)
            d2 = d1 - v[i] * sq
            nd1 = 0.5 * (1 + math.erf(d1 / math.sqrt(2)))
            nd2 = 0.5 * (1 + math.erf(d2 / math.sqrt(2)))
            pdf = math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
            _ = (
                s[i] * nd1 - k[i] * math.exp(-0.03 * t[i]) * nd2,
                nd1,
                pdf / (s[i] * v[i] * sq),
                s[i] * pdf * sq,
                -s[i] * pdf * v[i] / (2 * sq) - 0.03 * k[i] * math.exp(-0.03 * t[i]) * nd2,
                k[i] * t[i] * math.exp(-0.03 * t[i]) * nd2,
            )

    floor_out = np.empty((6, n))
    rate = np.full(n, 0.03)

    name = "Black-Scholes price + 5 Greeks, 1e6 options"
    return [
        paired(f"{name}, 1 thread", "options/s",
               lambda: black_scholes(is_call, s, k, t, 0.03, v), n,
               "per-option Python loop", loop, m),
        paired(f"{name}, 1 thread", "options/s",
               lambda: black_scholes(is_call, s, k, t, 0.03, v), n,
               "the ceiling: its inputs read and 6 outputs written, nothing computed",
               lambda: _memory_floor(is_call, s, k, t, rate, v, floor_out), n),
        two_threads(name, "options/s",
                    lambda th: black_scholes(is_call, s, k, t, 0.03, v, threads=th), n),
    ]  # fmt: skip


def _memory_floor(*arrays: np.ndarray) -> None:
    """What a per-option kernel cannot go below: every input read, every output row
    written, one add each (compiled, vectorised)."""
    _floor_kernel()(*arrays)


@functools.cache
def _floor_kernel() -> Callable[..., None]:
    from numba import njit

    @njit(error_model="numpy")
    def floor(c, s, k, t, r, v, out):  # type: ignore[no-untyped-def]
        for i in range(s.size):
            x = s[i] + k[i] + t[i] + r[i] + v[i] + (1.0 if c[i] else 0.0)
            for row in range(6):
                out[row, i] = x + row

    return floor  # type: ignore[no-any-return]


def bench_monte_carlo() -> list[Row]:
    from quantrun.models.montecarlo import BLOCK, McOption, price_monte_carlo

    opt = McOption(True, 100, 100, 1.0, 0.05, 0.2, style="asian_arithmetic", steps=252)
    paths = 16 * BLOCK
    rng = np.random.default_rng(1)

    def normals() -> None:  # the floor: one normal per path-step, nothing else
        for _ in range(16):
            rng.standard_normal((BLOCK, 252))

    def run(antithetic: bool, threads: int) -> Callable[[], object]:
        return lambda: price_monte_carlo(
            opt, paths=paths, seed=7, antithetic=antithetic, threads=threads
        )

    work = paths * 252
    name = "Monte Carlo GBM full paths (asian), 131k x 252"
    rows = [
        paired(f"{name}, plain, 1 thread", "path-steps/s", run(False, 1), work,
               "bare normal generation (1 per path-step)", normals, work),
        paired(f"{name}, antithetic, 1 thread", "path-steps/s", run(True, 1), work,
               "bare normal generation (1 per path-step)", normals, work),
        two_threads(f"{name}, antithetic", "path-steps/s",
                    lambda th: run(True, th)(), work),
    ]  # fmt: skip
    rows[-1].note = _peak_memory_note(opt)
    return rows


def _peak_memory_note(opt: object) -> str:
    """Peak memory numpy allocates (tracemalloc sees its buffers) for 1e6 paths x 252."""
    import tracemalloc

    from quantrun.models.montecarlo import McOption, price_monte_carlo

    assert isinstance(opt, McOption)
    tracemalloc.start()
    start = time.perf_counter()
    price_monte_carlo(opt, paths=1_000_000, seed=3, threads=2)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (
        f"1e6 paths x 252 steps (antithetic, 2 threads): {seconds:.2f} s, peak traced "
        f"allocation {peak / 2**20:.0f} MB"
    )


def bench_risk_metrics() -> list[Row]:
    from quantrun.models.risk import metrics_matrix

    n_days, n_series = 2520, 500
    rng = np.random.default_rng(2)
    r = rng.normal(0.0004, 0.015, (n_days, n_series))
    b = rng.normal(0.0003, 0.01, n_days)

    def ours() -> None:
        metrics_matrix(r, b)

    sub = 10

    def loop() -> None:  # definitions in plain Python (statistics module), 10 series
        for j in range(sub):
            col = r[:, j].tolist()
            mean, sd = statistics.fmean(col), statistics.stdev(col)
            eq, peak, mdd = 1.0, 1.0, 0.0
            for x in col:
                eq *= 1 + x
                peak = max(peak, eq)
                mdd = min(mdd, eq / peak - 1)
            _ = (mean / sd, statistics.covariance(col, b.tolist()), mdd)

    name = "risk metrics (all 12), 500 series x 10 years"
    return [
        paired(f"{name}, 1 thread", "series/s", ours, n_series, "plain-Python definitions",
               loop, sub),
        two_threads(name, "series/s", lambda th: metrics_matrix(r, b, threads=th), n_series),
        _core_risk_row(r, b),
    ]  # fmt: skip


def _core_risk_row(r: np.ndarray, b: np.ndarray) -> Row:
    """The five core metrics (CAGR, volatility, Sharpe, Sortino, max drawdown) need only
    the moments kernel; the numpy twin computes the whole statistics table."""
    from quantrun.models import kernels
    from quantrun.models.risk import statistics_numpy

    table = np.empty((8, r.shape[1]))
    return paired(
        "risk: the five core metrics' kernel (moments), 500 series x 10 years",
        "series/s",
        lambda: kernels.series_moments(r, b, 0.0, table),
        r.shape[1],
        "numpy twin (all statistics)",
        lambda: statistics_numpy(r, b, 0.0),
        r.shape[1],
    )


def bench_price_load() -> Row:
    import duckdb

    from quantrun.adapters.embedded.prices import DuckDBPriceStore

    n_sym, n_days = 500, 2520
    folder = Path(tempfile.mkdtemp(prefix="qr-bench-"))
    store = DuckDBPriceStore(folder / "prices.duckdb")
    con = duckdb.connect(str(folder / "prices.duckdb"))
    con.close()
    store._cursor().execute(  # bulk synthetic history: 1.26M rows
        """
        INSERT INTO prices
        SELECT DATE '2008-01-01' + CAST(d AS INTEGER), 'S' || lpad(CAST(s AS VARCHAR), 3, '0'),
               NULL, NULL, NULL, 100 + random(), NULL, NULL, 'bench', now()
        FROM range($n_days) t(d), range($n_sym) u(s)
        """,
        {"n_days": n_days, "n_sym": n_sym},
    )
    symbols = [f"S{i:03d}" for i in range(n_sym)]
    start, end = date(2008, 1, 1), date(2016, 12, 31)

    def raw_fetch() -> None:  # the floor: the same rows fetched as columns, no pivot
        store._cursor().execute(
            "SELECT CAST(date - DATE '1970-01-01' AS INTEGER), coalesce(adj_close, close) "
            "FROM prices "
            "WHERE symbol IN (SELECT unnest($s)) AND date BETWEEN $a AND $b",
            {"s": symbols, "a": start, "b": end},
        ).fetchnumpy()

    row = paired(
        "load 500 symbols x ~9 years into a dates x symbols matrix",
        "loads/s",
        lambda: store.load_close(symbols, start, end),
        1,
        "raw columnar fetch (no pivot)",
        raw_fetch,
        1,
    )
    store.close()
    return row


def bench_implied_vol() -> list[Row]:
    from scipy.optimize import brentq

    from quantrun.models.implied_vol import implied_volatility
    from quantrun.models.options import black_scholes

    n = 1_000_000
    rng = np.random.default_rng(3)
    s, k = rng.uniform(50, 150, n), rng.uniform(50, 150, n)
    t, v = rng.uniform(0.05, 3, n), rng.uniform(0.05, 0.8, n)
    c = rng.random(n) < 0.5
    price = black_scholes(c, s, k, t, 0.03, v, greeks=False).price
    m = 300

    def loop() -> None:  # per-option Brent root finding on the closed form (SciPy)
        for i in range(m):
            brentq(
                lambda x, i=i: (
                    float(black_scholes(c[i], s[i], k[i], t[i], 0.03, x, greeks=False).price)
                    - price[i]
                ),
                1e-6,
                10.0,
                xtol=1e-12,
            )

    name = "implied volatility, 1e6 options"
    return [
        paired(f"{name}, 1 thread", "options/s",
               lambda: implied_volatility(c, price, s, k, t, 0.03), n,
               "per-option scipy brentq", loop, m),
        two_threads(name, "options/s",
                    lambda th: implied_volatility(c, price, s, k, t, 0.03, threads=th), n),
    ]  # fmt: skip


def bench_var_mc() -> list[Row]:
    from quantrun.models.var import monte_carlo_var

    rng = np.random.default_rng(4)
    returns = rng.normal(0.0003, 0.01, size=(1500, 50))
    w = np.full(50, 1 / 50)
    n = 1_000_000
    gen = np.random.default_rng(5)

    def normals() -> None:  # the floor: the same normals, nothing else
        for _ in range(16):
            gen.standard_normal((n // 16, 50))

    def run(threads: int) -> object:
        return monte_carlo_var(
            returns, w, confidence=0.99, horizon_days=1, value=1e6, scenarios=n, seed=1,
            threads=threads,
        )  # fmt: skip

    name = "Monte Carlo VaR/CVaR, 1e6 scenarios x 50 assets"
    return [
        paired(f"{name}, 1 thread", "runs/s", lambda: run(1), 1, "bare normal generation",
               normals, 1),
        two_threads(name, "runs/s", run, 1),
    ]  # fmt: skip


def bench_markowitz() -> Row:
    from scipy.optimize import Bounds, LinearConstraint, minimize

    from quantrun.models import portfolio as pf

    rng = np.random.default_rng(6)
    n_assets = 100
    f = rng.normal(0, 0.01, size=(1000, 5))
    returns = f @ rng.normal(0, 1, size=(5, n_assets)) + rng.normal(0.0004, 0.01, (1000, n_assets))
    mu = returns.mean(axis=0) * 252
    cov = np.cov(returns, rowvar=False) * 252
    cons = pf.build_constraints([str(i) for i in range(n_assets)], (0.0, 1.0), None, None)

    def second_solver() -> None:  # the same max-Sharpe problem, SciPy trust-constr
        minimize(
            lambda x: -(mu @ x) / np.sqrt(x @ cov @ x),
            np.full(n_assets, 1 / n_assets),
            method="trust-constr",
            bounds=Bounds(0, 1),
            constraints=[LinearConstraint(np.ones((1, n_assets)), 1, 1)],
            options={"maxiter": 300},
        )

    return paired(
        "Markowitz max-Sharpe, 100 assets, long-only",
        "solves/s",
        lambda: pf.max_sharpe(mu, cov, cons, 0.0),
        1,
        "scipy trust-constr",
        second_solver,
        1,
    )


def bench_backtest() -> list[Row]:
    """The issue's workload: 100 (fast, slow) pairs x 500 symbols x 10 years."""
    from quantrun.models import backtest as bt

    rng = np.random.default_rng(7)
    close = 50 * np.cumprod(1 + rng.normal(0.0003, 0.02, size=(2520, 500)), axis=0)
    grid, _ = bt.expand_grid(
        "sma_cross",
        {"fast": [5, 10, 15, 20, 25, 30, 35, 40, 45, 50], "slow": list(range(60, 160, 10))},
    )

    def loop() -> None:  # one parameter set, one symbol, day by day in Python
        p = close[:, 0].tolist()
        pos = 0
        eq = 1.0
        for t in range(200, len(p)):
            if pos:
                eq *= p[t] / p[t - 1]
            pos = int(sum(p[t - 9 : t + 1]) / 10 > sum(p[t - 99 : t + 1]) / 100)

    def run(threads: int) -> Callable[[], object]:
        return lambda: bt.run_grid(
            close, "sma_cross", grid, initial_cash=1e6, fees_bps=1, slippage_bps=1, threads=threads
        )

    backtests = len(grid) * close.shape[1]
    name = f"backtest sma_cross, {len(grid)} pairs x 500 symbols x 10 years"
    return [
        paired(f"{name}, 1 thread", "backtests/s", run(1), backtests, "per-day Python loop",
               loop, 1),
        two_threads(name, "backtests/s", lambda th: run(th)(), backtests),
    ]  # fmt: skip


def bench_backtest_trades() -> Row:
    """Issue 23's budget: a backtest job's model run (16 sma_cross sets x 20 sample
    stocks x 10 years, fees) with its trade ledger (the compiled trade-by-trade pass, the
    per-set figures, trades.csv and trades.parquet) against the same run with the ledger
    pass left out, i.e. the run as it was before trades (goal: ratio >= 1/1.5 = 0.67)."""
    from unittest import mock

    from quantrun.adapters.embedded.prices import DuckDBPriceStore
    from quantrun.catalog.backtest import SPEC
    from quantrun.catalog.spec import RunContext
    from quantrun.models import backtest as bt
    from quantrun.models.ledger import Ledger

    store = DuckDBPriceStore(":memory:")
    store.load_sample_data()
    symbols = [i.symbol for i in store.instruments() if i.symbol != "SPY"][:20]
    params = SPEC.params.model_validate(
        {
            "symbols": symbols,
            "start": "2008-01-01",
            "end": "2017-12-31",
            "strategy": {"name": "sma_cross", "fast": [5, 10, 20, 40], "slow": [50, 100, 150, 200]},
            "fees_bps": 5,
        }
    )
    ctx = RunContext(load_prices=store.load_close, charts=False)
    none = Ledger(np.empty((5, 0), dtype=np.int64), np.empty((5, 0)))

    def with_trades() -> object:
        return SPEC.run(params, ctx)

    def without_trades() -> object:
        with mock.patch.object(bt, "trade_ledger", lambda *a, **k: none):
            return SPEC.run(params, ctx)

    trades = sum(1 for _ in with_trades().artifacts)  # warm, and the artifacts exist
    return paired(
        "backtest job with its trade ledger, 16 sets x 20 symbols x 10 years",
        "jobs/s",
        with_trades,
        1,
        "the same run without the ledger pass",
        without_trades,
        1,
        note=f"{trades} artifacts; ratio >= 0.67 is within issue 23's 1.5x",
    )
