"""Per-option kernels: Black-Scholes-Merton prices and greeks (vectorised through
``vmath``), implied volatility."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from quantrun.models.kernels.vmath import vexp, vlog, vndtr_gauss

_FLAGS = {"contract"}  # fused multiply-adds; no other fast-math liberty

SQRT1_2 = 0.7071067811865476
INV_SQRT_2PI = 0.3989422804014327


@njit(inline="always")
def _ndtr(x):  # type: ignore[no-untyped-def]
    return 0.5 * math.erfc(-x * SQRT1_2)


BLOCK = 512  # options per block: its scratch rows stay in L1/L2
# The vectorised loops are exact where their intermediate values stay normal and finite:
# spot / strike within 1e+-300 (vlog takes normal numbers) and the forward and the
# discounted strike within 1e+-280. The first loop reports whether any option of its block
# is outside that (four compares of values it has), and those are priced by the scalar
# formulas after the block.
RATIO_BOUND = 1e300
RATIO_BOUND_BELOW = 1e-300
SIZE_BOUND = 1e280
SIZE_BOUND_BELOW = 1e-280


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FLAGS)
def black_scholes(is_call, s, k, t, r, v, q, greeks, out):  # type: ignore[no-untyped-def]
    """Black-Scholes-Merton per option (1-D inputs of one length) into out (6, n): price,
    delta, gamma, vega, theta, rho, as ``quantrun.models.options`` defines them (the
    Greeks rows are left untouched when ``greeks`` is false).

    Blocks of BLOCK options, each in two loops that vectorise (``vmath``): the first
    computes all that needs no normal CDF into scratch rows, the second the two CDFs and
    what needs them. (One loop with everything vectorises too, but is slower: it needs
    more registers than AVX2 has.) The scratch keeps the loops from writing ``out``,
    whose rows LLVM cannot prove apart from the inputs."""
    n = s.size
    pre = np.empty((11, BLOCK))
    post = np.empty((4, BLOCK))
    for first in range(0, n, BLOCK):
        last = min(first + BLOCK, n)
        outside = _without_cdf(is_call, s, k, t, r, v, q, first, last, pre)
        _with_cdf(q, r, first, last, pre, post)
        w = last - first
        out[0, first:last] = post[0, :w]
        if greeks:
            out[1, first:last] = post[1, :w]
            out[2, first:last] = pre[7, :w]
            out[3, first:last] = pre[8, :w]
            out[4, first:last] = post[2, :w]
            out[5, first:last] = post[3, :w]
        if outside:
            for i in range(first, last):
                fwd_s, pv_k = s[i] * vexp(-q[i] * t[i]), k[i] * vexp(-r[i] * t[i])
                if _outside(s[i] / k[i], max(fwd_s, pv_k), min(fwd_s, pv_k)):
                    _one_option(is_call[i], s[i], k[i], t[i], r[i], v[i], q[i], greeks, out, i)


@njit(inline="always", error_model="numpy", fastmath=_FLAGS)
def _outside(ratio, larger, smaller):  # type: ignore[no-untyped-def]
    """Whether an option is outside the vectorised loops' range (above): its spot /
    strike, and the larger and smaller of its forward and discounted strike."""
    return (
        (ratio > RATIO_BOUND) | (ratio < RATIO_BOUND_BELOW)
        | (larger > SIZE_BOUND) | (smaller < SIZE_BOUND_BELOW)
    )  # fmt: skip


@njit(error_model="numpy")
def _one_option(call, s, k, t, r, v, q, greeks, out, i):  # type: ignore[no-untyped-def]
    """``quantrun.models.options``' formulas for one option, into out[:, i], with
    the C library's log, exp and erfc (log s - log k where s / k overflows or is 0): the
    few options outside the vectorised loops' range (``_outside``)."""
    sqrt_t = math.sqrt(t)
    vol_sqrt_t = v * sqrt_t
    ratio = s / k  # libm's log takes the subnormals; only an overflow or 0 needs two logs
    log_ratio = math.log(ratio) if 0.0 < ratio < math.inf else math.log(s) - math.log(k)
    d1 = (log_ratio + (r - q + 0.5 * v * v) * t) / vol_sqrt_t
    d2 = d1 - vol_sqrt_t
    sign = 1.0 if call else -1.0
    disc_q, disc_r = math.exp(-q * t), math.exp(-r * t)
    n_d1, n_d2 = _ndtr(sign * d1), _ndtr(sign * d2)
    fwd_s, pv_k = s * disc_q, k * disc_r
    out[0, i] = sign * (fwd_s * n_d1 - pv_k * n_d2)
    if greeks:
        pdf_d1 = INV_SQRT_2PI * math.exp(-0.5 * d1 * d1)
        out[1, i] = sign * disc_q * n_d1
        out[2, i] = disc_q * pdf_d1 / s / vol_sqrt_t
        out[3, i] = fwd_s * pdf_d1 * sqrt_t
        out[4, i] = -fwd_s * pdf_d1 * v / (2.0 * sqrt_t) + sign * (
            q * fwd_s * n_d1 - r * pv_k * n_d2
        )
        out[5, i] = sign * k * t * disc_r * n_d2


@njit(inline="always", error_model="numpy", fastmath=_FLAGS)
def _without_cdf(is_call, s, k, t, r, v, q, first, last, pre):  # type: ignore[no-untyped-def]
    """The first loop; whether any option of the block is outside its range."""
    outside = False
    for i in range(first, last):
        b = i - first
        sqrt_t = math.sqrt(t[i])
        vol_sqrt_t = v[i] * sqrt_t
        ratio = s[i] / k[i]
        d1 = (vlog(ratio) + (r[i] - q[i] + 0.5 * v[i] * v[i]) * t[i]) / vol_sqrt_t
        sign = 1.0 if is_call[i] else -1.0
        disc_q = vexp(-q[i] * t[i])
        disc_r = vexp(-r[i] * t[i])
        fwd_s = s[i] * disc_q
        pv_k = k[i] * disc_r
        d2 = d1 - vol_sqrt_t
        # exp(-d^2 / 2) of d1 and of d2 from one exp, by fwd_s phi(d1) = pv_k phi(d2): the
        # one of the larger |d| is the other's times min / max of fwd_s and pv_k, a factor
        # <= 1 that cannot overflow. Three exps an option instead of five, and nearer the
        # closed form far from the money, where the two exps disagree with the identity
        d1_nearer = abs(d1) <= abs(d2)
        z_near = min(abs(d1), abs(d2)) * SQRT1_2
        gauss_near = vexp(-z_near * z_near)
        larger, smaller = max(fwd_s, pv_k), min(fwd_s, pv_k)
        gauss_far = gauss_near * (smaller / larger)  # 0/0 or inf/inf only when outside
        gauss_d1 = gauss_near if d1_nearer else gauss_far
        pdf_d1 = INV_SQRT_2PI * gauss_d1
        pre[0, b] = sign * d1
        pre[1, b] = sign * d2
        pre[2, b] = sign * fwd_s
        pre[3, b] = sign * pv_k
        pre[4, b] = -fwd_s * pdf_d1 * v[i] / (2.0 * sqrt_t)  # theta's first term
        pre[5, b] = sign * disc_q  # delta / N(sign d1)
        pre[6, b] = sign * k[i] * t[i] * disc_r  # rho / N(sign d2)
        pre[7, b] = disc_q * pdf_d1 / s[i] / vol_sqrt_t  # gamma (s * vol_sqrt_t can be 0)
        pre[8, b] = fwd_s * pdf_d1 * sqrt_t  # vega
        pre[9, b] = gauss_d1
        pre[10, b] = gauss_far if d1_nearer else gauss_near  # d2's
        outside |= _outside(ratio, larger, smaller)
    return outside


@njit(inline="always", error_model="numpy", fastmath=_FLAGS)
def _with_cdf(q, r, first, last, pre, post):  # type: ignore[no-untyped-def]
    for i in range(first, last):
        b = i - first
        n_d1 = vndtr_gauss(pre[0, b], pre[9, b])  # N(d1) for a call, N(-d1) for a put
        n_d2 = vndtr_gauss(pre[1, b], pre[10, b])
        post[0, b] = pre[2, b] * n_d1 - pre[3, b] * n_d2
        post[1, b] = pre[5, b] * n_d1
        post[2, b] = pre[4, b] + q[i] * pre[2, b] * n_d1 - r[i] * pre[3, b] * n_d2
        post[3, b] = pre[6, b] * n_d2


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
