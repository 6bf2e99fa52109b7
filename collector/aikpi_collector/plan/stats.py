"""Effects of AI vs baseline and their confidence intervals, from sufficient statistics only.

The metrics keep per cohort a few additive totals, never the raw samples: ``n``, sum and sum
of squares of a MEAN KPI (exact thanks to the ``*_squares_total`` counters), successes and
trials of a PROPORTION, events and exposure of a RATE. Everything here works from those.

An effect is AI compared with baseline, on one of two scales:

* ``ABSOLUTE``: AI - baseline (seconds for a time, a fraction for a proportion, so 0.02 is
  +2 percentage points);
* ``RELATIVE``: AI / baseline - 1 (-0.31 is 31 % lower).

Fixed-horizon intervals come from the libraries: Welch's t for a difference of means (t
quantile from ``scipy.stats``), the delta method on the log ratio for a ratio of means,
Newcombe's hybrid score interval and the adjusted Katz log interval of ``statsmodels`` for
a difference or ratio of proportions, and for a rate ratio the conditional binomial method
(events in AI given all events) with a Wilson score interval from ``statsmodels``.
Always-valid intervals put the normal-mixture confidence sequence of :mod:`.sequential`
around the same estimate on its working scale (difference or log ratio).

The functions work element-wise when the statistics hold numpy arrays (the Monte Carlo tests
use that); an interval that cannot be computed is ``nan`` there, and :meth:`Interval.defined`
says so for a single comparison.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

try:
    from scipy import stats as _scipy_stats
    from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
    from statsmodels.stats.rates import confint_poisson_2indep
except ModuleNotFoundError as exc:  # pragma: no cover - exercised by a subprocess test
    raise ModuleNotFoundError(
        f"pilot-plan statistics need scipy and statsmodels ({exc.name} is missing): "
        "pip install 'aikpi[report]'",
        name=exc.name,
    ) from exc

from aikpi_collector.catalogue import KpiKind
from aikpi_collector.plan.sequential import mixture_half_width

__all__ = (
    "CohortStats",
    "Interval",
    "IntervalKind",
    "MeanStats",
    "NormalEffect",
    "ProportionStats",
    "RateStats",
    "Scale",
    "always_valid_interval",
    "cohort_stats",
    "estimate",
    "fixed_interval",
    "normal_effect",
)

Number = float | npt.NDArray[np.float64]


class Scale(StrEnum):
    """How an effect compares AI with baseline."""

    ABSOLUTE = "absolute"
    """AI - baseline (a proportion's in fractions: 0.02 is +2 pp)."""
    RELATIVE = "relative"
    """AI / baseline - 1."""


class IntervalKind(StrEnum):
    """Which kind of confidence interval a verdict read."""

    FIXED = "fixed"
    """Valid once, at the planned sample size."""
    ALWAYS_VALID = "always_valid"
    """A confidence sequence: valid at every look, however often the pilot is checked."""


def _check(name: str, value: Any, minimum: float = 0.0) -> None:
    array = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(array)) or np.any(array < minimum):
        raise ValueError(f"{name} must be finite and >= {minimum:g}, got {value!r}")


@dataclass(frozen=True, slots=True)
class MeanStats:
    """A MEAN KPI in one cohort: ``n`` units, the sum and the sum of squares of their values."""

    n: Number
    total: Number
    squares: Number

    def __post_init__(self) -> None:
        _check("n", self.n)
        _check("squares", self.squares)
        _check("total", np.abs(np.asarray(self.total, dtype=float)))

    @property
    def size(self) -> Number:
        """Samples: the units averaged over."""
        return self.n

    @property
    def mean(self) -> Number:
        """``total / n`` (``nan`` without units)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return _float(np.divide(self.total, self.n))

    @property
    def variance(self) -> Number:
        """Unbiased sample variance ``(squares - total^2 / n) / (n - 1)`` (``nan`` for n < 2).

        Clipped at 0: rounding of large sums can make the difference slightly negative.
        """
        n = np.asarray(self.n, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            spread = np.asarray(self.squares) - np.asarray(self.total) ** 2 / n
            value = np.where(n >= 2, np.maximum(spread, 0.0) / (n - 1.0), np.nan)
        return _float(value)


@dataclass(frozen=True, slots=True)
class ProportionStats:
    """A PROPORTION KPI in one cohort: ``successes`` out of ``n`` trials."""

    successes: Number
    n: Number

    def __post_init__(self) -> None:
        _check("successes", self.successes)
        _check("n", self.n)
        if np.any(np.asarray(self.successes) > np.asarray(self.n)):
            raise ValueError(f"successes ({self.successes!r}) exceed trials n ({self.n!r})")

    @property
    def size(self) -> Number:
        """Samples: the trials."""
        return self.n

    @property
    def proportion(self) -> Number:
        """``successes / n`` (``nan`` without trials)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return _float(np.divide(self.successes, self.n))


@dataclass(frozen=True, slots=True)
class RateStats:
    """A RATE KPI in one cohort: ``events`` over ``exposure`` units (Poisson)."""

    events: Number
    exposure: Number

    def __post_init__(self) -> None:
        _check("events", self.events)
        _check("exposure", self.exposure)

    @property
    def size(self) -> Number:
        """Samples: the units of exposure."""
        return self.exposure

    @property
    def rate(self) -> Number:
        """``events / exposure`` (``nan`` without exposure)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return _float(np.divide(self.events, self.exposure))


CohortStats = MeanStats | ProportionStats | RateStats


def cohort_stats(
    kind: KpiKind, numerator: Number, denominator: Number, squares: Number | None = None
) -> CohortStats:
    """One cohort's statistics from a catalogue KPI's evaluated terms (``Kpi.numerator``,
    ``Kpi.denominator``, ``Kpi.squares`` summed over the cohort's series).

    MEAN: the denominator counts the units and the numerator sums their values; PROPORTION:
    successes over trials; RATE: events over exposure (``Kpi.scale`` only changes how a rate
    is shown, never an effect). RATIO and TOTAL KPIs have no per-unit spread: ``ValueError``.
    """
    if kind is KpiKind.MEAN:
        if squares is None:
            raise ValueError("a MEAN KPI needs its sum of squares (the *_squares_total counter)")
        return MeanStats(denominator, numerator, squares)
    if kind is KpiKind.PROPORTION:
        return ProportionStats(numerator, denominator)
    if kind is KpiKind.RATE:
        return RateStats(numerator, denominator)
    raise ValueError(f"a {kind.value} KPI keeps no per-unit spread: it has no interval")


def _float(value: Any) -> Number:
    array = np.asarray(value, dtype=float)
    return array if array.ndim else float(array)


def _same_kind(ai: CohortStats, base: CohortStats) -> None:
    if type(ai) is not type(base):
        raise ValueError(
            f"AI and baseline statistics must be of one kind, got {type(ai).__name__} and "
            f"{type(base).__name__}"
        )


def _value(stats: CohortStats) -> Number:
    if isinstance(stats, MeanStats):
        return stats.mean
    if isinstance(stats, ProportionStats):
        return stats.proportion
    return stats.rate


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate of the effect with its two-sided (1 - alpha) interval."""

    estimate: Number
    low: Number
    high: Number
    kind: IntervalKind
    method: str
    """The method, for the docs and the JSON (``welch``, ``newcombe``, ``normal-mixture``...)."""

    @property
    def defined(self) -> bool:
        """True when the estimate and both ends are numbers (infinite ends allowed)."""
        values = np.asarray([self.estimate, self.low, self.high], dtype=float)
        return bool(not np.any(np.isnan(values)) and np.all(np.isfinite(values[:1])))


def estimate(ai: CohortStats, base: CohortStats, scale: Scale) -> Number:
    """The effect's point estimate: AI - baseline, or AI / baseline - 1 (``nan`` if undefined)."""
    _same_kind(ai, base)
    a, b = np.asarray(_value(ai), dtype=float), np.asarray(_value(base), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = a - b if scale is Scale.ABSOLUTE else np.where(b > 0, a / b - 1.0, np.nan)
    return _float(value)


@dataclass(frozen=True, slots=True)
class NormalEffect:
    """An effect on its working scale (difference, or log of the ratio), asymptotically normal.

    ``variance == unit_variance_ai / n_ai + unit_variance_base / n_base``: the per-unit
    variances give the estimator's variance at any other sample size (sample sizes, and the
    confidence sequence's mixing variance at the planned size).
    """

    working: Number
    variance: Number
    unit_variance_ai: Number
    unit_variance_base: Number
    scale: Scale

    def to_effect(self, value: Number) -> Number:
        """A working-scale value back on the effect's scale (``exp(x) - 1`` when relative)."""
        return _float(np.expm1(value) if self.scale is Scale.RELATIVE else np.asarray(value))

    def variance_at(self, per_cohort: Number) -> Number:
        """The estimator's variance with ``per_cohort`` samples in each cohort."""
        return _float(
            (np.asarray(self.unit_variance_ai) + np.asarray(self.unit_variance_base))
            / np.asarray(per_cohort, dtype=float)
        )


def normal_effect(ai: CohortStats, base: CohortStats, scale: Scale) -> NormalEffect:
    """The effect and its large-sample variance on the working scale (delta method).

    * mean, absolute: ``m1 - m0``, unit variances ``s^2``;
    * mean, relative: ``log(m1 / m0)``, unit variances ``s^2 / m^2``;
    * proportion, absolute: Agresti-Caffo (one success and one failure added per cohort),
      ``p~1 - p~0``, unit variances ``p~ (1 - p~)``;
    * proportion, relative: ``log`` of the ratio with 0.5 added to successes and trials,
      unit variances ``(1 - p~) / p~``;
    * rate, absolute / relative: 0.5 added to the events; ``lambda~1 - lambda~0``, unit
      variances ``lambda~``; or ``log(lambda~1 / lambda~0)``, unit variances ``1 / lambda~``.

    The small additions keep the variance positive when a cohort has no events, so an early
    look at a rare KPI is never judged on a zero-width interval.
    """
    _same_kind(ai, base)
    with np.errstate(divide="ignore", invalid="ignore"):
        if isinstance(ai, MeanStats):
            assert isinstance(base, MeanStats)
            m1, m0 = np.asarray(ai.mean), np.asarray(base.mean)
            v1, v0 = np.asarray(ai.variance), np.asarray(base.variance)
            if scale is Scale.RELATIVE:
                ok = (m1 > 0) & (m0 > 0)
                working = np.where(ok, np.log(np.where(ok, m1 / m0, 1.0)), np.nan)
                v1, v0 = v1 / m1**2, v0 / m0**2
            else:
                working = m1 - m0
            n1, n0 = np.asarray(ai.n, dtype=float), np.asarray(base.n, dtype=float)
        elif isinstance(ai, ProportionStats):
            assert isinstance(base, ProportionStats)
            x1, x0 = np.asarray(ai.successes, float), np.asarray(base.successes, float)
            t1, t0 = np.asarray(ai.n, float), np.asarray(base.n, float)
            if scale is Scale.RELATIVE:
                p1, p0 = (x1 + 0.5) / (t1 + 0.5), (x0 + 0.5) / (t0 + 0.5)
                working = np.log(p1 / p0)
                v1, v0 = (1.0 - p1) / p1, (1.0 - p0) / p0
                n1, n0 = t1 + 0.5, t0 + 0.5
            else:
                p1, p0 = (x1 + 1.0) / (t1 + 2.0), (x0 + 1.0) / (t0 + 2.0)
                working = p1 - p0
                v1, v0 = p1 * (1.0 - p1), p0 * (1.0 - p0)
                n1, n0 = t1 + 2.0, t0 + 2.0
        else:
            assert isinstance(ai, RateStats) and isinstance(base, RateStats)
            n1, n0 = np.asarray(ai.exposure, float), np.asarray(base.exposure, float)
            r1 = (np.asarray(ai.events, float) + 0.5) / n1
            r0 = (np.asarray(base.events, float) + 0.5) / n0
            if scale is Scale.RELATIVE:
                working, v1, v0 = np.log(r1 / r0), 1.0 / r1, 1.0 / r0
            else:
                working, v1, v0 = r1 - r0, r1, r0
        variance = v1 / n1 + v0 / n0
        empty = (np.asarray(ai.size, float) <= 0) | (np.asarray(base.size, float) <= 0)
        variance = np.where(empty, np.nan, variance)
    return NormalEffect(_float(working), _float(variance), _float(v1), _float(v0), scale)


def _quiet(func: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """Call a statsmodels interval, edge cases (zero counts) giving ``nan`` not warnings."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return func(*args, **kwargs)
        except (ValueError, ZeroDivisionError, FloatingPointError):
            return math.nan, math.nan


def _elementwise(func: Any, *args: Any, **kwargs: Any) -> tuple[Number, Number]:
    """Apply a scalar-only interval function element-wise over broadcast arguments."""
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in args))
    low, high = np.empty(arrays[0].shape), np.empty(arrays[0].shape)
    for index in np.ndindex(arrays[0].shape):
        lo, hi = _quiet(func, *(float(a[index]) for a in arrays), **kwargs)
        low[index], high[index] = lo, hi
    return _float(low), _float(high)


def _sane(low: Number, high: Number) -> tuple[Number, Number]:
    """``nan`` ends where a library returned a zero-width interval.

    A score inversion can collapse to a point instead of failing, and the adjusted log ratio
    has zero width when both cohorts have only successes: neither is evidence of anything.
    """
    lo, hi = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    with np.errstate(invalid="ignore"):
        bad = ~(hi > lo)
    return _float(np.where(bad, np.nan, lo)), _float(np.where(bad, np.nan, hi))


def fixed_interval(ai: CohortStats, base: CohortStats, scale: Scale, alpha: float) -> Interval:
    """The two-sided (1 - alpha) fixed-horizon interval of the effect (see the module doc).

    Means, absolute: Welch's t with Satterthwaite degrees of freedom. Means, relative: delta
    method on ``log(m1 / m0)`` with a normal quantile, mapped back by ``exp(.) - 1`` (so the
    interval is asymmetric and never below -100 %). Proportions: ``statsmodels``
    ``confint_proportions_2indep`` (``newcomb`` for the difference; ``log-adjusted`` -- Katz's
    log interval with 0.5 added to successes and trials -- for the ratio, on the same working
    scale as the always-valid interval). Rates, relative: conditional binomial with a Wilson
    interval; absolute: ``statsmodels`` ``confint_poisson_2indep`` (``score``).
    """
    _alpha(alpha)
    point = estimate(ai, base, scale)
    if isinstance(ai, MeanStats):
        assert isinstance(base, MeanStats)
        effect = normal_effect(ai, base, scale)
        se = np.sqrt(np.asarray(effect.variance))
        if scale is Scale.RELATIVE:
            half = _scipy_stats.norm.ppf(1.0 - alpha / 2.0) * se
            method = "delta-log-ratio"
        else:
            a = np.asarray(ai.variance) / np.asarray(ai.n, dtype=float)
            b = np.asarray(base.variance) / np.asarray(base.n, dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                df = (a + b) ** 2 / (
                    a**2 / (np.asarray(ai.n) - 1.0) + b**2 / (np.asarray(base.n) - 1.0)
                )
            half = _scipy_stats.t.ppf(1.0 - alpha / 2.0, df) * se
            method = "welch"
        with np.errstate(invalid="ignore"):
            half = np.where(se > 0, half, np.nan)
        low = effect.to_effect(np.asarray(effect.working) - half)
        high = effect.to_effect(np.asarray(effect.working) + half)
        return Interval(point, low, high, IntervalKind.FIXED, method)
    if isinstance(ai, ProportionStats):
        assert isinstance(base, ProportionStats)
        args = (ai.successes, ai.n, base.successes, base.n)
        if scale is Scale.ABSOLUTE:
            low, high = _quiet(
                confint_proportions_2indep, *args, method="newcomb", compare="diff", alpha=alpha
            )
            method = "newcombe"
        else:
            low, high = _quiet(
                confint_proportions_2indep,
                *args,
                method="log-adjusted",
                compare="ratio",
                alpha=alpha,
            )
            low, high = np.asarray(low) - 1.0, np.asarray(high) - 1.0
            method = "katz-log-adjusted"
        low, high = _sane(low, high)
        return Interval(point, low, high, IntervalKind.FIXED, method)
    assert isinstance(ai, RateStats) and isinstance(base, RateStats)
    if scale is Scale.ABSOLUTE:
        low, high = _elementwise(
            confint_poisson_2indep,
            ai.events,
            ai.exposure,
            base.events,
            base.exposure,
            method="score",
            compare="diff",
            alpha=alpha,
        )
        low, high = _sane(low, high)
        return Interval(point, low, high, IntervalKind.FIXED, "poisson-score")
    low, high = _rate_ratio_conditional(ai, base, alpha)
    low, high = _sane(low, high)
    return Interval(point, low, high, IntervalKind.FIXED, "conditional-wilson")


def _rate_ratio_conditional(ai: RateStats, base: RateStats, alpha: float) -> tuple[Number, Number]:
    """Rate ratio - 1 by conditioning: ``X_ai | X_ai + X_base ~ Binomial(N, pi)`` with
    ``pi = R E_ai / (R E_ai + E_base)``; a Wilson interval for ``pi`` maps to one for ``R``.

    Handles a cohort without events (an end at 0 or infinity), unlike the unconditional score
    inversion; no events at all leaves the ratio undefined (``nan``).
    """
    x1, x0 = np.asarray(ai.events, float), np.asarray(base.events, float)
    e1, e0 = np.asarray(ai.exposure, float), np.asarray(base.exposure, float)
    total = x1 + x0
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        lo_pi, hi_pi = proportion_confint(x1, np.where(total > 0, total, 1.0), alpha, "wilson")
        lo_pi, hi_pi = np.asarray(lo_pi, float), np.asarray(hi_pi, float)
        to_ratio = lambda pi: np.where(pi < 1.0, pi * e0 / ((1.0 - pi) * e1), np.inf)  # noqa: E731
        low = np.where((total > 0) & (e1 > 0) & (e0 > 0), to_ratio(lo_pi) - 1.0, np.nan)
        high = np.where((total > 0) & (e1 > 0) & (e0 > 0), to_ratio(hi_pi) - 1.0, np.nan)
    return _float(low), _float(high)


def always_valid_interval(
    ai: CohortStats, base: CohortStats, scale: Scale, alpha: float, planned_per_cohort: Number
) -> Interval:
    """The (1 - alpha) confidence sequence of the effect: valid at every look at once.

    The normal-mixture boundary (:func:`.sequential.mixture_half_width`) around the working
    scale estimate of :func:`normal_effect`, its mixing variance tuned to the estimator's
    variance at ``planned_per_cohort`` samples in each cohort. The point estimate stays the
    plain one of :func:`estimate`; a proportion's or rate's interval is centred on the
    slightly adjusted estimate of :func:`normal_effect`.
    """
    _alpha(alpha)
    effect = normal_effect(ai, base, scale)
    half = mixture_half_width(effect.variance, effect.variance_at(planned_per_cohort), alpha)
    working = np.asarray(effect.working, dtype=float)
    low = effect.to_effect(working - np.asarray(half))
    high = effect.to_effect(working + np.asarray(half))
    return Interval(
        estimate(ai, base, scale), low, high, IntervalKind.ALWAYS_VALID, "normal-mixture"
    )


def _alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be within (0, 1), got {alpha}")
