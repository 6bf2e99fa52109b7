"""Histogram helpers for tests that check quantiles against the true order statistic."""

from __future__ import annotations

import math

__all__ = ("bucket_of",)


def bucket_of(bounds: tuple[float, ...], value: float) -> tuple[float, float]:
    """The ``(lower, upper]`` bucket of ``bounds`` that holds ``value``."""
    lower = 0.0
    for bound in bounds:
        if value <= bound:
            return lower, bound
        lower = bound
    return lower, math.inf
