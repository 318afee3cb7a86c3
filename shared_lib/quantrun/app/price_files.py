"""Price files into the store: an uploaded file (CSV or Parquet, all or nothing, with a
report; ``actions.csv``: corporate actions), ``quantrun load-prices`` and
``load-actions``. Each leaves a ``provider_calls`` record (provider ``upload`` or
``load-prices``) for the market-data status."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quantrun.app.ingest import Counts, run_record, write_changes
from quantrun.clock import utcnow
from quantrun.domain.actions import ActionFileError, CorporateAction, parse_actions_csv
from quantrun.domain.market_data import Outcome, ProviderCall
from quantrun.domain.price_checks import validate
from quantrun.domain.price_csv import PriceFileError, parse_price_csv
from quantrun.domain.prices import PriceRow
from quantrun.ports import PriceStore


@dataclass
class FileOutcome:
    accepted: bool
    counts: Counts
    report: dict[str, Any]


def ingest_file(*, name: str, data: bytes, store: PriceStore, now: datetime) -> FileOutcome:
    """All or nothing: a file with any bad row loads nothing and returns the report. A
    file named ``actions.csv`` (or ``*-actions.csv``) holds corporate actions."""
    if name.lower().rsplit("/", 1)[-1].endswith("actions.csv"):
        return _actions_file(name, data, store, now)
    checked, rows = _check_file(name, data)
    if not checked.accepted:
        problems = checked.report.get("problems") or checked.report.get("rejections") or ["?"]
        said = f"{name}: {checked.counts.rejected or len(problems)} problem(s), first {problems[0]}"
        _file_call(store, "upload", "", "error", said, now)
        return checked
    source = f"upload:{name}"
    counts = write_changes(store, rows, source=source)
    symbols = ",".join(sorted({r.symbol for r in rows}))
    store.record_ingest_runs(
        [
            run_record(
                run_id=str(uuid.uuid4()),
                symbol=symbols,
                source=source,
                status="ok",
                detail="",
                at=now,
                counts=counts,
            )
        ]
    )
    _file_call(store, "upload", symbols, "ok", f"{name}: {len(rows)} rows", now)
    return FileOutcome(True, counts, {**checked.report, **counts.as_dict()})


def _actions_file(name: str, data: bytes, store: PriceStore, now: datetime) -> FileOutcome:
    try:
        actions = load_actions_csv(
            text=data.decode("utf-8-sig"), store=store, source=f"upload:{name}"
        )
    except (ActionFileError, UnicodeDecodeError) as exc:
        problems = exc.problems if isinstance(exc, ActionFileError) else [str(exc)]
        _file_call(store, "upload", "", "error", f"{name}: {problems[0]}", now)
        return FileOutcome(False, Counts(), {"file": name, "accepted": False, "problems": problems})
    symbols = ",".join(sorted({a.symbol for a in actions}))
    _file_call(store, "upload", symbols, "ok", f"{name}: {len(actions)} actions", now)
    return FileOutcome(True, Counts(), {"file": name, "accepted": True, "actions": len(actions)})


def load_actions_csv(*, text: str, store: PriceStore, source: str) -> list[CorporateAction]:
    """An ``actions.csv`` into ``corporate_actions`` (``quantrun load-actions`` and
    uploads); raises ``ActionFileError`` listing every problem, and then loads nothing."""
    actions = parse_actions_csv(text, source)
    store.put_actions(actions)
    return actions


def _check_file(name: str, data: bytes) -> tuple[FileOutcome, list[PriceRow]]:
    """The file's verdict and, when accepted, its rows."""
    try:
        if name.lower().endswith(".parquet"):
            rows = _parquet_rows(data)
        else:
            rows = parse_price_csv(data.decode("utf-8-sig"))
    except (PriceFileError, UnicodeDecodeError, ValueError) as exc:
        problems = exc.problems if isinstance(exc, PriceFileError) else [str(exc)]
        report = {"file": name, "accepted": False, "problems": problems}
        return FileOutcome(False, Counts(), report), []
    checked = validate(rows)
    if checked.rejected:
        counts = Counts(fetched=len(rows), rejected=len(checked.rejected))
        return FileOutcome(
            False, counts, {"file": name, "accepted": False, **checked.summary()}
        ), []
    summary = {"file": name, "accepted": True, **checked.summary()}
    return FileOutcome(True, Counts(fetched=len(rows)), summary), list(checked.accepted)


def _file_call(
    store: PriceStore, provider: str, symbols: str, outcome: Outcome, detail: str, now: datetime
) -> None:
    call = ProviderCall(str(uuid.uuid4()), provider, symbols[:1000], outcome, detail[:1000], now)
    store.record_provider_calls([call])


def _parquet_rows(data: bytes) -> list[PriceRow]:
    """Parquet with the CSV layout's columns, checked by the same parser."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer)
    return parse_price_csv(buffer.getvalue().decode())


@dataclass(frozen=True)
class LoadedPrices:
    rows: int
    symbols: list[str]


def load_price_csv(*, text: str, store: PriceStore, source: str) -> LoadedPrices:
    """A price CSV into the store as it is (``quantrun load-prices``); raises
    ``PriceFileError`` listing every problem, and then loads nothing."""
    try:
        rows = parse_price_csv(text)
    except PriceFileError as exc:
        _file_call(store, "load-prices", "", "error", f"{source}: {exc.problems[0]}", utcnow())
        raise
    written = store.upsert(rows, source=source)
    symbols = sorted({r.symbol for r in rows})
    _file_call(store, "load-prices", ",".join(symbols), "ok", f"{source}: {written} rows", utcnow())
    return LoadedPrices(written, symbols)
