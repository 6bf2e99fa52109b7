"""Samples per cohort a criterion needs, at the plan's alpha and power.

Every criterion is read at one end of the two-sided (1 - alpha) interval: a primary passes
when the interval excludes 0 on the better side, a guardrail when its worse end stays within
the margin. Each is therefore a one-sided test at level alpha/2, and its sample size is the
standard normal-approximation one (``statsmodels.stats.power.NormalIndPower``, equal cohorts):

    n per cohort = (z_{1 - alpha/2} + z_{power})^2 * (v_ai + v_base) / delta^2

on the effect's working scale (:func:`.stats.normal_effect`): ``delta`` is the target
(primary) or the margin (guardrail) as a difference, or ``log(1 + x)`` for a relative one;
``v`` are the per-unit variances of each cohort. The assumed truth is the classic one: a
primary's true effect equals its target (power to detect it), a guardrail's true effect is 0
(power to show non-inferiority when nothing got worse). Spread comes from the observed data:

* means: each cohort's observed variance (relative: squared coefficient of variation); the
  baseline's stands in for an AI cohort with fewer than 2 samples;
* proportions: ``p (1 - p)`` (absolute) or ``(1 - p) / p`` (relative) at the baseline's
  observed proportion ``p0`` and ``p1 = p0 + target`` or ``p0 (1 + target)`` for a primary,
  ``p1 = p0`` for a guardrail -- the textbook two-proportion formula;
* rates: ``1 / lambda`` per unit of exposure (relative) at the baseline's observed rate and
  ``lambda0 (1 + target)`` for a primary.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

try:
    from statsmodels.stats.power import NormalIndPower
except ModuleNotFoundError as exc:  # pragma: no cover - same hint as stats.py
    raise ModuleNotFoundError(
        f"pilot-plan statistics need scipy and statsmodels ({exc.name} is missing): "
        "pip install 'aikpi[report]'",
        name=exc.name,
    ) from exc

from aikpi_collector.plan.stats import (
    CohortStats,
    MeanStats,
    ProportionStats,
    RateStats,
    Scale,
)

__all__ = ("PlanningVariance", "planning_variance", "samples_per_cohort")


@dataclass(frozen=True, slots=True)
class PlanningVariance:
    """What a sample size is computed from, on the working scale (see the module doc)."""

    delta: float
    """The effect to detect: the target, or the margin, as a difference or ``log(1 + x)``."""
    unit_variance_ai: float
    unit_variance_base: float

    def samples_per_cohort(self, alpha: float, power: float) -> float | None:
        """Samples per cohort (not rounded) at ``alpha`` (two-sided) and ``power``."""
        return samples_per_cohort(
            self.delta, self.unit_variance_ai, self.unit_variance_base, alpha, power
        )


def samples_per_cohort(
    delta: float, unit_variance_ai: float, unit_variance_base: float, alpha: float, power: float
) -> float | None:
    """Samples per cohort (not rounded) for a one-sided test at ``alpha/2`` with ``power``.

    ``None`` when nothing can be planned: a zero effect, or no spread in either cohort.
    """
    spread = unit_variance_ai + unit_variance_base
    if not (math.isfinite(delta) and math.isfinite(spread)) or delta == 0 or spread <= 0:
        return None
    effect_size = abs(delta) / math.sqrt(spread / 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        n = NormalIndPower().solve_power(
            effect_size=effect_size,
            alpha=alpha / 2.0,
            power=power,
            ratio=1.0,
            alternative="larger",
        )
    value = float(np.asarray(n).item())
    return value if math.isfinite(value) and value > 0 else None


def planning_variance(
    ai: CohortStats, base: CohortStats, scale: Scale, true_effect: float, limit: float
) -> PlanningVariance | None:
    """The working-scale ``delta`` and the per-unit variances for planning a criterion.

    ``limit`` is the target or the signed margin on the effect's scale; ``true_effect`` the
    assumed true effect (the target for a primary, 0 for a guardrail). ``None`` when the
    baseline gives nothing to plan from (no samples, a mean or proportion of 0 on a
    relative scale, a target that leaves [0, 1]).
    """
    relative = scale is Scale.RELATIVE
    if relative and (limit <= -1 or true_effect <= -1):
        return None
    delta = math.log1p(limit) if relative else limit
    if isinstance(base, MeanStats):
        assert isinstance(ai, MeanStats)
        source = ai if float(ai.n) >= 2 else base
        v_base, v_ai = float(base.variance), float(source.variance)
        if relative:
            m_base, m_ai = float(base.mean), float(source.mean)
            if not (m_base > 0 and m_ai > 0):
                return None
            v_base, v_ai = v_base / m_base**2, v_ai / m_ai**2
    elif isinstance(base, ProportionStats):
        p0 = float(base.proportion)
        p1 = p0 * (1.0 + true_effect) if relative else p0 + true_effect
        if not (0 <= p0 <= 1 and 0 <= p1 <= 1):
            return None
        if relative:
            if not (p0 > 0 and p1 > 0):
                return None
            v_base, v_ai = (1.0 - p0) / p0, (1.0 - p1) / p1
        else:
            v_base, v_ai = p0 * (1.0 - p0), p1 * (1.0 - p1)
    else:
        assert isinstance(base, RateStats)
        r0 = float(base.rate)
        r1 = r0 * (1.0 + true_effect) if relative else r0 + true_effect
        if not (r0 > 0 and r1 > 0):
            return None
        v_base, v_ai = (1.0 / r0, 1.0 / r1) if relative else (r0, r1)
    if not (math.isfinite(v_base) and math.isfinite(v_ai)):
        return None
    return PlanningVariance(delta, v_ai, v_base)
