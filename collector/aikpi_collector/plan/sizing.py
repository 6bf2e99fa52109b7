"""The core of ``aikpi-collector plan``: samples each criterion needs, and how long that takes.

From what a source observed over a window (per KPI, the statistics of each cohort) and the
window's length, each criterion gets its samples needed per cohort (:mod:`.power`, at the
plan's alpha and power) and the days until both cohorts have them at the observed pace.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aikpi_collector.catalogue import AI, BASELINE
from aikpi_collector.plan._json import number
from aikpi_collector.plan.spec import Criterion, Plan, Role
from aikpi_collector.plan.verdict import CohortPair, needed_per_cohort

__all__ = ("CriterionSize", "size_criterion", "size_plan")


@dataclass(frozen=True, slots=True)
class CriterionSize:
    """How many samples one criterion needs and when the pilot will have them."""

    kpi: str
    role: Role
    needed_per_cohort: int | None
    """``None`` when the data give nothing to plan from (see :attr:`reason`)."""
    have_per_cohort: dict[str, float]
    per_day: dict[str, float]
    """Observed samples per day in each cohort."""
    days_total: float | None
    """Days from the start for the slower cohort to reach the size (``None``: never, at 0/day)."""
    days_remaining: float | None
    """Days from now (0 when both cohorts have enough)."""
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (days rounded to 0.1)."""

        return {
            "kpi": self.kpi,
            "role": self.role.value,
            "needed_per_cohort": self.needed_per_cohort,
            "have_per_cohort": {k: number(v) for k, v in self.have_per_cohort.items()},
            "per_day": {k: number(v, 3) for k, v in self.per_day.items()},
            "days_total": number(self.days_total, 1),
            "days_remaining": number(self.days_remaining, 1),
            "reason": self.reason,
        }


def size_criterion(
    criterion: Criterion,
    pair: CohortPair | None,
    *,
    alpha: float,
    power: float,
    min_samples: int,
    window_days: float,
) -> CriterionSize:
    """Size one criterion from statistics observed over ``window_days`` days."""
    if not window_days > 0:
        raise ValueError(f"window_days must be > 0, got {window_days}")
    if pair is None:
        return CriterionSize(
            criterion.kpi,
            criterion.role,
            criterion.samples_per_cohort,
            {AI: 0.0, BASELINE: 0.0},
            {AI: 0.0, BASELINE: 0.0},
            None,
            None,
            f"no data for {criterion.kpi}: nothing to plan from",
        )
    have = pair.have
    per_day = {cohort: count / window_days for cohort, count in have.items()}
    needed = needed_per_cohort(criterion, pair, alpha, power, min_samples)
    if needed is None:
        return CriterionSize(
            criterion.kpi,
            criterion.role,
            None,
            have,
            per_day,
            None,
            None,
            "the baseline gives no spread or level to plan from yet",
        )
    if any(rate <= 0 for rate in per_day.values()):
        idle = ", ".join(c for c, rate in per_day.items() if rate <= 0)
        days_total = days_remaining = None
        reason = f"{idle} had no samples in the window: no pace to project"
    else:
        days_total = max(needed / rate for rate in per_day.values())
        days_remaining = max(max(needed - have[c], 0.0) / per_day[c] for c in have)
        reason = (
            f"{needed} per cohort; at the observed pace about {math.ceil(days_total)} days "
            f"in all, {math.ceil(days_remaining)} more"
        )
    return CriterionSize(
        criterion.kpi, criterion.role, needed, have, per_day, days_total, days_remaining, reason
    )


def size_plan(
    plan: Plan, observed: Mapping[str, CohortPair], window_days: float
) -> tuple[CriterionSize, ...]:
    """Size every criterion of ``plan`` (primary first) from one observed window."""
    return tuple(
        size_criterion(
            criterion,
            observed.get(criterion.kpi),
            alpha=plan.alpha,
            power=plan.power,
            min_samples=plan.min_samples_per_cohort,
            window_days=window_days,
        )
        for criterion in plan.criteria
    )
