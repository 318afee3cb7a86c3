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
  answer however the blocks are split, over workers too: ``mc_partial`` / ``mc_combine``);
  VaR and CVaR as in ``historical``, the mean and volatility from exact sums of the
  blocks' sums, the P&L histogram over fixed bins (mean +- 6 sd). It converges to
  ``parametric``, which is what the tests check.
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
    # monte_carlo: P&L bin edges and counts (the sample itself is not kept)
    histogram: tuple[np.ndarray, np.ndarray] | None = None


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


@dataclass(frozen=True)
class McSetup:
    """What every block of a Monte Carlo VaR draws from (deterministic given the data):
    the portfolio's horizon return is w'mu + (L'w)'z for z ~ N(0, I)."""

    expected: float
    loading: np.ndarray
    sigma: float  # the portfolio's horizon-return standard deviation, sqrt(w' h Sigma w)


def mc_setup(returns: np.ndarray, weights: np.ndarray, horizon_days: int) -> McSetup:
    mu = returns.mean(axis=0) * horizon_days
    cov = np.atleast_2d(np.cov(returns, rowvar=False, ddof=1)) * horizon_days
    # Cholesky with a tiny ridge for a singular covariance (duplicated assets)
    ridge = 1e-12 * max(float(np.trace(cov)) / cov.shape[0], 1e-300)
    chol = np.linalg.cholesky(cov + ridge * np.eye(cov.shape[0]))
    loading = chol.T @ weights
    return McSetup(float(mu @ weights), loading, float(np.sqrt(loading @ loading)))


def mc_blocks(scenarios: int) -> int:
    return -(-scenarios // MC_BLOCK)


def tail_size(scenarios: int, confidence: float) -> int:
    """How many of the largest losses the c-quantile (linear) and CVaR read."""
    return scenarios - math.floor((scenarios - 1) * confidence)


def histogram_edges(setup: McSetup, value: float) -> np.ndarray:
    """Fixed P&L bins (mean +- 6 sd, 200 of them): shards' counts add up."""
    return value * (setup.expected + setup.sigma * np.linspace(-6.0, 6.0, 201))


@dataclass(frozen=True)
class McPartial:
    """A range of blocks: per-block (sum, sum of squares) of the portfolio returns, the
    range's largest losses (at most ``tail_size``) with their scenario numbers in order,
    and P&L counts over ``histogram_edges``."""

    sums: list[tuple[float, float]]
    tail_index: np.ndarray
    tail_loss: np.ndarray
    counts: np.ndarray


def mc_partial(
    setup: McSetup,
    *,
    value: float,
    scenarios: int,
    seed: int,
    confidence: float,
    blocks: tuple[int, int],
    checkpoint: Callable[[float], None] = lambda _f: None,
    threads: int = 1,
) -> McPartial:
    first, last = blocks
    start, stop = first * MC_BLOCK, min(last * MC_BLOCK, scenarios)
    port = np.empty(stop - start)
    size = setup.loading.shape[0]

    def block(i: int) -> None:
        b = first + i
        lo, hi = b * MC_BLOCK - start, min((b + 1) * MC_BLOCK, scenarios) - start
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(b,))))
        z = rng.standard_normal((hi - lo, size))
        np.add(z @ setup.loading, setup.expected, out=port[lo:hi])

    kernels.map_blocks(block, last - first, threads, checkpoint)
    sums = [
        (float(seg.sum()), float(np.dot(seg, seg)))
        for seg in np.split(port, np.arange(MC_BLOCK, port.size, MC_BLOCK))
    ]
    losses = -value * port
    keep = min(tail_size(scenarios, confidence), losses.size)
    index = np.sort(np.argpartition(losses, losses.size - keep)[losses.size - keep :])
    counts = np.histogram(-losses, bins=histogram_edges(setup, value))[0]
    return McPartial(sums, index + start, losses[index], counts)


def mc_combine(
    setup: McSetup,
    partials: list[McPartial],
    *,
    value: float,
    scenarios: int,
    confidence: float,
) -> VarResult:
    """VaR and CVaR from the ranges' tails (exactly what the whole sample gives: the
    quantile and the mean read only the largest losses, in scenario order), the mean and
    volatility from exact sums of the blocks' sums."""
    index = np.concatenate([p.tail_index for p in partials])
    loss = np.concatenate([p.tail_loss for p in partials])
    keep = tail_size(scenarios, confidence)
    top = np.sort(np.argpartition(loss, loss.size - keep)[loss.size - keep :])
    index, loss = index[top], loss[top]
    # the order statistics np.quantile reads all lie in the tail: below it any value will do
    padded = np.concatenate([np.full(scenarios - keep, loss.min()), loss])
    var = float(np.quantile(padded, confidence))
    cvar = float(loss[loss >= var].mean())
    total = math.fsum(s for p in partials for s, _ in p.sums)
    squares = math.fsum(q for p in partials for _, q in p.sums)
    mean = total / scenarios
    volatility = math.sqrt(max(squares - scenarios * mean * mean, 0.0) / (scenarios - 1))
    counts = np.sum([p.counts for p in partials], axis=0)
    return VarResult(
        var,
        cvar,
        scenarios,
        np.empty(0),
        mean,
        volatility,
        histogram=(histogram_edges(setup, value), counts),
    )


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
    """The whole sample as one range of blocks (a shard computes ``mc_partial`` for its
    range and the merge ``mc_combine``s them: the same numbers for any split)."""
    setup = mc_setup(returns, weights, horizon_days)
    partial = mc_partial(
        setup,
        value=value,
        scenarios=scenarios,
        seed=seed,
        confidence=confidence,
        blocks=(0, mc_blocks(scenarios)),
        checkpoint=checkpoint,
        threads=threads,
    )
    return mc_combine(setup, [partial], value=value, scenarios=scenarios, confidence=confidence)
