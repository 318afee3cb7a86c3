"""Monte Carlo pricing of European and path-dependent options under GBM.

Model: dS = (r - q) S dt + sigma S dW under the risk-neutral measure, simulated exactly
in log space on ``steps`` equal time steps (dt = T / steps). Styles:

- ``european``: payoff on S_T, sampled exactly from its terminal law (one normal per
  path; ``steps`` does not change the estimate).
- ``asian_arithmetic`` / ``asian_geometric``: payoff on the arithmetic / geometric mean
  of S at the ``steps`` monitoring dates t_1..t_n (S_0 excluded).
- ``up_and_out`` / ``down_and_out``: a European payoff that is lost if S touches the
  barrier at any monitoring date (S >= barrier, resp. S <= barrier); discrete monitoring.

Reproducibility: paths are generated in fixed blocks of ``BLOCK`` paths; block i draws
from ``SeedSequence(seed, spawn_key=(i,))``. Per-block sums are combined in block order,
so the result for a seed is bit-identical however the blocks are split into chunks
(or spread over workers). Antithetic pairs (Z, -Z) are averaged before the standard
error is taken, so the error reflects the variance reduction honestly.

Memory is bounded by one block: BLOCK x steps float64 values (16 MB at 252 steps).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from quantrun.domain.errors import ModelInputError
from quantrun.models import kernels

BLOCK = 8192  # paths per block (even, so antithetic pairs never straddle blocks)
STYLES = ("european", "asian_arithmetic", "asian_geometric", "up_and_out", "down_and_out")


@dataclass(frozen=True)
class McOption:
    is_call: bool
    spot: float
    strike: float
    maturity: float
    rate: float
    volatility: float
    dividend_yield: float = 0.0
    style: str = "european"
    barrier: float | None = None
    steps: int = 252


@dataclass(frozen=True)
class McResult:
    price: float
    std_error: float
    ci95: tuple[float, float]
    paths: int
    steps: int
    blocks: int


def _block_payoffs(
    opt: McOption, n_paths: int, rng: np.random.Generator, antithetic: bool
) -> np.ndarray:
    """Discount-free payoffs for one block; with antithetic, one value per pair."""
    half = n_paths // 2 if antithetic else n_paths
    t, sigma = opt.maturity, opt.volatility
    if opt.style == "european":
        z = rng.standard_normal(half)
        if antithetic:
            z = np.concatenate([z, -z])
        drift = (opt.rate - opt.dividend_yield - 0.5 * sigma * sigma) * t
        s_t = opt.spot * np.exp(drift + sigma * math.sqrt(t) * z)
        payoff = (
            np.maximum(s_t - opt.strike, 0.0) if opt.is_call else np.maximum(opt.strike - s_t, 0.0)
        )
    else:
        dt = t / opt.steps
        drift = (opt.rate - opt.dividend_yield - 0.5 * sigma * sigma) * dt
        z = rng.standard_normal((half, opt.steps))
        if antithetic:
            z = np.concatenate([z, -z])
        z *= sigma * math.sqrt(dt)
        z += drift
        np.cumsum(z, axis=1, out=z)  # log(S_t / S_0) at each monitoring date
        if opt.style == "asian_geometric":
            underlying = opt.spot * np.exp(z.mean(axis=1))
            alive = None
        else:
            if opt.style in ("up_and_out", "down_and_out"):
                # a difference of logs: the ratio of a tiny barrier to the spot can underflow to 0
                log_b = math.log(float(opt.barrier)) - math.log(opt.spot)  # type: ignore[arg-type]
                hit = (
                    z.max(axis=1) >= log_b
                    if opt.style == "up_and_out"
                    else (z.min(axis=1) <= log_b)
                )
                alive = ~hit
                underlying = opt.spot * np.exp(z[:, -1])
            else:  # asian_arithmetic
                np.exp(z, out=z)
                underlying = opt.spot * z.mean(axis=1)
                alive = None
        payoff = (
            np.maximum(underlying - opt.strike, 0.0)
            if opt.is_call
            else np.maximum(opt.strike - underlying, 0.0)
        )
        if alive is not None:
            payoff = payoff * alive
    if antithetic:
        payoff = 0.5 * (payoff[:half] + payoff[half:])
    return payoff


def block_sums(
    opt: McOption, seed: int, block: int, n_paths: int, antithetic: bool
) -> tuple[float, float, int]:
    """(sum, sum of squares, count) of one block's (pair-averaged) payoffs."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block,))))
    # payoffs too large for a double are expected input, not a fault: ``combine`` refuses
    # the non-finite estimate with a reason, so numpy need not warn on the way
    with np.errstate(over="ignore", invalid="ignore"):
        values = _block_payoffs(opt, n_paths, rng, antithetic)
        return float(values.sum()), float(np.dot(values, values)), int(values.size)


BlockSums = tuple[float, float, int]


def plan_paths(paths: int, antithetic: bool) -> tuple[int, list[int]]:
    """The paths simulated (rounded up to even with antithetic) and each block's size."""
    if antithetic and paths % 2:
        paths += 1
    n_blocks = -(-paths // BLOCK)
    return paths, [BLOCK] * (n_blocks - 1) + [paths - BLOCK * (n_blocks - 1)]


def range_sums(
    opt: McOption,
    *,
    paths: int,
    seed: int,
    blocks: tuple[int, int],
    antithetic: bool = True,
    checkpoint: Callable[[float], None] = lambda _f: None,
    threads: int = 1,
) -> list[BlockSums]:
    """The per-block sums of blocks [lo, hi) of a ``paths``-path run: the unit a shard
    computes (``checkpoint(fraction of the range)`` between blocks)."""
    _, sizes = plan_paths(paths, antithetic)
    lo, hi = blocks

    def one(i: int) -> BlockSums:
        return block_sums(opt, seed, lo + i, sizes[lo + i], antithetic)

    return list(kernels.map_blocks(one, hi - lo, threads, checkpoint))


def combine(opt: McOption, per_block: list[BlockSums], paths: int) -> McResult:
    """The estimate from every block's sums, in block order, of a ``paths``-path run
    (as ``plan_paths`` rounds it): exact sums (``fsum``), so the same however the blocks
    were grouped."""
    try:
        total = math.fsum(s for s, _, _ in per_block)
        total_sq = math.fsum(q for _, q, _ in per_block)
    except OverflowError:
        total = total_sq = math.inf
    count = sum(c for _, _, c in per_block)
    mean = total / count
    variance = max(total_sq / count - mean * mean, 0.0) * count / max(count - 1, 1)
    disc = math.exp(-opt.rate * opt.maturity)
    price = disc * mean
    se = disc * math.sqrt(variance / count)
    if not (math.isfinite(price) and math.isfinite(se)):
        raise ModelInputError(
            "the simulated payoffs overflow double precision: spot, strike or volatility "
            "over maturity is too large to price",
            field="params",
        )
    return McResult(
        price=price,
        std_error=se,
        ci95=(price - 1.96 * se, price + 1.96 * se),
        paths=paths,
        steps=opt.steps,
        blocks=len(per_block),
    )


def price_monte_carlo(
    opt: McOption,
    *,
    paths: int,
    seed: int,
    antithetic: bool = True,
    chunks: int = 1,
    checkpoint: Callable[[float], None] = lambda _f: None,
    threads: int = 1,
) -> McResult:
    """Price with ``paths`` paths (rounded up to even with antithetic). ``chunks`` splits
    the blocks into that many contiguous groups (the unit a worker would take), each
    group's blocks run on ``threads`` threads; the result depends on neither.
    ``checkpoint(fraction)`` is called between blocks."""
    simulated, sizes = plan_paths(paths, antithetic)
    n_blocks = len(sizes)
    per_block: list[BlockSums] = []
    bounds = np.linspace(0, n_blocks, max(1, min(chunks, n_blocks)) + 1).astype(int)
    for lo, hi in itertools.pairwise(bounds):

        def progress(f: float, lo: int = lo, hi: int = hi) -> None:
            checkpoint((lo + f * (hi - lo)) / n_blocks)

        per_block += range_sums(
            opt,
            paths=paths,
            seed=seed,
            blocks=(int(lo), int(hi)),
            antithetic=antithetic,
            checkpoint=progress,
            threads=threads,
        )
    return combine(opt, per_block, simulated)


def geometric_asian_closed_form(opt: McOption) -> float:
    """Discretely monitored geometric-average Asian option (Kemna-Vorst, discrete form):
    ln G ~ N(mu, v) with mu = ln S0 + (r - q - sigma^2/2) T (n+1)/(2n) and
    v = sigma^2 T (n+1)(2n+1)/(6 n^2), n = steps."""
    n, t, s = opt.steps, opt.maturity, opt.volatility
    mu = math.log(opt.spot) + (opt.rate - opt.dividend_yield - 0.5 * s * s) * t * (n + 1) / (2 * n)
    v = s * s * t * (n + 1) * (2 * n + 1) / (6 * n * n)
    d2 = (mu - math.log(opt.strike)) / math.sqrt(v)
    d1 = d2 + math.sqrt(v)
    disc = math.exp(-opt.rate * t)
    forward_g = math.exp(mu + 0.5 * v)
    if opt.is_call:
        return float(disc * (forward_g * ndtr(d1) - opt.strike * ndtr(d2)))
    return float(disc * (opt.strike * ndtr(-d2) - forward_g * ndtr(-d1)))
