"""The web console (CONTRACT 5.4) in a real browser: Playwright driving Debian's
`chromium` (installed by devtools/install-system-deps.sh; Playwright downloads no
browser) against `quantrun serve`.

Signs in; submits a risk_metrics job from the form generated from its params schema
(the example prefilled) and sees it turn succeeded without a reload; opens its report;
downloads an artifact; a bad value shows the field's error beside the field; another
user's job shows "not found"; the compare page renders two jobs; the jobs and
instruments pages list what the API holds. Each page is screenshotted (under
``.test-output/screenshots``) and its load time printed. report.html also opens from a
``file://`` URL with no request leaving the file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from devtools.jobs import wait_for_job
from devtools.postgres import free_port
from tests.harness.serve import QUANTRUN, Server

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / ".test-output" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
RISK = {"symbols": ["AAPL", "XOM"], "start": "2014-01-01", "end": "2017-12-31"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("console") / "data"
    # a file loaded before the server starts: a provider call the status page shows
    prices = data.parent / "acme.csv"
    prices.write_text("date,symbol,close\n2017-12-28,ACME,10\n2017-12-29,ACME,10.5\n")
    subprocess.run(
        [QUANTRUN, "load-prices", str(prices), "--source", "acme-file"],
        env={**os.environ, "QUANTRUN_DATA_DIR": str(data)},
        check=True,
        capture_output=True,
        timeout=120,
    )
    srv = Server(data, free_port(), QUANTRUN_RATE_REQUESTS_PER_SECOND="0")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM, "chromium is missing: make system-deps installs it (apt)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert errors == [], f"the page raised: {errors}"


def signed_in(page: Page, server: Server) -> Page:
    page.goto(server.url + "/")
    page.get_by_label("API key").fill(server.key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()
    return page


def visit(page: Page, server: Server, route: str, ready: str, shot: str) -> None:
    """Open a page by its route, wait until ``ready`` shows, print its load time (the
    console's own measure, from route to rendered) and save a screenshot."""
    began = time.monotonic()
    page.goto(f"{server.url}/#{route}")
    page.wait_for_selector(ready)
    # a selector, not wait_for_function: its polling evaluates a string, which the
    # console's Content-Security-Policy (no unsafe-eval) refuses when it has to poll
    loaded = page.locator("#main[data-loaded-ms]")
    expect(loaded).to_have_count(1)
    rendered = loaded.get_attribute("data-loaded-ms")
    print(
        f"console page {shot}: {(time.monotonic() - began) * 1000:.0f} ms to show, "
        f"{rendered} ms to render its data"
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)


def submit(server: Server, model: str, params: dict[str, object]) -> str:
    with server.client() as client:
        r = client.post("/v1/jobs", json={"model": model, "params": params})
        assert r.status_code == 202, r.text
        job_id = str(r.json()["id"])
        assert wait_for_job(client, job_id, timeout=60)["status"] == "succeeded"
    return job_id


def test_sign_in_refuses_a_bad_key_then_lists_jobs(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    page.get_by_label("API key").fill("qr_not_a_real_key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#api-key-error")).to_contain_text("The API refused")
    signed_in(page, server)
    assert page.evaluate("sessionStorage.getItem('quantrun.apiKey')") == server.key
    assert server.key not in page.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "sign-in.png"))


def test_a_job_from_the_form_to_its_report_and_artifacts(
    page: Page, server: Server, tmp_path: Path
) -> None:
    signed_in(page, server)
    visit(page, server, "/new/risk_metrics", "#job-form", "new-job")
    # the example is prefilled, each field labelled from the schema
    symbols = page.get_by_label("symbols (required)")
    assert json.loads(symbols.input_value()) == ["AAPL", "AMZN", "SPY"] or symbols.input_value()
    symbols.fill(json.dumps(RISK["symbols"]))
    page.get_by_label("start (required)").fill(RISK["start"])
    page.get_by_label("end (required)").fill(RISK["end"])
    page.get_by_role("button", name="Submit job").click()
    page.wait_for_url("**/#/jobs/*")
    # no reload: the status comes from the event stream
    page.evaluate("window.__same_document = true")
    expect(page.locator("#job-status")).to_have_attribute(
        "data-status", "succeeded", timeout=60_000
    )
    assert page.evaluate("window.__same_document") is True
    expect(page.get_by_role("heading", name="Results")).to_be_visible()
    expect(page.locator("#charts canvas").first).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "job.png"), full_page=True)
    # the report, in a sandboxed frame
    page.get_by_role("button", name="Open report").click()
    frame = page.frame_locator("iframe[title='Job report']")
    expect(frame.get_by_role("heading", name="Results")).to_be_visible()
    assert page.locator("iframe[title='Job report']").get_attribute("sandbox") == ""
    # an artifact downloads as a file
    with page.expect_download() as downloading:
        page.locator("[data-artifact='manifest.json']").click()
    saved = tmp_path / "manifest.json"
    downloading.value.save_as(saved)
    manifest = json.loads(saved.read_text())
    job_id = page.url.rsplit("/", 1)[-1]
    assert manifest["job_id"] == job_id and manifest["model"] == "risk_metrics"


def test_a_bad_value_shows_the_fields_error(page: Page, server: Server) -> None:
    signed_in(page, server)
    visit(page, server, "/new/black_scholes", "#job-form", "new-job-error")
    assert page.get_by_label("greeks").is_checked()  # the schema's default, not false
    page.get_by_label("volatility (required)").fill("-0.2")
    page.get_by_role("button", name="Submit job").click()
    error = page.locator("#e-volatility")
    expect(error).not_to_be_empty()
    assert error.inner_text() == "must be > 0 (got -0.2)"  # the API's message for the field
    assert page.get_by_label("volatility (required)").get_attribute("aria-invalid") == "true"
    assert "/new/black_scholes" in page.url  # nothing was submitted
    page.screenshot(path=str(SHOTS / "new-job-error.png"), full_page=True)


def test_another_users_job_is_not_found(page: Page, server: Server) -> None:
    made = subprocess.run(
        [QUANTRUN, "keys", "create", "--user", "someone-else"],
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
    )
    other_key = made.stdout.strip().splitlines()[-1].split()[-1]
    theirs = httpx.post(
        f"{server.url}/v1/jobs",
        headers={"Authorization": f"Bearer {other_key}"},
        json={
            "model": "black_scholes",
            "params": {
                "type": "call",
                "spot": 1,
                "strike": 1,
                "maturity": 1,
                "rate": 0,
                "volatility": 0.1,
            },
        },
        timeout=30,
    )
    assert theirs.status_code == 202, theirs.text
    signed_in(page, server)
    visit(page, server, f"/jobs/{theirs.json()['id']}", "h1", "not-found")
    expect(page.get_by_role("heading", name="Job not found")).to_be_visible()
    expect(page.locator("p.notice")).to_contain_text(f"No job {theirs.json()['id']} of yours")


def test_jobs_instruments_and_compare_pages(page: Page, server: Server) -> None:
    first = submit(server, "risk_metrics", RISK)
    second = submit(server, "risk_metrics", {**RISK, "symbols": ["JPM", "WMT"]})
    signed_in(page, server)
    visit(page, server, "/jobs", f"tr[data-job='{second}']", "jobs")
    expect(page.locator(f"tr[data-job='{first}'] .status")).to_have_text("succeeded")
    page.locator("#filter-model").select_option("black_scholes")
    expect(page.locator(f"tr[data-job='{first}']")).to_have_count(0)
    visit(page, server, "/instruments", "text=AAPL", "instruments")
    page.get_by_role("button", name="AAPL", exact=True).click()
    expect(page.get_by_role("heading", name="AAPL coverage")).to_be_visible()
    providers = page.locator("#market-data table")
    expect(providers).to_contain_text("load-prices")
    expect(providers).to_contain_text("(ok)")
    expect(page.locator("#market-data dl")).to_contain_text("hit rate")
    visit(page, server, f"/compare/{first}/{second}", "#compare-charts canvas", "compare")
    header = page.locator("table thead").first.inner_text()
    assert first[:8] in header and second[:8] in header
    for symbol in ("AAPL", "XOM", "JPM", "WMT"):
        expect(page.locator("table").first).to_contain_text(f"series.{symbol}.sharpe")
    legend = page.locator(".u-legend").first.inner_text()
    assert "A: AAPL" in legend and "B: JPM" in legend


def test_the_scripts_stay_small_and_every_field_has_a_label(page: Page, server: Server) -> None:
    signed_in(page, server)
    sizes = {
        src: len(httpx.get(server.url + src, timeout=10).content)
        for src in page.eval_on_selector_all(
            "script[src]", "els => els.map(e => e.getAttribute('src'))"
        )
    }
    print(f"console JavaScript: {sum(sizes.values()) / 1024:.0f} KB ({sizes})")
    assert sum(sizes.values()) < 300 * 1024
    for route in ("/new/backtest", "/compare", "/jobs"):
        page.goto(f"{server.url}/#{route}")
        page.wait_for_selector("main h1")
        unlabelled = page.eval_on_selector_all(
            "main input, main select, main textarea",
            """els => els
                .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
                .map(e => e.id || e.name)""",
        )
        assert unlabelled == [], (route, unlabelled)


def test_a_report_opens_from_a_file_with_nothing_fetched(
    page: Page, server: Server, tmp_path: Path
) -> None:
    job_id = submit(server, "risk_metrics", RISK)
    with server.client() as client:
        report = client.get(f"/v1/jobs/{job_id}/artifacts/report.html").content
    path = tmp_path / "report.html"
    path.write_bytes(report)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(path.as_uri())
    expect(page.get_by_role("heading", name="Results")).to_be_visible()
    assert page.locator("svg").count() == 2
    assert requested == [path.as_uri()]
    page.screenshot(path=str(SHOTS / "report.png"), full_page=True)


def test_strategies_with_their_schedules_and_signals(page: Page, server: Server) -> None:
    params = {
        "symbols": ["AAPL", "XOM"],
        "start": "2014-01-01",
        "end": "2017-12-31",
        "strategy": {"name": "sma_cross", "fast": 20, "slow": 100},
    }
    with server.client() as client:
        strategy = client.post(
            "/v1/strategies", json={"name": "sma 20/100", "model": "backtest", "params": params}
        ).json()
        client.post(
            "/v1/schedules",
            json={"strategy_id": strategy["id"], "cron": "0 18 * * MON-FRI", "timezone": "UTC"},
        )
        expected = client.get(f"/v1/strategies/{strategy['id']}/signals").json()
    signed_in(page, server)
    visit(page, server, "/strategies", f"[data-signals='{strategy['id']}']", "strategies")
    row = page.locator("tr", has_text="sma 20/100")
    expect(row).to_contain_text("0 18 * * MON-FRI (UTC), next")
    page.locator(f"[data-signals='{strategy['id']}']").click()
    expect(
        page.get_by_role("heading", name=f"sma 20/100: signals on {expected['date']}")
    ).to_be_visible()
    signals = page.locator("#signals table")
    for s in expected["signals"]:
        expect(signals).to_contain_text(f"{s['symbol']}{s['signal']}")
    page.screenshot(path=str(SHOTS / "strategies.png"), full_page=True)
    page.locator(f"[data-run='{strategy['id']}']").click()
    page.wait_for_url("**/#/jobs/*")
    expect(page.locator("#job-status")).to_have_attribute(
        "data-status", "succeeded", timeout=60_000
    )


def test_a_backtest_job_lists_its_round_trips(page: Page, server: Server) -> None:
    params = {
        "symbols": ["AAPL", "XOM"],
        "start": "2014-01-01",
        "end": "2017-12-31",
        "strategy": {"name": "sma_cross", "fast": 20, "slow": 100},
        "stop_loss": 0.08,
    }
    job = submit(server, "backtest", params)
    with server.client() as client:
        csv_rows = client.get(f"/v1/jobs/{job}/artifacts/trades.csv").text.strip().split("\n")
    signed_in(page, server)
    visit(page, server, f"/jobs/{job}", "#trades table", "backtest-trades")
    trades = page.locator("#trades")
    expect(trades.locator("thead")).to_contain_text("exit reason")
    expect(trades).to_contain_text(f"{len(csv_rows) - 1} round trips")
    expect(trades.locator("tbody tr")).to_have_count(min(len(csv_rows) - 1, 200))
    first = csv_rows[1].split(",")
    expect(trades.locator("tbody tr").first).to_contain_text(first[2])  # its entry date
    # the per-set figures the ledger adds are in the results table
    expect(page.locator("main")).to_contain_text("max consecutive losses")


def test_a_portfolio_made_from_the_form_shows_its_book(page: Page, server: Server) -> None:
    params = {
        "symbols": ["AAPL", "XOM", "JPM"],
        "start": "2016-01-01",
        "end": "2017-12-31",
        "strategy": {"name": "rsi", "period": 14, "lower": 40, "upper": 60},
        "fees_bps": 5,
    }
    with server.client() as client:
        strategy = client.post(
            "/v1/strategies", json={"name": "rsi paper", "model": "backtest", "params": params}
        ).json()
    signed_in(page, server)
    visit(page, server, "/portfolios", "#portfolio-form", "portfolios-empty")
    page.get_by_label("Strategy (one-set backtest)").select_option(strategy["id"])
    page.get_by_label("Name", exact=True).fill("rsi on three")
    page.get_by_label("Starting cash").fill("250000")
    page.get_by_label("Start", exact=True).fill("2017-01-01")
    page.get_by_label("Alert when the drawdown passes (fraction, optional)").fill("0.05")
    page.get_by_role("button", name="Create portfolio").click()
    page.wait_for_url("**/#/portfolios/*")
    portfolio_id = page.url.rsplit("/", 1)[-1]
    page.get_by_role("button", name="Step to the latest day").click()
    # the page is drawn again after the step, caught up to the latest stored day, whether
    # the step or the server's own (every 10 s in embedded mode) booked each day
    expect(page.locator("#step-status")).to_contain_text("book", timeout=30_000)
    with server.client() as client:
        latest = client.get("/v1/prices/latest", params={"symbols": "AAPL,XOM,JPM"}).json()
        book = client.get(f"/v1/portfolios/{portfolio_id}").json()
        orders = client.get(f"/v1/portfolios/{portfolio_id}/orders?limit=200").json()["items"]
    assert book["as_of"] == max(p["date"] for p in latest)
    expect(page.locator("#portfolio-facts")).to_contain_text(book["as_of"])
    assert book["days"] > 250 and book["initial_cash"] == 250000
    visit(page, server, f"/portfolios/{portfolio_id}", "#portfolio-chart canvas", "portfolio")
    expect(page.locator("#portfolio-facts")).to_contain_text(book["as_of"])
    positions = page.locator("#positions tbody tr")
    expect(positions).to_have_count(len(book["positions"]))
    for position in book["positions"]:
        expect(page.locator("#positions")).to_contain_text(position["symbol"])
    expect(page.locator("#orders")).to_contain_text(f"{len(orders)} filled orders")
    newest = orders[-1]
    expect(page.locator("#orders tbody tr").first).to_contain_text(newest["date"])
    expect(page.locator("#portfolio-trades thead")).to_contain_text("exit reason")
    # the list page shows it with its figures
    visit(page, server, "/portfolios", "main table", "portfolios")
    expect(page.locator("tr", has_text="rsi on three")).to_contain_text(book["as_of"])
