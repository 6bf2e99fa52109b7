"""Histogram quantiles and the interval the scorecard shows.

Quantiles come from what Prometheus keeps (cumulative bucket counts), so the same numbers
come out of ``/metrics`` or a PromQL window. Effects and their intervals come from the pilot
plans' statistics (:mod:`aikpi_collector.plan.stats`: exact moments from the sum-of-squares
counters); :class:`Interval` is how the scorecard holds one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ("Histogram", "Interval")


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate with its 95 % confidence interval."""

    estimate: float
    low: float
    high: float

    @property
    def includes_zero(self) -> bool:
        """True when the data cannot tell the sign of the difference."""
        return self.low <= 0.0 <= self.high


@dataclass(frozen=True, slots=True)
class Histogram:
    """A cumulative Prometheus histogram: ``bounds`` ascending, ``cumulative`` per bound.

    ``cumulative`` has one more entry than ``bounds``: the ``+Inf`` bucket (== count).
    """

    bounds: tuple[float, ...]
    cumulative: tuple[float, ...]
    total: float
    count: float

    @classmethod
    def empty(cls) -> Histogram:
        """A histogram with no observations."""
        return cls((), (0.0,), 0.0, 0.0)

    @classmethod
    def from_buckets(cls, buckets: dict[float, float], total: float, count: float) -> Histogram:
        """Build from ``{le: cumulative count}`` (``le`` may include ``math.inf``)."""
        finite = sorted(b for b in buckets if math.isfinite(b))
        cumulative = [buckets[b] for b in finite]
        cumulative.append(buckets.get(math.inf, count))
        return cls(tuple(finite), tuple(cumulative), total, count)

    @property
    def mean(self) -> float | None:
        """Exact mean (sum / count), ``None`` without observations."""
        return self.total / self.count if self.count > 0 else None

    def quantile(self, q: float) -> float | None:
        """Quantile by linear interpolation inside the bucket, as PromQL ``histogram_quantile``.

        Falls in the same bucket as the true order statistic of rank ``ceil(q * count)``;
        the ``+Inf`` bucket answers with the highest finite bound, as Prometheus does.
        """
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be within [0, 1], got {q}")
        if self.count <= 0:
            return None
        rank = q * self.count
        lower, previous = 0.0, 0.0
        for bound, cumulative in zip(self.bounds, self.cumulative, strict=False):
            if cumulative >= rank and cumulative > previous:
                return lower + (bound - lower) * (rank - previous) / (cumulative - previous)
            lower, previous = bound, cumulative
        return self.bounds[-1] if self.bounds else None
