"""Option-array results past the inline budget (CONTRACT 5.1: results have a size budget).

A result of up to ``RunContext.inline_values`` array values is returned whole, as JSON
arrays in the broadcast shape. A larger one (a job only: the synchronous route refuses
it before computing) is computed in chunks of ``CHUNK`` options, a checkpoint between
chunks so a cancelled job stops within one chunk, and written chunk by chunk to
``values.parquet``: one row per option in row-major (C) order over the broadcast shape,
the inputs that vary as columns beside the outputs. The JSON result then keeps where the
values are and a summary (per numeric output: min, max, mean over finite values, and how
many are missing).

Sharded (CONTRACT 5.2), a job splits into ranges of whole chunks: each shard writes its
chunks' rows as its part (``values.parquet`` beside the shard) and keeps each chunk's
summary figures in its partial; the merge appends the parts' row groups in order and
folds the figures chunk by chunk, as the one-piece run does, so the file's rows and the
summary are the one-piece run's exactly. Under the inline budget the merge reads the
parts back into the JSON arrays instead.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator, Mapping
from itertools import pairwise
from typing import Any

import numpy as np

from quantrun.catalog.spec import Artifact, RunContext

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


def chunk_count(shape: tuple[int, ...], size: int | None = None) -> int:
    return max(1, math.ceil(math.prod(shape) / (size or CHUNK)))


def chunks(
    arrays: Mapping[str, Any],
    shape: tuple[int, ...],
    size: int | None = None,
    *,
    first: int = 0,
    last: int | None = None,
) -> Iterator[tuple[float, dict[str, np.ndarray]]]:
    """(fraction of chunks ``first`` to ``last`` done after it, each input's values for
    the chunk as flat arrays), over the row-major order of ``shape``. Inputs are read
    through broadcast views: nothing of the full size is materialised."""
    total, size = math.prod(shape), size or CHUNK
    last = chunk_count(shape, size) if last is None else last
    views = {name: np.broadcast_to(np.asarray(value), shape) for name, value in arrays.items()}
    for index in range(first, last):
        start, stop = index * size, min((index + 1) * size, total)
        where = np.unravel_index(np.arange(start, stop), shape)
        yield (
            (index + 1 - first) / (last - first),
            {name: view[where] for name, view in views.items()},
        )


Columns = dict[str, np.ndarray]


def tabulate(
    arrays: Mapping[str, Any],
    shape: tuple[int, ...],
    compute: Callable[[Columns], Columns],
    ctx: RunContext,
    *,
    first: int = 0,
    last: int | None = None,
) -> ValuesTable:
    """Chunks ``first`` to ``last`` written to a ``ValuesTable``: the varying inputs
    beside ``compute``'s outputs, a checkpoint after each chunk."""
    table, inputs = ValuesTable(shape), varying(arrays)
    for done, chunk in chunks(arrays, shape, first=first, last=last):
        table.add({**{name: chunk[name] for name in inputs}, **compute(chunk)})
        ctx.checkpoint(done)
    return table


def split(shape: tuple[int, ...], n: int) -> list[dict[str, Any]]:
    """n shards' inputs: contiguous ranges of whole chunks."""
    count = chunk_count(shape)
    bounds = np.linspace(0, count, min(n, count) + 1).astype(int)
    return [{"chunks": [int(lo), int(hi)]} for lo, hi in pairwise(bounds)]


def merged_table(
    shape: tuple[int, ...], partials: list[dict[str, Any]], ctx: RunContext
) -> ValuesTable:
    """The job's ``ValuesTable`` from its shards' parts, in shard order."""
    table = ValuesTable(shape)
    for i, part in enumerate(partials):
        table.add_part(ctx.read_part(part["parts"][ARTIFACT]), part["chunk_stats"])
        ctx.checkpoint((i + 1) / len(partials))
    return table


def merged_columns(partials: list[dict[str, Any]], ctx: RunContext) -> Columns:
    """Every column of the shards' parts joined, in shard order (nulls read as NaN)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables(
        pq.read_table(io.BytesIO(ctx.read_part(part["parts"][ARTIFACT]))) for part in partials
    )
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


class ValuesTable:
    """``values.parquet`` written chunk by chunk (in memory), with the summary kept as
    the chunks go by."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self._shape = shape
        self._buffer = io.BytesIO()
        self._writer: Any = None
        self._columns: list[str] = []
        self._stats: dict[str, dict[str, float]] = {}
        self._chunk_stats: list[dict[str, dict[str, Any]]] = []
        self._rows = 0

    def add(self, columns: Mapping[str, np.ndarray]) -> None:
        import pyarrow as pa

        batch = pa.table(
            {
                name: pa.array(values, mask=_missing(values))
                if values.dtype.kind == "f"
                else pa.array(values)
                for name, values in columns.items()
            }
        )
        self._write(batch)
        figures = {
            name: _figures(values) for name, values in columns.items() if values.dtype.kind == "f"
        }
        self._chunk_stats.append(figures)
        self._fold(figures)

    def add_part(self, data: bytes, chunk_stats: list[dict[str, dict[str, Any]]]) -> None:
        """A shard's part (``part()``): its row groups appended as they are, its chunks'
        figures folded in order."""
        import pyarrow.parquet as pq

        part = pq.ParquetFile(io.BytesIO(data))
        for group in range(part.num_row_groups):
            self._write(part.read_row_group(group))
        for figures in chunk_stats:
            self._chunk_stats.append(figures)
            self._fold(figures)

    def _write(self, batch: Any) -> None:
        import pyarrow.parquet as pq

        if self._writer is None:
            self._columns = list(batch.column_names)
            self._writer = pq.ParquetWriter(self._buffer, batch.schema, compression="zstd")
        self._writer.write_table(batch)
        self._rows += batch.num_rows

    def _fold(self, figures: Mapping[str, Mapping[str, Any]]) -> None:
        for name, f in figures.items():
            s = self._stats.setdefault(
                name, {"min": math.inf, "max": -math.inf, "sum": 0.0, "count": 0, "missing": 0}
            )
            if f["count"]:
                s["min"] = min(s["min"], f["min"])
                s["max"] = max(s["max"], f["max"])
                s["sum"] += f["sum"]
            s["count"] += f["count"]
            s["missing"] += f["missing"]

    def part(self, extra: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], Artifact]:
        """A shard's partial result (its chunks' figures, and ``extra``) and its part."""
        if self._writer is not None:
            self._writer.close()
        partial = {"rows": self._rows, "chunk_stats": self._chunk_stats, **(extra or {})}
        return partial, Artifact(ARTIFACT, CONTENT_TYPE, self._buffer.getvalue())

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


def _figures(values: np.ndarray) -> dict[str, Any]:
    """One chunk's summary figures of a float column (JSON: no infinities)."""
    finite = values[np.isfinite(values)]
    some = bool(finite.size)
    return {
        "min": float(finite.min()) if some else None,
        "max": float(finite.max()) if some else None,
        "sum": float(finite.sum()) if some else 0.0,
        "count": int(finite.size),
        "missing": int(values.size - finite.size),
    }


def _missing(values: np.ndarray) -> np.ndarray | None:
    bad = ~np.isfinite(values)
    return bad if bad.any() else None
