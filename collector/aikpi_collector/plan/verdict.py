"""Criteria and plan verdicts: pass, fail or inconclusive, exactly as the design words them.

With ``CI`` the (1 - alpha) interval of the effect AI vs baseline:

* primary **pass**: ``CI`` excludes 0 on the better side and the estimate reaches the target;
  **fail**: ``CI`` lies entirely short of the target (any worsening included);
  **inconclusive** otherwise;
* guardrail **pass**: the worse end of ``CI`` is within the margin; **fail**: the estimate is
  worse than the margin; **inconclusive** otherwise;
* any criterion with fewer samples than ``min_samples_per_cohort`` in a cohort is
  inconclusive, whatever its numbers;
* plan: **fail** if any criterion fails, **pass** if all pass, else **inconclusive**.

Until a criterion has its planned samples in both cohorts, ``CI`` is the always-valid
interval (a confidence sequence) and the result says ``interim``: looking every day then
cannot inflate false passes. From the planned size on, the fixed interval is used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aikpi_collector.catalogue import AI, BASELINE, Better
from aikpi_collector.plan._json import number
from aikpi_collector.plan.costs import CostSummary
from aikpi_collector.plan.power import planning_variance
from aikpi_collector.plan.spec import Criterion, Plan, Role, Threshold, ThresholdUnit
from aikpi_collector.plan.stats import (
    CohortStats,
    Interval,
    IntervalKind,
    Scale,
    always_valid_interval,
    fixed_interval,
)

__all__ = (
    "CohortPair",
    "CriterionResult",
    "PlanVerdict",
    "Status",
    "judge_criterion",
    "judge_plan",
    "needed_per_cohort",
    "plan_status",
    "scale_of",
)


class Status(StrEnum):
    """A criterion's or a plan's verdict."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True, slots=True)
class CohortPair:
    """One KPI's statistics in the AI-assisted and the baseline cohort (same kind)."""

    ai: CohortStats
    baseline: CohortStats

    @property
    def have(self) -> dict[str, float]:
        """Samples per cohort (units, trials or exposure)."""
        return {AI: float(self.ai.size), BASELINE: float(self.baseline.size)}


def scale_of(threshold: Threshold) -> Scale:
    """The effect scale a target or margin is written on (pp is an absolute difference)."""
    return Scale.ABSOLUTE if threshold.unit is ThresholdUnit.PP else Scale.RELATIVE


def needed_per_cohort(
    criterion: Criterion, pair: CohortPair, alpha: float, power: float, min_samples: int
) -> int | None:
    """Planned samples per cohort: the pre-registered ``samples_per_cohort`` of the plan, else
    the normal-approximation size (:mod:`.power`) from the observed spread, never below
    ``min_samples``; ``None`` when the data give nothing to plan from."""
    if criterion.samples_per_cohort is not None:
        return max(criterion.samples_per_cohort, min_samples)
    true_effect = criterion.limit if criterion.role is Role.PRIMARY else 0.0
    variance = planning_variance(
        pair.ai, pair.baseline, scale_of(criterion.threshold), true_effect, criterion.limit
    )
    n = None if variance is None else variance.samples_per_cohort(alpha, power)
    return None if n is None else max(math.ceil(n - 1e-9), min_samples)


def _show(value: float, unit: ThresholdUnit) -> str:
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    suffix = " pp" if unit is ThresholdUnit.PP else " %"
    return f"{value * 100:+.1f}{suffix}"


@dataclass(frozen=True, slots=True)
class CriterionResult:
    """One criterion judged; :meth:`to_dict` is the design's JSON entry."""

    kpi: str
    role: Role
    threshold: Threshold
    limit: float
    """The target, or the margin signed in the KPI's worse direction, as a fraction."""
    better: Better
    estimate: float | None
    ci: tuple[float, float] | None
    status: Status
    have_per_cohort: dict[str, float]
    needed_per_cohort: int | None
    interim: bool
    """True until both cohorts have the planned samples: the CI is then always-valid."""
    interval: IntervalKind
    method: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """``kpi, role, target|margin, unit, estimate, ci, status, have_per_cohort,
        needed_per_cohort, interim, interval, method, reason`` (fractions: -0.31 is -31 %)."""
        key = "target" if self.role is Role.PRIMARY else "margin"
        return {
            "kpi": self.kpi,
            "role": self.role.value,
            key: number(self.limit),
            "unit": self.threshold.unit.value,
            "estimate": number(self.estimate),
            "ci": None if self.ci is None else [number(self.ci[0]), number(self.ci[1])],
            "status": self.status.value,
            "have_per_cohort": {k: number(v) for k, v in self.have_per_cohort.items()},
            "needed_per_cohort": self.needed_per_cohort,
            "interim": self.interim,
            "interval": self.interval.value,
            "method": self.method,
            "reason": self.reason,
        }


def _rule(
    criterion: Criterion, estimate: float, ci: tuple[float, float] | None
) -> tuple[Status, str]:
    """The design's status rule for one criterion with enough samples."""
    unit = criterion.threshold.unit
    lower = criterion.catalogue_kpi.better is Better.LOWER
    limit = criterion.limit
    est = _show(estimate, unit)
    ci_text = "no interval" if ci is None else f"CI [{_show(ci[0], unit)}, {_show(ci[1], unit)}]"
    if criterion.role is Role.PRIMARY:
        target = _show(limit, unit)
        if ci is None:
            return Status.INCONCLUSIVE, f"estimate {est}, but no interval could be computed"
        best, worst = (ci[0], ci[1]) if lower else (ci[1], ci[0])
        reaches = estimate <= limit if lower else estimate >= limit
        excludes_zero = worst < 0 if lower else worst > 0
        short = best > limit if lower else best < limit
        if excludes_zero and reaches:
            return Status.PASS, f"{ci_text} excludes 0 and the estimate {est} reaches {target}"
        if short:
            return Status.FAIL, f"{ci_text} lies entirely short of the target {target}"
        if excludes_zero:
            return Status.INCONCLUSIVE, (
                f"{ci_text} excludes 0 but the estimate {est} falls short of {target}"
            )
        return Status.INCONCLUSIVE, f"{ci_text} still holds both 0 and the target {target}"
    margin = _show(limit, unit)
    worse = estimate > limit if lower else estimate < limit
    if worse:
        return Status.FAIL, f"the estimate {est} is worse than the margin {margin}"
    if ci is None:
        return Status.INCONCLUSIVE, f"estimate {est} within the margin {margin}, but no interval"
    worst = ci[1] if lower else ci[0]
    if (worst < limit) if lower else (worst > limit):
        return Status.PASS, f"the worse end of {ci_text} is within the margin {margin}"
    return Status.INCONCLUSIVE, (
        f"the estimate {est} is within the margin {margin}, but {ci_text} reaches beyond it"
    )


def judge_criterion(
    criterion: Criterion,
    pair: CohortPair | None,
    *,
    alpha: float,
    power: float,
    min_samples: int,
) -> CriterionResult:
    """Judge one criterion on the statistics of its KPI (``None``: no data for it)."""
    base = {
        "kpi": criterion.kpi,
        "role": criterion.role,
        "threshold": criterion.threshold,
        "limit": criterion.limit,
        "better": criterion.catalogue_kpi.better,
    }
    if pair is None:
        return CriterionResult(
            **base,
            estimate=None,
            ci=None,
            status=Status.INCONCLUSIVE,
            have_per_cohort={AI: 0.0, BASELINE: 0.0},
            needed_per_cohort=None
            if criterion.samples_per_cohort is None
            else max(criterion.samples_per_cohort, min_samples),
            interim=True,
            interval=IntervalKind.ALWAYS_VALID,
            method=None,
            reason=f"no data for {criterion.kpi} in either cohort",
        )
    have = pair.have
    needed = needed_per_cohort(criterion, pair, alpha, power, min_samples)
    fewest = min(have.values())
    interim = needed is None or fewest < needed
    kind = IntervalKind.ALWAYS_VALID if interim else IntervalKind.FIXED
    done = {"have_per_cohort": have, "needed_per_cohort": needed, "interim": interim}
    if fewest < min_samples:
        thin = [f"{cohort} {count:g}" for cohort, count in have.items() if count < min_samples]
        return CriterionResult(
            **base,
            **done,
            estimate=None,
            ci=None,
            status=Status.INCONCLUSIVE,
            interval=kind,
            method=None,
            reason=f"fewer than {min_samples} samples per cohort ({', '.join(thin)})",
        )
    scale = scale_of(criterion.threshold)
    interval: Interval
    if interim:
        planned = needed if needed is not None else max(fewest, min_samples)
        interval = always_valid_interval(pair.ai, pair.baseline, scale, alpha, planned)
    else:
        interval = fixed_interval(pair.ai, pair.baseline, scale, alpha)
    estimate = float(interval.estimate)
    ci = (float(interval.low), float(interval.high)) if interval.defined else None
    if not math.isfinite(estimate):
        status, reason = (
            Status.INCONCLUSIVE,
            ("the effect is undefined (the baseline is 0, so a relative change has no meaning)"),
        )
        return CriterionResult(
            **base,
            **done,
            estimate=None,
            ci=ci,
            status=status,
            interval=kind,
            method=interval.method,
            reason=reason,
        )
    status, reason = _rule(criterion, estimate, ci)
    if interim:
        until = f"{needed} per cohort" if needed is not None else "a sample size can be planned"
        reason += f" (interim: always-valid CI until {until})"
    return CriterionResult(
        **base,
        **done,
        estimate=estimate,
        ci=ci,
        status=status,
        interval=kind,
        method=interval.method,
        reason=reason,
    )


def plan_status(statuses: Iterable[Status]) -> Status:
    """Fail if any fails, pass if all pass (and there is one), else inconclusive."""
    items = list(statuses)
    if Status.FAIL in items:
        return Status.FAIL
    if items and all(s is Status.PASS for s in items):
        return Status.PASS
    return Status.INCONCLUSIVE


@dataclass(frozen=True, slots=True)
class PlanVerdict:
    """A plan judged on one scope (a workflow, or all); :meth:`to_dict` is the design's
    ``"plan"`` block."""

    name: str
    verdict: Status
    criteria: tuple[CriterionResult, ...]
    costs: CostSummary | None = None
    """The pilot's costs and net gain, when the caller priced them."""

    @property
    def interim(self) -> bool:
        """True while any criterion is still judged on an always-valid interval."""
        return any(c.interim for c in self.criteria)

    def to_dict(self) -> dict[str, Any]:
        """``{"name", "verdict", "interim", "criteria": [...], "costs": {...}}``."""
        data: dict[str, Any] = {
            "name": self.name,
            "verdict": self.verdict.value,
            "interim": self.interim,
            "criteria": [c.to_dict() for c in self.criteria],
        }
        if self.costs is not None:
            data["costs"] = self.costs.to_dict()
        return data


def judge_plan(
    plan: Plan, observed: Mapping[str, CohortPair], costs: CostSummary | None = None
) -> PlanVerdict:
    """Judge every criterion of ``plan`` on ``observed`` (KPI name -> its cohort pair)."""
    results = tuple(
        judge_criterion(
            criterion,
            observed.get(criterion.kpi),
            alpha=plan.alpha,
            power=plan.power,
            min_samples=plan.min_samples_per_cohort,
        )
        for criterion in plan.criteria
    )
    return PlanVerdict(plan.name, plan_status(r.status for r in results), results, costs)
