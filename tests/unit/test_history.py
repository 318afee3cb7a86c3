"""The missing-data policy of quantrun.models.history."""

from __future__ import annotations

import numpy as np
import pytest

from quantrun.domain.errors import ModelInputError
from quantrun.models.history import align, fill_interior_gaps

NAN = np.nan


def test_interior_gaps_carry_forward_but_edges_stay_empty() -> None:
    close = np.array([[NAN, 1.0], [10.0, NAN], [NAN, 3.0], [12.0, NAN]])
    filled, count = fill_interior_gaps(close)
    # column 0: leading NaN stays (not yet listed); the interior NaN takes 10
    np.testing.assert_array_equal(filled[:, 0], [NAN, 10.0, 10.0, 12.0])
    # column 1: the interior NaN takes 1; the trailing NaN stays (no later price)
    np.testing.assert_array_equal(filled[:, 1], [1.0, 1.0, 3.0, NAN])
    assert count.tolist() == [1, 1]


def test_filling_keeps_the_total_return() -> None:
    close = np.array([100.0, NAN, NAN, 121.0] + [121.0] * 30)
    aligned = align(np.arange(close.size).astype("datetime64[D]"), close, ["X"])
    assert np.prod(1 + aligned.returns[:, 0]) == pytest.approx(1.21)
    assert aligned.returns[0, 0] == 0.0 and aligned.returns[2, 0] == pytest.approx(0.21)
    assert int(aligned.prices_filled[0]) == 2


def test_alignment_uses_common_dates_and_counts_the_rest() -> None:
    n = 60
    a = np.linspace(10, 20, n)
    b = np.linspace(5, 6, n)
    b[:10] = NAN  # listed later
    aligned = align(np.arange(n).astype("datetime64[D]"), np.column_stack([a, b]), ["A", "B"])
    assert aligned.prices.shape == (50, 2)
    assert aligned.dates_dropped == 10
    assert aligned.dates[0] == np.datetime64("1970-01-11")


def test_too_little_history_names_the_symbol() -> None:
    close = np.column_stack([np.linspace(1, 2, 40), np.r_[np.full(30, NAN), np.linspace(1, 2, 10)]])
    with pytest.raises(ModelInputError) as info:
        align(np.arange(40).astype("datetime64[D]"), close, ["LONG", "SHORT"])
    assert info.value.code == "insufficient_history"
    assert info.value.message.startswith("SHORT:")


def test_a_symbol_without_prices_is_named() -> None:
    close = np.column_stack([np.linspace(1, 2, 40), np.full(40, NAN)])
    with pytest.raises(ModelInputError, match="EMPTY: no prices"):
        align(np.arange(40).astype("datetime64[D]"), close, ["FULL", "EMPTY"])
