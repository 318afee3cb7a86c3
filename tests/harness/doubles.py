"""Hypothesis strategies over the whole range of doubles the models' params accept (the
kernel-against-twin property tests)."""

from __future__ import annotations

from hypothesis import strategies as st

# every positive double, the subnormals (from 5e-324) to the largest below overflow
POSITIVE = st.floats(min_value=5e-324, max_value=1.7e308)


def rates(bound: float) -> st.SearchStrategy[float]:
    """Rates (or yields) of either sign up to ``bound`` in size."""
    return st.floats(min_value=-bound, max_value=bound)
