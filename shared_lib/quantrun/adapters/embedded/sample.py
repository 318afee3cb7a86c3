"""The bundled sample prices as rows (for price stores loaded through ``upsert``)."""

from __future__ import annotations

import csv
import gzip
from datetime import date
from pathlib import Path

from quantrun.domain.prices import PriceRow

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"
SAMPLE_FILES = ("stock_prices.csv.gz", "spy_prices.csv.gz")

# Names of the bundled sample symbols (the CSVs carry tickers only).
SAMPLE_NAMES = {
    "GOOG": "Alphabet Inc. Class C",
    "AAPL": "Apple Inc.",
    "FB": "Facebook, Inc.",
    "BABA": "Alibaba Group Holding Ltd. ADR",
    "AMZN": "Amazon.com, Inc.",
    "GE": "General Electric Company",
    "AMD": "Advanced Micro Devices, Inc.",
    "WMT": "Walmart Inc.",
    "BAC": "Bank of America Corporation",
    "GM": "General Motors Company",
    "T": "AT&T Inc.",
    "UAA": "Under Armour, Inc. Class A",
    "SHLD": "Sears Holdings Corporation",
    "XOM": "Exxon Mobil Corporation",
    "RRC": "Range Resources Corporation",
    "BBY": "Best Buy Co., Inc.",
    "MA": "Mastercard Incorporated",
    "PFE": "Pfizer Inc.",
    "JPM": "JPMorgan Chase & Co.",
    "SBUX": "Starbucks Corporation",
    "SPY": "SPDR S&P 500 ETF Trust",
}


def sample_rows() -> list[PriceRow]:
    """Wide close-only CSVs to long rows; the adjusted close is stored as close and adj_close."""
    rows: list[PriceRow] = []
    for name in SAMPLE_FILES:
        with gzip.open(SAMPLE_DIR / name, "rt", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            symbols = header[1:]
            for record in reader:
                day = date.fromisoformat(record[0])
                for symbol, raw in zip(symbols, record[1:], strict=True):
                    if raw:
                        px = float(raw)
                        rows.append(PriceRow(day, symbol, px, adj_close=px))
    return rows
