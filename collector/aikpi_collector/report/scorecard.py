"""The scorecard: one block per workflow, one row per KPI, a verdict on each area's headline.

This is the structure every output format renders (table, JSON, Markdown, chart), so the
numbers a leader reads in a review document are the ones a script reads from JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from aikpi_collector.report import verdicts as v
from aikpi_collector.report.kpis import CohortKpis, Comparison
from aikpi_collector.report.stats import Interval

__all__ = ("AREAS", "Evidence", "Row", "Scorecard", "Unit", "build_scorecard", "format_value")

AREAS = (
    "Speed",
    "Quality",
    "Rework",
    "Cost",
    "Adoption",
    "Governance",
    "Value",
    "Error budget",
)


class Unit(StrEnum):
    """How a value is shown and how its delta is taken."""

    SECONDS = "seconds"
    RATIO = "ratio"
    USD = "usd"
    HOURS = "hours"
    COUNT = "count"
    RATE = "per_1000"


@dataclass(frozen=True)
class Row:
    """One KPI: both cohorts, the delta, and (on an area's headline) the verdict."""

    area: str
    kpi: str
    unit: Unit
    ai: float | None
    baseline: float | None
    verdict: v.Verdict | None = None

    @property
    def delta(self) -> float | None:
        """Points for ratios (AI - baseline), relative change for everything else."""
        if self.ai is None or self.baseline is None:
            return None
        if self.unit is Unit.RATIO:
            return self.ai - self.baseline
        return v.relative_change(self.ai, self.baseline)

    @property
    def delta_text(self) -> str:
        """The delta as a reader sees it: ``-38 %`` or ``+2.1 pp``."""
        delta = self.delta
        if delta is None:
            return "-"
        if self.unit is Unit.RATIO:
            return f"{delta * 100:+.1f} pp"
        return f"{delta * 100:+.0f} %"


@dataclass(frozen=True)
class Evidence:
    """Sample sizes per cohort and the intervals behind the speed and quality verdicts."""

    runs: tuple[float, float]
    steps: tuple[float, float]
    outcomes: tuple[float, float]
    cycle_time_diff: Interval | None
    acceptance_diff: Interval | None
    min_samples: int


@dataclass(frozen=True)
class Scorecard:
    """The rows and evidence for one workflow (or all workflows)."""

    workflow: str
    window: str
    rows: list[Row] = field(default_factory=list)
    evidence: Evidence | None = None

    def verdicts(self) -> dict[str, v.Verdict]:
        """Area -> verdict of its headline row."""
        return {row.area: row.verdict for row in self.rows if row.verdict is not None}


def format_value(value: float | None, unit: Unit) -> str:
    """Human-readable value: durations in s/min/h/d, ratios in %, money in USD."""
    if value is None:
        return "-"
    if unit is Unit.SECONDS:
        if abs(value) < 90:
            return f"{value:.1f} s"
        if abs(value) < 90 * 60:
            return f"{value / 60:.1f} min"
        if abs(value) < 48 * 3600:
            return f"{value / 3600:.1f} h"
        return f"{value / 86400:.1f} d"
    if unit is Unit.RATIO:
        return f"{value * 100:.1f} %"
    if unit is Unit.USD:
        if abs(value) < 1:
            return f"${value:.4f}"
        return f"${value:,.2f}" if abs(value) < 100 else f"${value:,.0f}"
    if unit is Unit.HOURS:
        return f"{value:,.1f} h"
    if unit is Unit.RATE:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def _both(
    area: str,
    kpi: str,
    unit: Unit,
    c: Comparison,
    get: Callable[[CohortKpis], float | None],
    verdict: v.Verdict | None = None,
) -> Row:
    return Row(area, kpi, unit, get(c.ai), get(c.baseline), verdict)


def _step_rows(c: Comparison) -> list[Row]:
    rows = []
    for times in c.steps:
        for q in (0.5, 0.9):
            rows.append(
                Row(
                    "Speed",
                    f"step {times.step} p{q * 100:.0f}",
                    Unit.SECONDS,
                    times.ai.quantile(q),
                    times.baseline.quantile(q),
                )
            )
    return rows


def build_scorecard(
    c: Comparison,
    window: str,
    t: v.Thresholds | None = None,
    window_seconds: float | None = None,
) -> Scorecard:
    """Every KPI row of the design for one comparison, with verdicts on the headlines.

    ``window_seconds`` (when the window's length is known) adds the design's per-hour value.
    """
    t = t or v.Thresholds()
    gain = c.net_gain_usd
    per_hour = gain / (window_seconds / 3600.0) if gain is not None and window_seconds else None
    rows = [
        _both(
            "Speed",
            "cycle time, mean (run)",
            Unit.SECONDS,
            c,
            lambda k: k.workflow_time.mean,
            v.speed_verdict(c, t),
        ),
        _both(
            "Speed",
            "cycle time p50 (run)",
            Unit.SECONDS,
            c,
            lambda k: k.workflow_time.quantile(0.5),
        ),
        _both(
            "Speed",
            "cycle time p90 (run)",
            Unit.SECONDS,
            c,
            lambda k: k.workflow_time.quantile(0.9),
        ),
        _both("Speed", "step time p50", Unit.SECONDS, c, lambda k: k.step_time.quantile(0.5)),
        _both("Speed", "step time p90", Unit.SECONDS, c, lambda k: k.step_time.quantile(0.9)),
        *_step_rows(c),
        _both("Speed", "reopen rate", Unit.RATIO, c, lambda k: k.reopen_rate),
        _both(
            "Quality",
            "acceptance rate",
            Unit.RATIO,
            c,
            lambda k: k.acceptance_rate,
            v.quality_verdict(c, t),
        ),
        _both("Quality", "clean acceptance", Unit.RATIO, c, lambda k: k.outcome_rate("accepted")),
        _both("Quality", "override rate", Unit.RATIO, c, lambda k: k.outcome_rate("overridden")),
        _both("Quality", "repair (edit) rate", Unit.RATIO, c, lambda k: k.outcome_rate("edited")),
        _both("Quality", "escalation rate", Unit.RATIO, c, lambda k: k.outcome_rate("escalated")),
        _both("Quality", "rejection rate", Unit.RATIO, c, lambda k: k.outcome_rate("rejected")),
        _both("Quality", "error rate", Unit.RATIO, c, lambda k: k.error_rate),
        _both(
            "Rework",
            "correction time per step",
            Unit.SECONDS,
            c,
            lambda k: k.correction_per_step,
            v.rework_verdict(c, t),
        ),
        _both("Rework", "correction time, mean", Unit.SECONDS, c, lambda k: k.correction.mean),
        _both(
            "Rework", "correction time p50", Unit.SECONDS, c, lambda k: k.correction.quantile(0.5)
        ),
        _both(
            "Rework", "correction time p90", Unit.SECONDS, c, lambda k: k.correction.quantile(0.9)
        ),
        _both("Rework", "correction hours, total", Unit.HOURS, c, lambda k: k.correction_hours),
        _both(
            "Cost",
            "cost per completed run (AI + labour)",
            Unit.USD,
            c,
            lambda k: k.cost_per_completed,
            v.cost_verdict(c, t),
        ),
        _both("Cost", "token cost, total", Unit.USD, c, lambda k: k.token_cost_usd),
        _both(
            "Cost", "token cost per accepted outcome", Unit.USD, c, lambda k: k.cost_per_accepted
        ),
        Row(
            "Adoption", "AI share of steps", Unit.RATIO, c.ai_share, None, v.adoption_verdict(c, t)
        ),
        _both("Adoption", "run completion rate", Unit.RATIO, c, lambda k: k.completion_rate),
        _both(
            "Governance",
            "policy violations per 1,000 steps",
            Unit.RATE,
            c,
            lambda k: k.violations_per_1000,
            v.governance_verdict(c, t),
        ),
        _both("Governance", "steps (throughput)", Unit.COUNT, c, lambda k: k.steps),
        Row(
            "Value",
            f"net productivity gain ({window})",
            Unit.USD,
            c.net_gain_usd,
            None,
            v.value_verdict(c, t),
        ),
        Row("Value", "net productivity gain per hour", Unit.USD, per_hour, None),
        _both("Value", "human time per step", Unit.SECONDS, c, lambda k: k.human_seconds_per_step),
        Row("Value", "human hours saved", Unit.HOURS, c.hours_saved, None),
        Row(
            "Error budget",
            f"AI outcome SLI (SLO {c.slo * 100:g} %)",
            Unit.RATIO,
            c.sli,
            None,
            v.error_budget_verdict(c, t),
        ),
        Row("Error budget", "error budget left", Unit.RATIO, c.budget_left, None),
    ]
    evidence = Evidence(
        runs=(c.ai.workflow_time.count, c.baseline.workflow_time.count),
        steps=(c.ai.steps, c.baseline.steps),
        outcomes=(c.ai.outcome_count, c.baseline.outcome_count),
        cycle_time_diff=c.cycle_time_diff,
        acceptance_diff=c.acceptance_diff,
        min_samples=t.min_samples,
    )
    return Scorecard(c.workflow, window, rows, evidence)
