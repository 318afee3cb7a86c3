"""GET /v1/strategies/{id}/levels (CONTRACT 5.5): an index strategy run over one window,
then moved to a later, overlapping one and run again: the history is the first run's up
to the second's start, then the second's, chain-linked there (its daily moves kept)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from devtools.jobs import wait_for_job
from tests.harness.api import RunningApi, unlimited_api

INDEX = {
    "symbols": ["AAPL", "XOM", "JPM"],
    "start": "2015-01-01",
    "end": "2016-12-31",
    "weighting": "equal",
    "rebalance": "monthly",
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    api: RunningApi
    with unlimited_api(tmp_path_factory.mktemp("levels")) as api, api.client("indexer") as c:
        yield c


def levels_of(client: httpx.Client, job_id: str) -> tuple[list[str], np.ndarray]:
    done = wait_for_job(client, job_id, timeout=60)
    assert done["status"] == "succeeded", done
    got = done["result"]["levels"]
    return got["dates"], np.asarray(got["values"])


def test_runs_on_moving_windows_stitch_into_one_history(client: httpx.Client) -> None:
    strategy = client.post(
        "/v1/strategies", json={"name": "idx", "model": "index_strategy", "params": INDEX}
    ).json()
    first = client.post("/v1/jobs", json={"strategy_id": strategy["id"]}).json()
    d1, v1 = levels_of(client, first["id"])
    moved = {**INDEX, "start": "2016-06-01", "end": "2017-12-31"}
    client.patch(f"/v1/strategies/{strategy['id']}", json={"params": moved})
    second = client.post("/v1/jobs", json={"strategy_id": strategy["id"]}).json()
    d2, v2 = levels_of(client, second["id"])
    got = client.get(f"/v1/strategies/{strategy['id']}/levels").json()
    assert [r["job_id"] for r in got["runs"]] == [first["id"], second["id"]]
    joint = d1.index(d2[0])  # the second run's first day, inside the first's window
    assert got["dates"] == d1[:joint] + d2
    values = np.asarray(got["values"])
    np.testing.assert_allclose(values[:joint], v1[:joint], rtol=1e-12)
    np.testing.assert_allclose(values[joint:], v2 * (v1[joint] / v2[0]), rtol=1e-12)
    # a backtest strategy has no levels
    bt = client.post(
        "/v1/strategies",
        json={
            "name": "b",
            "model": "backtest",
            "params": {
                "symbols": ["AAPL"],
                "start": "2015-01-01",
                "end": "2016-12-31",
                "strategy": "sma_cross",
            },
        },
    )
    other = client.get(f"/v1/strategies/{bt.json()['id']}/levels")
    assert other.status_code == 422
