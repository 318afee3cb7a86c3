"""manifest.json (CONTRACT 5.4) through the API and the embedded worker: the same job
run again gives the same result hash; one price changed gives another data
fingerprint (and another result); the hashes are what an independent computation in
this test gives."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

import httpx
import numpy as np
import scipy

from devtools.jobs import asian_monte_carlo, wait_for_job
from quantrun.domain.prices import PriceRow
from tests.harness.api import RunningApi

VAR = {
    "symbols": ["AAPL", "XOM"],
    "weights": [0.6, 0.4],
    "start": "2016-01-01",
    "end": "2016-12-31",
    "method": "monte_carlo",
    "scenarios": 20_000,
    "seed": 7,
}

USER = "provenance"


def run(client: httpx.Client, model: str, params: dict[str, Any], **options: Any) -> Any:
    body: dict[str, Any] = {"model": model, "params": params}
    if options:
        body["options"] = options
    r = client.post("/v1/jobs", json=body)
    assert r.status_code == 202, r.text
    done = wait_for_job(client, r.json()["id"], timeout=60)
    assert done["status"] == "succeeded", done
    assert "manifest.json" in [a["name"] for a in done["artifacts"]]
    m = client.get(f"/v1/jobs/{done['id']}/artifacts/manifest.json")
    assert m.status_code == 200 and m.headers["content-type"].startswith("application/json")
    return done, m.json()


def canonical_sha256(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_manifest_says_what_produced_the_result(api: RunningApi, client: httpx.Client) -> None:
    job, manifest = run(client, "portfolio_var", VAR)
    assert manifest["model"] == "portfolio_var" and manifest["job_id"] == job["id"]
    # the params as validated, defaults filled in; hashed as canonical JSON
    assert manifest["params"]["confidence"] == 0.99 and manifest["params"]["seed"] == 7
    assert manifest["params_sha256"] == canonical_sha256(manifest["params"])
    assert manifest["result_sha256"] == canonical_sha256(job["result"])
    assert manifest["random"]["seed"] == 7 and "spawn_key" in manifest["random"]["scheme"]
    assert manifest["libraries"]["numpy"] == np.__version__
    assert manifest["libraries"]["scipy"] == scipy.__version__
    assert manifest["code_version"] and manifest["shards"] is None
    # the embedded store is DuckDB: it bills nothing and reports no queries
    assert manifest["bigquery"] == {"queries": [], "total_bytes_processed": 0}
    assert all(v >= 0 for v in manifest["timings"].values())
    (data,) = manifest["data"]
    matrix = api.container.prices.load_close(["AAPL", "XOM"], date(2016, 1, 1), date(2016, 12, 31))
    assert data["symbols"] == ["AAPL", "XOM"] and data["rows"] == matrix.dates.size == 252
    assert (data["first_date"], data["last_date"]) == ("2016-01-04", "2016-12-30")
    digest = hashlib.sha256(b"AAPL,XOM")
    digest.update(matrix.dates.astype("datetime64[D]").astype("<i8").tobytes())
    digest.update(matrix.close.astype("<f8").tobytes())
    assert data["sha256"] == digest.hexdigest()


def test_a_rerun_gives_the_same_hash_and_a_changed_price_another_fingerprint(
    api: RunningApi, client: httpx.Client
) -> None:
    first = run(client, "portfolio_var", VAR)[1]
    again = run(client, "portfolio_var", VAR)[1]
    assert again["result_sha256"] == first["result_sha256"]
    assert again["data"] == first["data"] and again["params_sha256"] == first["params_sha256"]
    day = date(2016, 6, 15)
    old = api.container.prices.load_close(["XOM"], day, day).close[0, 0]
    api.container.prices.upsert([PriceRow(day, "XOM", float(old) * 1.01)], source="test")
    try:
        changed = run(client, "portfolio_var", VAR)[1]
    finally:
        api.container.prices.upsert([PriceRow(day, "XOM", float(old))], source="test")
    assert changed["data"][0]["sha256"] != first["data"][0]["sha256"]
    assert changed["data"][0]["rows"] == first["data"][0]["rows"]
    assert changed["result_sha256"] != first["result_sha256"]


def test_a_sharded_job_records_its_shards(client: httpx.Client) -> None:
    params = asian_monte_carlo(paths=50_000, seed=3)
    whole, one = run(client, "monte_carlo_option", params, shards=1)
    sharded, four = run(client, "monte_carlo_option", params, shards=4)
    assert four["shards"] == 4 and one["shards"] is None
    assert four["result_sha256"] == one["result_sha256"] and four["data"] == []
    assert sharded["result"] == whole["result"]
