"""Plain JSON values from sov's figures: JSON has no NaN or Inf, and DuckDB's JSON columns
must read back what was written."""

from __future__ import annotations

import math
from typing import Any


def json_safe(obj: Any) -> Any:
    """numpy scalars to Python numbers, NaN/Inf to None, tuples to lists, keys to strings,
    anything else that is not JSON to its ``str``. numpy is never imported here."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if type(obj).__module__ == "numpy" and hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        obj = obj.item()
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return str(obj)
