"""The embedded queue, local artifact store and DuckDB price store, on real files."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from quantrun.adapters.embedded.artifacts import LocalArtifactStore
from quantrun.adapters.embedded.prices import DuckDBPriceStore
from quantrun.adapters.embedded.queue import EmbeddedQueue
from quantrun.adapters.sql import migrate
from quantrun.adapters.sql.engine import make_engine
from quantrun.domain.errors import Conflict, QuantRunError
from quantrun.domain.prices import PriceRow


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """The embedded queue lives in the embedded (SQLite) job database."""
    eng = make_engine(f"sqlite:///{tmp_path / 'q.db'}")
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


def test_queue_delivers_at_least_once_with_visibility_timeout(sqlite_engine: Engine) -> None:
    queue = EmbeddedQueue(sqlite_engine, visibility_seconds=0.3)
    queue.publish("job-1")
    first = queue.receive(wait_seconds=0)
    assert first is not None and first.job_id == "job-1" and first.attempt == 1
    assert queue.receive(wait_seconds=0) is None  # invisible while held
    time.sleep(0.35)
    again = queue.receive(wait_seconds=0)  # the holder died: redelivered
    assert again is not None and again.job_id == "job-1" and again.attempt == 2
    queue.ack(again)
    time.sleep(0.35)
    assert queue.receive(wait_seconds=0) is None


def test_queue_nack_delays_and_publish_wakes_a_waiting_consumer(sqlite_engine: Engine) -> None:
    queue = EmbeddedQueue(sqlite_engine, visibility_seconds=30)
    queue.publish("a")
    delivery = queue.receive(wait_seconds=0)
    assert delivery is not None
    queue.nack(delivery, delay_seconds=0.2)
    assert queue.receive(wait_seconds=0) is None
    time.sleep(0.25)
    assert queue.receive(wait_seconds=0) is not None
    started = time.monotonic()
    threading.Timer(0.1, lambda: queue.publish("b")).start()
    got = queue.receive(wait_seconds=5)
    assert got is not None and got.job_id == "b" and time.monotonic() - started < 2


def test_artifacts_are_create_only(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    ref = store.put("job1", "chart.png", b"\x89PNG", "image/png")
    assert ref.size_bytes == 4
    store.put("job1", "chart.png", b"\x89PNG", "image/png")  # a retry with the same bytes
    with pytest.raises(Conflict):
        store.put("job1", "chart.png", b"other", "image/png")
    got = store.get("job1", "chart.png")
    assert got is not None and got.data == b"\x89PNG" and got.content_type == "image/png"
    assert store.get("job1", "missing.png") is None
    with pytest.raises(QuantRunError):
        store.put("job1", "../escape.png", b"x", "image/png")


@pytest.fixture(scope="module")
def prices(tmp_path_factory: pytest.TempPathFactory) -> DuckDBPriceStore:
    store = DuckDBPriceStore(tmp_path_factory.mktemp("duck") / "prices.duckdb")
    store.load_sample_data()
    return store


def test_sample_data_is_loaded_with_its_listing_dates(prices: DuckDBPriceStore) -> None:
    instruments = {i.symbol: i for i in prices.instruments()}
    assert len(instruments) == 21
    assert instruments["GOOG"].first_date == date(2004, 8, 19)
    assert instruments["SPY"].first_date == date(1993, 1, 29)
    assert instruments["AAPL"].last_date == date(2018, 4, 11)
    assert instruments["AAPL"].rows == 7126
    assert instruments["AAPL"].name == "Apple Inc."


def test_load_close_returns_the_requested_order_and_nan_before_listing(
    prices: DuckDBPriceStore,
) -> None:
    m = prices.load_close(["FB", "AAPL"], date(2012, 5, 1), date(2012, 5, 31))
    assert m.symbols == ("FB", "AAPL")
    assert m.dates[0] == np.datetime64("2012-05-01") and m.dates[-1] == np.datetime64("2012-05-31")
    listed = m.dates >= np.datetime64("2012-05-18")
    assert np.isnan(m.close[~listed, 0]).all() and not np.isnan(m.close[listed, 0]).any()
    assert not np.isnan(m.close[:, 1]).any()
    assert prices.load_close(["AAPL"], date(1980, 1, 1), date(1980, 2, 1)).dates.size == 0


def test_upsert_is_an_idempotent_merge(tmp_path: Path) -> None:
    store = DuckDBPriceStore(tmp_path / "p.duckdb")
    rows = [PriceRow(date(2020, 1, 2), "NEW", 10.0), PriceRow(date(2020, 1, 3), "NEW", 11.0)]
    store.upsert(rows, source="test")
    store.upsert(rows, source="test")
    store.upsert([PriceRow(date(2020, 1, 3), "NEW", 12.0, adj_close=11.5)], source="fix")
    (inst,) = store.instruments()
    assert inst.rows == 2
    m = store.load_close(["NEW"], date(2020, 1, 1), date(2020, 1, 31))
    assert m.close[:, 0].tolist() == [10.0, 11.5]  # adjusted close wins over close
