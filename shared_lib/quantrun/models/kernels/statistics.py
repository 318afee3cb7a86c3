"""Per-series risk statistics in one pass: moments against a benchmark, then the tails."""

from __future__ import annotations

import numpy as np
from numba import njit

from quantrun.models.kernels.sleeves import FAST

MEAN, STD, DOWNSIDE, GROWTH, MAX_DRAWDOWN, QUANTILE, TAIL_MEAN, COV = range(8)


# The dates four at a time: each series' running sums are loaded and stored once per
# four returns instead of once per return (unroll-and-jam; written out, since a loop
# of four inside stopped the loop over series vectorising), which halved the moments'
# time and took a quarter off the tails' gathering. Each series still takes its returns
# in date order: the sums are the same to the bit.


@njit(cache=True, nogil=True, fastmath=FAST, inline="always")
def _grow(x, rf, s):  # type: ignore[no-untyped-def]
    """One return into a series' running sums (total, down, growth, ratio, lowest)."""
    total, down, growth, ratio, lowest = s
    e = min(x - rf, 0.0)
    ratio = min(ratio * (1.0 + x), 1.0)
    return total + x, down + e * e, growth * (1.0 + x), ratio, min(lowest, ratio)


@njit(cache=True, nogil=True, fastmath=FAST, inline="always")
def _centre(x, mean, cb, s):  # type: ignore[no-untyped-def]
    d = x - mean
    return s[0] + d * d, s[1] + d * cb


@njit(cache=True, nogil=True, inline="always")
def _keep(x, below, gathered, j, c, cap):  # type: ignore[no-untyped-def]
    """Write x at column j's next free slot (the spare last one past ``cap``); only a
    value at or below ``below`` moves past it. Returns the next free slot."""
    gathered[j, min(c, cap)] = x
    return c + (x <= below)


@njit(cache=True, nogil=True, fastmath=FAST)
def series_moments(returns, bench, rf, out):  # type: ignore[no-untyped-def]
    """Per column j of returns (n, k), into out[:, j]: MEAN, STD (ddof 1, two-pass),
    DOWNSIDE = sqrt(mean(min(r - rf, 0)^2)), GROWTH = prod(1 + r), MAX_DRAWDOWN (equity
    from 1.0 before the first return, a number <= 0) and COV = cov(r, bench) (ddof 1;
    0 if bench is empty). Row by row (four at a time), so the loop over series
    vectorises."""
    n, k = returns.shape
    # (total, down, growth, ratio, lowest) per series. ratio: equity / running peak,
    # carried as min(1, ratio * (1 + r)): the same number as the division (to ~n ulps)
    # without a division per element, so the loop vectorises
    sums = np.zeros((5, k))
    sums[2:] = 1.0
    whole = n - n % 4
    for t in range(0, whole, 4):
        for j in range(k):
            s = (sums[0, j], sums[1, j], sums[2, j], sums[3, j], sums[4, j])
            s = _grow(returns[t, j], rf, s)
            s = _grow(returns[t + 1, j], rf, s)
            s = _grow(returns[t + 2, j], rf, s)
            s = _grow(returns[t + 3, j], rf, s)
            sums[0, j], sums[1, j], sums[2, j], sums[3, j], sums[4, j] = s
    for t in range(whole, n):
        for j in range(k):
            s = _grow(
                returns[t, j], rf, (sums[0, j], sums[1, j], sums[2, j], sums[3, j], sums[4, j])
            )
            sums[0, j], sums[1, j], sums[2, j], sums[3, j], sums[4, j] = s
    mean = sums[0] / n
    cb = bench - bench.mean() if bench.size else np.zeros(n)
    second = np.zeros((2, k))  # the centred sums of squares, and of products with cb
    for t in range(0, whole, 4):
        for j in range(k):
            m = mean[j]
            s2 = _centre(returns[t, j], m, cb[t], (second[0, j], second[1, j]))
            s2 = _centre(returns[t + 1, j], m, cb[t + 1], s2)
            s2 = _centre(returns[t + 2, j], m, cb[t + 2], s2)
            s2 = _centre(returns[t + 3, j], m, cb[t + 3], s2)
            second[0, j], second[1, j] = s2
    for t in range(whole, n):
        for j in range(k):
            second[0, j], second[1, j] = _centre(
                returns[t, j], mean[j], cb[t], (second[0, j], second[1, j])
            )
    out[MEAN] = mean
    out[STD] = np.sqrt(second[0] / (n - 1))
    out[DOWNSIDE] = np.sqrt(sums[1] / n)
    out[GROWTH] = sums[2]
    out[MAX_DRAWDOWN] = np.minimum(sums[4] - 1.0, 0.0)
    out[COV] = second[1] / (n - 1)


@njit(cache=True, nogil=True)
def series_tails(returns, lo, hi, frac, out):  # type: ignore[no-untyped-def]
    """Per column, after `series_moments`: QUANTILE, numpy's linear interpolation
    between order statistics lo and hi = lo + 1 at fraction ``frac``, and TAIL_MEAN, the
    mean of the returns at or below it. Only values below mean - 1.4 std (~8% of a
    normal sample, against the 5% needed) are gathered and partitioned; a column with too
    few (or too many) of them is partitioned whole, so the answer never depends on that
    guess. The gathering has no branch (`_keep`): a branch per value, mispredicted on
    ~8% of them, cost a third more."""
    n, k = returns.shape
    cap = max(8 * (hi + 1), 64)
    gathered = np.empty((k, cap + 1))
    count = np.zeros(k, dtype=np.int64)
    cut = out[MEAN] - 1.4 * out[STD]
    whole = n - n % 4
    for t in range(0, whole, 4):
        for j in range(k):
            c, below = count[j], cut[j]
            c = _keep(returns[t, j], below, gathered, j, c, cap)
            c = _keep(returns[t + 1, j], below, gathered, j, c, cap)
            c = _keep(returns[t + 2, j], below, gathered, j, c, cap)
            count[j] = _keep(returns[t + 3, j], below, gathered, j, c, cap)
    for t in range(whole, n):
        for j in range(k):
            count[j] = _keep(returns[t, j], cut[j], gathered, j, count[j], cap)
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
