"""JSON-friendly numbers for the plan's output."""

from __future__ import annotations

import math

__all__ = ("number",)


def number(value: float | None, places: int = 6) -> float | int | None:
    """``None`` for missing or infinite, whole values as ``int``, else rounded to ``places``."""
    if value is None or not math.isfinite(value):
        return None
    if float(value).is_integer() and abs(value) < 2**53:
        return int(value)
    return round(float(value), places)
