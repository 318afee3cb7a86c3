"""A universe at scale (issue 25 item 6): 5,000 synthetic symbols x 25 years of weekday
closes (about 3.3e7 rows) in the embedded DuckDB price store, generated in a temporary
folder (never committed, removed after), and the reads the API and the models make of
it, each beside the plainest query that returns the same rows.

Goals: a 500-symbol x 10-year panel (``load_close``, the models' read) under 150 ms; a
symbol's coverage (``GET /v1/instruments/{symbol}/coverage`` once the instrument list is
cached) under 100 ms. The instrument list itself (a GROUP BY over every row) is read once
per cache TTL and is shown too. The "ms" column of the note is the candidate's median.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

from benchmarks.harness import Row, paired

N_SYMBOLS = 5000
FIRST, END = date(1994, 1, 3), date(2019, 1, 1)  # 25 years


def bench_universe() -> list[Row]:
    from quantrun.adapters.embedded.prices import DuckDBPriceStore
    from quantrun.app.prices import _coverage

    folder = Path(tempfile.mkdtemp(prefix="qr-universe-"))
    try:
        store = DuckDBPriceStore(folder / "prices.duckdb")
        began = time.monotonic()
        store._cursor().execute(
            """
            INSERT INTO prices
            SELECT d, 'S' || lpad(CAST(s AS VARCHAR), 4, '0'), NULL, NULL, NULL,
                   100 * exp(0.0002 * (d - $first) + 0.01 * sin(s + (d - $first))),
                   NULL, NULL, 'bench', TIMESTAMP '2026-01-01'
            FROM range($n) u(s),
                 (SELECT CAST(x AS DATE) AS d FROM range($first, $end, INTERVAL 1 DAY) t(x)
                  WHERE dayofweek(x) BETWEEN 1 AND 5)
            """,
            {"n": N_SYMBOLS, "first": FIRST, "end": END},
        )
        rows = store._cursor().execute("SELECT count(*) FROM prices").fetchone()[0]  # type: ignore[index]
        built = time.monotonic() - began
        panel = [f"S{i:04d}" for i in range(0, N_SYMBOLS, 10)]
        start, end = date(2008, 1, 1), date(2017, 12, 31)
        found = next(i for i in store.instruments() if i.symbol == "S2500")

        def raw_panel() -> None:
            store._cursor().execute(
                "SELECT CAST(date - DATE '1970-01-01' AS INTEGER), coalesce(adj_close, close) "
                "FROM prices WHERE symbol IN (SELECT unnest($s)) AND date BETWEEN $a AND $b",
                {"s": panel, "a": start, "b": end},
            ).fetchnumpy()

        def raw_symbol() -> None:
            store._cursor().execute("SELECT date FROM prices WHERE symbol = 'S2500'").fetchnumpy()

        def raw_count() -> None:
            store._cursor().execute("SELECT count(*) FROM prices").fetchall()

        note = f"{rows / 1e6:.1f}M rows, built in {built:.0f} s"
        out = [
            paired("universe: 500 symbols x 10 years panel (goal < 150 ms)", "loads/s",
                   lambda: store.load_close(panel, start, end), 1,
                   "raw columnar fetch (no pivot)", raw_panel, 1, note),
            paired("universe: one symbol's coverage, list cached (goal < 100 ms)", "reads/s",
                   lambda: _coverage(store, found), 1,
                   "its dates fetched, nothing else", raw_symbol, 1, note),
            paired("universe: instrument list (GROUP BY every row, once per TTL)", "reads/s",
                   store.instruments, 1, "count(*) of every row", raw_count, 1, note),
        ]  # fmt: skip
        for row in out:
            row.note = f"{row.note}; {1000 * row.seconds:.0f} ms"
        store.close()
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)
