"""Study designs: which comparison each number of the report comes from.

A pilot's effect can be estimated three ways, each with its own assumption:

* **concurrent** (:attr:`Design.CONCURRENT`): the AI-assisted cohort against the baseline
  cohort, both in the pilot window. Time trends and seasons hit both arms alike; it assumes
  the arms are comparable (randomised or matched).
* **before/after** (:attr:`Design.BEFORE_AFTER`): the AI-assisted cohort in the pilot window
  against **every run** of a pre-pilot window, whatever its cohort label: nobody used AI
  then, so a run of a unit later assigned to the AI arm is a run without AI too, and taking
  all of them gives the largest sample of "before". It confounds the effect with whatever
  else changed between the windows (trend, season, staffing, mix of work).
* **difference-in-differences** (:attr:`Design.DIFFERENCE_IN_DIFFERENCES`): where the
  pre-period already has both labels (units assigned to their arm, the AI arm not yet
  using AI) and the pilot both cohorts, ``(A_pilot - A_pre) - (B_pilot - B_pre)``: the AI
  arm's change minus the baseline arm's change over the same time. It removes a common time
  trend and a fixed difference between the arms, and assumes parallel trends (without AI,
  both arms would have moved by the same amount).

The scorecard and a plan's verdict use the concurrent design when the pilot has both
cohorts, else before/after (:func:`compare_designs`); with a pre-period, every scorecard also
lists each criterion's (or headline KPI's) estimate under every available design
(:func:`summarize`), so no number is shown without the design it comes from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aikpi_collector import catalogue as cat
from aikpi_collector.report.kpis import (
    AI,
    ALL_WORKFLOWS,
    BASELINE,
    CohortData,
    Comparison,
    NoBaselineError,
    compare,
    compare_all,
    select_workflows,
    step_times,
    workflows_in,
)
from aikpi_collector.report.samples import MetricSamples
from aikpi_collector.slo.spec import SLOSpec

if TYPE_CHECKING:  # the statistics load scipy: only when a design is estimated
    from aikpi_collector.plan.stats import CohortStats, Interval

__all__ = (
    "HEADLINE_KPIS",
    "Design",
    "DesignEstimate",
    "DesignSummary",
    "Groups",
    "PrePeriod",
    "before_after",
    "compare_designs",
    "difference_in_differences",
    "groups",
    "summarize",
)

HEADLINE_KPIS: tuple[str, ...] = (
    "cycle_time",
    "acceptance_rate",
    "correction_time_per_step",
    "human_time_per_step",
)
"""The KPIs the designs section lists when no plan names criteria."""


class Design(StrEnum):
    """Which comparison a number comes from."""

    CONCURRENT = "concurrent"
    BEFORE_AFTER = "before_after"
    DIFFERENCE_IN_DIFFERENCES = "difference_in_differences"

    @property
    def title(self) -> str:
        """How a reader names it."""
        return _TITLES[self]

    @property
    def compares(self) -> str:
        """What it compares, in one phrase."""
        return _COMPARES[self]


_TITLES = {
    Design.CONCURRENT: "concurrent",
    Design.BEFORE_AFTER: "before/after",
    Design.DIFFERENCE_IN_DIFFERENCES: "difference-in-differences",
}
_COMPARES = {
    Design.CONCURRENT: "AI-assisted vs baseline cohort, both in the pilot window",
    Design.BEFORE_AFTER: "AI-assisted (pilot window) vs every run of the pre-period",
    Design.DIFFERENCE_IN_DIFFERENCES: "(AI pilot - AI pre) - (baseline pilot - baseline pre)",
}


@dataclass(frozen=True)
class PrePeriod:
    """The samples of a pre-pilot window and how to name it (``2026-08-01/2026-09-30``)."""

    samples: MetricSamples
    label: str


# --- comparisons: concurrent where possible, else before/after ----------------------------


def before_after(
    samples: MetricSamples, pre: MetricSamples, workflow: str, spec: SLOSpec | None = None
) -> Comparison:
    """The AI-assisted cohort of ``workflow`` in the pilot window against every run of it in
    the pre-period; the pre-period's labour is priced at the pilot's rates."""
    ai = CohortData(samples, AI, workflow)
    return Comparison(
        workflow=workflow,
        ai=ai,
        baseline=CohortData(pre, None, workflow, labor_rates=ai.labor_rates),
        spec=spec or SLOSpec(),
        steps=step_times(workflow, samples, pre, {}),
        design=Design.BEFORE_AFTER.value,
    )


def compare_designs(
    samples: MetricSamples,
    pre: PrePeriod | None,
    workflow: str | None = None,
    spec: SLOSpec | None = None,
    *,
    skip_incomplete: bool = False,
) -> list[Comparison]:
    """One comparison per workflow, like :func:`~.kpis.compare_all`, but a workflow whose
    pilot has an AI-assisted cohort and no baseline cohort is compared before/after with
    ``pre`` instead of being refused.

    "All workflows" is added only when every workflow has the same design: pooling
    concurrent baselines with pre-periods would mix two comparisons in one number.
    """
    if pre is None:
        return compare_all(samples, workflow, spec, skip_incomplete=skip_incomplete)
    spec = spec or SLOSpec()
    found, total_workflows = select_workflows(samples, workflow)
    before = workflows_in(pre.samples)
    designs: dict[str, Design] = {}
    no_ai: list[str] = []
    no_comparator: list[str] = []
    for name, cohorts in found.items():
        if AI not in cohorts:
            no_ai.append(name)
        elif BASELINE in cohorts:
            designs[name] = Design.CONCURRENT
        elif name in before:
            designs[name] = Design.BEFORE_AFTER
        else:
            no_comparator.append(name)
    if (no_ai or no_comparator) and skip_incomplete and designs:
        no_ai, no_comparator = [], []
    if no_ai or no_comparator:
        reasons = []
        if no_ai:
            reasons.append(
                f"workflow(s) {', '.join(sorted(no_ai))} have no AI-assisted cohort in the "
                "pilot window"
            )
        if no_comparator:
            reasons.append(
                f"workflow(s) {', '.join(sorted(no_comparator))} have neither a baseline "
                f"cohort in the pilot window nor runs in the pre-period {pre.label}"
            )
        hint = f"; comparable: {', '.join(sorted(designs))}" if designs else ""
        raise NoBaselineError(
            f"{' and '.join(reasons)}, so there is nothing to compare (pick one with "
            f"--workflow){hint}"
        )
    comparisons = [
        compare(samples, name, spec)
        if design is Design.CONCURRENT
        else before_after(samples, pre.samples, name, spec)
        for name, design in sorted(designs.items())
    ]
    kinds = set(designs.values())
    if len(comparisons) > 1 and len(designs) == total_workflows and len(kinds) == 1:
        ai = CohortData(samples, AI)
        if kinds == {Design.CONCURRENT}:
            baseline = CohortData(samples, BASELINE)
        else:  # the pre-period's runs of the same workflows, priced at the pilot's rates
            baseline = CohortData(pre.samples, None, tuple(designs), labor_rates=ai.labor_rates)
        comparisons.append(
            Comparison(
                workflow=ALL_WORKFLOWS,
                ai=ai,
                baseline=baseline,
                spec=spec,
                parts=tuple(comparisons),
                design=kinds.pop().value,
            )
        )
    return comparisons


# --- the groups a design reads --------------------------------------------------------------


@dataclass(frozen=True)
class Groups:
    """The five groups of one scope (a workflow, or the workflows pooled)."""

    pilot_ai: CohortData
    pilot_baseline: CohortData
    pre_all: CohortData
    """Every run of the pre-period, whatever its cohort label."""
    pre_ai: CohortData
    """Pre-period runs labelled ``ai_assisted`` (the AI arm before it used AI)."""
    pre_baseline: CohortData

    def available(self) -> dict[Design, str | None]:
        """Each design, with ``None`` when it can be estimated, else why not."""
        pilot_ai = self.pilot_ai.steps > 0
        pilot_base = self.pilot_baseline.steps > 0
        no_base = "no baseline cohort in the pilot window"
        did: str | None = None
        if not pilot_base:
            did = no_base
        elif self.pre_ai.steps <= 0 or self.pre_baseline.steps <= 0:
            missing = AI if self.pre_ai.steps <= 0 else BASELINE
            did = f"the pre-period has no runs labelled {missing} (each arm's own past is needed)"
        return {
            Design.CONCURRENT: None if pilot_ai and pilot_base else no_base,
            Design.BEFORE_AFTER: None
            if pilot_ai and self.pre_all.steps > 0
            else "no runs of this workflow in the pre-period",
            Design.DIFFERENCE_IN_DIFFERENCES: did,
        }


def groups(c: Comparison, pre: MetricSamples) -> Groups:
    """The groups of comparison ``c``'s scope: its pilot cohorts and the pre-period's runs."""
    samples = c.ai.samples
    scope: str | tuple[str, ...] = tuple(p.workflow for p in c.parts) if c.parts else c.workflow
    pilot_scope = None if c.parts else c.workflow
    rates = c.ai.labor_rates
    return Groups(
        pilot_ai=CohortData(samples, AI, pilot_scope),
        pilot_baseline=CohortData(samples, BASELINE, pilot_scope),
        pre_all=CohortData(pre, None, scope, labor_rates=rates),
        pre_ai=CohortData(pre, AI, scope, labor_rates=rates),
        pre_baseline=CohortData(pre, BASELINE, scope, labor_rates=rates),
    )


# --- estimates ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DesignEstimate:
    """One KPI's effect under one design, on one scale, with its fixed (1 - alpha) interval.

    ``absolute`` effects are in the KPI's unit (seconds; a fraction for a proportion, so
    0.02 is +2 pp; per 1,000 for a rate shown so); ``relative`` ones are fractions (-0.31
    is 31 % lower; for difference-in-differences, against the counterfactual).
    """

    kpi: str
    design: Design
    scale: str
    unit: str
    estimate: float | None
    ci: tuple[float, float] | None
    method: str | None
    samples: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """``kpi, design, scale, unit, estimate, ci, interval, method, samples``."""
        from aikpi_collector.plan._json import number

        return {
            "kpi": self.kpi,
            "design": self.design.value,
            "scale": self.scale,
            "unit": self.unit,
            "estimate": number(self.estimate),
            "ci": None if self.ci is None else [number(self.ci[0]), number(self.ci[1])],
            "interval": "fixed",
            "method": self.method,
            "samples": {k: number(v) for k, v in self.samples.items()},
        }


@dataclass(frozen=True)
class DesignSummary:
    """The designs section of one scorecard."""

    pre_period: str
    alpha: float
    used: Design
    """The design of the scorecard's rows and of the plan's verdict."""
    estimates: tuple[DesignEstimate, ...]
    unavailable: dict[Design, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """``period``, ``alpha``, why a design is unavailable, and caveats."""
        return {
            "period": self.pre_period,
            "alpha": self.alpha,
            "unavailable": {d.value: why for d, why in self.unavailable.items()},
            "notes": list(self.notes),
        }


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _level(stats: CohortStats) -> tuple[float, float]:
    """A group's KPI level and the variance of that estimate: ``s^2 / n`` for a mean (exact
    from the sum of squares), ``p (1 - p) / n`` for a proportion, ``lambda / exposure`` for
    a rate (Poisson); ``nan`` without units."""
    from aikpi_collector.plan.stats import MeanStats, ProportionStats

    size = float(stats.size)
    if size <= 0:
        return math.nan, math.nan
    if isinstance(stats, MeanStats):
        return float(stats.mean), float(stats.variance) / size
    if isinstance(stats, ProportionStats):
        p = float(stats.proportion)
        return p, p * (1.0 - p) / size
    rate = float(stats.rate)
    return rate, rate / size


def difference_in_differences(
    ai_pilot: CohortStats,
    ai_pre: CohortStats,
    base_pilot: CohortStats,
    base_pre: CohortStats,
    alpha: float,
) -> tuple[Interval, Interval]:
    """``(A_pilot - A_pre) - (B_pilot - B_pre)`` with a normal-approximation interval, and
    its size relative to the counterfactual ``A_pre + (B_pilot - B_pre)``.

    The four groups are independent samples, so the variance is the sum of their levels'
    variances (:func:`_level`) and the interval ``d +- z(1 - alpha/2) sqrt(V)``. The relative
    effect is ``A_pilot / counterfactual - 1``; its interval is the delta method on the log
    ratio, ``V(log) = V_A_pilot / A_pilot^2 + (V_A_pre + V_B_pilot + V_B_pre) / cf^2``, mapped
    back with ``exp(.) - 1`` (defined when both are positive). Returns two
    :class:`~aikpi_collector.plan.stats.Interval` (absolute, relative); undefined ends are
    ``nan``.
    """
    from scipy.stats import norm

    from aikpi_collector.plan.stats import Interval, IntervalKind

    (a1, va1), (a0, va0) = _level(ai_pilot), _level(ai_pre)
    (b1, vb1), (b0, vb0) = _level(base_pilot), _level(base_pre)
    z = float(norm.ppf(1.0 - alpha / 2.0))
    d = (a1 - a0) - (b1 - b0)
    variance = va1 + va0 + vb1 + vb0
    half = z * math.sqrt(variance) if variance > 0 else math.nan
    absolute = Interval(d, d - half, d + half, IntervalKind.FIXED, "normal-did")
    counterfactual = a0 + (b1 - b0)
    relative_estimate = low = high = math.nan
    if a1 > 0 and counterfactual > 0:
        log_ratio = math.log(a1 / counterfactual)
        relative_estimate = math.expm1(log_ratio)
        log_variance = va1 / a1**2 + (va0 + vb1 + vb0) / counterfactual**2
        if log_variance > 0:
            spread = z * math.sqrt(log_variance)
            low, high = math.expm1(log_ratio - spread), math.expm1(log_ratio + spread)
    relative = Interval(
        relative_estimate, low, high, IntervalKind.FIXED, "delta-log-counterfactual"
    )
    return absolute, relative


def _entry(
    kpi: cat.Kpi, design: Design, scale: str, interval: Interval, samples: dict[str, float]
) -> DesignEstimate:
    factor = kpi.scale if scale == "absolute" else 1.0
    estimate = _finite(interval.estimate)
    ci = None
    if estimate is not None and interval.defined:
        ci = (float(interval.low) * factor, float(interval.high) * factor)
    return DesignEstimate(
        kpi=kpi.name,
        design=design,
        scale=scale,
        unit="relative" if scale == "relative" else kpi.unit.value,
        estimate=None if estimate is None else estimate * factor,
        ci=ci,
        method=interval.method,
        samples=samples,
    )


def _estimates(
    kpi: cat.Kpi, g: Groups, available: Sequence[Design], alpha: float
) -> list[DesignEstimate]:
    from aikpi_collector.plan.stats import Scale, fixed_interval

    out: list[DesignEstimate] = []
    ai = g.pilot_ai.stats(kpi)
    for design in available:
        if design is Design.DIFFERENCE_IN_DIFFERENCES:
            stats = {
                "ai_assisted": ai,
                "baseline": g.pilot_baseline.stats(kpi),
                "ai_assisted_pre": g.pre_ai.stats(kpi),
                "baseline_pre": g.pre_baseline.stats(kpi),
            }
            sizes = {k: float(s.size) for k, s in stats.items()}
            absolute, relative = difference_in_differences(
                stats["ai_assisted"],
                stats["ai_assisted_pre"],
                stats["baseline"],
                stats["baseline_pre"],
                alpha,
            )
            out.append(_entry(kpi, design, "absolute", absolute, sizes))
            out.append(_entry(kpi, design, "relative", relative, sizes))
            continue
        if design is Design.CONCURRENT:
            other, key = g.pilot_baseline.stats(kpi), "baseline"
        else:
            other, key = g.pre_all.stats(kpi), "pre_period"
        sizes = {"ai_assisted": float(ai.size), key: float(other.size)}
        for scale in (Scale.ABSOLUTE, Scale.RELATIVE):
            interval = fixed_interval(ai, other, scale, alpha)
            out.append(_entry(kpi, design, scale.value, interval, sizes))
    return out


def summarize(
    c: Comparison, pre: PrePeriod, kpis: Sequence[str] = HEADLINE_KPIS, alpha: float = 0.05
) -> DesignSummary:
    """Every KPI of ``kpis`` under every design available for ``c``'s scope.

    Only KPIs with a per-unit spread (mean, proportion, rate) are listed: the others have no
    interval under any design.
    """
    g = groups(c, pre.samples)
    status = g.available()
    available = [d for d in Design if status[d] is None]
    judged = (cat.KpiKind.MEAN, cat.KpiKind.PROPORTION, cat.KpiKind.RATE)
    estimates: list[DesignEstimate] = []
    for name in kpis:
        kpi = cat.kpi(name)
        if kpi.kind in judged and not kpi.ai_only:
            estimates += _estimates(kpi, g, available, alpha)
    notes = []
    assisted = g.pre_all.total(cat.Total(cat.ASSISTED_STEPS.name))
    if assisted > 0:
        notes.append(
            f"the pre-period has {assisted:.0f} AI-assisted steps: AI was already in use, so "
            "it is not a clean before (before/after and difference-in-differences understate "
            "the effect)"
        )
    if Design.DIFFERENCE_IN_DIFFERENCES in available:
        notes.append(
            "difference-in-differences assumes parallel trends: without AI, both arms would "
            "have changed by the same amount"
        )
    if Design.BEFORE_AFTER in available:
        notes.append(
            "before/after also measures whatever else changed since the pre-period "
            "(trend, season, staffing, mix of work)"
        )
    return DesignSummary(
        pre_period=pre.label,
        alpha=alpha,
        used=Design(c.design),
        estimates=tuple(estimates),
        unavailable={d: why for d, why in status.items() if why is not None},
        notes=tuple(notes),
    )
