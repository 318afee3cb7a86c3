"""Option-array results past the inline budget (CONTRACT 5.1: results have a size budget).

A result of up to ``RunContext.inline_values`` array values is returned whole, as JSON
arrays in the broadcast shape. A larger one (a job only: the synchronous route refuses
it before computing) is computed in chunks of ``CHUNK`` options, a checkpoint between
chunks so a cancelled job stops within one chunk, and written chunk by chunk to
``values.parquet``: one row per option in row-major (C) order over the broadcast shape,
the inputs that vary as columns beside the outputs. The JSON result then keeps where the
values are and a summary (per numeric output: min, max, mean over finite values, and how
many are missing).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from quantrun.catalog.spec import Artifact

ARTIFACT = "values.parquet"
CONTENT_TYPE = "application/vnd.apache.parquet"
# options per chunk: a few hundredths of a second of the slowest kernel on one core
CHUNK = 1 << 18


def broadcast_shape(arrays: Mapping[str, Any]) -> tuple[int, ...]:
    return tuple(np.broadcast_shapes(*(np.shape(v) for v in arrays.values())))


def varying(arrays: Mapping[str, Any]) -> list[str]:
    """The inputs given as arrays of more than one element (the columns that tell the
    rows apart)."""
    return [name for name, value in arrays.items() if np.size(value) > 1]


def chunks(
    arrays: Mapping[str, Any], shape: tuple[int, ...], size: int | None = None
) -> Iterator[tuple[float, dict[str, np.ndarray]]]:
    """(fraction done after it, each input's values for the chunk as flat arrays), over
    the row-major order of ``shape``. Inputs are read through broadcast views: nothing
    of the full size is materialised."""
    total, size = math.prod(shape), size or CHUNK
    views = {name: np.broadcast_to(np.asarray(value), shape) for name, value in arrays.items()}
    for start in range(0, total, size):
        stop = min(start + size, total)
        where = np.unravel_index(np.arange(start, stop), shape)
        yield stop / total, {name: view[where] for name, view in views.items()}


class ValuesTable:
    """``values.parquet`` written chunk by chunk (in memory), with the summary kept as
    the chunks go by."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self._shape = shape
        self._buffer = io.BytesIO()
        self._writer: Any = None
        self._columns: list[str] = []
        self._stats: dict[str, dict[str, float]] = {}
        self._rows = 0

    def add(self, columns: Mapping[str, np.ndarray]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        batch = pa.table(
            {
                name: pa.array(values, mask=_missing(values))
                if values.dtype.kind == "f"
                else pa.array(values)
                for name, values in columns.items()
            }
        )
        if self._writer is None:
            self._columns = list(columns)
            self._writer = pq.ParquetWriter(self._buffer, batch.schema, compression="zstd")
        self._writer.write_table(batch)
        self._rows += batch.num_rows
        for name, values in columns.items():
            if values.dtype.kind == "f":
                self._count(name, values)

    def _count(self, name: str, values: np.ndarray) -> None:
        finite = values[np.isfinite(values)]
        s = self._stats.setdefault(
            name, {"min": math.inf, "max": -math.inf, "sum": 0.0, "count": 0, "missing": 0}
        )
        if finite.size:
            s["min"] = min(s["min"], float(finite.min()))
            s["max"] = max(s["max"], float(finite.max()))
            s["sum"] += float(finite.sum())
        s["count"] += finite.size
        s["missing"] += values.size - finite.size

    def finish(self, outputs: list[str]) -> tuple[dict[str, Any], Artifact]:
        """The JSON result's ``values`` entry and summary of ``outputs``, and the file."""
        if self._writer is not None:
            self._writer.close()
        where = {
            "artifact": ARTIFACT,
            "rows": self._rows,
            "shape": list(self._shape),
            "columns": self._columns,
            "order": "row-major (C) over the broadcast shape of the inputs",
        }
        summary = {}
        for name in outputs:
            s = self._stats.get(name)
            if s is None:
                continue
            summary[name] = {
                "min": s["min"] if s["count"] else None,
                "max": s["max"] if s["count"] else None,
                "mean": s["sum"] / s["count"] if s["count"] else None,
                "missing": int(s["missing"]),
            }
        return {"values": where, "summary": summary}, Artifact(
            ARTIFACT, CONTENT_TYPE, self._buffer.getvalue()
        )


def _missing(values: np.ndarray) -> np.ndarray | None:
    bad = ~np.isfinite(values)
    return bad if bad.any() else None
