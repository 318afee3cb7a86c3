"""The API's JSON and artifacts as pandas DataFrames (no I/O here).

- ``prices``: dates (a ``DatetimeIndex``) x symbols; with ``fields`` the columns have two
  levels, field then symbol.
- a result entry: a list of records (nested objects flattened, ``params.fast``), an
  object of records (its keys the index), an object of figures (one ``value`` column),
  equal-length arrays (one column each); the whole result of an option model (its arrays
  as columns) when no name is given.
- an artifact: CSV and Parquet as stored (Parquet needs pyarrow:
  ``pip install quantrun-client[parquet]``); a line chart of ``charts.json`` by its name
  (``equity.png`` or ``equity``): dates x lines.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from quantrun_client.errors import QuantRunError


def prices(body: Mapping[str, Any], fields: Sequence[str] | None) -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.to_datetime(body["dates"]), name="date")
    symbols = list(body["symbols"])
    if fields is None:
        return pd.DataFrame(body["close"], index=index, columns=pd.Index(symbols, name="symbol"))
    parts = {
        name: pd.DataFrame(body[name], index=index, columns=pd.Index(symbols, name="symbol"))
        for name in fields
    }
    return pd.concat(parts, axis=1, names=["field", "symbol"])


def records(items: Sequence[Mapping[str, Any]], index: str | None = None) -> pd.DataFrame:
    frame = pd.json_normalize([dict(i) for i in items]) if items else pd.DataFrame()
    if index is not None and index in frame.columns:
        frame = frame.set_index(index)
    return frame


def entry(name: str, value: Any) -> pd.DataFrame:
    """One entry of a job's result as a table, or an error saying why it is not one."""
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return records(value)
    if isinstance(value, list):
        return pd.DataFrame({name: value})
    if isinstance(value, Mapping) and value:
        inner = list(value.values())
        if all(isinstance(v, Mapping) for v in inner):
            return pd.json_normalize(inner).set_axis(pd.Index(list(value), name=name))
        if all(_scalar(v) for v in inner):
            return pd.DataFrame({"value": inner}, index=pd.Index(list(value), name=name))
        if _same_length_arrays(inner):
            return pd.DataFrame(dict(value))
    raise QuantRunError(
        f"result entry {name!r} is not a table (it is {type(value).__name__})",
        code="not_a_table",
    )


def arrays(result: Mapping[str, Any]) -> pd.DataFrame:
    """An option model's result: each output array (of one shape) as a column."""
    columns = {k: v for k, v in result.items() if isinstance(v, list)}
    if columns and _same_length_arrays(list(columns.values())):
        flat = {k: _flatten(v) for k, v in columns.items()}
        return pd.DataFrame(flat)
    scalars = {k: v for k, v in result.items() if _scalar(v)}
    if scalars and not columns:
        return pd.DataFrame([scalars])
    raise QuantRunError(
        "the result has no single table: name one of its entries "
        f"({', '.join(sorted(result))}) or an artifact",
        code="not_a_table",
    )


def artifact(name: str, data: bytes) -> pd.DataFrame:
    lower = name.lower()
    if lower.endswith(".csv"):
        return pd.read_csv(io.BytesIO(data))
    if lower.endswith(".parquet"):
        try:
            return pd.read_parquet(io.BytesIO(data))
        except ImportError as missing:
            raise QuantRunError(
                f"reading {name} needs pyarrow: pip install 'quantrun-client[parquet]'",
                code="missing_dependency",
            ) from missing
    raise QuantRunError(f"{name} is not a table (CSV or Parquet)", code="not_a_table")


def chart(charts: Mapping[str, Any], name: str) -> pd.DataFrame:
    """A line chart's lines (dates x line names); ``equity`` finds ``equity.png``."""
    found = charts.get(name) or charts.get(f"{name}.png")
    if found is None:
        raise KeyError(name)
    lines = []
    for line in found["series"]:
        index = pd.DatetimeIndex(pd.to_datetime(line["x"]), name="date")
        lines.append(pd.Series(line["y"], index=index, name=line["name"], dtype="float64"))
    return pd.concat(lines, axis=1) if lines else pd.DataFrame()


def charts_from(data: bytes) -> dict[str, Any]:
    loaded = json.loads(data)
    return loaded if isinstance(loaded, dict) else {}


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, list) and value and isinstance(value[0], list):
        return [x for part in value for x in _flatten(part)]
    return list(value) if isinstance(value, list) else [value]


def _same_length_arrays(values: Sequence[Any]) -> bool:
    if not values or not all(isinstance(v, list) for v in values):
        return False
    return len({len(_flatten(v)) for v in values}) == 1
