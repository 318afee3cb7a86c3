"""``report.html`` (CONTRACT 5.4): one self-contained, printable page per job that read
price history.

It holds the result's figures as tables (top-level numbers; per-symbol or per-set
tables from nested objects and lists of rows, the first ``MAX_ROWS`` rows), the model's
charts inline as SVG, the params, the data the job read (symbols, dates, rows,
fingerprints) and its benchmark, and the manifest's essentials (hashes, code and library
versions, seed). Nothing in it refers outside the page: no script, no stylesheet, font or
image from elsewhere, so it opens from a file, an e-mail or an archive years later.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from quantrun.catalog.spec import Artifact

NAME = "report.html"
CONTENT_TYPE = "text/html; charset=utf-8"
MAX_ROWS = 50
MAX_COLUMNS = 14

STYLE = """
:root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
       color: var(--ink); background: #fff; }
main { max-width: 1040px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 16px 0 6px; }
p.meta { color: var(--muted); margin: 0; }
table { border-collapse: collapse; margin: 4px 0 12px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: right; }
th { background: #f6f8fa; }
td.key, th.key { text-align: left; }
figure { margin: 12px 0; break-inside: avoid; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 12px; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; font-size: 12px; }
code { font-size: 12px; overflow-wrap: anywhere; }
@media print { main { padding: 0; } h2 { break-after: avoid; } table { break-inside: avoid; } }
"""


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value).lower()
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.6g}"
    return str(value)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _label(key: str) -> str:
    return key.replace("_", " ")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], caption: str = "") -> str:
    head = "".join(
        f'<th scope="col"{" class=key" if i == 0 else ""}>{html.escape(_label(h))}</th>'
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=key' if i == 0 else ''}>{html.escape(_text(v))}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows[:MAX_ROWS]
    )
    more = (
        f"<p class=meta>{len(rows) - MAX_ROWS} more rows in the job's result</p>"
        if len(rows) > MAX_ROWS
        else ""
    )
    title = f"<h3>{html.escape(_label(caption))}</h3>" if caption else ""
    return f"{title}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _record_table(name: str, records: Sequence[Mapping[str, Any]]) -> str:
    """A list of rows (dicts), their scalar fields as columns."""
    columns: list[str] = []
    for record in records[:MAX_ROWS]:
        for key, value in record.items():
            if _scalar(value) and key not in columns:
                columns.append(key)
            elif isinstance(value, Mapping):
                columns.extend(
                    f"{key}.{k}"
                    for k, v in value.items()
                    if _scalar(v) and f"{key}.{k}" not in columns
                )
    columns = columns[:MAX_COLUMNS]

    def cell(record: Mapping[str, Any], column: str) -> Any:
        outer, _, inner = column.partition(".")
        value = record.get(outer)
        return value.get(inner) if inner and isinstance(value, Mapping) else value

    return _table(columns, [[cell(r, c) for c in columns] for r in records], name)


def _figures(result: Mapping[str, Any]) -> str:
    """The result as tables: its top-level numbers, then each nested object or list of
    rows; long arrays are named, not shown."""
    top = [(k, v) for k, v in result.items() if _scalar(v)]
    parts = [_table(["figure", "value"], top)] if top else []
    for key, value in result.items():
        if isinstance(value, Mapping) and value:
            inner = list(value.values())
            if all(_scalar(v) for v in inner):
                parts.append(_table(["figure", "value"], list(value.items()), key))
            elif all(isinstance(v, Mapping) for v in inner):
                records = [{"": k, **v} for k, v in value.items()]
                parts.append(_record_table(key, records))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            parts.append(_record_table(key, value))
        elif isinstance(value, list) and value:
            parts.append(
                f"<p class=meta>{html.escape(_label(key))}: {len(value)} values "
                "(in the job's result)</p>"
            )
    return "".join(parts)


def charts_with_drawdown(artifacts: Sequence[Artifact]) -> list[tuple[str, str]]:
    """The artifacts' charts as (name, SVG); when the model drew an equity curve but no
    drawdown chart, a drawdown chart of the same curves follows it (from the chart's own
    points: at most ``charts.MAX_POINTS`` a line)."""
    from quantrun.models import charts

    drawn: list[tuple[str, str]] = [(a.name, a.svg) for a in artifacts if a.svg]
    if any(a.name.startswith("drawdown") for a in artifacts):
        return drawn
    equity = next((a for a in artifacts if a.series and a.svg), None)
    if equity is None or equity.series is None:
        return drawn
    curves = {}
    for line in equity.series["series"]:
        y = np.array([np.nan if v is None else v for v in line["y"]], dtype=np.float64)
        if y.size and np.all(y[np.isfinite(y)] > 0):
            peak = np.fmax.accumulate(y)
            curves[line["name"]] = (np.array(line["x"], dtype="datetime64[D]"), y / peak - 1.0)
    if not curves:
        return drawn
    figure = charts.line_chart(
        curves, title="Drawdown from running peak", ylabel="Drawdown", percent=True
    )
    at = [name for name, _ in drawn].index(equity.name) + 1
    return [*drawn[:at], ("drawdown (from the equity chart)", charts.svg(figure)), *drawn[at:]]


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section aria-labelledby="{anchor}"><h2 id="{anchor}">{title}</h2>{body}</section>'


def render(
    *,
    job_id: str,
    model: str,
    params: Mapping[str, Any],
    result: Mapping[str, Any],
    manifest: Mapping[str, Any],
    charts: Sequence[tuple[str, str]],
    finished: str,
) -> bytes:
    """The report page; ``charts`` are (name, SVG element) pairs."""
    esc = html.escape
    data_rows = [
        [", ".join(d["symbols"]), d["first_date"], d["last_date"], d["rows"], d["sha256"][:16]]
        for d in manifest.get("data", [])
    ]
    libraries = ", ".join(f"{k} {v}" for k, v in manifest.get("libraries", {}).items() if v)
    random = manifest.get("random")
    benchmark = params.get("benchmark")
    figures = "".join(
        f"<figure>{svg}<figcaption>{esc(name)}</figcaption></figure>" for name, svg in charts
    )
    provenance: list[list[Any]] = [
        ["params SHA-256", manifest.get("params_sha256")],
        ["result SHA-256", manifest.get("result_sha256")],
        ["code version", manifest.get("code_version")],
        ["libraries", libraries],
        ["shards", manifest.get("shards")],
    ]
    if random:
        provenance += [["seed", random.get("seed")], ["random numbers", random.get("scheme")]]
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>QuantRun report: {esc(model)} {esc(job_id)}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<header>
<h1>{esc(_label(model))}</h1>
<p class=meta>Job <code>{esc(job_id)}</code>, succeeded {esc(finished)}</p>
</header>
<section aria-labelledby="results"><h2 id="results">Results</h2>{_figures(result)}</section>
{_section("charts", "Charts", figures) if figures else ""}
<section aria-labelledby="data"><h2 id="data">Data</h2>
{_table(["symbols", "first date", "last date", "rows", "SHA-256 (first 16)"], data_rows)}
{f"<p>Benchmark: <strong>{esc(str(benchmark))}</strong></p>" if benchmark else ""}
</section>
<section aria-labelledby="params"><h2 id="params">Params</h2>
<pre>{esc(json.dumps(params, indent=2, sort_keys=True))}</pre></section>
<section aria-labelledby="provenance"><h2 id="provenance">Provenance</h2>
{_table(["what", "value"], provenance)}
<p class=meta>The job's manifest.json holds all of it.</p></section>
</main>
</body>
</html>
"""
    return page.encode()
