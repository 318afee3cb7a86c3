"""Implied volatility of European options under Black-Scholes-Merton, vectorised.

Each option gets a status instead of a bare NaN:

- ``ok``: converged: the last Newton correction was below 1e-12 relative (quadratic
  convergence then puts the error far lower), or the bisection bracket is narrower than
  1e-13. Where vega is tiny (far out of the money, very short maturities) the price
  carries little information on volatility and the answer is only as good as the price.
- ``below_intrinsic``: the price is below the no-arbitrage lower bound
  max(S e^{-qT} - K e^{-rT}, 0) for a call (max(K e^{-rT} - S e^{-qT}, 0) for a put).
  A price equal to the bound (within 1e-12 relative) has implied volatility 0.
- ``above_max``: the price reaches the upper bound (S e^{-qT} for a call, K e^{-rT} for a
  put) or needs a volatility above ``max_vol`` (default 10, i.e. 1000%).
- ``no_convergence``: none of the above within ``max_iter`` iterations (not seen in the
  tests; kept so a failure is never silent).

Method: Newton-Raphson on sigma, safeguarded by a bisection bracket [lo, hi] that every
step maintains: a Newton step that leaves the bracket, or a tiny vega, falls back to
bisection. The first guess is the Brenner-Subrahmanyam/Corrado-Miller approximation,
clipped into the bracket. `implied_volatility` runs it per option in a compiled kernel;
with ``engine="numpy"``, its twin runs it on whole arrays, compacting the unfinished
options into a working set each iteration.
Conventions as in ``quantrun.models.options``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from quantrun.models import kernels
from quantrun.models.options import Engine

STATUS_OK, STATUS_BELOW, STATUS_ABOVE, STATUS_NO_CONV = 0, 1, 2, 3
STATUS_NAMES = ("ok", "below_intrinsic", "above_max", "no_convergence")


@dataclass(frozen=True)
class ImpliedVolResult:
    vol: np.ndarray  # NaN where status != ok
    status: np.ndarray  # int codes into STATUS_NAMES
    iterations: int


def _price_vega(
    is_call: np.ndarray, fwd_s: np.ndarray, pv_k: np.ndarray, t: np.ndarray, sigma: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    sqrt_t = np.sqrt(t)
    vs = sigma * sqrt_t
    d1 = np.log(fwd_s / pv_k) / vs + 0.5 * vs
    d2 = d1 - vs
    sign = np.where(is_call, 1.0, -1.0)
    price = sign * (fwd_s * ndtr(sign * d1) - pv_k * ndtr(sign * d2))
    vega = fwd_s * np.exp(-0.5 * d1 * d1) * sqrt_t / np.sqrt(2.0 * np.pi)
    return price, vega


def implied_volatility(
    is_call: np.ndarray | bool,
    price: np.ndarray | float,
    spot: np.ndarray | float,
    strike: np.ndarray | float,
    maturity: np.ndarray | float,
    rate: np.ndarray | float,
    dividend_yield: np.ndarray | float = 0.0,
    *,
    max_vol: float = 10.0,
    max_iter: int = 100,
    threads: int = 1,
    engine: Engine = "kernel",
) -> ImpliedVolResult:
    """Implied volatilities by the compiled per-option kernel (``quantrun.models.kernels``)
    split over ``threads``; ``engine="numpy"``: the same method on whole arrays, the
    kernel's twin (one thread). ``iterations`` is the most any option needed."""
    shape, flat_c, (p, s, k, t, r, q) = kernels.flat_options(
        is_call, price, spot, strike, maturity, rate, dividend_yield
    )
    if engine == "numpy":
        vol_np, status_np, most = _whole_arrays(flat_c, p, s, k, t, r, q, max_vol, max_iter)
        return ImpliedVolResult(vol_np.reshape(shape), status_np.reshape(shape), most)
    vol = np.empty(flat_c.size)
    status = np.empty(flat_c.size, dtype=np.int8)
    iterations = np.zeros(flat_c.size, dtype=np.int64)

    def part(a: int, b: int) -> None:
        kernels.implied_volatility(
            flat_c[a:b], p[a:b], s[a:b], k[a:b], t[a:b], r[a:b], q[a:b], max_vol, max_iter,
            vol[a:b], status[a:b], iterations[a:b],
        )  # fmt: skip

    kernels.run_split(part, flat_c.size, threads)
    return ImpliedVolResult(
        vol=vol.reshape(shape),
        status=status.reshape(shape),
        iterations=int(iterations.max(initial=0)),
    )


def _whole_arrays(
    c: np.ndarray, p: np.ndarray, s: np.ndarray, k: np.ndarray, t: np.ndarray,
    r: np.ndarray, q: np.ndarray, max_vol: float, max_iter: int,
) -> tuple[np.ndarray, np.ndarray, int]:  # fmt: skip
    """(vol, status, iterations) of 1-D inputs, every unfinished option a step at a time."""
    fwd_s = s * np.exp(-q * t)
    pv_k = k * np.exp(-r * t)
    lower = np.where(c, np.maximum(fwd_s - pv_k, 0.0), np.maximum(pv_k - fwd_s, 0.0))
    upper = np.where(c, fwd_s, pv_k)
    tol_bound = 1e-12 * np.maximum(1.0, upper)
    status = np.full(p.size, STATUS_NO_CONV, dtype=np.int8)
    vol = np.full(p.size, np.nan)
    below = p < lower - tol_bound
    at_lower = ~below & (p <= lower + tol_bound)
    above = ~below & ~at_lower & (p >= upper - tol_bound)
    status[below], status[above] = STATUS_BELOW, STATUS_ABOVE
    status[at_lower], vol[at_lower] = STATUS_OK, 0.0
    todo = np.flatnonzero(~(below | above | at_lower))
    iterations = 0
    if todo.size:
        cc, pp, fs, pk, tt = c[todo], p[todo], fwd_s[todo], pv_k[todo], t[todo]
        hi_price = _price_vega(cc, fs, pk, tt, np.full(todo.size, max_vol))[0]
        too_high = pp > hi_price
        # Corrado-Miller first guess, clipped into the bracket
        mid = 0.5 * (fs - pk)
        disc = np.maximum((pp - mid) ** 2 - (fs - pk) ** 2 / np.pi, 0.0)
        guess = np.sqrt(2 * np.pi / tt) / (fs + pk) * (pp - mid + np.sqrt(disc))
        sigma = np.clip(np.where(np.isfinite(guess) & (guess > 0), guess, 0.3), 1e-4, max_vol)
        done = too_high.copy()
        # The working set holds only unfinished options, compacted every iteration, so each
        # pass costs as much as what is left to solve (no gathers from the full arrays).
        ids = np.flatnonzero(~done)
        w_c, w_p, w_fs, w_pk, w_t, w_sg = cc[ids], pp[ids], fs[ids], pk[ids], tt[ids], sigma[ids]
        w_lo, w_hi = np.full(ids.size, 1e-12), np.full(ids.size, max_vol)
        for iterations in range(1, max_iter + 1):  # noqa: B007
            if ids.size == 0:
                break
            model, vega = _price_vega(w_c, w_fs, w_pk, w_t, w_sg)
            diff = model - w_p
            np.copyto(w_lo, w_sg, where=diff < 0)
            np.copyto(w_hi, w_sg, where=diff > 0)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                step = diff / vega
                newton = w_sg - step
            converged = (diff == 0) | (np.abs(step) <= 1e-12 * np.maximum(w_sg, 1e-3))
            bad = ~np.isfinite(newton) | (newton <= w_lo) | (newton >= w_hi)
            nxt = np.where(bad, 0.5 * (w_lo + w_hi), newton)
            finished = converged | ((w_hi - w_lo) < 1e-13)
            w_sg = np.where(converged, w_sg, nxt)
            if finished.any():
                sigma[ids[finished]] = w_sg[finished]
                done[ids[finished]] = True
                keep = ~finished
                ids = ids[keep]
                w_c, w_p, w_fs, w_pk, w_t = w_c[keep], w_p[keep], w_fs[keep], w_pk[keep], w_t[keep]
                w_sg, w_lo, w_hi = w_sg[keep], w_lo[keep], w_hi[keep]
        final = done & ~too_high
        status[todo[final]] = STATUS_OK
        vol[todo[final]] = sigma[final]
        status[todo[too_high]] = STATUS_ABOVE
    return vol, status, iterations
