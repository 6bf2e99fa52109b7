"""Verdicts: each headline KPI read together with its paired counter-metric.

A faster cycle time is only good news when rework and reopen rate did not rise; a cheaper
ticket is only good news when completion and quality held. When the samples are too small
or the confidence interval includes zero, the verdict is "not enough evidence" instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aikpi_collector.report.kpis import Comparison
from aikpi_collector.report.stats import Interval, diff_proportions_interval

__all__ = (
    "Level",
    "Thresholds",
    "Verdict",
    "adoption_verdict",
    "cost_verdict",
    "error_budget_verdict",
    "governance_verdict",
    "quality_verdict",
    "relative_change",
    "rework_verdict",
    "speed_verdict",
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
    """Per cohort: workflow runs (speed, cost), outcomes (quality), steps (the rest)."""
    flat_tolerance: float = 0.10
    """A relative change within +-10 % is "flat"."""
    completion_drop: float = 0.05
    """A drop of the completion rate by more than 5 points flags a cheaper-looking ticket."""
    reopen_rise: float = 0.02
    """A rise of the reopen rate by more than 2 points flags a faster-looking closure."""
    budget_warning: float = 0.25
    """Less than this share of the error budget left is a warning."""
    min_acceptance: float = 0.5
    """AI output accepted less often than this is not "used as intended"."""


def relative_change(new: float | None, old: float | None) -> float | None:
    """``new / old - 1``; ``None`` when either is missing or ``old`` is 0."""
    if new is None or old is None or old == 0:
        return None
    return new / old - 1.0


def _pct(change: float) -> str:
    return f"{abs(change) * 100:.0f} %"


def _direction(change: float | None, tolerance: float) -> str:
    if change is None or abs(change) <= tolerance:
        return "flat"
    return "up" if change > 0 else "down"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:+.1f} min"


def _points(value: float) -> str:
    return f"{value * 100:+.1f} pp"


def _too_few(what: str, n_ai: float, n_base: float, t: Thresholds) -> Verdict | None:
    if n_ai < t.min_samples or n_base < t.min_samples:
        return Verdict(
            Level.INSUFFICIENT,
            f"not enough evidence: {n_ai:.0f} AI-assisted vs {n_base:.0f} baseline {what} "
            f"(need {t.min_samples} each)",
        )
    return None


def _ci_text(interval: Interval, fmt) -> str:
    return f"{fmt(interval.estimate)}, 95 % CI [{fmt(interval.low)}, {fmt(interval.high)}]"


def _unclear(what: str, ci: Interval | None, fmt, missing: str) -> Verdict:
    """Not enough evidence: no interval (``missing`` says why), or one that includes 0."""
    if ci is None:
        return Verdict(Level.INSUFFICIENT, f"not enough evidence: {what}: {missing}")
    detail = _ci_text(ci, fmt)
    return Verdict(Level.INSUFFICIENT, f"not enough evidence: {what} {detail} includes 0")


def speed_verdict(c: Comparison, t: Thresholds) -> Verdict:
    """Cycle time, read with rework (correction time per step) and reopen rate."""
    few = _too_few("runs", c.ai.workflow_time.count, c.baseline.workflow_time.count, t)
    if few:
        return few
    ci = c.cycle_time_diff
    if ci is None or ci.includes_zero:
        return _unclear("cycle time", ci, _minutes, "no spread estimate")
    change = relative_change(c.ai.workflow_time.mean, c.baseline.workflow_time.mean) or 0.0
    if ci.estimate > 0:
        return Verdict(Level.WARNING, f"cycle time up {_pct(change)}: warning sign")
    rework = relative_change(c.ai.correction_per_step, c.baseline.correction_per_step)
    if _direction(rework, t.flat_tolerance) == "up":
        return Verdict(
            Level.WARNING,
            f"cycle time down {_pct(change)} but rework up {_pct(rework or 0)}: warning sign",
        )
    reopen_ai, reopen_base = c.ai.reopen_rate or 0.0, c.baseline.reopen_rate or 0.0
    if reopen_ai - reopen_base > t.reopen_rise:
        return Verdict(
            Level.WARNING,
            f"cycle time down {_pct(change)} but reopen rate {_points(reopen_ai - reopen_base)}: "
            "warning sign",
        )
    word = _direction(rework, t.flat_tolerance)
    return Verdict(
        Level.GOOD, f"cycle time down {_pct(change)} with correction time {word}: good signal"
    )


def quality_verdict(c: Comparison, t: Thresholds) -> Verdict:
    """Acceptance rate difference, with its Newcombe interval."""
    few = _too_few("outcomes", c.ai.outcome_count, c.baseline.outcome_count, t)
    if few:
        return few
    ci = c.acceptance_diff
    if ci is None or ci.includes_zero:
        return _unclear("acceptance", ci, _points, "no outcomes")
    if ci.estimate < 0:
        override = c.ai.outcome_rate("overridden") or 0.0
        return Verdict(
            Level.WARNING,
            f"acceptance down {abs(ci.estimate) * 100:.1f} pp "
            f"(override rate {override * 100:.1f} %): warning sign",
        )
    return Verdict(Level.GOOD, f"acceptance up {ci.estimate * 100:.1f} pp: good signal")


def rework_verdict(c: Comparison, t: Thresholds) -> Verdict:
    """Correction time per step, read with cycle time."""
    few = _too_few("steps", c.ai.steps, c.baseline.steps, t)
    if few:
        return few
    rework = relative_change(c.ai.correction_per_step, c.baseline.correction_per_step)
    cycle = relative_change(c.ai.workflow_time.mean, c.baseline.workflow_time.mean)
    rework_dir = _direction(rework, t.flat_tolerance)
    cycle_dir = _direction(cycle, t.flat_tolerance)
    if rework_dir == "up":
        if cycle_dir == "down":
            return Verdict(
                Level.WARNING,
                f"rework up {_pct(rework or 0)} while cycle time down {_pct(cycle or 0)}: "
                "speed bought with rework, warning sign",
            )
        return Verdict(Level.WARNING, f"rework up {_pct(rework or 0)}: warning sign")
    if rework_dir == "down" or cycle_dir == "down":
        rework_text = "flat" if rework_dir == "flat" else f"down {_pct(rework or 0)}"
        cycle_text = "flat" if cycle_dir == "flat" else f"{cycle_dir} {_pct(cycle or 0)}"
        return Verdict(
            Level.GOOD, f"rework {rework_text} with cycle time {cycle_text}: good signal"
        )
    return Verdict(Level.NEUTRAL, "rework flat and cycle time not down: no gain yet")


def cost_verdict(c: Comparison, t: Thresholds) -> Verdict:
    """Cost per completed run (tokens + labour), read with completion and acceptance."""
    few = _too_few("completed runs", c.ai.completed, c.baseline.completed, t)
    if few:
        return few
    change = relative_change(c.ai.cost_per_completed, c.baseline.cost_per_completed)
    if change is None:
        return Verdict(Level.INSUFFICIENT, "not enough evidence: no cost data")
    if _direction(change, t.flat_tolerance) == "up":
        return Verdict(Level.WARNING, f"cost per run up {_pct(change)}: warning sign")
    if _direction(change, t.flat_tolerance) == "flat":
        return Verdict(Level.NEUTRAL, "cost per run flat: no saving yet")
    completion_drop = (c.baseline.completion_rate or 0.0) - (c.ai.completion_rate or 0.0)
    if completion_drop > t.completion_drop:
        return Verdict(
            Level.WARNING,
            f"cost per run down {_pct(change)} only because completion is down "
            f"{completion_drop * 100:.1f} pp: warning sign",
        )
    acceptance = c.acceptance_diff
    if acceptance is not None and not acceptance.includes_zero and acceptance.estimate < 0:
        return Verdict(
            Level.WARNING,
            f"cost per run down {_pct(change)} but acceptance down "
            f"{abs(acceptance.estimate) * 100:.1f} pp: warning sign",
        )
    return Verdict(
        Level.GOOD,
        f"cost per run down {_pct(change)} with completion and quality held: good signal",
    )


def adoption_verdict(c: Comparison, t: Thresholds) -> Verdict:
    """AI share of steps, read with the acceptance of the AI output (used as intended)."""
    if c.ai.outcome_count < t.min_samples:
        return Verdict(
            Level.INSUFFICIENT,
            f"not enough evidence: {c.ai.outcome_count:.0f} AI outcomes (need {t.min_samples})",
        )
    share = c.ai_share or 0.0
    acceptance = c.ai.acceptance_rate or 0.0
    if acceptance < t.min_acceptance:
        return Verdict(
            Level.WARNING,
            f"AI on {share * 100:.0f} % of steps but only {acceptance * 100:.0f} % of its "
            "output used: warning sign",
        )
    completion_drop = (c.baseline.completion_rate or 0.0) - (c.ai.completion_rate or 0.0)
    if completion_drop > t.completion_drop:
        return Verdict(
            Level.WARNING,
            f"AI on {share * 100:.0f} % of steps but completion down "
            f"{completion_drop * 100:.1f} pp: warning sign",
        )
    return Verdict(
        Level.GOOD,
        f"AI on {share * 100:.0f} % of steps, {acceptance * 100:.0f} % of its output used: "
        "used as intended",
    )


def governance_verdict(c: Comparison, t: Thresholds) -> Verdict:
    """Violations per 1,000 steps, read with throughput (steps).

    A higher AI rate is a warning only when the difference of the violation proportions is
    clear of zero (Newcombe interval); a handful of events is noise.
    """
    few = _too_few("steps", c.ai.steps, c.baseline.steps, t)
    if few:
        return few
    ai = c.ai.violations_per_1000 or 0.0
    base = c.baseline.violations_per_1000 or 0.0
    rates = f"{ai:.1f} vs {base:.1f} violations per 1,000 steps"
    if ai <= base:
        return Verdict(Level.GOOD, f"{rates}: good signal")
    diff = diff_proportions_interval(
        min(c.ai.violations, c.ai.steps),
        c.ai.steps,
        min(c.baseline.violations, c.baseline.steps),
        c.baseline.steps,
    )
    if diff is None or diff.includes_zero:
        return Verdict(Level.INSUFFICIENT, f"not enough evidence: {rates}, within noise")
    return Verdict(Level.WARNING, f"{rates}: warning sign")


def error_budget_verdict(c: Comparison, t: Thresholds) -> Verdict:
    """SLI of the AI outcomes against the SLO."""
    if c.ai.sli_eligible < t.min_samples:
        return Verdict(
            Level.INSUFFICIENT,
            f"not enough evidence: {c.ai.sli_eligible:.0f} eligible events (need {t.min_samples})",
        )
    sli, left = c.sli or 0.0, c.budget_left or 0.0
    if left <= 0:
        return Verdict(
            Level.WARNING,
            f"SLI {sli * 100:.1f} % below the {c.slo * 100:g} % SLO: budget exhausted",
        )
    if left < t.budget_warning:
        return Verdict(Level.WARNING, f"only {left * 100:.0f} % of the error budget left")
    return Verdict(Level.GOOD, f"{left * 100:.0f} % of the error budget left: good signal")


def value_verdict(c: Comparison, t: Thresholds) -> Verdict:
    """Net productivity gain, read with the error budget."""
    few = _too_few("steps", c.ai.steps, c.baseline.steps, t)
    if few:
        return few
    gain = c.net_gain_usd
    if gain is None or gain <= 0:
        return Verdict(Level.WARNING, "no net gain: AI cost exceeds the hours saved")
    left = c.budget_left
    if left is not None and left <= 0:
        return Verdict(
            Level.WARNING, f"net gain ${gain:,.0f} but the error budget is exhausted: warning sign"
        )
    return Verdict(Level.GOOD, f"net gain ${gain:,.0f} with error budget left: good signal")
