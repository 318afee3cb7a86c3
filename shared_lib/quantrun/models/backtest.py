"""Vectorised long/flat backtests of rule-based strategies over a parameter grid.

Semantics (the contract's): a signal computed from the close of day t sets the position
held from the close of day t to the close of day t+1 onward (no look-ahead). Each
symbol is a sleeve with an equal share of ``initial_cash``, fully invested or flat;
sleeves are never rebalanced against each other. At each position change, fees and
slippage, (fees_bps + slippage_bps) / 10,000 of the traded notional, are taken from the
sleeve. Sleeve equity:

    E_0 = C/N * (1 - c * pos_0)
    E_t = E_{t-1} * (1 + pos_{t-1} * r_t) * (1 - c * |pos_t - pos_{t-1}|)

Prices follow ``quantrun.models.history`` (interior gaps carried forward); a symbol is
flat (signal 0, return 0) before its first and after its last price, and during each
indicator's warm-up.

Signals: ``quantrun.models.signals`` (sma_cross, rsi, macd, momentum).

Results per parameter set: ``total_return``, ``cagr`` (252 periods a year),
``sharpe`` (daily portfolio returns, rf = 0, x sqrt(252)), ``max_drawdown`` of the
portfolio equity (starting at ``initial_cash``), ``trades`` (position changes summed
over symbols) and ``turnover`` (traded notional / mean equity, per year).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from quantrun.models import kernels
from quantrun.models.ledger import Ledger, TradeRules, sma_cross_positions, trade
from quantrun.models.signals import (
    Prepared,
    prepare,
    signals_macd,
    signals_momentum,
    signals_rsi,
    signals_sma,
)

PERIODS = 252
MAX_CHUNK_ELEMENTS = 8_000_000  # grid x dates x symbols per vectorised chunk


@dataclass(frozen=True)
class GridResult:
    params: list[dict[str, float]]
    total_return: np.ndarray
    cagr: np.ndarray
    sharpe: np.ndarray  # NaN where undefined (flat all the time)
    max_drawdown: np.ndarray
    trades: np.ndarray
    turnover: np.ndarray
    equity: np.ndarray  # (G, T) portfolio equity


def simulate(
    positions: np.ndarray, prepared: Prepared, *, initial_cash: float, cost: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """positions (G, T, N) in {0, 1} -> portfolio equity (G, T), trades (G,), traded (G,)."""
    pos = positions.astype(np.float64)
    pos *= prepared.live[None]
    change = np.abs(np.diff(pos, axis=1, prepend=0.0))
    factor = 1.0 - cost * change
    factor[:, 1:] *= 1.0 + pos[:, :-1] * prepared.returns[None, 1:]
    sleeves = np.cumprod(factor, axis=1)
    sleeves *= initial_cash / pos.shape[2]
    # notional traded at t is the sleeve's value before the cost, i.e. E_t / factor_cost
    before_cost = sleeves / (1.0 - cost * change)
    traded = (before_cost * change).sum(axis=(1, 2))
    return sleeves.sum(axis=2), change.sum(axis=(1, 2)), traded


def grid_metrics(
    equity: np.ndarray, initial_cash: float, traded: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n_returns = equity.shape[1] - 1
    start = np.full((equity.shape[0], 1), initial_cash)
    curve = np.concatenate([start, equity], axis=1)
    total = equity[:, -1] / initial_cash - 1.0
    years = max(n_returns, 1) / PERIODS
    cagr = np.where(total > -1, np.sign(1 + total) * np.abs(1 + total) ** (1 / years) - 1, -1.0)
    daily = equity[:, 1:] / equity[:, :-1] - 1.0
    std = daily.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = np.where(std > 1e-12, daily.mean(axis=1) / std * math.sqrt(PERIODS), np.nan)
    drawdown = (curve / np.maximum.accumulate(curve, axis=1) - 1.0).min(axis=1)
    turnover = traded / equity.mean(axis=1) / years
    return total, cagr, sharpe, drawdown, turnover


SignalFn = Callable[[Prepared, dict[str, float]], np.ndarray]

SIGNALS: dict[str, tuple[tuple[str, ...], SignalFn]] = {
    "sma_cross": (("fast", "slow"), lambda p, k: signals_sma(p, int(k["fast"]), int(k["slow"]))),
    "rsi": (
        ("period", "lower", "upper"),
        lambda p, k: signals_rsi(p, int(k["period"]), k["lower"], k["upper"]),
    ),
    "macd": (
        ("fast", "slow", "signal"),
        lambda p, k: signals_macd(p, int(k["fast"]), int(k["slow"]), int(k["signal"])),
    ),
    "momentum": (
        ("lookback", "top_n"),
        lambda p, k: signals_momentum(p, int(k["lookback"]), int(k["top_n"])),
    ),
}


def valid_combination(strategy: str, params: dict[str, float]) -> bool:
    if strategy in ("sma_cross", "macd"):
        return params["fast"] < params["slow"]
    if strategy == "rsi":
        return params["lower"] < params["upper"]
    return True


def expand_grid(
    strategy: str, lists: Mapping[str, Sequence[float]]
) -> tuple[list[dict[str, float]], int]:
    names = SIGNALS[strategy][0]
    combos = [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(lists[n] for n in names))
    ]
    valid = [c for c in combos if valid_combination(strategy, c)]
    return valid, len(combos) - len(valid)


def run_grid(
    close: np.ndarray,
    strategy: str,
    grid: list[dict[str, float]],
    *,
    initial_cash: float,
    fees_bps: float,
    slippage_bps: float,
    checkpoint: Callable[[float], None] = lambda _f: None,
    threads: int = 1,
    rules: TradeRules | None = None,
) -> GridResult:
    """Every parameter set of ``grid`` on every symbol. The sleeves run in a compiled
    kernel (``quantrun.models.kernels``; `simulate` is its numpy twin), sma_cross with
    its signal fused in, on ``threads`` threads; ``checkpoint`` is called between
    chunks of the grid. With stops or sizing (``rules``), the sleeves go trade by trade
    (``quantrun.models.ledger``)."""
    prepared = prepare(close)
    cost = (fees_bps + slippage_bps) / 10_000.0
    t_len, n_sym = close.shape
    per_chunk = max(1, MAX_CHUNK_ELEMENTS // (t_len * n_sym))
    if rules is not None and not rules.plain:
        return _traded_grid(prepared, strategy, grid, rules, cost, initial_cash, checkpoint)
    if strategy == "sma_cross":  # no positions in memory: chunks only pace the checkpoints
        per_chunk = max(per_chunk, -(-len(grid) // 20))
    out = _GridOutputs.allocate(len(grid), t_len)
    run_chunk = (
        _sma_cross_chunks(prepared, grid, cost, initial_cash, out)
        if strategy == "sma_cross"
        else _signal_chunks(prepared, SIGNALS[strategy][1], grid, cost, initial_cash, out)
    )
    for lo in range(0, len(grid), per_chunk):
        hi = min(lo + per_chunk, len(grid))
        kernels.run_split(run_chunk(lo, hi), hi - lo, threads, start=lo)
        checkpoint(hi / len(grid))
    total, cagr, sharpe, mdd, turnover = grid_metrics(out.equity, initial_cash, out.traded)
    return GridResult(grid, total, cagr, sharpe, mdd, out.trades.astype(int), turnover, out.equity)


def _position_chunks(
    prepared: Prepared, strategy: str, grid: list[dict[str, float]]
) -> Iterator[tuple[int, np.ndarray]]:
    """(first set, positions (G, T, N)) of the grid, chunk by chunk."""
    t_len, n_sym = prepared.filled.shape
    per_chunk = max(1, MAX_CHUNK_ELEMENTS // (t_len * n_sym))
    for lo in range(0, len(grid), per_chunk):
        sets = grid[lo : lo + per_chunk]
        if strategy == "sma_cross":
            fast = np.array([g["fast"] for g in sets], dtype=np.int64)
            slow = np.array([g["slow"] for g in sets], dtype=np.int64)
            yield lo, sma_cross_positions(prepared, fast, slow)
        else:
            signal_fn = SIGNALS[strategy][1]
            yield lo, np.stack([signal_fn(prepared, params) for params in sets]).astype(bool)


def _traded_grid(
    prepared: Prepared,
    strategy: str,
    grid: list[dict[str, float]],
    rules: TradeRules,
    cost: float,
    initial_cash: float,
    checkpoint: Callable[[float], None],
) -> GridResult:
    out = _GridOutputs.allocate(len(grid), prepared.filled.shape[0])
    for lo, positions in _position_chunks(prepared, strategy, grid):
        hi = lo + positions.shape[0]
        done = trade(positions, prepared, rules, cost=cost, initial_cash=initial_cash, record=False)
        out.equity[lo:hi], out.trades[lo:hi], out.traded[lo:hi] = (
            done.equity,
            done.changes,
            done.traded,
        )
        checkpoint(hi / len(grid))
    total, cagr, sharpe, mdd, turnover = grid_metrics(out.equity, initial_cash, out.traded)
    return GridResult(grid, total, cagr, sharpe, mdd, out.trades.astype(int), turnover, out.equity)


def trade_ledger(
    close: np.ndarray,
    strategy: str,
    grid: list[dict[str, float]],
    *,
    initial_cash: float,
    fees_bps: float,
    slippage_bps: float,
    rules: TradeRules | None = None,
) -> Ledger:
    """The round trips of every set of ``grid`` (``quantrun.models.ledger``), one
    compiled pass per chunk of the grid."""
    prepared = prepare(close)
    cost = (fees_bps + slippage_bps) / 10_000.0
    parts = [
        trade(positions, prepared, rules or TradeRules(), cost=cost, initial_cash=initial_cash,
              first_set=lo).ledger
        for lo, positions in _position_chunks(prepared, strategy, grid)
    ]  # fmt: skip
    return Ledger.joined(parts)


@dataclass(frozen=True)
class _GridOutputs:
    """What the sleeve kernels write, one row per parameter set."""

    equity: np.ndarray  # (G, T)
    trades: np.ndarray  # (G,)
    traded: np.ndarray  # (G,)

    @staticmethod
    def allocate(n_grid: int, n_days: int) -> _GridOutputs:
        return _GridOutputs(np.empty((n_grid, n_days)), np.empty(n_grid), np.empty(n_grid))

    def rows(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.equity[a:b], self.trades[a:b], self.traded[a:b]


# chunk (lo, hi) -> the kernel call for the parameter sets [a, b) inside it
ChunkRunner = Callable[[int, int], Callable[[int, int], None]]


def _sma_cross_chunks(
    prepared: Prepared, grid: list[dict[str, float]], cost: float, cash: float, out: _GridOutputs
) -> ChunkRunner:
    csum = np.cumsum(prepared.filled, axis=0)
    age = np.ascontiguousarray(prepared.age, dtype=np.int64)
    fast = np.array([int(g["fast"]) for g in grid], dtype=np.int64)
    slow = np.array([int(g["slow"]) for g in grid], dtype=np.int64)

    def part(a: int, b: int) -> None:
        kernels.simulate_sma_cross(
            csum, age, prepared.returns, fast[a:b], slow[a:b], cost, cash, *out.rows(a, b)
        )

    return lambda _lo, _hi: part


def _signal_chunks(
    prepared: Prepared,
    signal_fn: SignalFn,
    grid: list[dict[str, float]],
    cost: float,
    cash: float,
    out: _GridOutputs,
) -> ChunkRunner:
    def chunk(lo: int, hi: int) -> Callable[[int, int], None]:
        positions = np.stack([signal_fn(prepared, params) for params in grid[lo:hi]])

        def part(a: int, b: int) -> None:
            kernels.simulate_positions(
                positions[a - lo : b - lo], prepared.live, prepared.returns, cost, cash,
                *out.rows(a, b),
            )  # fmt: skip

        return part

    return chunk
