"""The cheap bounds a submit checks before the expensive ones: the least bytes a params
document takes as JSON (refusing one far over the limit before encoding it), and the
shape of a validated numeric value without copying it into an array."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from quantrun.app.submit import least_json_bytes
from quantrun.catalog.fields import element_count, shape_of

scalars = st.one_of(
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
    st.booleans(),
    st.none(),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=40,
)


@given(st.dictionaries(st.text(max_size=8), documents, max_size=6))
# found by this test in a run: a list of containers counted a comma per item, not between
# items (10 bytes for the 9 of {"":[{}]}); then containers and scalars in one list
@example({"": [{}]})
@example({"grid": [[1], {}, "", [[]]]})
def test_least_json_bytes_never_exceeds_the_tightest_encoding(params: dict[str, Any]) -> None:
    tightest = json.dumps(params, separators=(",", ":"), ensure_ascii=False)
    assert least_json_bytes(params) <= len(tightest.encode())


def test_least_json_bytes_is_exact_for_one_digit_numbers() -> None:
    params = {"strike": [1, 2, 3], "grid": [[1, 2], [3, 4]]}
    assert least_json_bytes(params) == len(json.dumps(params, separators=(",", ":")))
    assert least_json_bytes({"strike": list(range(1_000_000))}) > 2_000_000


@given(
    st.lists(st.integers(1, 4), min_size=0, max_size=3).flatmap(
        lambda dims: st.just(np.arange(int(np.prod(dims)), dtype=float).reshape(dims).tolist())
    )
)
def test_shape_of_a_rectangular_value_is_numpys(value: Any) -> None:
    assert shape_of(value) == np.shape(value)


def test_element_count_broadcasts_the_shapes() -> None:
    assert element_count("call", 100.0, 0.2) == 1
    assert element_count([[1.0], [2.0]], [1.0, 2.0, 3.0], 0.05) == 6
    assert element_count([1.0, 2.0], [1.0, 2.0, 3.0]) == 0  # do not broadcast
