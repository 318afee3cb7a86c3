"""The ticker grammar every symbol (params, ingest messages, price files, URLs) obeys."""

from __future__ import annotations

import re
from typing import Any

SYMBOL_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9.\-^=]{0,19}$")
# what ``parse_symbol`` accepts: either case, spaces around (published in JSON Schemas)
SYMBOL_CORE = r"[A-Za-z0-9][A-Za-z0-9.\-^=]{0,19}"
SYMBOL_INPUT = rf"^[ \t\r\n]*{SYMBOL_CORE}[ \t\r\n]*$"
_INPUT = re.compile(SYMBOL_INPUT)


def parse_symbol(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a ticker symbol string")
    # the input grammar first: str.upper() turns some non-ASCII letters into ASCII ones
    symbol = value.strip(" \t\r\n").upper()
    if not _INPUT.fullmatch(value) or not SYMBOL_PATTERN.fullmatch(symbol):
        raise ValueError(f"{value!r} is not a ticker symbol (letters, digits, . - ^ =)")
    return symbol
