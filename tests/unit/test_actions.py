"""Corporate actions (``domain/actions.py``): the adjustment factors against figures worked
by hand, the holding-period return they give on an ex-date (CRSP's definition,
``(C_ex + D) / C_prev - 1``), split days that are no return at all, and the
``actions.csv`` parser's all-or-nothing verdicts."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from quantrun.domain.actions import (
    ActionFileError,
    CorporateAction,
    PricedAction,
    adjust,
    factors,
    parse_actions_csv,
    reported_actions,
)
from quantrun.domain.prices import PriceMatrix, PriceRow

DAYS = np.array(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"], dtype="datetime64[D]")
# a stock paying 1.00 going ex on the 3rd (close 99), then splitting 2-for-1 on the 5th
CLOSE = np.array([100.0, 99.0, 101.0, 51.0])
DIVIDEND = PricedAction(CorporateAction("XYZ", date(2024, 1, 3), "dividend", 1.0), 99.0)
SPLIT = PricedAction(CorporateAction("XYZ", date(2024, 1, 5), "split", 2.0), 51.0)


def test_factors_by_hand() -> None:
    # total return: days before the 3rd carry 99/100 and 1/2; the 3rd and 4th only 1/2
    np.testing.assert_allclose(
        factors(DAYS, [SPLIT, DIVIDEND], "total_return"), [0.99 / 2, 0.5, 0.5, 1.0], rtol=1e-15
    )
    np.testing.assert_allclose(factors(DAYS, [DIVIDEND, SPLIT], "splits"), [0.5, 0.5, 0.5, 1.0])
    np.testing.assert_array_equal(factors(DAYS, [DIVIDEND, SPLIT], "none"), np.ones(4))
    assert factors(DAYS, [], "total_return").tolist() == [1.0] * 4


def test_ex_date_return_is_the_holding_period_return_and_a_split_day_is_no_return() -> None:
    matrix = PriceMatrix(DAYS, ("XYZ",), CLOSE[:, None])
    adjusted = adjust(matrix, matrix, [DIVIDEND, SPLIT], "total_return").close[:, 0]
    returns = adjusted[1:] / adjusted[:-1] - 1
    # CRSP: (price + dividend) / previous price - 1, the dividend reinvested at the close
    assert returns[0] == pytest.approx((99.0 + 1.0) / 100.0 - 1, rel=1e-12)
    assert returns[1] == pytest.approx(101.0 / 99.0 - 1, rel=1e-12)
    # 101 before, 51 after 2-for-1: +0.99%, not -49.5%
    assert returns[2] == pytest.approx(51.0 * 2 / 101.0 - 1, rel=1e-12)
    splits = adjust(matrix, matrix, [DIVIDEND, SPLIT], "splits").close[:, 0]
    assert splits[3] / splits[2] - 1 == pytest.approx(0.00990099, rel=1e-6)
    assert splits[1] / splits[0] - 1 == pytest.approx(-0.01)  # the dividend's drop stays
    raw = adjust(matrix, matrix, [DIVIDEND, SPLIT], "none").close[:, 0]
    np.testing.assert_array_equal(raw, CLOSE)


def test_a_symbol_without_actions_reads_the_stored_adjusted_close() -> None:
    close = PriceMatrix(DAYS, ("XYZ", "ABC"), np.column_stack([CLOSE, [10.0, 11, 12, 13]]))
    stored = PriceMatrix(DAYS, ("XYZ", "ABC"), np.column_stack([CLOSE, [9.0, 10, 11, 13]]))
    out = adjust(close, stored, [DIVIDEND], "total_return").close
    np.testing.assert_array_equal(out[:, 1], [9.0, 10, 11, 13])  # ABC: as the provider said
    np.testing.assert_allclose(out[:, 0], CLOSE * [0.99, 1, 1, 1])
    np.testing.assert_array_equal(adjust(close, stored, [], "splits").close[:, 1], [10, 11, 12, 13])


def test_a_dividend_without_its_ex_date_close_is_left_out() -> None:
    unpriced = PricedAction(DIVIDEND.action, None)
    assert factors(DAYS, [unpriced], "total_return").tolist() == [1.0] * 4


def test_reported_actions_come_from_the_providers_fields() -> None:
    rows = [
        PriceRow(date(2024, 1, 3), "XYZ", 99.0, dividend=1.0),
        PriceRow(date(2024, 1, 4), "XYZ", 101.0),
        PriceRow(date(2024, 1, 5), "XYZ", 51.0, split=2.0),
    ]
    assert reported_actions(rows, "alphavantage") == [
        CorporateAction("XYZ", date(2024, 1, 3), "dividend", 1.0, "alphavantage"),
        CorporateAction("XYZ", date(2024, 1, 5), "split", 2.0, "alphavantage"),
    ]
    # the fields take no part in a row's comparison with the stored one
    assert rows[0] == PriceRow(date(2024, 1, 3), "XYZ", 99.0)


def test_actions_csv_is_parsed_all_or_nothing() -> None:
    good = "symbol,date,kind,value\nXYZ,2024-01-03,dividend,1.0\nxyz,2024-01-05,Split,2\n"
    assert parse_actions_csv(good, "upload:a.csv") == [
        CorporateAction("XYZ", date(2024, 1, 3), "dividend", 1.0, "upload:a.csv"),
        CorporateAction("XYZ", date(2024, 1, 5), "split", 2.0, "upload:a.csv"),
    ]
    bad = (
        "symbol,date,kind,value\n"
        "XYZ,2024-01-03,bonus,1\n"
        "XYZ,2024-02-30,dividend,1\n"
        "XYZ,2024-01-04,dividend,-1\n"
        "XYZ,2024-01-05,split,1\n"
        "XYZ,2024-01-08,split,2\n"
        "XYZ,2024-01-08,split,3\n"
    )
    with pytest.raises(ActionFileError) as caught:
        parse_actions_csv(bad, "upload:b.csv")
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 3", "line 4", "line 5", "line 7"]
    assert "kind must be one of dividend, split" in problems[0]
    assert "positive" in problems[2] and "changes nothing" in problems[3]
    assert "a second split" in problems[4]
    with pytest.raises(ActionFileError, match="header must be symbol,date,kind,value"):
        parse_actions_csv("ticker,date,kind,value\n", "x")
    with pytest.raises(ActionFileError, match="no actions"):
        parse_actions_csv("symbol,date,kind,value\n", "x")
