"""``manifest_size``: the length of ``manifest.json`` as served (``manifest_bytes``, an
indent of 2), found with the C encoder instead of the indenting one, must be exact: a job
lists it as the artifact's ``size_bytes``."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from quantrun.app.stored import manifest_bytes, manifest_size

scalars = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),  # any code point: escaped the same way by both encoders
    st.booleans(),
    st.none(),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=5), inner, max_size=4),
    ),
    max_leaves=60,
)


@given(st.dictionaries(st.text(max_size=8), documents, max_size=8))
def test_the_size_is_the_served_bytes_length(document: dict[str, Any]) -> None:
    assert manifest_size(document) == len(manifest_bytes(document))


def test_a_manifest_shaped_document_and_empty_containers() -> None:
    document = {
        "job_id": "j",
        "params": {"spot": [100.0, 101.5], "strike": [], "nested": {"a": {}, "b": [[1], []]}},
        "libraries": {"numpy": "2.3.1", "scipy": None},
        "data": [],
        "random": None,
        "result_sha256": "é" * 3,
    }
    assert manifest_size(document) == len(manifest_bytes(document)) == 339
    assert manifest_size({}) == len(manifest_bytes({})) == 2
