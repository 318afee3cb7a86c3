"""Results are JSON objects; a number that is not finite has no JSON form."""

from __future__ import annotations

import math
from typing import Any


def json_safe(value: Any) -> Any:
    """Results are JSON: NaN/inf become null (a documented 'undefined'), never bare NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return json_safe(value.item())
    return value
