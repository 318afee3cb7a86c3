"""Value at Risk and Conditional VaR (expected shortfall) of a weighted portfolio.

Inputs are daily simple returns of the assets (aligned per ``quantrun.models.history``),
weights (fractions of ``portfolio_value``; they need not sum to 1, a short is negative),
a confidence level c and a horizon of h trading days. Losses are positive money amounts.

- ``historical``: the portfolio's h-day returns over overlapping windows of the history,
  compounded from daily portfolio returns with weights reset daily; VaR is the
  c-quantile of the loss (numpy's linear interpolation), CVaR the mean loss at or
  beyond it.
- ``parametric``: normal returns, mu_h = h * w'mu, sigma_h = sqrt(h * w'Sigma w) from the
  daily sample mean and covariance (ddof 1): VaR = V (z_c sigma_h - mu_h),
  CVaR = V (sigma_h phi(z_c) / (1 - c) - mu_h).
- ``monte_carlo``: ``scenarios`` draws of the assets' h-day returns from
  N(h mu, h Sigma) (Cholesky of Sigma), in seeded blocks (the same seed gives the same
  answer however the blocks are split); VaR and CVaR as in ``historical``. It converges
  to ``parametric``, which is what the tests check.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from quantrun.domain.errors import ModelInputError
from quantrun.models import kernels

MC_BLOCK = 65_536


@dataclass(frozen=True)
class VarResult:
    var: float
    cvar: float
    observations: int
    losses: np.ndarray  # the loss sample (historical, monte_carlo) for a histogram
    mean_return: float  # of the horizon return, as used by the method
    volatility: float  # of the horizon return


def _tail(losses: np.ndarray, confidence: float) -> tuple[float, float]:
    var = float(np.quantile(losses, confidence))
    return var, float(losses[losses >= var].mean())


def historical_var(
    returns: np.ndarray, weights: np.ndarray, *, confidence: float, horizon_days: int, value: float
) -> VarResult:
    port = returns @ weights
    if horizon_days > 1:
        growth = np.concatenate([[1.0], np.cumprod(1.0 + port)])
        horizon = growth[horizon_days:] / growth[:-horizon_days] - 1.0
    else:
        horizon = port
    if horizon.size < 2:
        raise ModelInputError(
            f"only {horizon.size} {horizon_days}-day windows in the history; "
            "lengthen the date range or shorten horizon_days",
            code="insufficient_history",
            field="params.horizon_days",
        )
    losses = -value * horizon
    var, cvar = _tail(losses, confidence)
    return VarResult(
        var, cvar, int(horizon.size), losses, float(horizon.mean()), float(horizon.std(ddof=1))
    )


def parametric_var(
    returns: np.ndarray, weights: np.ndarray, *, confidence: float, horizon_days: int, value: float
) -> VarResult:
    mu = returns.mean(axis=0) @ weights * horizon_days
    cov = np.atleast_2d(np.cov(returns, rowvar=False, ddof=1))
    sigma = math.sqrt(max(float(weights @ cov @ weights), 0.0) * horizon_days)
    z = float(ndtri(confidence))
    phi = math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    var = value * (z * sigma - mu)
    cvar = value * (sigma * phi / (1.0 - confidence) - mu)
    return VarResult(var, cvar, int(returns.shape[0]), np.empty(0), float(mu), sigma)


def monte_carlo_var(
    returns: np.ndarray,
    weights: np.ndarray,
    *,
    confidence: float,
    horizon_days: int,
    value: float,
    scenarios: int,
    seed: int,
    checkpoint: Callable[[float], None] = lambda _f: None,
    threads: int = 1,
) -> VarResult:
    mu = returns.mean(axis=0) * horizon_days
    cov = np.atleast_2d(np.cov(returns, rowvar=False, ddof=1)) * horizon_days
    # Cholesky with a tiny ridge for a singular covariance (duplicated assets)
    ridge = 1e-12 * max(float(np.trace(cov)) / cov.shape[0], 1e-300)
    chol = np.linalg.cholesky(cov + ridge * np.eye(cov.shape[0]))
    n_blocks = -(-scenarios // MC_BLOCK)
    port = np.empty(scenarios)
    # the portfolio return of scenario z is w'(mu + L z) = w'mu + (L'w)'z: one dot
    # product per scenario instead of the asset returns' matrix product
    loading = chol.T @ weights
    expected = float(mu @ weights)

    def block(b: int) -> None:
        lo, hi = b * MC_BLOCK, min((b + 1) * MC_BLOCK, scenarios)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(b,))))
        z = rng.standard_normal((hi - lo, cov.shape[0]))
        np.add(z @ loading, expected, out=port[lo:hi])

    kernels.map_blocks(block, n_blocks, threads, checkpoint)
    losses = -value * port
    var, cvar = _tail(losses, confidence)
    return VarResult(var, cvar, scenarios, losses, float(port.mean()), float(port.std(ddof=1)))
