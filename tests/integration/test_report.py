"""report.html (CONTRACT 5.4) for jobs that read price history, through the API and the
embedded worker: one page that parses, refers to nothing outside itself, holds the
model's charts as SVG, the result's figures, the data the job read and the manifest's
essentials; served sandboxed. A job that reads no prices has none."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx

from devtools.jobs import wait_for_job

RISK = {
    "symbols": ["AAPL", "XOM"],
    "start": "2014-01-01",
    "end": "2017-12-31",
    "benchmark": "SPY",
}
EXTERNAL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)

USER = "reader"


class Page(HTMLParser):
    """Every tag, every src/href/xlink:href value and every CSS url() of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.references: list[str] = []
        self.text: list[str] = []
        self._style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._style = tag == "style"
        for name, value in attrs:
            if value is None:
                continue
            if name in ("src", "href", "xlink:href", "action", "srcset", "poster", "data"):
                self.references.append(value)
            if name == "style":
                self.references += re.findall(r"url\(\s*['\"]?([^'\")]+)", value)

    def handle_data(self, data: str) -> None:
        if self._style:
            self.references += re.findall(r"url\(\s*['\"]?([^'\")]+)", data)
            self.references += re.findall(r"@import\s+['\"]?([^'\";]+)", data)
        self.text.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._style = False


def parse(page: str) -> Page:
    parsed = Page()
    parsed.feed(page)
    parsed.close()
    return parsed


def external_references(page: str) -> list[str]:
    return [r for r in parse(page).references if EXTERNAL.match(r)]


def finished(client: httpx.Client, model: str, params: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/v1/jobs", json={"model": model, "params": params})
    assert r.status_code == 202, r.text
    done = wait_for_job(client, r.json()["id"], timeout=60)
    assert done["status"] == "succeeded", done
    return done


def test_the_checker_finds_what_it_looks_for() -> None:
    page = (
        '<p><img src="https://x.example/a.png"><a href="//cdn.example/b">b</a>'
        '<a href="#ok">ok</a></p><style>body{background:url("http://x/y.png")}</style>'
        '<div style="background: url(//z/w)"></div><svg><use xlink:href="#glyph"/></svg>'
    )
    assert external_references(page) == [
        "https://x.example/a.png",
        "//cdn.example/b",
        "http://x/y.png",
        "//z/w",
    ]


def test_a_risk_report_is_one_self_contained_page(client: httpx.Client) -> None:
    job = finished(client, "risk_metrics", RISK)
    names = [a["name"] for a in job["artifacts"]]
    assert "report.html" in names and "manifest.json" in names
    r = client.get(f"/v1/jobs/{job['id']}/artifacts/report.html")
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert "sandbox" in r.headers["content-security-policy"]
    assert "default-src 'none'" in r.headers["content-security-policy"]
    page = r.text
    parsed = parse(page)
    assert external_references(page) == []
    assert "script" not in parsed.tags and "link" not in parsed.tags
    assert parsed.tags.count("svg") == 2  # equity and drawdown, inline
    assert all(not ref.startswith("data:") or "image/" in ref for ref in parsed.references)
    text = " ".join(parsed.text)
    manifest = client.get(f"/v1/jobs/{job['id']}/artifacts/manifest.json").json()
    assert manifest["result_sha256"] in text and manifest["code_version"] in text
    assert manifest["data"][0]["sha256"][:16] in text
    assert "Benchmark: SPY" in " ".join(text.split())
    assert "AAPL" in text and "XOM" in text and "2014-01-01" in text  # params and data
    assert f"{job['result']['series']['AAPL']['sharpe']:.6g}" in text  # a figure of the result


def test_a_backtest_report_has_the_equity_chart(client: httpx.Client) -> None:
    params = {
        "symbols": ["AAPL", "JPM"],
        "start": "2013-01-01",
        "end": "2017-12-31",
        "strategy": {"name": "sma_cross", "fast": [10, 20], "slow": [50, 100]},
    }
    job = finished(client, "backtest", params)
    page = client.get(f"/v1/jobs/{job['id']}/artifacts/report.html").text
    # the model's equity chart, and a drawdown chart of the same curves after it
    assert external_references(page) == [] and parse(page).tags.count("svg") == 2
    assert page.index("equity.png") < page.index("drawdown (from the equity chart)")


def test_a_job_that_reads_no_prices_has_no_report(client: httpx.Client) -> None:
    bs = {"type": "call", "spot": 10, "strike": 11, "maturity": 1, "rate": 0.0, "volatility": 0.4}
    job = finished(client, "black_scholes", bs)
    assert [a["name"] for a in job["artifacts"]] == ["manifest.json"]


def test_line_charts_come_as_data_for_the_console(client: httpx.Client) -> None:
    job = finished(client, "risk_metrics", RISK)
    charts = client.get(f"/v1/jobs/{job['id']}/artifacts/charts.json").json()
    assert set(charts) == {"equity.png", "drawdown.png"}
    equity = charts["equity.png"]
    assert [s["name"] for s in equity["series"]] == ["AAPL", "XOM", "SPY"]
    aapl = equity["series"][0]
    assert aapl["x"][0] >= "2014-01-02" and aapl["x"][-1] <= "2017-12-29"
    assert len(aapl["x"]) == len(aapl["y"]) <= 1500 and aapl["y"][0] > 0
    assert sorted(aapl["x"]) == aapl["x"]
    # the last point is the equity the result's total return says
    total = job["result"]["series"]["AAPL"]["total_return"]
    assert abs(aapl["y"][-1] - (1 + total)) < 1e-9
