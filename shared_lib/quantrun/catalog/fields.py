"""Reusable params field types with clear messages and exact JSON Schemas.

A numeric input is a number or a (nested) array of numbers that broadcasts like numpy.
The validators check every element, so an error names the field and, for arrays,
the first offending index, instead of pydantic's per-union-branch noise.

Params are validated strictly: what a field's JSON Schema refuses, the validator refuses
too (no "1.5" for a number, no 1 for a boolean, no number for a date), so the schemas
``GET /v1/models`` and the OpenAPI document publish are the rules, not a hint. Two
things JSON Schema allows are kept: an integral float for an integer (``1e6`` paths),
and an integer for a number.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from datetime import date
from typing import Annotated, Any, ClassVar, Self

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from quantrun.domain.symbols import SYMBOL_INPUT, parse_symbol

MAX_ELEMENTS = 5_000_000
MAX_DIMENSIONS = 4  # a number, or arrays nested at most this deep


class Params(BaseModel):
    """Every model's params: unknown fields are errors, and so is a number that is not
    finite anywhere in them (JSON's ``NaN``, ``Infinity`` or ``1e309`` would otherwise
    reach a solver as inf or nan)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


def _whole_number(value: Any) -> Any:
    # JSON Schema counts 1e6 and 5.0 as integers; strict pydantic would not
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _pair(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


# [low, high]: a JSON array of two numbers (strict pydantic takes only a Python tuple)
Pair = Annotated[tuple[float, float], BeforeValidator(_pair)]

# an integer params field (``Whole = Field(...)`` where ``int`` would refuse ``1e6``)
Whole = Annotated[int, BeforeValidator(_whole_number)]


def whole(*, ge: int | None = None, le: int | None = None, lt: int | None = None) -> Any:
    """``Whole`` with its bounds inside the type, for a field that is a union (``whole(ge=0)
    | None``): there, bounds on the field cannot reach the integer and would be emitted as
    unknown JSON Schema keywords."""
    return Annotated[int, Field(ge=ge, le=le, lt=lt), BeforeValidator(_whole_number)]


# a number strictly between 0 and 1, its bounds inside the type (as ``whole``'s) so that
# ``Fraction | None`` keeps them on the number
Fraction = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a calendar date") from None


# a date params field: the string YYYY-MM-DD (JSON has no dates)
Day = Annotated[
    date,
    BeforeValidator(_iso_date),
    WithJsonSchema({"type": "string", "format": "date", "description": "YYYY-MM-DD"}),
]


def _only_numbers(value: list[Any]) -> None:
    """Every leaf a JSON number (not a boolean, string or null: numpy would turn
    ``true`` and ``"1.5"`` into numbers); at C speed per level."""
    kinds = set(map(type, value))
    if kinds <= {int, float}:
        return
    if kinds == {list}:
        for item in value:
            _only_numbers(item)
        return
    raise ValueError("must be a number or an array of numbers")


def _numeric_schema(bounds: dict[str, float]) -> dict[str, Any]:
    """A number, or non-empty arrays of numbers nested up to ``MAX_DIMENSIONS`` deep, each
    level of one kind (numbers, or arrays): exactly what ``_check_numeric`` accepts but
    for rows of unequal length, which no JSON Schema can say."""
    arrays: list[dict[str, Any]] = [{"type": "number", **bounds}]
    nested: dict[str, Any] = {"type": "number", **bounds}
    for _ in range(MAX_DIMENSIONS):
        nested = {"type": "array", "items": nested, "minItems": 1}
        arrays.append(nested)
    return {
        "anyOf": arrays,
        "description": f"a number, or an array of numbers of up to {MAX_DIMENSIONS} "
        "dimensions (rows of equal length; broadcasts like numpy)",
    }


TOO_LARGE = "must be finite (got an integer too large for a float)"


def _check_numeric(
    value: Any, *, gt: float | None, ge: float | None, le: float | None
) -> float | list[Any]:
    if isinstance(value, bool) or value is None or isinstance(value, str | dict):
        raise ValueError("must be a number or an array of numbers")
    if type(value) in (int, float):
        # most inputs are one number: the same checks without an array (~10x faster)
        try:
            x = float(value)
        except OverflowError:  # an integer past float's range (JSON allows any)
            raise ValueError(TOO_LARGE) from None
        for broken, rule in _rules(x, not math.isfinite(x), gt=gt, ge=ge, le=le):
            if broken:
                raise ValueError(f"{rule} (got {x!r})")
        return x
    if isinstance(value, list):
        _only_numbers(value)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except OverflowError:
        raise ValueError(TOO_LARGE) from None
    except (ValueError, TypeError):
        raise ValueError(
            "must be a number or a rectangular array of numbers (rows of equal length)"
        ) from None
    if arr.size == 0:
        raise ValueError("must not be an empty array")
    if arr.ndim > MAX_DIMENSIONS:
        raise ValueError(f"has {arr.ndim} dimensions; at most {MAX_DIMENSIONS} are accepted")
    if arr.size > MAX_ELEMENTS:
        raise ValueError(f"has {arr.size} elements; at most {MAX_ELEMENTS} are accepted")
    for bad, rule in _rules(arr, ~np.isfinite(arr), gt=gt, ge=ge, le=le):
        if bad.any():
            if arr.ndim == 0:
                raise ValueError(f"{rule} (got {float(arr)!r})")
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{rule} (got {float(arr[where])!r} at index {list(where)})")
    return float(arr) if arr.ndim == 0 else value


def _rules(
    x: Any, not_finite: Any, *, gt: float | None, ge: float | None, le: float | None
) -> list[tuple[Any, str]]:
    """Each rule a numeric input keeps, with where ``x`` breaks it: a bool for one number,
    a mask for an array."""
    rules = [(not_finite, "must be finite")]
    if gt is not None:
        rules.append((x <= gt, f"must be > {gt:g}"))
    if ge is not None:
        rules.append((x < ge, f"must be >= {ge:g}"))
    if le is not None:
        rules.append((x > le, f"must be <= {le:g}"))
    return rules


def numeric(*, gt: float | None = None, ge: float | None = None, le: float | None = None) -> Any:
    """``Annotated`` type for a validated number-or-array input."""
    bounds: dict[str, float] = {}
    if gt is not None:
        bounds["exclusiveMinimum"] = gt
    if ge is not None:
        bounds["minimum"] = ge
    if le is not None:
        bounds["maximum"] = le
    return Annotated[
        float | list[Any],
        BeforeValidator(lambda v: _check_numeric(v, gt=gt, ge=ge, le=le)),
        WithJsonSchema(_numeric_schema(bounds)),
    ]


def _any_array(values: Iterable[Any]) -> bool:
    return any(isinstance(v, list | tuple | np.ndarray) for v in values)


def shape_of(value: Any) -> tuple[int, ...]:
    """The shape of a validated ``numeric`` value (a number, or nested lists that its
    check found rectangular) from the lengths of its first rows; ``np.shape`` would copy
    a million-element list into an array to say how long it is."""
    if isinstance(value, np.ndarray):
        return tuple(value.shape)
    shape: list[int] = []
    while isinstance(value, list | tuple):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)


def element_count(*values: Any) -> int:
    """Elements after broadcasting (the size of a vectorised call) of validated
    ``numeric`` values; 0 if they do not broadcast."""
    if not _any_array(values):
        return 1  # scalars only (most inputs)
    try:
        return int(np.prod(np.broadcast_shapes(*map(shape_of, values))))
    except ValueError:
        return 0


Symbol = Annotated[
    str,
    BeforeValidator(parse_symbol),
    WithJsonSchema({"type": "string", "pattern": SYMBOL_INPUT, "examples": ["AAPL"]}),
]


MAX_SYMBOLS = 500


def _check_unique_symbols(value: Any) -> Any:
    """Linear in the list, and the length is checked first: a huge list is refused
    without looking at its items."""
    if isinstance(value, list):
        if len(value) > MAX_SYMBOLS:
            raise ValueError(f"lists {len(value)} symbols; at most {MAX_SYMBOLS} are accepted")
        counts = Counter(v.strip().upper() for v in value if isinstance(v, str))
        dupes = sorted(s for s, n in counts.items() if n > 1)
        if dupes:
            raise ValueError(f"lists {', '.join(dupes)} more than once")
    return value


Symbols = Annotated[
    list[Symbol],
    BeforeValidator(_check_unique_symbols),
    Field(min_length=1, max_length=MAX_SYMBOLS),
]


def broadcast_error(**arrays: Any) -> str | None:
    """None when the arrays broadcast together, else a message naming their shapes."""
    if not _any_array(arrays.values()):
        return None  # scalars always do
    try:
        np.broadcast_shapes(*map(shape_of, arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {list(shape_of(v))}" for k, v in arrays.items())
        return f"arrays do not broadcast together: {shapes}"
    return None


class BroadcastParams(Params):
    """Params whose ``ARRAYS`` fields, each a number or an array, broadcast together (the
    option models): refused with the shapes named when they do not."""

    # the broadcast fields in the order the model takes them (and a large result's
    # values.parquet lists the varying ones)
    ARRAYS: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _shapes_broadcast(self) -> Self:
        problem = broadcast_error(**self.arrays())
        if problem:
            raise ValueError(problem)
        return self

    def arrays(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.ARRAYS}
