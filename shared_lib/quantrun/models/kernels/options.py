"""Per-option kernels: Black-Scholes-Merton prices and greeks, implied volatility."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

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
