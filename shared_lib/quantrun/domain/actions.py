"""Corporate actions and the price adjustments made from them (CONTRACT 6.2).

An action is a cash ``dividend`` (``value``: the amount per share, in the share's terms
on its ex-date) or a ``split`` (``value``: new shares per old share, so 2.0 for 2-for-1
and 0.1 for a 1-for-10 reverse split), dated its ex-date. The stored ``close`` is the
close as the market printed it; adjustments turn it into a series whose day-on-day
changes are the holder's returns, as of today:

- ``splits``: each close divided by the ratios of the splits after it, so a split day
  is no return at all;
- ``total_return``: also each dividend reinvested at its ex-date close, the holding
  period return CRSP reports, ``(C_ex + D) / C_prev - 1``. Each close before the
  ex-date is multiplied by ``C_ex / (C_ex + D)``; Alpha Vantage's adjusted close uses
  the same factor (tested against a recorded answer). Yahoo's ``1 - D / C_prev`` differs
  by about ``D / C`` times the ex-date's return.

A dividend whose ex-date has no stored close cannot be priced and is left out until
that close is stored.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal, cast

import numpy as np

from quantrun.domain.prices import PriceMatrix, PriceRow
from quantrun.domain.symbols import parse_symbol

ActionKind = Literal["dividend", "split"]
ACTION_KINDS: tuple[ActionKind, ...] = ("dividend", "split")
Adjustment = Literal["total_return", "splits", "none"]
ADJUSTMENTS: tuple[Adjustment, ...] = ("total_return", "splits", "none")
ACTIONS_HEADER = ("symbol", "date", "kind", "value")
MAX_PROBLEMS = 50


@dataclass(frozen=True)
class CorporateAction:
    symbol: str
    date: date
    kind: ActionKind
    value: float
    source: str = ""


@dataclass(frozen=True)
class PricedAction:
    """An action with the stored close of its ex-date (None: none stored)."""

    action: CorporateAction
    close: float | None


def check_value(kind: str, value: float) -> str | None:
    """What is wrong with an action's value, or None."""
    if kind not in ACTION_KINDS:
        return f"kind must be one of {', '.join(ACTION_KINDS)}, got {kind!r}"
    if not math.isfinite(value) or value <= 0:
        return f"value must be a positive finite number, got {value!r}"
    if kind == "split" and value == 1.0:
        return "a split of 1.0 changes nothing"
    return None


def factors(
    dates: np.ndarray, actions: Sequence[PricedAction], adjustment: Adjustment
) -> np.ndarray:
    """The factor each day's close is multiplied by: the product over the actions dated
    after that day (ex-dates are the first day without the dividend or at the new share
    count, so an action never adjusts its own day)."""
    days = dates.astype("datetime64[D]")
    if adjustment == "none" or not actions:
        return np.ones(days.size)
    dated, each = [], []
    for priced in sorted(actions, key=lambda p: p.action.date):
        a = priced.action
        if a.kind == "split":
            f = 1.0 / a.value
        elif adjustment == "splits" or priced.close is None:
            continue
        else:
            f = priced.close / (priced.close + a.value)
        dated.append(np.datetime64(a.date, "D"))
        each.append(f)
    if not each:
        return np.ones(days.size)
    # after[k] = product of the factors of actions k, k+1, ...; after[n] = 1
    after = np.append(np.cumprod(np.array(each)[::-1])[::-1], 1.0)
    first_later = np.searchsorted(np.array(dated), days, side="right")
    return after[first_later]


def adjust(
    close: PriceMatrix,
    adj_close: PriceMatrix,
    actions: Sequence[PricedAction],
    adjustment: Adjustment,
) -> PriceMatrix:
    """The window's series under ``adjustment``: ``close`` (as stored) times each
    symbol's factors; ``total_return`` of a symbol with no actions is the stored
    adjusted close (the provider's, else the close)."""
    by_symbol: dict[str, list[PricedAction]] = {}
    for p in actions:
        by_symbol.setdefault(p.action.symbol, []).append(p)
    out = close.close.copy()
    for j, symbol in enumerate(close.symbols):
        mine = by_symbol.get(symbol, [])
        if adjustment == "total_return" and not mine:
            out[:, j] = adj_close.close[:, j]
        elif adjustment != "none":
            out[:, j] = out[:, j] * factors(close.dates, mine, adjustment)
    return PriceMatrix(close.dates, close.symbols, out)


def reported_actions(rows: Sequence[PriceRow], source: str) -> list[CorporateAction]:
    """The dividends and splits a provider reported beside its prices."""
    out = []
    for r in rows:
        if r.dividend:
            out.append(CorporateAction(r.symbol, r.date, "dividend", r.dividend, source))
        if r.split:
            out.append(CorporateAction(r.symbol, r.date, "split", r.split, source))
    return out


def as_traded(
    close: PriceMatrix, adj_close: PriceMatrix, actions: Sequence[PricedAction]
) -> PriceMatrix:
    """The prices a holding is worth in share terms: the close as traded for a symbol
    with corporate actions (its shares follow them), else the stored adjusted close, as
    ``total_return`` reads it (no action to follow: the two series move alike)."""
    with_actions = {p.action.symbol for p in actions}
    out = adj_close.close.copy()
    for j, symbol in enumerate(close.symbols):
        if symbol in with_actions:
            out[:, j] = close.close[:, j]
    return PriceMatrix(close.dates, close.symbols, out)


class ActionFileError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems[:5]))
        self.problems = problems


def parse_actions_csv(text: str, source: str) -> list[CorporateAction]:
    """``actions.csv`` (``symbol,date,kind,value``), all or nothing: any bad line rejects
    the file with every problem listed (line 1 is the header)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if sorted(header) != sorted(ACTIONS_HEADER):
        raise ActionFileError(
            [f"header must be {','.join(ACTIONS_HEADER)}, got {','.join(header)}"]
        )
    reader.fieldnames = header
    out: list[CorporateAction] = []
    problems: list[str] = []
    seen: set[tuple[str, date, str]] = set()
    for line, rec in enumerate(reader, start=2):
        try:
            symbol = parse_symbol(rec["symbol"] or "")
            day = date.fromisoformat((rec["date"] or "").strip())
            kind = (rec["kind"] or "").strip().lower()
            value = float(rec["value"] or "nan")
            wrong = check_value(kind, value)
            if wrong:
                raise ValueError(wrong)
            if (symbol, day, kind) in seen:
                raise ValueError(f"a second {kind} for {symbol} on {day}")
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
            if len(problems) >= MAX_PROBLEMS:
                break
            continue
        seen.add((symbol, day, kind))
        out.append(CorporateAction(symbol, day, cast(ActionKind, kind), value, source))
    if problems:
        raise ActionFileError(problems)
    if not out:
        raise ActionFileError(["the file has no actions"])
    return out
