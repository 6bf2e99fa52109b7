"""Verdicts: each headline KPI read together with every counter-metric the design pairs with it.

A faster cycle time is only good news when rework and reopen rate did not rise; a cheaper
run is only good news when acceptance, clean acceptance, override, reopen and completion
held. Which counter-metrics belong to which KPI is catalogue data (``Kpi.counter_metrics``);
every verdict names the ones it checked. When the samples are too small or the confidence
interval includes zero, the verdict is "not enough evidence" instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from statsmodels.stats.proportion import proportion_confint

from aikpi_collector import catalogue as cat
from aikpi_collector.plan.stats import Scale, fixed_interval
from aikpi_collector.report.kpis import Comparison
from aikpi_collector.report.stats import Interval

__all__ = (
    "Level",
    "Thresholds",
    "Verdict",
    "change_text",
    "counter_worse",
    "error_budget_verdict",
    "kpi_interval",
    "kpi_verdict",
    "override_verdict",
    "relative_change",
    "value_verdict",
)


class Level(StrEnum):
    """How a pilot review should read one area."""

    GOOD = "good"
    WARNING = "warning"
    NEUTRAL = "neutral"
    INSUFFICIENT = "not_enough_evidence"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A level and the sentence that explains it."""

    level: Level
    text: str


@dataclass(frozen=True, slots=True)
class Thresholds:
    """What counts as enough data, and as a change."""

    min_samples: int = 30
    """Per cohort, in the KPI's own units (runs, steps or outcomes)."""
    flat_tolerance: float = 0.10
    """A relative change within +-10 % is "flat"."""
    points_tolerance: float = 0.02
    """A ratio (acceptance, reopen, ...) moving by at most 2 points is "flat"."""
    budget_warning: float = 0.25
    """Less than this share of the error budget left is a warning."""
    min_acceptance: float = 0.5
    """AI output accepted less often than this is not "used as intended"."""
    max_override: float = 0.05
    """An AI override rate above this is a warning (a baseline cannot override itself)."""


def relative_change(new: float | None, old: float | None) -> float | None:
    """``new / old - 1``; ``None`` when either is missing or ``old`` is 0."""
    if new is None or old is None or old == 0:
        return None
    return new / old - 1.0


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def change_text(kpi: cat.Kpi, ai: float, baseline: float) -> str:
    """``up 12 %`` or ``-3.1 pp``: points for ratios, relative for everything else."""
    if kpi.unit is cat.Unit.RATIO:
        return f"{(ai - baseline) * 100:+.1f} pp"
    change = relative_change(ai, baseline)
    if change is None:
        return f"{ai:.3g} vs {baseline:.3g}"
    return f"{'up' if change > 0 else 'down'} {abs(change) * 100:.0f} %"


def _worse_by(kpi: cat.Kpi, ai: float, baseline: float, t: Thresholds) -> bool:
    """AI worse than baseline by more than the tolerance (points for ratios)."""
    sign = 1.0 if kpi.better is cat.Better.LOWER else -1.0
    if kpi.unit is cat.Unit.RATIO:
        return sign * (ai - baseline) > t.points_tolerance
    change = relative_change(ai, baseline)
    if change is None:
        return sign * (ai - baseline) > 0
    return sign * change > t.flat_tolerance


def counter_worse(c: Comparison, name: str, t: Thresholds) -> str | None:
    """How the counter-metric ``name`` got worse (``"reopen rate +5.8 pp"``), else ``None``.

    An AI-only KPI (no baseline value) is held against an absolute limit instead.
    """
    kpi = cat.kpi(name)
    ai = c.ai.value(kpi)
    if ai is None:
        return None
    if kpi.ai_only:
        if name == "override_rate" and ai > t.max_override:
            return f"{kpi.title} {_pct(ai)} (limit {_pct(t.max_override)})"
        if name == "adoption_rate" and ai < t.min_acceptance:
            return f"{kpi.title} {_pct(ai)}"
        return None
    baseline = c.baseline.value(kpi)
    if baseline is None or not _worse_by(kpi, ai, baseline, t):
        return None
    return f"{kpi.title} {change_text(kpi, ai, baseline)}"


def kpi_interval(c: Comparison, kpi: cat.Kpi, alpha: float = 0.05) -> Interval | None:
    """(1 - alpha) CI of AI - baseline of a MEAN, PROPORTION or RATE KPI in the KPI's unit,
    from the pilot plans' statistics (Welch on exact moments, Newcombe, Poisson score);
    ``None`` for a ratio of totals (no per-unit spread) or when no interval exists."""
    if kpi.kind not in (cat.KpiKind.MEAN, cat.KpiKind.PROPORTION, cat.KpiKind.RATE):
        return None
    found = fixed_interval(c.ai.stats(kpi), c.baseline.stats(kpi), Scale.ABSOLUTE, alpha)
    if not found.defined:
        return None
    s = kpi.scale
    return Interval(float(found.estimate) * s, float(found.low) * s, float(found.high) * s)


def _format(kpi: cat.Kpi, value: float) -> str:
    if kpi.unit is cat.Unit.RATIO:
        return f"{value * 100:+.1f} pp"
    if kpi.unit is cat.Unit.SECONDS:
        return f"{value / 60:+.1f} min"
    if kpi.unit is cat.Unit.USD:
        return f"{value:+,.2f} USD"
    return f"{value:+.1f}"


def _interval_text(kpi: cat.Kpi, ci: Interval) -> str:
    return f"{_format(kpi, ci.estimate)}, 95 % CI [{_format(kpi, ci.low)}, {_format(kpi, ci.high)}]"


def _too_few(
    kpi: cat.Kpi, c: Comparison, t: Thresholds, *, ai_only: bool = False
) -> Verdict | None:
    n_ai, n_base = c.ai.units(kpi), c.baseline.units(kpi)
    if n_ai < t.min_samples or (not ai_only and n_base < t.min_samples):
        have = f"{n_ai:.0f}" if ai_only else f"{n_ai:.0f} AI-assisted vs {n_base:.0f} baseline"
        return Verdict(
            Level.INSUFFICIENT,
            f"not enough evidence: {have} for {kpi.title} (need {t.min_samples} each)",
        )
    return None


def _checked(names: tuple[str, ...]) -> str:
    return "checked: " + ", ".join(cat.kpi(n).title for n in names)


def kpi_verdict(c: Comparison, name: str, t: Thresholds) -> Verdict:
    """A headline KPI's verdict: its change AI vs baseline (with its interval where the KPI
    has one), then every paired counter-metric."""
    kpi = cat.kpi(name)
    few = _too_few(kpi, c, t)
    if few:
        return few
    ai, baseline = c.ai.value(kpi), c.baseline.value(kpi)
    if ai is None or baseline is None:
        return Verdict(Level.INSUFFICIENT, f"not enough evidence: no {kpi.title} in a cohort")
    ci = kpi_interval(c, kpi)
    if ci is not None and ci.includes_zero:
        return Verdict(
            Level.INSUFFICIENT,
            f"not enough evidence: {kpi.title} {_interval_text(kpi, ci)} includes 0",
        )
    change = change_text(kpi, ai, baseline)
    checked = _checked(kpi.counter_metrics)
    if _worse_by(kpi, ai, baseline, t) or (
        ci is not None and (ci.estimate > 0) == (kpi.better is cat.Better.LOWER)
    ):
        return Verdict(Level.WARNING, f"{kpi.title} {change}: warning sign")
    if ci is None and not _worse_by(
        kpi, baseline, ai, t
    ):  # a ratio of totals without interval: a small change is no change
        return Verdict(Level.NEUTRAL, f"{kpi.title} flat ({change}): no change yet")
    worse = [found for n in kpi.counter_metrics if (found := counter_worse(c, n, t))]
    if worse:
        return Verdict(
            Level.WARNING,
            f"{kpi.title} {change} but {', '.join(worse)}: warning sign ({checked})",
        )
    return Verdict(
        Level.GOOD, f"{kpi.title} {change}, counter-metrics held: good signal ({checked})"
    )


def override_verdict(c: Comparison, t: Thresholds) -> Verdict:
    """The AI override rate against its limit (a baseline has no AI output to override)."""
    kpi = cat.kpi("override_rate")
    few = _too_few(kpi, c, t, ai_only=True)
    if few:
        return few
    stats = c.ai.stats(kpi)
    low, high = proportion_confint(stats.successes, stats.n, alpha=0.05, method="wilson")
    ci = Interval(float(stats.proportion), float(low), float(high))
    text = f"{kpi.title} {_pct(ci.estimate)}, 95 % CI [{_pct(ci.low)}, {_pct(ci.high)}]"
    if ci.low > t.max_override:
        return Verdict(
            Level.WARNING, f"{text} above the {_pct(t.max_override)} limit: warning sign"
        )
    if ci.high <= t.max_override:
        return Verdict(Level.GOOD, f"{text} within the {_pct(t.max_override)} limit: good signal")
    return Verdict(
        Level.INSUFFICIENT,
        f"not enough evidence: {text} includes the {_pct(t.max_override)} limit",
    )


def adoption_verdict(c: Comparison, t: Thresholds) -> Verdict:
    """AI used on the AI cohort's steps (as intended), read with acceptance and completion."""
    kpi = cat.kpi("adoption_rate")
    few = _too_few(cat.kpi("acceptance_rate"), c, t, ai_only=True)
    if few:
        return few
    share = c.ai.value(kpi) or 0.0
    acceptance = c.ai.value("acceptance_rate") or 0.0
    checked = _checked(kpi.counter_metrics)
    worse = [found for n in kpi.counter_metrics if (found := counter_worse(c, n, t))]
    if acceptance < t.min_acceptance:
        worse.insert(0, f"only {_pct(acceptance)} of its output used")
    if worse:
        return Verdict(
            Level.WARNING,
            f"AI used on {_pct(share)} of AI-cohort steps but {', '.join(worse)}: "
            f"warning sign ({checked})",
        )
    return Verdict(
        Level.GOOD,
        f"AI used on {_pct(share)} of AI-cohort steps, {_pct(acceptance)} of its output used: "
        f"used as intended ({checked})",
    )


def error_budget_verdict(c: Comparison, t: Thresholds) -> Verdict:
    """SLI of the AI outcomes against the workflow's SLO (from the SLO spec)."""
    eligible = c.cohort(c.spec.cohort).sli_eligible(c.spec)
    if c.objective is None:
        return Verdict(Level.NEUTRAL, "one objective per workflow: see each workflow")
    if c.sli is None or eligible < t.min_samples:
        return Verdict(
            Level.INSUFFICIENT,
            f"not enough evidence: {eligible:.0f} eligible events (need {t.min_samples})",
        )
    sli, left = c.sli, c.budget_left or 0.0
    if left <= 0:
        return Verdict(
            Level.WARNING,
            f"SLI {_pct(sli)} below the {c.objective * 100:g} % SLO: budget exhausted",
        )
    if left < t.budget_warning:
        return Verdict(Level.WARNING, f"only {left * 100:.0f} % of the error budget left")
    return Verdict(Level.GOOD, f"{left * 100:.0f} % of the error budget left: good signal")


def value_verdict(c: Comparison, t: Thresholds) -> Verdict:
    """Net productivity gain, read with the error budget of each workflow."""
    few = _too_few(cat.kpi("human_time_per_step"), c, t)
    if few:
        return few
    gain = c.net_gain_usd
    if gain is None or gain <= 0:
        return Verdict(Level.WARNING, "no net gain: AI cost exceeds the hours saved")
    parts = c.parts or (c,)
    exhausted = [p.workflow for p in parts if p.budget_left is not None and p.budget_left <= 0]
    if exhausted:
        return Verdict(
            Level.WARNING,
            f"net gain ${gain:,.0f} but the error budget of {', '.join(exhausted)} is "
            "exhausted: warning sign (checked: error budget)",
        )
    return Verdict(
        Level.GOOD,
        f"net gain ${gain:,.0f} with error budget left: good signal (checked: error budget)",
    )
