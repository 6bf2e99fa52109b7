"""Statistics from Prometheus histograms and counters: quantiles, means, confidence intervals.

A pilot review needs more than two averages: it needs to know whether the difference is
larger than the noise. Everything here works on what Prometheus keeps (cumulative bucket
counts for quantiles; count, sum and sum of squares for exact means and variances), so the
same numbers come out of ``/metrics`` or a PromQL window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = (
    "Z_95",
    "Histogram",
    "Interval",
    "Moments",
    "diff_means_interval",
    "diff_proportions_interval",
    "wilson_interval",
)

Z_95 = 1.959963984540054
"""Two-sided 95 % normal quantile."""


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


@dataclass(frozen=True, slots=True)
class Moments:
    """Count, sum and sum of squares of per-unit values: all additive over windows and
    replicas, so the mean and the variance are exact (the ``*_squares_total`` counters)."""

    count: float
    total: float
    squares: float

    @property
    def mean(self) -> float | None:
        """Sum / count, ``None`` without units."""
        return self.total / self.count if self.count > 0 else None

    @property
    def variance(self) -> float | None:
        """Sample variance (n - 1 denominator); ``None`` with fewer than two units."""
        if self.count < 2:
            return None
        return max(0.0, (self.squares - self.total * self.total / self.count) / (self.count - 1))


def diff_means_interval(a: Moments, b: Moments, z: float = Z_95) -> Interval | None:
    """Welch-style interval for ``mean(a) - mean(b)``; ``None`` when either side is too thin."""
    mean_a, mean_b = a.mean, b.mean
    var_a, var_b = a.variance, b.variance
    if mean_a is None or mean_b is None or var_a is None or var_b is None:
        return None
    diff = mean_a - mean_b
    half = z * math.sqrt(var_a / a.count + var_b / b.count)
    return Interval(diff, diff - half, diff + half)


def wilson_interval(successes: float, n: float, z: float = Z_95) -> Interval | None:
    """Wilson score interval for one proportion (good behaviour near 0 and 1)."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denominator
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def diff_proportions_interval(
    successes_a: float, n_a: float, successes_b: float, n_b: float, z: float = Z_95
) -> Interval | None:
    """Newcombe's hybrid score interval for ``p_a - p_b`` (his method 10)."""
    wa = wilson_interval(successes_a, n_a, z)
    wb = wilson_interval(successes_b, n_b, z)
    if wa is None or wb is None:
        return None
    pa, pb = wa.estimate, wb.estimate
    diff = pa - pb
    low = diff - math.sqrt((pa - wa.low) ** 2 + (wb.high - pb) ** 2)
    high = diff + math.sqrt((wa.high - pa) ** 2 + (pb - wb.low) ** 2)
    return Interval(diff, low, high)
