"""QuantRun against the libraries its users come from, on the same inputs in the same
process: QuantLib, py_vollib_vectorized, PyPortfolioOpt, empyrical(-reloaded), vectorbt.

The peers live in the bench environment only (`make bench` builds `.venv-bench` from
`requirements.lock` plus `benchmarks/requirements-peers.lock`); run elsewhere, their
rows are left out with a line saying so. Each row also states how far the two answers
agree, so a fast wrong number cannot pass for a win.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np

from benchmarks.harness import Row, paired, timed

RATE = 0.03


def _option_inputs(n: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    s, k = rng.uniform(50, 150, n), rng.uniform(50, 150, n)
    t, v = rng.uniform(0.05, 3, n), rng.uniform(0.05, 0.8, n)
    return rng.random(n) < 0.5, s, k, t, v


def bs_vs_quantlib() -> Row:
    import QuantLib as ql

    from quantrun.models.options import black_scholes

    n, m = 1_000_000, 2_000
    c, s, k, t, v = _option_inputs(n, 0)
    today = ql.Date(2, 1, 2024)
    ql.Settings.instance().evaluationDate = today
    day_count = ql.Actual365Fixed()
    spot, vol = ql.SimpleQuote(100.0), ql.SimpleQuote(0.2)
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(spot),
        ql.YieldTermStructureHandle(ql.FlatForward(today, 0.0, day_count)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, RATE, day_count)),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), ql.QuoteHandle(vol), day_count)
        ),
    )
    engine = ql.AnalyticEuropeanEngine(process)
    days = np.maximum(np.rint(t * 365), 1).astype(int)

    def quantlib_loop() -> list[float]:
        out = []
        for i in range(m):
            spot.setValue(float(s[i]))
            vol.setValue(float(v[i]))
            kind = ql.Option.Call if c[i] else ql.Option.Put
            option = ql.VanillaOption(
                ql.PlainVanillaPayoff(kind, float(k[i])),
                ql.EuropeanExercise(today + int(days[i])),
            )
            option.setPricingEngine(engine)
            out.append(option.NPV())
            option.delta(), option.gamma(), option.vega(), option.theta(), option.rho()
        return out

    ql_prices = np.array(quantlib_loop())
    ours = black_scholes(c[:m], s[:m], k[:m], days[:m] / 365, RATE, v[:m]).price
    return paired(
        "Black-Scholes price + 5 Greeks, 1e6 options",
        "options/s",
        lambda: black_scholes(c, s, k, t, RATE, v),
        n,
        "QuantLib 1.44 per-option loop (AnalyticEuropeanEngine)",
        quantlib_loop,
        m,
        note=f"max |price - QuantLib| over {m:,} options: {np.max(np.abs(ours - ql_prices)):.2e}",
    )


def bs_vs_vollib() -> Row:
    import py_vollib_vectorized as pvv

    from quantrun.models.options import black_scholes

    n, m = 1_000_000, 200_000
    c, s, k, t, v = _option_inputs(n, 0)
    flags = np.where(c[:m], "c", "p")

    def vollib() -> tuple[object, object]:
        price = pvv.vectorized_black_scholes_merton(
            flags, s[:m], k[:m], t[:m], RATE, v[:m], 0.0, return_as="numpy"
        )
        greeks = pvv.get_all_greeks(
            flags,
            s[:m],
            k[:m],
            t[:m],
            RATE,
            v[:m],
            0.0,
            model="black_scholes_merton",
            return_as="dict",
        )
        return price, greeks

    theirs = np.asarray(vollib()[0])
    ours = black_scholes(c[:m], s[:m], k[:m], t[:m], RATE, v[:m]).price
    return paired(
        "Black-Scholes price + 5 Greeks, 1e6 options",
        "options/s",
        lambda: black_scholes(c, s, k, t, RATE, v),
        n,
        "py_vollib_vectorized 0.1.1 (finite-difference Greeks)",
        vollib,
        m,
        note=f"max |price - py_vollib_vectorized|: {np.max(np.abs(ours - theirs)):.2e}",
    )


def iv_vs_vollib() -> Row:
    import py_vollib_vectorized as pvv

    from quantrun.models.implied_vol import implied_volatility
    from quantrun.models.options import black_scholes

    n, m = 1_000_000, 200_000
    c, s, k, t, v = _option_inputs(n, 3)
    price = black_scholes(c, s, k, t, RATE, v, greeks=False).price
    flags = np.where(c[:m], "c", "p")

    def vollib() -> object:
        with warnings.catch_warnings():  # it warns about each price it cannot invert
            warnings.simplefilter("ignore")
            return _vollib_iv()

    def _vollib_iv() -> object:
        return pvv.vectorized_implied_volatility(
            price[:m],
            s[:m],
            k[:m],
            t[:m],
            RATE,
            flags,
            q=0.0,
            model="black_scholes_merton",
            return_as="numpy",
        )

    ours = implied_volatility(c, price, s, k, t, RATE)
    theirs = np.asarray(vollib(), dtype=float)
    # well-posed: vega (per unit of vol) >= 1e-3 of spot, so a price rounding error of
    # 1e-13 of spot cannot move the vol by more than ~1e-10
    vega = black_scholes(c, s, k, t, RATE, v).vega
    good = vega >= 1e-3 * s
    err = np.abs(ours.vol - v)[good]
    their_err = np.abs(theirs - v[:m])[good[:m]]
    return paired(
        "implied volatility, 1e6 options",
        "options/s",
        lambda: implied_volatility(c, price, s, k, t, RATE),
        n,
        "py_vollib_vectorized 0.1.1 (Let's Be Rational)",
        vollib,
        m,
        note=f"max |vol error| on {good.mean():.1%} well-posed options: QuantRun "
        f"{np.nanmax(err):.1e}, py_vollib_vectorized {np.nanmax(their_err):.1e}; "
        f"no answer (NaN/status) on all inputs: QuantRun {np.mean(ours.status != 0):.2%}, "
        f"py_vollib_vectorized {np.mean(np.isnan(theirs)):.2%}",
    )


def _assets(n_assets: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    f = rng.normal(0, 0.01, size=(1500, 5))
    returns = f @ rng.normal(0, 1, size=(5, n_assets)) + rng.normal(0.0004, 0.01, (1500, n_assets))
    return returns.mean(axis=0) * 252, np.cov(returns, rowvar=False) * 252


def _feasible(w: np.ndarray) -> np.ndarray:
    """A peer's weights put back on the budget (cvxpy's answers are approximate: their
    sum can be off by 1e-4, which flatters their variance)."""
    w = np.clip(w, 0.0, 1.0)
    return np.asarray(w / w.sum())


def _sharpe(w: np.ndarray, mu: np.ndarray, cov: np.ndarray) -> float:
    return float(mu @ w / math.sqrt(w @ cov @ w))


def markowitz_vs_pypfopt(n_assets: int) -> list[Row]:
    from pypfopt import EfficientFrontier

    from quantrun.models import portfolio as pf

    mu, cov = _assets(n_assets, 6)
    cons = pf.build_constraints([str(i) for i in range(n_assets)], (0.0, 1.0), None, None)
    version = "PyPortfolioOpt 1.6 (cvxpy)"

    def theirs_sharpe() -> np.ndarray:
        ef = EfficientFrontier(mu, cov, weight_bounds=(0, 1))
        ef.max_sharpe(risk_free_rate=0.0)
        return np.array(list(ef.clean_weights(rounding=None).values()))

    def theirs_minvar() -> np.ndarray:
        ef = EfficientFrontier(mu, cov, weight_bounds=(0, 1))
        ef.min_volatility()
        return np.array(list(ef.clean_weights(rounding=None).values()))

    rows = []
    for name, ours_fn, their_fn, metric in (
        ("max-Sharpe", lambda: pf.max_sharpe(mu, cov, cons, 0.0), theirs_sharpe, "Sharpe"),
        ("min-variance", lambda: pf.min_variance(cov, cons), theirs_minvar, "variance"),
    ):
        if n_assets < 500 and name == "min-variance":
            continue
        ours_w = ours_fn()
        note = ""
        try:
            their_w = _feasible(their_fn())
        except Exception as exc:  # a peer's solver failure is a figure, not a crash
            rows.append(_failed_row(f"Markowitz {name}, {n_assets} assets", ours_fn, version, exc))
            continue
        if metric == "Sharpe":
            gap = _sharpe(ours_w, mu, cov) - _sharpe(their_w, mu, cov)
        else:
            gap = float(their_w @ cov @ their_w - ours_w @ cov @ ours_w)
        note = (
            f"{metric}: QuantRun better by {gap:.2e} (negative = worse; the peer's weights "
            "clipped and rescaled to sum to 1)"
        )
        rows.append(
            paired(
                f"Markowitz {name}, {n_assets} assets, long-only",
                "runs/s",
                ours_fn,
                1,
                version,
                their_fn,
                1,
                note=note,
            )
        )

    points = 50
    lo = float(mu @ pf.min_variance(cov, cons))
    # PyPortfolioOpt's own frontier plot: efficient_return from the minimum-volatility
    # return to just below the highest
    targets = np.linspace(lo, float(mu.max()) - 1e-4, points)
    if n_assets > 100:  # ~1 s a point at 500 assets: time every 5th (the rate is per frontier)
        targets = targets[::5]

    failures: list[str] = []

    def their_frontier() -> list[np.ndarray]:
        out = []
        failures.clear()
        for target in targets:
            ef = EfficientFrontier(mu, cov, weight_bounds=(0, 1))
            try:
                ef.efficient_return(float(target))
            except Exception as exc:  # counted and reported, not timed as a success
                failures.append(type(exc).__name__)
                continue
            out.append(np.array(list(ef.clean_weights(rounding=None).values())))
        if not out:
            raise RuntimeError(f"every point failed ({failures[0]})")
        return out

    frontier_fn: Callable[[], object] = lambda: pf.frontier(mu, cov, cons, points)  # noqa: E731
    try:
        their_frontier()
    except Exception as exc:
        rows.append(
            _failed_row(
                f"Markowitz {points}-point frontier, {n_assets} assets", frontier_fn, version, exc
            )
        )
        return rows
    row = paired(
        f"Markowitz {points}-point frontier, {n_assets} assets, long-only",
        "runs/s",
        frontier_fn,
        1,
        f"{version}, efficient_return x {len(targets)}",
        their_frontier,
        len(targets) / points,
    )
    if failures:
        row.note = (
            f"the peer failed on {len(failures)} of {len(targets)} points ({failures[0]}); "
            "its rate counts every attempted point"
        )
    rows.append(row)
    return rows


def _failed_row(workload: str, ours: Callable[[], object], peer: str, exc: Exception) -> Row:
    ours()
    seconds = sorted(timed(ours) for _ in range(3))[1]
    return Row(
        workload,
        "runs/s",
        1 / seconds,
        f"{peer}: failed",
        math.nan,
        [math.nan],
        note=f"the peer raised {type(exc).__name__}: {str(exc)[:120]}",
    )


def risk_vs_empyrical() -> Row:
    import empyrical

    from quantrun.models.risk import metrics_matrix

    n_days, n_series = 2520, 500
    rng = np.random.default_rng(2)
    r = rng.normal(0.0004, 0.015, (n_days, n_series))
    b = rng.normal(0.0003, 0.01, n_days)
    frame, bench = r, b  # empyrical's fastest path: ndarrays, not pandas

    def theirs() -> dict[str, object]:
        return {
            "cagr": empyrical.annual_return(frame),
            "vol": empyrical.annual_volatility(frame),
            "sharpe": empyrical.sharpe_ratio(frame),
            "sortino": empyrical.sortino_ratio(frame),
            "mdd": empyrical.max_drawdown(frame),
            "beta": empyrical.beta(frame, bench),
        }

    ours = metrics_matrix(r, b)
    peer = theirs()
    gaps = {
        "sharpe": np.max(np.abs([m.sharpe for m in ours] - np.asarray(peer["sharpe"]))),
        "max_drawdown": np.max(np.abs([m.max_drawdown for m in ours] - np.asarray(peer["mdd"]))),
        "beta": np.max(np.abs([m.beta for m in ours] - np.asarray(peer["beta"]).ravel())),
    }
    return paired(
        "risk metrics, 500 series x 10 years",
        "series/s",
        lambda: metrics_matrix(r, b),
        n_series,
        "empyrical-reloaded 0.7 (cagr, vol, sharpe, sortino, mdd, beta)",
        theirs,
        n_series,
        note="QuantRun computes 12 metrics; max |diff| vs empyrical: "
        + ", ".join(f"{k} {v:.1e}" for k, v in gaps.items()),
    )


def backtest_vs_vectorbt() -> Row:
    import vectorbt as vbt

    from quantrun.models import backtest as bt

    rng = np.random.default_rng(7)
    close = 50 * np.cumprod(1 + rng.normal(0.0003, 0.02, size=(2520, 100)), axis=0)
    fast_w, slow_w = [5, 10, 20, 50], [60, 100, 150, 200]
    grid, _ = bt.expand_grid("sma_cross", {"fast": fast_w, "slow": slow_w})
    pairs = [(f, s) for f in fast_w for s in slow_w]

    def theirs() -> object:
        fast = vbt.MA.run(close, [p[0] for p in pairs], short_name="fast")
        slow = vbt.MA.run(close, [p[1] for p in pairs], short_name="slow")
        entries = fast.ma_crossed_above(slow)
        exits = fast.ma_crossed_below(slow)
        portfolio = vbt.Portfolio.from_signals(
            fast.close, entries, exits, fees=1e-4, slippage=1e-4, init_cash=1e6, freq="1D"
        )
        return portfolio.total_return()

    return paired(
        "backtest sma_cross, 16 pairs x 100 symbols x 10 years",
        "backtests/s",
        lambda: bt.run_grid(close, "sma_cross", grid, initial_cash=1e6, fees_bps=1, slippage_bps=1),
        len(grid) * close.shape[1],
        "vectorbt 1.2 (MA.run + Portfolio.from_signals)",
        theirs,
        len(pairs) * close.shape[1],
        note="vectorbt trades on crossing events, QuantRun holds while fast > slow "
        "(the contract's rule): the same work, not the same numbers",
    )


def rows() -> list[Row]:
    out = [bs_vs_quantlib(), bs_vs_vollib(), iv_vs_vollib()]
    out += markowitz_vs_pypfopt(100)
    out += markowitz_vs_pypfopt(500)
    out += [risk_vs_empyrical(), backtest_vs_vectorbt()]
    return out


def available() -> str | None:
    """None when every peer imports, else the missing one."""
    for module in ("QuantLib", "py_vollib_vectorized", "pypfopt", "empyrical", "vectorbt"):
        try:
            __import__(module)
        except Exception as exc:  # a peer that fails to import is as good as missing
            return f"{module} ({type(exc).__name__})"
    return None
