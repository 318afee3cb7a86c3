"""Overfitting diagnostics for a grid of backtests: how much of the best result is luck.

Conventions: inputs are per-period (daily) simple returns, one column per parameter set
(a *trial*); Sharpe ratios here are per period (mean / standard deviation, ddof=1), not
annualised, because the formulas below are stated in the sample's own frequency.

- ``deflated_sharpe``: the Deflated Sharpe Ratio of Bailey and Lopez de Prado, "The
  Deflated Sharpe Ratio: Correcting for Selection Bias, Backtest Overfitting and
  Non-Normality" (Journal of Portfolio Management, 2014), eq. (2)-(3): the probability
  that the best trial's true Sharpe ratio exceeds the maximum expected from ``trials``
  unskilled trials, SR0 = sqrt(V[SR]) ((1 - g) Z^-1(1 - 1/N) + g Z^-1(1 - 1/(N e))),
  adjusted for the returns' skewness and kurtosis over T observations. With one trial
  SR0 = 0 and it is the Probabilistic Sharpe Ratio against zero.
- ``pbo``: the Probability of Backtest Overfitting by combinatorially symmetric
  cross-validation (Bailey, Borwein, Lopez de Prado and Zhu, "The Probability of
  Backtest Overfitting", Journal of Computational Finance, 2017, section 2): the rows
  are cut into S equal blocks; for each of the C(S, S/2) halves J (in-sample) the trial
  best in J is ranked among all trials on the other half; PBO is the share of halves
  where it ranks at or below the median (logit <= 0). Performance is the Sharpe ratio;
  a trial with no variance in a half scores 0 there. Rows beyond a multiple of S (the
  oldest) are left out, as the paper's equal blocks require.

No I/O; numpy and scipy only.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

EULER_GAMMA = 0.5772156649015329


@dataclass(frozen=True)
class DeflatedSharpe:
    probability: float  # the DSR, in [0, 1]
    sharpe: float  # the best trial's per-period Sharpe ratio
    expected_max_sharpe: float  # SR0, per period
    trials: int
    observations: int
    skewness: float
    kurtosis: float  # not excess: 3 for normal returns


def expected_max_sharpe(trials: int, sharpe_variance: float) -> float:
    """SR0: the expected maximum Sharpe ratio of ``trials`` independent unskilled trials
    whose Sharpe ratios vary with ``sharpe_variance`` (per period)."""
    if trials < 2 or sharpe_variance <= 0:
        return 0.0
    return math.sqrt(sharpe_variance) * float(
        (1 - EULER_GAMMA) * ndtri(1 - 1 / trials) + EULER_GAMMA * ndtri(1 - 1 / (trials * math.e))
    )


def deflated_sharpe_ratio(
    sharpe: float,
    *,
    observations: int,
    skewness: float,
    kurtosis: float,
    trials: int,
    sharpe_variance: float,
) -> float:
    """The DSR from its inputs (per-period Sharpe ratios, non-excess kurtosis)."""
    sr0 = expected_max_sharpe(trials, sharpe_variance)
    spread = 1 - skewness * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if observations < 2 or spread <= 0:
        return math.nan
    z = (sharpe - sr0) * math.sqrt(observations - 1) / math.sqrt(spread)
    return float(ndtr(z))


def _sharpe(returns: np.ndarray) -> np.ndarray:
    """Per-period Sharpe ratio of each column; 0 where a column does not vary."""
    sd = returns.std(axis=0, ddof=1)
    mean = returns.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, mean / np.where(sd > 0, sd, 1.0), 0.0)


def deflated_sharpe(returns: np.ndarray) -> DeflatedSharpe:
    """The DSR of the trial with the highest Sharpe ratio among the columns of
    ``returns`` (T x N), the variance of the N Sharpe ratios standing for V[SR]."""
    if returns.ndim != 2 or returns.shape[0] < 3 or returns.shape[1] < 1:
        raise ValueError("need a T x N matrix of returns with T >= 3 and N >= 1")
    srs = _sharpe(returns)
    best = int(np.argmax(srs))
    r = returns[:, best]
    t = returns.shape[0]
    sd = r.std()
    centred = r - r.mean()
    skew = float((centred**3).mean() / sd**3) if sd > 0 else 0.0
    kurt = float((centred**4).mean() / sd**4) if sd > 0 else 3.0
    return _deflated(srs, best, t, skew, kurt)


def _deflated(srs: np.ndarray, best: int, t: int, skew: float, kurt: float) -> DeflatedSharpe:
    """The DSR of trial ``best`` among trials with Sharpe ratios ``srs``."""
    trials = srs.shape[0]
    variance = float(srs.var(ddof=1)) if trials > 1 else 0.0
    sr = float(srs[best])
    return DeflatedSharpe(
        probability=deflated_sharpe_ratio(
            sr,
            observations=t,
            skewness=skew,
            kurtosis=kurt,
            trials=trials,
            sharpe_variance=variance,
        ),
        sharpe=sr,
        expected_max_sharpe=expected_max_sharpe(trials, variance),
        trials=trials,
        observations=t,
        skewness=skew,
        kurtosis=kurt,
    )


def moment_sums(returns: np.ndarray) -> np.ndarray:
    """Per column (trial): count and the sums of r, r^2, r^3, r^4 — what the DSR needs,
    and what trials computed apart (shards of a grid) can send and add up."""
    n = np.full(returns.shape[1], float(returns.shape[0]))
    return np.stack([n, *(np.sum(returns**k, axis=0) for k in range(1, 5))], axis=1)


def deflated_sharpe_from_moments(moments: np.ndarray) -> DeflatedSharpe:
    """``deflated_sharpe`` from each trial's ``moment_sums`` (G x 5): the same quantities
    from raw moments (to rounding; the grids' shards all use this)."""
    n, s1, s2, s3, s4 = (moments[:, k] for k in range(5))
    if moments.shape[0] < 1 or n[0] < 3:
        raise ValueError("need at least one trial of three or more observations")
    mean = s1 / n
    variance = np.maximum(s2 - n * mean**2, 0.0) / (n - 1)
    sd = np.sqrt(variance)
    with np.errstate(divide="ignore", invalid="ignore"):
        srs = np.where(sd > 0, mean / np.where(sd > 0, sd, 1.0), 0.0)
    best = int(np.argmax(srs))
    m, t = mean[best], n[best]
    m2 = s2[best] / t - m**2
    m3 = s3[best] / t - 3 * m * s2[best] / t + 2 * m**3
    m4 = s4[best] / t - 4 * m * s3[best] / t + 6 * m**2 * s2[best] / t - 3 * m**4
    skew = float(m3 / m2**1.5) if m2 > 0 else 0.0
    kurt = float(m4 / m2**2) if m2 > 0 else 3.0
    return _deflated(srs, best, int(t), skew, kurt)


def block_sums(returns: np.ndarray, splits: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The CSCV blocks' per-trial sums and sums of squares (splits x N each) and the block
    size; rows beyond a multiple of ``splits`` (the oldest) are left out."""
    t, n = returns.shape
    if splits < 2 or splits % 2:
        raise ValueError("splits must be an even number >= 2")
    size = t // splits
    if size < 2:
        raise ValueError(f"{t} observations cannot make {splits} blocks of two or more")
    blocks = returns[t - size * splits :].reshape(splits, size, n)
    return blocks.sum(axis=1), (blocks**2).sum(axis=1), size


@dataclass(frozen=True)
class Pbo:
    probability: float
    splits: int
    combinations: int
    logits: np.ndarray  # one per combination, in itertools.combinations order


def probability_of_backtest_overfitting(
    returns: np.ndarray, splits: int = 16, *, chunk: int = 1024
) -> Pbo:
    """PBO by CSCV over ``splits`` blocks of the rows of ``returns`` (T x N, N >= 2)."""
    if returns.shape[1] < 2:
        raise ValueError("PBO needs at least two trials")
    sums, squares, size = block_sums(returns, splits)
    return pbo_from_block_sums(sums, squares, size, chunk=chunk)


def pbo_from_block_sums(
    sums: np.ndarray, squares: np.ndarray, size: int, *, chunk: int = 1024
) -> Pbo:
    """PBO from the blocks' per-trial sums and squares (``block_sums``; trials computed
    apart, a grid's shards, send theirs and they are put side by side)."""
    splits, n = sums.shape
    if n < 2:
        raise ValueError("PBO needs at least two trials")
    # a half's moments are sums over its blocks
    combos = np.array(list(itertools.combinations(range(splits), splits // 2)), dtype=np.int64)
    member = np.zeros((len(combos), splits))
    member[np.arange(len(combos))[:, None], combos] = 1.0
    half = size * splits // 2
    logits = np.empty(len(combos))
    for lo in range(0, len(combos), chunk):
        inside = member[lo : lo + chunk]
        train = _half_sharpe(inside @ sums, inside @ squares, half)
        test = _half_sharpe((1 - inside) @ sums, (1 - inside) @ squares, half)
        chosen = np.argmax(train, axis=1)
        chosen_test = test[np.arange(len(chosen)), chosen]
        # rank 1..N of the chosen trial out of sample (ties share the lower rank)
        rank = (test < chosen_test[:, None]).sum(axis=1) + 1
        omega = rank / (n + 1)
        logits[lo : lo + chunk] = np.log(omega / (1 - omega))
    return Pbo(float((logits <= 0).mean()), splits, len(combos), logits)


def _half_sharpe(total: np.ndarray, squares: np.ndarray, count: int) -> np.ndarray:
    mean = total / count
    variance = np.maximum(squares - count * mean**2, 0.0) / (count - 1)
    sd = np.sqrt(variance)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 1e-15, mean / np.where(sd > 1e-15, sd, 1.0), 0.0)
