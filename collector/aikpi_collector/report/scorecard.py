"""The scorecard: one block per workflow, one row per KPI, a verdict on each area's headlines.

This is the structure every output format renders (table, JSON, Markdown, chart), so the
numbers a leader reads in a review document are the ones a script reads from JSON. Rows
come from the catalogue (every KPI in its area, in catalogue order), plus quantiles, the
workflow-level values and the error budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aikpi_collector import catalogue as cat
from aikpi_collector.catalogue import Unit
from aikpi_collector.report import verdicts as v
from aikpi_collector.report.kpis import CohortData, Comparison
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


@dataclass(frozen=True)
class Row:
    """One KPI: both cohorts, the delta, and (on an area's headline) the verdict."""

    area: str
    kpi: str
    unit: Unit
    ai: float | None
    baseline: float | None
    verdict: v.Verdict | None = None
    name: str = ""
    """The catalogue name of the KPI (``""`` for quantile and summary rows)."""

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
    undecided: float
    """AI-cohort assisted steps without a human-time observation: undecided, or failed."""
    cycle_time_diff: Interval | None
    acceptance_diff: Interval | None
    min_samples: int
    pooled: bool = False
    """All workflows: ratios are pooled (each run, step, outcome weighs the same) and
    values (net gain, hours saved) are the sums of the workflows' values."""


@dataclass(frozen=True)
class Scorecard:
    """The rows and evidence for one workflow (or all workflows)."""

    workflow: str
    window: str
    rows: list[Row] = field(default_factory=list)
    evidence: Evidence | None = None
    extra: dict[str, object] = field(default_factory=dict)
    """Further sections (e.g. a pilot plan's verdict) for the renderers."""

    def verdicts(self) -> dict[str, v.Verdict]:
        """Area -> verdict of its first headline row."""
        found: dict[str, v.Verdict] = {}
        for row in self.rows:
            if row.verdict is not None:
                found.setdefault(row.area, row.verdict)
        return found


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
    if unit is Unit.PER_1000:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def _kpi_row(c: Comparison, name: str, verdict: v.Verdict | None = None) -> Row:
    kpi = cat.kpi(name)
    return Row(kpi.area, kpi.title, kpi.unit, c.ai.value(kpi), c.baseline.value(kpi), verdict, name)


def _both(
    area: str,
    title: str,
    unit: Unit,
    c: Comparison,
    get: Callable[[CohortData], float | None],
) -> Row:
    return Row(area, title, unit, get(c.ai), get(c.baseline))


def _quantile_rows(c: Comparison, area: str, title: str, metric: cat.Metric) -> list[Row]:
    return [
        _both(
            area,
            f"{title} p{q * 100:.0f}",
            Unit.SECONDS,
            c,
            lambda k, q=q: k.histogram(metric).quantile(q),
        )
        for q in dict(cat.QUANTILES)[metric]
    ]


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
    """Every KPI row of the catalogue for one comparison, with verdicts on the headlines.

    ``window_seconds`` (when the window's length is known) adds the per-hour value.
    """
    t = t or v.Thresholds()
    gain = c.net_gain_usd
    per_hour = gain / (window_seconds / 3600.0) if gain is not None and window_seconds else None
    slo = "SLO per workflow" if c.objective is None else f"SLO {c.objective * 100:g} %"
    rows = [
        _kpi_row(c, "cycle_time", v.kpi_verdict(c, "cycle_time", t)),
        *_quantile_rows(c, "Speed", "cycle time", cat.WORKFLOW_DURATION),
        _kpi_row(c, "step_time"),
        *_quantile_rows(c, "Speed", "step time", cat.STEP_DURATION),
        *_step_rows(c),
        _kpi_row(c, "reopen_rate"),
        _kpi_row(c, "acceptance_rate", v.kpi_verdict(c, "acceptance_rate", t)),
        _kpi_row(c, "override_rate", v.override_verdict(c, t)),
        *(
            _kpi_row(c, name)
            for name in (
                "clean_acceptance_rate",
                "repair_rate",
                "escalation_rate",
                "rejection_rate",
                "step_error_rate",
            )
        ),
        _kpi_row(c, "correction_time_per_step", v.kpi_verdict(c, "correction_time_per_step", t)),
        *_quantile_rows(c, "Rework", "correction time", cat.CORRECTION),
        _both(
            "Rework",
            "correction hours, total",
            Unit.HOURS,
            c,
            lambda k: k.total(cat.Total(cat.CORRECTION.sum_name)) / 3600.0,
        ),
        _kpi_row(c, "cost_per_completed_run", v.kpi_verdict(c, "cost_per_completed_run", t)),
        _kpi_row(c, "token_cost"),
        _kpi_row(c, "cost_per_accepted_outcome"),
        _kpi_row(c, "adoption_rate", v.adoption_verdict(c, t)),
        Row(
            "Adoption",
            "assisted steps without human time (undecided or failed)",
            Unit.COUNT,
            c.ai.undecided_steps,
            None,
        ),
        _kpi_row(c, "completion_rate"),
        _kpi_row(
            c, "policy_violations_per_1000", v.kpi_verdict(c, "policy_violations_per_1000", t)
        ),
        _kpi_row(c, "steps"),
        Row(
            "Value",
            f"net productivity gain ({window})",
            Unit.USD,
            gain,
            None,
            v.value_verdict(c, t),
            cat.VALUES[0].name,
        ),
        Row("Value", "net productivity gain per hour", Unit.USD, per_hour, None),
        _kpi_row(c, "human_time_per_step"),
        *_quantile_rows(c, "Value", "human time per step", cat.HUMAN),
        Row(
            "Value", "human hours saved", Unit.HOURS, c.hours_saved, None, None, cat.VALUES[1].name
        ),
        Row(
            "Error budget",
            f"AI outcome SLI ({slo})",
            Unit.RATIO,
            c.sli,
            None,
            v.error_budget_verdict(c, t),
        ),
        Row("Error budget", "error budget left", Unit.RATIO, c.budget_left, None),
    ]
    evidence = Evidence(
        runs=(c.ai.runs, c.baseline.runs),
        steps=(c.ai.steps, c.baseline.steps),
        outcomes=(c.ai.outcomes, c.baseline.outcomes),
        undecided=c.ai.undecided_steps,
        cycle_time_diff=v.kpi_interval(c, cat.kpi("cycle_time")),
        acceptance_diff=v.kpi_interval(c, cat.kpi("acceptance_rate")),
        min_samples=t.min_samples,
        pooled=bool(c.parts),
    )
    return Scorecard(c.workflow, window, rows, evidence)
