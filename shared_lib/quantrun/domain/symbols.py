"""The ticker grammar every symbol (params, ingest messages, price files, URLs) obeys."""

from __future__ import annotations

import re
from typing import Any

SYMBOL_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9.\-^=]{0,19}$")


def parse_symbol(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a ticker symbol string")
    symbol = value.strip().upper()
    if not SYMBOL_PATTERN.match(symbol):
        raise ValueError(f"{value!r} is not a ticker symbol (letters, digits, . - ^ =)")
    return symbol
