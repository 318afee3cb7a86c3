"""A backtest's trades (CONTRACT 6.1): the stop and sizing params, and the ledger as
``trades.csv`` / ``trades.parquet`` with each set's trade statistics
(``quantrun.models.ledger`` defines them)."""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, Field

from quantrun.catalog.fields import Fraction, Params, Whole
from quantrun.catalog.spec import Artifact
from quantrun.domain.prices import PriceMatrix
from quantrun.models import backtest as bt
from quantrun.models import ledger as lg

STATISTICS = ("win_rate", "profit_factor", "avg_trade_return", "max_consecutive_losses")


class EqualSizing(Params):
    name: Literal["equal"] = "equal"


class VolatilityTarget(Params):
    name: Literal["volatility_target"]
    target: float = Field(
        0.15, gt=0, le=5, allow_inf_nan=False, description="annualised volatility aimed at"
    )
    lookback_days: Whole = Field(
        63, ge=2, le=2520, description="days its volatility is measured over"
    )


def _named(x: Any) -> Any:
    return {"name": x} if isinstance(x, str) else x


Sizing = Annotated[
    EqualSizing | VolatilityTarget, Field(discriminator="name"), BeforeValidator(_named)
]


class TradeParams(Params):
    """What ``backtest`` adds for trades: stops and sizing (the defaults change nothing)."""

    stop_loss: Fraction | None = Field(
        None, description="leave a trade at the close that is this fraction below its entry"
    )
    take_profit: float | None = Field(
        None,
        gt=0,
        le=100,
        allow_inf_nan=False,
        description="leave a trade at the close that is this fraction above its entry",
    )
    sizing: Sizing = Field(
        default_factory=EqualSizing,
        description="`equal` (each sleeve fully invested) or `volatility_target` "
        "({target: 0.15, lookback_days: 63}: invest min(1, target / volatility) of it)",
    )

    def rules(self) -> lg.TradeRules:
        target = self.sizing if isinstance(self.sizing, VolatilityTarget) else None
        return lg.TradeRules(
            stop_loss=self.stop_loss,
            take_profit=self.take_profit,
            volatility_target=None if target is None else target.target,
            lookback_days=63 if target is None else int(target.lookback_days),
        )


def table(
    ledger: lg.Ledger,
    matrix: PriceMatrix,
    *,
    marked_at: np.ndarray | None = None,
    window: np.ndarray | None = None,
) -> Any:
    """The ledger as an Arrow table of the contract's columns (an open trade's exit date
    null; its days held counted to ``marked_at``, the last day by default), built from
    its arrays; with ``window``, a first column saying each trade's walk-forward window."""
    import pyarrow as pa

    entry, exit_ = ledger.column("entry_day"), ledger.column("exit_day")
    dates = matrix.dates.astype("datetime64[D]")
    open_ = exit_ < 0
    last = matrix.dates.size - 1 if marked_at is None else marked_at

    def named(codes: np.ndarray, names: list[str]) -> Any:
        indices = pa.array(codes.astype(np.int32))
        return pa.DictionaryArray.from_arrays(indices, pa.array(names)).cast(pa.string())

    columns = {} if window is None else {"window": pa.array(window.astype(np.int32))}
    return pa.table(
        {
            **columns,
            "set": pa.array(ledger.column("set").astype(np.int32)),
            "symbol": named(ledger.column("symbol"), list(matrix.symbols)),
            "entry_date": pa.array(dates[entry], type=pa.date32()),
            "entry_price": pa.array(ledger.column("entry_price")),
            "exit_date": pa.array(dates[np.where(open_, 0, exit_)], type=pa.date32(), mask=open_),
            "exit_price": pa.array(ledger.column("exit_price")),
            "quantity": pa.array(ledger.column("quantity")),
            "pnl": pa.array(ledger.column("pnl")),
            "return": pa.array(ledger.column("return")),
            "days_held": pa.array((np.where(open_, last, exit_) - entry).astype(np.int32)),
            "exit_reason": named(ledger.column("reason"), list(lg.REASONS)),
        }
    )


def window_trades(
    matrix: PriceMatrix,
    strategy: str,
    sets: list[dict[str, float]],
    windows: list[tuple[int, int, int, int]],
    *,
    initial_cash: float,
    fees_bps: float,
    slippage_bps: float,
) -> Any:
    """A walk-forward's out-of-sample trades: per window (train start a, test start b,
    test end c, the chosen set), the chosen set's round trips on days a..c-1, as its
    test days' equity is computed (symbols without a price in them keep their share in
    cash), that were held during the test days: closed on day b or later, or open at
    c-1 (marked there, reason ``end``). A trade entered in the training days keeps its
    entry (its pnl from there)."""
    parts, marks, labels = [], [], []
    for k, (a, b, c, chosen) in enumerate(windows):
        rows = matrix.close[a:c]
        priced = np.flatnonzero(~np.isnan(rows).all(axis=0))
        if priced.size == 0:
            continue
        found = bt.trade_ledger(
            rows[:, priced],
            strategy,
            [sets[chosen]],
            initial_cash=initial_cash * priced.size / rows.shape[1],
            fees_bps=fees_bps,
            slippage_bps=slippage_bps,
        )
        exits = found.column("exit_day")
        held = (exits < 0) | (exits >= b - a)
        parts.append(found.placed(held, set_no=chosen, symbols=priced, first_day=a))
        marks.append(np.full(parts[-1].size, c - 1))
        labels.append(np.full(parts[-1].size, k))
    ledger = lg.Ledger.joined(parts)
    return table(
        ledger,
        matrix,
        marked_at=np.concatenate(marks or [np.empty(0, np.int64)]),
        window=np.concatenate(labels or [np.empty(0, np.int64)]),
    )


def artifacts(trades: Any) -> list[Artifact]:
    """``trades.csv`` and ``trades.parquet`` of the ledger's table."""
    import pyarrow.csv as pc
    import pyarrow.parquet as pq

    text = io.BytesIO()
    text.write((",".join(trades.column_names) + "\n").encode())
    # symbols and reasons hold no comma or quote (symbols are checked): nothing to quote
    pc.write_csv(trades, text, pc.WriteOptions(include_header=False, quoting_style="none"))
    data = io.BytesIO()
    # dictionary pages only where values repeat, no column statistics: a ledger is read
    # whole, and this halves the write
    pq.write_table(
        trades,
        data,
        compression="zstd",
        use_dictionary=["symbol", "exit_reason"],
        write_statistics=False,
    )
    return [
        Artifact("trades.csv", "text/csv", text.getvalue()),
        Artifact("trades.parquet", "application/vnd.apache.parquet", data.getvalue()),
    ]
