"""A backtest's trades (CONTRACT 6.1): the stop and sizing params, and the ledger as
``trades.csv`` / ``trades.parquet`` with each set's trade statistics
(``quantrun.models.ledger`` defines them)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, Field

from quantrun.catalog.fields import Params, Whole
from quantrun.catalog.spec import Artifact
from quantrun.domain.prices import PriceMatrix
from quantrun.models import ledger as lg

COLUMNS = (
    "set",
    "symbol",
    "entry_date",
    "entry_price",
    "exit_date",
    "exit_price",
    "quantity",
    "pnl",
    "return",
    "days_held",
    "exit_reason",
)
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

    stop_loss: float | None = Field(
        None,
        gt=0,
        lt=1,
        allow_inf_nan=False,
        description="leave a trade at the close that is this fraction below its entry",
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


def columns(ledger: lg.Ledger, matrix: PriceMatrix) -> dict[str, list[Any]]:
    """The ledger as the contract's columns (dates ISO, an open trade's exit date None)."""
    dates = matrix.dates.astype("datetime64[D]").astype(str)
    entry, exit_ = ledger.column("entry_day"), ledger.column("exit_day")
    last = matrix.dates.size - 1
    return {
        "set": ledger.column("set").tolist(),
        "symbol": [matrix.symbols[j] for j in ledger.column("symbol")],
        "entry_date": dates[entry].tolist(),
        "entry_price": ledger.column("entry_price").tolist(),
        "exit_date": [None if d < 0 else str(dates[d]) for d in exit_],
        "exit_price": ledger.column("exit_price").tolist(),
        "quantity": ledger.column("quantity").tolist(),
        "pnl": ledger.column("pnl").tolist(),
        "return": ledger.column("return").tolist(),
        "days_held": (np.where(exit_ < 0, last, exit_) - entry).tolist(),
        "exit_reason": [lg.REASONS[r] for r in ledger.column("reason")],
    }


def artifacts(table: dict[str, list[Any]]) -> list[Artifact]:
    """``trades.csv`` and ``trades.parquet`` of the ledger's columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    writer.writerows(zip(*(table[c] for c in COLUMNS), strict=True))
    schema = pa.schema(
        [
            ("set", pa.int32()),
            ("symbol", pa.string()),
            ("entry_date", pa.date32()),
            ("entry_price", pa.float64()),
            ("exit_date", pa.date32()),
            ("exit_price", pa.float64()),
            ("quantity", pa.float64()),
            ("pnl", pa.float64()),
            ("return", pa.float64()),
            ("days_held", pa.int32()),
            ("exit_reason", pa.string()),
        ]
    )
    typed = {
        **table,
        "entry_date": np.array(table["entry_date"], dtype="datetime64[D]"),
        "exit_date": np.array([d or "NaT" for d in table["exit_date"]], dtype="datetime64[D]"),
    }
    arrays = [pa.array(typed[c], type=schema.field(c).type, from_pandas=True) for c in COLUMNS]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), buffer, compression="zstd")
    return [
        Artifact("trades.csv", "text/csv", text.getvalue().encode()),
        Artifact("trades.parquet", "application/vnd.apache.parquet", buffer.getvalue()),
    ]
