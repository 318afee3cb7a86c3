"""Estimators of the inputs of mean-variance optimisation.

Conventions: expected returns are annual, either the arithmetic mean of daily returns
x 252 (``mean``) or each asset's compound annual growth (``cagr``); the covariance is
annual, the sample covariance of daily returns x 252 (ddof 1) or its Ledoit-Wolf (2004)
shrinkage toward a scaled identity (``ledoit_wolf``).
"""

from __future__ import annotations

import numpy as np

PERIODS = 252


def expected_returns(prices: np.ndarray, returns: np.ndarray, method: str) -> np.ndarray:
    if method == "mean":
        return np.asarray(returns.mean(axis=0) * PERIODS)
    if method == "cagr":
        n = returns.shape[0]
        return np.asarray((prices[-1] / prices[0]) ** (PERIODS / n) - 1.0)
    raise ValueError(f"unknown returns method {method!r}")


def ledoit_wolf(returns: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit & Wolf (2004), 'A well-conditioned estimator for large-dimensional
    covariance matrices': shrink the (ddof 0) sample covariance toward mu*I. Returns the
    daily shrunk covariance and the shrinkage intensity."""
    x = returns - returns.mean(axis=0)
    n, p = x.shape
    s = x.T @ x / n
    mu = float(np.trace(s)) / p
    delta = float(np.sum((s - mu * np.eye(p)) ** 2)) / p
    x2 = x * x
    beta = float(np.sum(x2.T @ x2) / n - np.sum(s * s)) / (n * p)
    shrinkage = 0.0 if delta == 0 else min(max(beta / delta, 0.0), 1.0)
    return shrinkage * mu * np.eye(p) + (1.0 - shrinkage) * s, shrinkage


def covariance(returns: np.ndarray, method: str) -> np.ndarray:
    if method == "sample":
        return np.atleast_2d(np.cov(returns, rowvar=False, ddof=1)) * PERIODS
    if method == "ledoit_wolf":
        return ledoit_wolf(returns)[0] * PERIODS
    raise ValueError(f"unknown covariance method {method!r}")
