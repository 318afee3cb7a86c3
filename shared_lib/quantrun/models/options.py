"""Black-Scholes-Merton European options with a continuous dividend yield.

Implemented: price and analytic Greeks, vectorised over arrays of any shape
(inputs broadcast like numpy).

Conventions (as in Hull, *Options, Futures, and Other Derivatives*, ch. 15 and 19):
- ``maturity`` T in years; ``rate`` r and ``dividend_yield`` q continuously
  compounded per year; ``volatility`` sigma per sqrt(year).
- ``vega`` per 1.00 (100 percentage points) of volatility, ``rho`` per 1.00 of rate,
  ``theta`` the derivative with respect to calendar time, per year (negative for a
  long option that loses value as time passes). Divide by 100 / 365 for the
  per-point / per-day figures that trading screens show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.special import ndtr

from quantrun.models import kernels

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
# the compiled per-option kernel, or its whole-array numpy twin that the tests hold it to
Engine = Literal["kernel", "numpy"]


@dataclass(frozen=True)
class BlackScholesResult:
    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray
    rho: np.ndarray


def _pdf(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = _INV_SQRT_2PI * np.exp(-0.5 * x * x)
    return out


def black_scholes(
    is_call: np.ndarray | bool,
    spot: np.ndarray | float,
    strike: np.ndarray | float,
    maturity: np.ndarray | float,
    rate: np.ndarray | float,
    volatility: np.ndarray | float,
    dividend_yield: np.ndarray | float = 0.0,
    *,
    greeks: bool = True,
    threads: int = 1,
    engine: Engine = "kernel",
) -> BlackScholesResult:
    """Prices (and Greeks) of European calls/puts, by the compiled per-option kernel
    (``quantrun.models.kernels``) split over ``threads``; ``engine="numpy"``: the same
    from the formulas in whole-array numpy, the kernel's twin (one thread). Inputs must
    be positive where it matters (spot, strike, maturity, volatility > 0); the params
    schema checks that before here."""
    shape, flat_c, (s, k, t, r, v, q) = kernels.flat_options(
        is_call, spot, strike, maturity, rate, volatility, dividend_yield
    )
    if engine == "numpy":
        rows = _formulas(flat_c, s, k, t, r, v, q, greeks)
        return BlackScholesResult(*(row.reshape(shape) for row in rows))
    out = np.empty((6, flat_c.size))
    if not greeks:
        out[1:] = np.nan

    def part(a: int, b: int) -> None:
        kernels.black_scholes(
            flat_c[a:b], s[a:b], k[a:b], t[a:b], r[a:b], v[a:b], q[a:b], greeks, out[:, a:b]
        )

    kernels.run_split(part, flat_c.size, threads)
    return BlackScholesResult(*(row.reshape(shape) for row in out))


def _formulas(
    c: np.ndarray, s: np.ndarray, k: np.ndarray, t: np.ndarray, r: np.ndarray,
    v: np.ndarray, q: np.ndarray, greeks: bool,
) -> tuple[np.ndarray, ...]:  # fmt: skip
    """Price, delta, gamma, vega, theta, rho of 1-D inputs from the formulas (NaN Greeks
    unless ``greeks``)."""
    sqrt_t = np.sqrt(t)
    vol_sqrt_t = v * sqrt_t
    with np.errstate(over="ignore", under="ignore"):
        ratio = s / k
    # the difference of the logs only where the ratio overflows or underflows to 0
    in_range = (ratio > 0.0) & (ratio < np.inf)
    log_ratio = np.where(in_range, np.log(np.where(in_range, ratio, 1.0)), np.log(s) - np.log(k))
    d1 = (log_ratio + (r - q + 0.5 * v * v) * t) / vol_sqrt_t
    d2 = d1 - vol_sqrt_t
    sign = np.where(c, 1.0, -1.0)
    disc_q = np.exp(-q * t)
    disc_r = np.exp(-r * t)
    n_d1 = ndtr(sign * d1)  # N(d1) for calls, N(-d1) for puts
    n_d2 = ndtr(sign * d2)
    fwd_s = s * disc_q
    pv_k = k * disc_r
    price = sign * (fwd_s * n_d1 - pv_k * n_d2)
    if not greeks:
        empty = np.full_like(price, np.nan)
        return price, empty, empty, empty, empty, empty
    pdf_d1 = _pdf(d1)
    delta = sign * disc_q * n_d1
    gamma = disc_q * pdf_d1 / s / vol_sqrt_t  # a product of a tiny spot and vol is 0
    vega = fwd_s * pdf_d1 * sqrt_t
    theta = -fwd_s * pdf_d1 * v / (2.0 * sqrt_t) + sign * (q * fwd_s * n_d1 - r * pv_k * n_d2)
    rho = sign * k * t * disc_r * n_d2
    return price, delta, gamma, vega, theta, rho
