"""Compiled inner loops (numba: nopython, no GIL, cached on disk), where numpy's
whole-array passes cost more in memory traffic than the arithmetic.

Each kernel has a numpy twin elsewhere in ``quantrun.models`` written from the
definition; the tests hold every kernel to its twin (and the twins to per-day loops and
textbook values). Kernels release the GIL, so callers parallelise by splitting the work
across threads (`run_split`); no numba threading layer is involved, which keeps them
safe to call from several worker threads at once.

Cold start: compiling all kernels takes a few seconds once; the compiled code is cached
next to this file (``__pycache__``, or ``NUMBA_CACHE_DIR``) and the service images warm
it at build time (`warm`).
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

import numpy as np
from numba import njit

# Reassociating the sums lets LLVM vectorise the loop over symbols (AVX): ~5x, at a
# cost of ~1e-15 relative in the sums. No other fast-math flag: NaN and inf keep their
# meaning. The sleeve update is written out in each kernel on purpose: moved into a
# shared inlined helper, the loop stops vectorising (measured 3x slower).
FAST = {"reassoc", "contract"}


@njit(cache=True, nogil=True, fastmath=FAST)
def simulate_positions(  # type: ignore[no-untyped-def]
    positions, live, returns, cost, cash, equity, trades, traded
):
    """Long/flat sleeves (see ``quantrun.models.backtest``) for positions (G, T, N):
    writes portfolio equity (G, T), position changes (G,) and traded notional (G,)."""
    n_grid, n_days, n_sym = positions.shape
    sleeve = np.empty(n_sym)
    held = np.empty(n_sym)
    for g in range(n_grid):
        sleeve[:] = cash / n_sym
        held[:] = 0.0
        changes = 0.0
        notional = 0.0
        for t in range(n_days):
            total = 0.0
            for j in range(n_sym):
                pos = 1.0 if positions[g, t, j] and live[t, j] else 0.0
                value = _step(sleeve, held, j, pos, returns[t, j], t > 0)
                change = abs(pos - held[j])
                changes += change
                notional += value * change
                value *= 1.0 - cost * change
                sleeve[j] = value
                held[j] = pos
                total += value
            equity[g, t] = total
        trades[g] = changes
        traded[g] = notional


@njit(inline="always", fastmath=FAST)
def _step(sleeve, held, j, pos, ret, started):  # type: ignore[no-untyped-def]
    """A sleeve's value after day t's return on the position held from t - 1."""
    if started:
        return sleeve[j] * (1.0 + held[j] * ret)
    return sleeve[j]


@njit(cache=True, nogil=True, fastmath=FAST)
def simulate_sma_cross(  # type: ignore[no-untyped-def]
    csum, age, returns, fast, slow, cost, cash, equity, trades, traded
):
    """`simulate_positions` with the sma_cross signal computed in place: long while
    SMA_fast > SMA_slow once ``slow`` prices exist (``age`` >= slow, which implies the
    symbol is live). ``csum`` is the column-wise cumulative sum of prices; the SMAs are
    compared as window sums cross-multiplied by the window lengths (no division), which
    can differ from ``backtest.sma``'s comparison only at exact ties."""
    n_grid = fast.size
    n_days, n_sym = csum.shape
    sleeve = np.empty(n_sym)
    held = np.empty(n_sym)
    for g in range(n_grid):
        f, s = fast[g], slow[g]
        sleeve[:] = cash / n_sym
        held[:] = 0.0
        changes = 0.0
        notional = 0.0
        for t in range(n_days):
            total = 0.0
            # before a full window the SMA averages the t + 1 prices that exist
            len_f = float(f) if t >= f else float(t + 1)
            len_s = float(s) if t >= s else float(t + 1)
            for j in range(n_sym):
                sum_f = csum[t, j] - (csum[t - f, j] if t >= f else 0.0)
                sum_s = csum[t, j] - (csum[t - s, j] if t >= s else 0.0)
                pos = 1.0 if sum_f * len_s > sum_s * len_f and age[t, j] >= s else 0.0
                value = _step(sleeve, held, j, pos, returns[t, j], t > 0)
                change = abs(pos - held[j])
                changes += change
                notional += value * change
                value *= 1.0 - cost * change
                sleeve[j] = value
                held[j] = pos
                total += value
            equity[g, t] = total
        trades[g] = changes
        traded[g] = notional


# Rows of the statistics table `series_statistics` fills, one column per series.
MEAN, STD, DOWNSIDE, GROWTH, MAX_DRAWDOWN, QUANTILE, TAIL_MEAN, COV = range(8)


@njit(cache=True, nogil=True, fastmath=FAST)
def series_moments(returns, bench, rf, out):  # type: ignore[no-untyped-def]
    """Per column j of returns (n, k), into out[:, j]: MEAN, STD (ddof 1, two-pass),
    DOWNSIDE = sqrt(mean(min(r - rf, 0)^2)), GROWTH = prod(1 + r), MAX_DRAWDOWN (equity
    from 1.0 before the first return, a number <= 0) and COV = cov(r, bench) (ddof 1;
    0 if bench is empty). Row by row, so the loop over series vectorises."""
    n, k = returns.shape
    total = np.zeros(k)
    down = np.zeros(k)
    growth = np.ones(k)
    # equity / running peak, carried as min(1, ratio * (1 + r)): the same number as the
    # division (to ~n ulps) without a division per element, so the loop vectorises
    ratio = np.ones(k)
    lowest = np.ones(k)
    for t in range(n):
        for j in range(k):
            x = returns[t, j]
            total[j] += x
            e = min(x - rf, 0.0)
            down[j] += e * e
            growth[j] *= 1.0 + x
            r = min(ratio[j] * (1.0 + x), 1.0)
            ratio[j] = r
            lowest[j] = min(lowest[j], r)
    mdd = np.minimum(lowest - 1.0, 0.0)
    mean = total / n
    centred_b = bench - bench.mean() if bench.size else np.zeros(n)
    sq = np.zeros(k)
    cross = np.zeros(k)
    for t in range(n):
        cb = centred_b[t]
        for j in range(k):
            d = returns[t, j] - mean[j]
            sq[j] += d * d
            cross[j] += d * cb
    out[MEAN] = mean
    out[STD] = np.sqrt(sq / (n - 1))
    out[DOWNSIDE] = np.sqrt(down / n)
    out[GROWTH] = growth
    out[MAX_DRAWDOWN] = mdd
    out[COV] = cross / (n - 1)


@njit(cache=True, nogil=True)
def series_tails(returns, lo, hi, frac, out):  # type: ignore[no-untyped-def]
    """Per column, after `series_moments`: QUANTILE, numpy's linear interpolation
    between order statistics lo and hi = lo + 1 at fraction ``frac``, and TAIL_MEAN, the
    mean of the returns at or below it. Only values below mean - 1.4 std (~8% of a
    normal sample, against the 5% needed) are gathered and partitioned; a column with too
    few (or too many) of them is partitioned whole, so the answer never depends on that
    guess."""
    n, k = returns.shape
    cap = max(8 * (hi + 1), 64)
    gathered = np.empty((k, cap))
    count = np.zeros(k, dtype=np.int64)
    cut = out[MEAN] - 1.4 * out[STD]
    for t in range(n):
        for j in range(k):
            x = returns[t, j]
            if x <= cut[j]:
                c = count[j]
                if c < cap:
                    gathered[j, c] = x
                count[j] = c + 1
    column = np.empty(n)
    for j in range(k):
        c = count[j]
        if hi < c <= cap:
            values = gathered[j, :c]
        else:
            column[:] = returns[:, j]
            values = column
        part = np.partition(values, hi)
        q_lo = part[:hi].max() if lo < hi else part[hi]
        q = q_lo + frac * (part[hi] - q_lo)
        tail = 0.0
        m = 0
        for x in values:
            if x <= q:
                tail += x
                m += 1
        out[QUANTILE, j] = q
        out[TAIL_MEAN, j] = tail / m


SQRT1_2 = 0.7071067811865476
INV_SQRT_2PI = 0.3989422804014327


@njit(inline="always")
def _ndtr(x):  # type: ignore[no-untyped-def]
    return 0.5 * math.erfc(-x * SQRT1_2)


@njit(cache=True, nogil=True, error_model="numpy")
def black_scholes(is_call, s, k, t, r, v, q, greeks, out):  # type: ignore[no-untyped-def]
    """Black-Scholes-Merton per option (1-D inputs of one length) into out (6, n): price,
    delta, gamma, vega, theta, rho, as ``quantrun.models.options`` defines them (the
    Greeks rows are left untouched when ``greeks`` is false)."""
    for i in range(s.size):
        sqrt_t = math.sqrt(t[i])
        vol_sqrt_t = v[i] * sqrt_t
        d1 = (math.log(s[i] / k[i]) + (r[i] - q[i] + 0.5 * v[i] * v[i]) * t[i]) / vol_sqrt_t
        d2 = d1 - vol_sqrt_t
        sign = 1.0 if is_call[i] else -1.0
        disc_q = math.exp(-q[i] * t[i])
        disc_r = math.exp(-r[i] * t[i])
        n_d1 = _ndtr(sign * d1)
        n_d2 = _ndtr(sign * d2)
        fwd_s = s[i] * disc_q
        pv_k = k[i] * disc_r
        out[0, i] = sign * (fwd_s * n_d1 - pv_k * n_d2)
        if greeks:
            pdf_d1 = INV_SQRT_2PI * math.exp(-0.5 * d1 * d1)
            out[1, i] = sign * disc_q * n_d1
            out[2, i] = disc_q * pdf_d1 / (s[i] * vol_sqrt_t)
            out[3, i] = fwd_s * pdf_d1 * sqrt_t
            out[4, i] = -fwd_s * pdf_d1 * v[i] / (2.0 * sqrt_t) + sign * (
                q[i] * fwd_s * n_d1 - r[i] * pv_k * n_d2
            )
            out[5, i] = sign * k[i] * t[i] * disc_r * n_d2


@njit(inline="always", error_model="numpy")
def _price_vega(sign, fwd_s, pv_k, log_moneyness, sqrt_t, sigma):  # type: ignore[no-untyped-def]
    vs = sigma * sqrt_t
    d1 = log_moneyness / vs + 0.5 * vs
    d2 = d1 - vs
    price = sign * (fwd_s * _ndtr(sign * d1) - pv_k * _ndtr(sign * d2))
    return price, fwd_s * math.exp(-0.5 * d1 * d1) * sqrt_t * INV_SQRT_2PI


@njit(cache=True, nogil=True, error_model="numpy")
def implied_volatility(  # type: ignore[no-untyped-def]
    is_call, price, s, k, t, r, q, max_vol, max_iter, vol, status, iterations
):
    """Per option, the safeguarded Newton method of ``quantrun.models.implied_vol`` (same
    bounds, first guess, bracket, steps and stopping rules) into vol, status (its codes)
    and iterations."""
    for i in range(s.size):
        call, p, t_i = is_call[i], price[i], t[i]
        fwd_s = s[i] * math.exp(-q[i] * t_i)
        pv_k = k[i] * math.exp(-r[i] * t_i)
        lower = max(fwd_s - pv_k, 0.0) if call else max(pv_k - fwd_s, 0.0)
        upper = fwd_s if call else pv_k
        tol_bound = 1e-12 * max(1.0, upper)
        vol[i] = math.nan
        iterations[i] = 0
        if p < lower - tol_bound:
            status[i] = 1  # below_intrinsic
            continue
        if p <= lower + tol_bound:
            status[i], vol[i] = 0, 0.0
            continue
        sign = 1.0 if call else -1.0
        log_moneyness = math.log(fwd_s / pv_k)
        sqrt_t = math.sqrt(t_i)
        if (
            p >= upper - tol_bound
            or p > _price_vega(sign, fwd_s, pv_k, log_moneyness, sqrt_t, max_vol)[0]
        ):
            status[i] = 2  # above_max
            continue
        mid = 0.5 * (fwd_s - pv_k)
        disc = max((p - mid) ** 2 - (fwd_s - pv_k) ** 2 / math.pi, 0.0)
        guess = math.sqrt(2 * math.pi / t_i) / (fwd_s + pv_k) * (p - mid + math.sqrt(disc))
        sigma = guess if math.isfinite(guess) and guess > 0 else 0.3
        sigma = min(max(sigma, 1e-4), max_vol)
        lo, hi = 1e-12, max_vol
        status[i] = 3  # no_convergence
        for it in range(1, max_iter + 1):
            iterations[i] = it
            model, vega = _price_vega(sign, fwd_s, pv_k, log_moneyness, sqrt_t, sigma)
            diff = model - p
            if diff < 0:
                lo = sigma
            if diff > 0:
                hi = sigma
            step = diff / vega
            newton = sigma - step
            converged = diff == 0 or abs(step) <= 1e-12 * max(sigma, 1e-3)
            if not converged:
                bad = not math.isfinite(newton) or newton <= lo or newton >= hi
                sigma = 0.5 * (lo + hi) if bad else newton
            if converged or hi - lo < 1e-13:
                status[i], vol[i] = 0, sigma
                break


def flat_options(
    is_call: object, *values: object
) -> tuple[tuple[int, ...], np.ndarray, list[np.ndarray]]:
    """Per-option inputs broadcast together and laid out as contiguous 1-D arrays for the
    option kernels: (the broadcast shape, is_call as bool, the values as float64)."""
    c, *rest = np.broadcast_arrays(
        np.asarray(is_call, dtype=bool), *(np.asarray(x, dtype=np.float64) for x in values)
    )
    flat = [np.ascontiguousarray(x).ravel() for x in rest]
    return c.shape, np.ascontiguousarray(c).ravel(), flat


_helpers: ThreadPoolExecutor | None = None
_helpers_lock = threading.Lock()


def _helper_pool() -> ThreadPoolExecutor:
    """One pool of helper threads per process, made on first use: starting threads for
    every call cost more than the work of a small chunk (~3 ms per split)."""
    global _helpers
    with _helpers_lock:
        if _helpers is None:
            _helpers = ThreadPoolExecutor(
                max_workers=max(1, (os.cpu_count() or 1) - 1), thread_name_prefix="kernels"
            )
        return _helpers


def run_split(work: Callable[[int, int], None], n: int, threads: int, start: int = 0) -> None:
    """Call work(lo, hi) over [start, start + n) in ``threads`` contiguous parts at once:
    the first on the calling thread, the rest on the process's helper threads (the
    kernels release the GIL, so the parts run in parallel; a busy pool only delays them)."""
    threads = max(1, min(threads, n))
    if threads == 1:
        work(start, start + n)
        return
    bounds = [start + int(x) for x in np.linspace(0, n, threads + 1)]
    parts = list(itertools.pairwise(bounds))
    pool = _helper_pool()
    futures = [pool.submit(work, a, b) for a, b in parts[1:]]
    try:
        work(*parts[0])
    finally:
        for f in futures:
            f.result()


T = TypeVar("T")


def map_blocks(
    work: Callable[[int], T],
    n: int,
    threads: int,
    progress: Callable[[float], None] = lambda _f: None,
) -> list[T]:
    """[work(0), ..., work(n - 1)] on ``threads`` threads (numpy's generators and array
    passes release the GIL), ``progress(done / n)`` called on the calling thread after
    each; if it raises (a cancelled job), the blocks not started are dropped."""
    if threads <= 1 or n <= 1:
        out = []
        for i in range(n):
            out.append(work(i))
            progress((i + 1) / n)
        return out
    results: dict[int, T] = {}
    pool = ThreadPoolExecutor(max_workers=threads)
    try:
        futures = {pool.submit(work, i): i for i in range(n)}
        for done, future in enumerate(as_completed(futures), start=1):
            results[futures[future]] = future.result()
            progress(done / n)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [results[i] for i in range(n)]


def warm() -> None:
    """Compile (or load from the cache) every kernel on tiny inputs, in the array
    layouts the callers pass: contiguous, and the column slices of a split over threads."""
    days, sym = 3, 2
    live = np.ones((days, sym), dtype=np.bool_)
    returns = np.zeros((days, sym))
    out = np.empty((1, days)), np.empty(1), np.empty(1)
    simulate_positions(np.ones((1, days, sym), dtype=np.bool_), live, returns, 0.0, 1.0, *out)
    simulate_sma_cross(
        np.ones((days, sym)),
        np.ones((days, sym), dtype=np.int64),
        returns,
        np.array([1], dtype=np.int64),
        np.array([2], dtype=np.int64),
        0.0,
        1.0,
        *out,
    )
    one = np.ones(1)
    for greeks_out in (np.empty((6, 1)), np.empty((6, 2))[:, :1]):
        black_scholes(np.ones(1, dtype=np.bool_), one, one, one, one * 0.0, one, one * 0.0,
                      True, greeks_out)  # fmt: skip
    implied_volatility(np.ones(1, dtype=np.bool_), one * 0.1, one, one, one, one * 0.0,
                       one * 0.0, 10.0, 100, np.empty(1), np.empty(1, dtype=np.int8),
                       np.empty(1, dtype=np.int64))  # fmt: skip
    for matrix in (np.zeros((days, sym)), np.zeros((days, sym + 1))[:, :sym]):
        table = np.empty((8, sym))
        series_moments(matrix, np.zeros(days), 0.0, table)
        series_tails(matrix, 0, 1, 0.5, table)


if __name__ == "__main__":
    warm()
