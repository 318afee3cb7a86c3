"""Per-series risk statistics in one pass: moments against a benchmark, then the tails."""

from __future__ import annotations

import numpy as np
from numba import njit

from quantrun.models.kernels.sleeves import FAST

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
        part = _select(values, hi)
        q_lo = part[:hi].max() if lo < hi else part[hi]
        q = q_lo + frac * (part[hi] - q_lo)
        tail = 0.0
        m = 0
        for x in values:  # without branches: most gathered values are in the tail
            inside = x <= q
            tail += x if inside else 0.0
            m += inside
        out[QUANTILE, j] = q
        out[TAIL_MEAN, j] = tail / m


@njit(cache=True, nogil=True, inline="always")
def _select(a, kth):  # type: ignore[no-untyped-def]
    """``a`` partitioned in place as ``np.partition(a, kth)`` orders it (a[kth] the
    kth smallest, nothing larger before it, nothing smaller after it), by quickselect
    with a median-of-three pivot; no copy (the callers' buffers are scratch).

    The partition is Lomuto's without branches (every element is swapped, the boundary
    moves by the comparison's 0 or 1): on random data half of a branching partition's
    comparisons are mispredicted, which cost 2.5x its time on the tails' ~200 values.
    Values equal to the pivot get a pass of their own when the three samples are not all
    different, so a run of equal values (a constant series, days without a trade) ends
    the search instead of shrinking it by one element a pass."""
    lo, hi = 0, a.size  # the part still searched: a[lo:hi]
    while hi - lo > 1:
        x, y, z = a[lo], a[(lo + hi) // 2], a[hi - 1]
        pivot = max(min(x, y), min(max(x, y), z))
        below = _move_first(a, lo, hi, pivot, True)
        if kth < below:
            hi = below
        elif below > lo and x != y and y != z and x != z:
            lo = below  # the smallest sample is below the pivot: both sides shrank
        else:
            equal = _move_first(a, below, hi, pivot, False)
            if kth < equal or equal == below:
                break  # a[kth] is the pivot (or the pivot is NaN: nothing orders)
            lo = equal
    return a


@njit(cache=True, nogil=True, inline="always")
def _move_first(a, lo, hi, pivot, strictly):  # type: ignore[no-untyped-def]
    """The values of a[lo:hi] below ``pivot`` (at or below it unless ``strictly``)
    moved to its front, the others after them; returns where the others start."""
    edge = lo
    for i in range(lo, hi):
        x = a[i]
        a[i] = a[edge]
        a[edge] = x
        edge += (x < pivot) if strictly else (x <= pivot)
    return edge
