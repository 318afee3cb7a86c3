"""Prices in another currency (``quantrun.domain.currency``; CONTRACT 6.2), against
hand-worked conversions: a USD series in EUR through EURUSD (divided), a GBP series in
EUR through GBPEUR (multiplied), a EUR series unchanged; a day without a rate and a pair
with no rates at all are errors naming the rate (and the day)."""

from __future__ import annotations

import numpy as np
import pytest

from quantrun.domain.currency import MissingRate, convert
from quantrun.domain.prices import PriceMatrix

DAYS = np.array(["2024-01-02", "2024-01-03", "2024-01-04"], dtype="datetime64[D]")


def series(values: list[float]) -> PriceMatrix:
    return PriceMatrix(DAYS, ("X",), np.array(values)[:, None])


def test_each_day_is_converted_at_that_days_close() -> None:
    matrix = PriceMatrix(DAYS, ("AAPL", "VOD", "SAP"),
                         np.array([[100.0, 2.0, 50.0], [110.0, np.nan, 51.0],
                                   [121.0, 2.2, 52.0]]))  # fmt: skip
    currencies = {"AAPL": "USD", "VOD": "GBP", "SAP": "EUR"}
    rates = {"EURUSD": series([1.25, 1.10, 1.21]), "GBPEUR": series([1.15, 1.16, 1.20])}
    out = convert(matrix, currencies, "EUR", rates)
    np.testing.assert_allclose(out.close[:, 0], [80.0, 100.0, 100.0])  # 100/1.25, 110/1.1, 121/1.21
    np.testing.assert_allclose(out.close[[0, 2], 1], [2.3, 2.64])  # 2 x 1.15, 2.2 x 1.2
    assert np.isnan(out.close[1, 1])  # no price stays no price
    np.testing.assert_array_equal(out.close[:, 2], matrix.close[:, 2])
    assert out.symbols == matrix.symbols and (out.dates == matrix.dates).all()


def test_a_day_without_a_rate_names_the_rate_and_the_day() -> None:
    matrix = PriceMatrix(DAYS, ("AAPL",), np.array([[100.0], [101.0], [102.0]]))
    with pytest.raises(MissingRate) as missing:
        convert(matrix, {}, "EUR", {"EURUSD": series([1.2, np.nan, 1.2])})
    assert (missing.value.rate, missing.value.day) == ("EURUSD", "2024-01-03")
    assert "no EURUSD close on 2024-01-03 to convert AAPL" in str(missing.value)
    with pytest.raises(MissingRate, match="no EURJPY"):
        convert(matrix, {"AAPL": "JPY"}, "EUR", {"EURUSD": series([1.2, 1.2, 1.2])})
