"""KPI formulas of the design, computed per workflow and cohort from metric samples.

One function turns samples into :class:`CohortKpis` (one experiment arm) and one pairs the
arms into a :class:`Comparison`. The formulas are the design's: acceptance = (accepted +
edited) / outcomes; human time per AI step = review + correction, per baseline step = step
duration; net gain = (human time baseline - human time AI) x AI steps x labour rate - AI cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aikpi.semconv import Cohort, Outcome, WorkflowEvent, WorkflowStatus

from aikpi_collector.report.samples import MetricSamples
from aikpi_collector.report.sources import LABOR_GAUGE
from aikpi_collector.report.stats import (
    Histogram,
    Interval,
    diff_means_interval,
    diff_proportions_interval,
)
from aikpi_collector.slo.spec import SLOSpec

__all__ = (
    "AI",
    "ALL_WORKFLOWS",
    "BASELINE",
    "DEFAULT_LABOR_RATE",
    "CohortKpis",
    "Comparison",
    "NoBaselineError",
    "NoDataError",
    "StepTimes",
    "cohort_kpis",
    "compare",
    "compare_all",
    "workflows_in",
)

AI = Cohort.AI_ASSISTED.value
BASELINE = Cohort.BASELINE.value
ALL_WORKFLOWS = "all workflows"
DEFAULT_LABOR_RATE = 60.0
"""USD per hour used only when the source exposes no ``aikpi_labor_cost_usd_per_hour``."""

_FINISHED = (WorkflowStatus.COMPLETED, WorkflowStatus.ABANDONED, WorkflowStatus.FAILED)
_BAD_OUTCOMES: tuple[Outcome, ...] = SLOSpec.model_fields["bad_outcomes"].default
"""The SLO spec's default bad outcomes (the generated alert rules use the same)."""


class NoDataError(LookupError):
    """The source holds no aikpi step data (empty window, or nothing sent yet)."""


class NoBaselineError(LookupError):
    """A workflow has AI-assisted data but no baseline cohort to compare with."""


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


@dataclass(frozen=True)
class CohortKpis:
    """Every KPI input and result for one cohort (of one workflow, or of all)."""

    cohort: str
    steps: float
    step_errors: float
    outcomes: dict[str, float]
    workflows: dict[str, float]
    step_time: Histogram
    workflow_time: Histogram
    correction: Histogram
    review: Histogram
    token_cost_usd: float
    tokens: float
    violations: float
    human_seconds: float
    """Human time per the design: review + correction (AI), step duration (baseline)."""
    labor_cost_usd: float
    """Human seconds priced at each team's labour rate."""
    labor_rate: float
    """Step-weighted labour rate of this cohort's teams, USD per hour."""

    # --- quality -------------------------------------------------------------------------
    @property
    def outcome_count(self) -> float:
        """All human decisions recorded."""
        return sum(self.outcomes.values())

    def outcome_rate(self, *words: str) -> float | None:
        """Share of decisions that are one of ``words``."""
        return _ratio(sum(self.outcomes.get(w, 0.0) for w in words), self.outcome_count)

    @property
    def accepted_or_edited(self) -> float:
        """Outcomes whose AI output was used (as-is or repaired)."""
        return self.outcomes.get(Outcome.ACCEPTED, 0.0) + self.outcomes.get(Outcome.EDITED, 0.0)

    @property
    def acceptance_rate(self) -> float | None:
        """(accepted + edited) / all outcomes."""
        return self.outcome_rate(Outcome.ACCEPTED, Outcome.EDITED)

    @property
    def error_rate(self) -> float | None:
        """Steps whose code raised, per step."""
        return _ratio(self.step_errors, self.steps)

    # --- speed, adoption -----------------------------------------------------------------
    @property
    def finished(self) -> float:
        """Workflow runs that ended (completed, abandoned or failed)."""
        return sum(self.workflows.get(s, 0.0) for s in _FINISHED)

    @property
    def completed(self) -> float:
        """Workflow runs that completed."""
        return self.workflows.get(WorkflowStatus.COMPLETED, 0.0)

    @property
    def completion_rate(self) -> float | None:
        """Completed / finished runs."""
        return _ratio(self.completed, self.finished)

    @property
    def reopen_rate(self) -> float | None:
        """Reopened / completed runs: the counter-metric to closure speed."""
        return _ratio(self.workflows.get(WorkflowEvent.REOPENED, 0.0), self.completed)

    # --- rework, cost, governance ----------------------------------------------------------
    @property
    def correction_per_step(self) -> float | None:
        """Correction seconds per step: rework that scales with the work done."""
        return _ratio(self.correction.total, self.steps)

    @property
    def correction_hours(self) -> float:
        """Total human correction time, hours."""
        return self.correction.total / 3600.0

    @property
    def human_seconds_per_step(self) -> float | None:
        """Mean human time per step (the value formula's input)."""
        return _ratio(self.human_seconds, self.steps)

    @property
    def cost_per_accepted(self) -> float | None:
        """Token cost per accepted or edited outcome."""
        return _ratio(self.token_cost_usd, self.accepted_or_edited)

    @property
    def cost_per_completed(self) -> float | None:
        """(Token cost + human labour) per completed workflow run."""
        return _ratio(self.token_cost_usd + self.labor_cost_usd, self.completed)

    @property
    def violations_per_1000(self) -> float | None:
        """Policy violations per 1,000 steps."""
        return _ratio(1000.0 * self.violations, self.steps)

    # --- error budget ------------------------------------------------------------------------
    @property
    def sli_eligible(self) -> float:
        """Outcomes plus failed steps."""
        return self.outcome_count + self.step_errors

    @property
    def sli_error_ratio(self) -> float | None:
        """Bad / eligible, capped at 1 (overridden, escalated, rejected, errors, violations)."""
        bad = sum(self.outcomes.get(w, 0.0) for w in _BAD_OUTCOMES)
        bad += self.step_errors + self.violations
        ratio = _ratio(bad, self.sli_eligible)
        return None if ratio is None else min(1.0, ratio)


def _labor_rates(samples: MetricSamples) -> dict[str, float]:
    # without a team label (team dropped from label_keys) the gauge is the default rate
    return {s.labels.get("team", "default"): s.value for s in samples.select(LABOR_GAUGE)}


def _rate(rates: dict[str, float], team: str) -> float:
    return rates.get(team, rates.get("default", DEFAULT_LABOR_RATE))


def cohort_kpis(samples: MetricSamples, cohort: str, workflow: str | None = None) -> CohortKpis:
    """KPIs of ``cohort`` for ``workflow`` (``None``: summed over all workflows)."""
    sel: dict[str, str | tuple[str, ...]] = {"cohort": cohort}
    if workflow is not None:
        sel["workflow"] = workflow
    rates = _labor_rates(samples)
    steps_by_team = samples.by_label("aikpi_steps_total", "team", sel)
    # human time: the step itself in the baseline, review + correction with AI; by team,
    # because each team's time is priced at its own labour rate
    if cohort == BASELINE:
        seconds_by_team = samples.by_label("aikpi_step_duration_seconds_sum", "team", sel)
    else:
        seconds_by_team = samples.by_label("aikpi_review_seconds_sum", "team", sel)
        correction = samples.by_label("aikpi_correction_seconds_sum", "team", sel)
        for team, seconds in correction.items():
            seconds_by_team[team] = seconds_by_team.get(team, 0.0) + seconds
    human_seconds = sum(seconds_by_team.values())
    labor_cost = sum(s / 3600.0 * _rate(rates, t) for t, s in seconds_by_team.items())
    steps = sum(steps_by_team.values())
    if steps > 0:
        labor_rate = sum(n * _rate(rates, t) for t, n in steps_by_team.items()) / steps
    else:
        labor_rate = _rate(rates, "default")
    token_types = samples.by_label("aikpi_tokens_total", "token_type", sel)
    return CohortKpis(
        cohort=cohort,
        steps=steps,
        step_errors=samples.total("aikpi_steps_total", {**sel, "status": "error"}),
        outcomes=samples.by_label("aikpi_outcomes_total", "outcome", sel),
        workflows=samples.by_label("aikpi_workflows_total", "status", sel),
        step_time=samples.histogram("aikpi_step_duration_seconds", sel),
        workflow_time=samples.histogram("aikpi_workflow_duration_seconds", sel),
        correction=samples.histogram("aikpi_correction_seconds", sel),
        review=samples.histogram("aikpi_review_seconds", sel),
        token_cost_usd=samples.total("aikpi_cost_usd_total", sel),
        tokens=sum(token_types.values()),
        violations=samples.total("aikpi_policy_violations_total", sel),
        human_seconds=human_seconds,
        labor_cost_usd=labor_cost,
        labor_rate=labor_rate,
    )


@dataclass(frozen=True)
class StepTimes:
    """Step duration histograms of one step of a workflow, per cohort."""

    step: str
    ai: Histogram
    baseline: Histogram


@dataclass(frozen=True)
class Comparison:
    """AI-assisted vs baseline for one workflow (or all), with the evidence for the deltas."""

    workflow: str
    ai: CohortKpis
    baseline: CohortKpis
    slo: float = 0.95
    steps: tuple[StepTimes, ...] = ()
    """Per-step durations, for workflows with more than one step."""
    cycle_time_diff: Interval | None = field(init=False)
    """AI minus baseline mean workflow cycle time, seconds, 95 % CI."""
    acceptance_diff: Interval | None = field(init=False)
    """AI minus baseline acceptance rate, 95 % CI (Newcombe)."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "cycle_time_diff",
            diff_means_interval(self.ai.workflow_time, self.baseline.workflow_time),
        )
        object.__setattr__(
            self,
            "acceptance_diff",
            diff_proportions_interval(
                self.ai.accepted_or_edited,
                self.ai.outcome_count,
                self.baseline.accepted_or_edited,
                self.baseline.outcome_count,
            ),
        )

    @property
    def ai_share(self) -> float | None:
        """AI-assisted steps / all steps."""
        return _ratio(self.ai.steps, self.ai.steps + self.baseline.steps)

    @property
    def net_gain_usd(self) -> float | None:
        """Net productivity gain over the window, USD (design formula)."""
        hours = self.hours_saved
        if hours is None:
            return None
        return hours * self.ai.labor_rate - self.ai.token_cost_usd

    @property
    def hours_saved(self) -> float | None:
        """Human hours saved by the AI-assisted steps over the window."""
        base = self.baseline.human_seconds_per_step
        ai = self.ai.human_seconds_per_step
        if base is None or ai is None:
            return None
        return (base - ai) * self.ai.steps / 3600.0

    @property
    def sli(self) -> float | None:
        """Good / eligible of the AI cohort."""
        ratio = self.ai.sli_error_ratio
        return None if ratio is None else 1.0 - ratio

    @property
    def budget_left(self) -> float | None:
        """Share of the error budget left (1 = untouched, <= 0 = exhausted)."""
        ratio = self.ai.sli_error_ratio
        return None if ratio is None else 1.0 - ratio / (1.0 - self.slo)


def workflows_in(samples: MetricSamples) -> dict[str, set[str]]:
    """Workflow name -> cohorts that have steps in it."""
    found: dict[str, set[str]] = {}
    for sample in samples.select("aikpi_steps_total"):
        if sample.value <= 0:
            continue
        found.setdefault(sample.labels.get("workflow", ""), set()).add(
            sample.labels.get("cohort", "")
        )
    return found


def compare(samples: MetricSamples, workflow: str | None, slo: float = 0.95) -> Comparison:
    """Comparison of the two cohorts for ``workflow`` (``None``: all workflows)."""
    steps: list[StepTimes] = []
    if workflow is not None:
        names = samples.label_values("aikpi_steps_total", "step", {"workflow": workflow})
        if len(names) > 1:
            for name in sorted(names):
                sel = {"workflow": workflow, "step": name}
                steps.append(
                    StepTimes(
                        name,
                        samples.histogram("aikpi_step_duration_seconds", {**sel, "cohort": AI}),
                        samples.histogram(
                            "aikpi_step_duration_seconds", {**sel, "cohort": BASELINE}
                        ),
                    )
                )
    return Comparison(
        workflow=workflow if workflow is not None else ALL_WORKFLOWS,
        ai=cohort_kpis(samples, AI, workflow),
        baseline=cohort_kpis(samples, BASELINE, workflow),
        slo=slo,
        steps=tuple(steps),
    )


def compare_all(
    samples: MetricSamples,
    workflow: str | None = None,
    slo: float = 0.95,
    *,
    skip_incomplete: bool = False,
) -> list[Comparison]:
    """One comparison per workflow (then all workflows together, when more than one).

    Raises :class:`NoDataError` when there are no steps at all (or none for ``workflow``)
    and :class:`NoBaselineError` when a selected workflow lacks either cohort (with
    ``skip_incomplete``, such workflows are left out instead, unless none is left).
    """
    found = workflows_in(samples)
    total_workflows = len(found)
    if not found:
        raise NoDataError("no aikpi step data in the source (empty window, or nothing sent yet)")
    if workflow is not None:
        if workflow not in found:
            known = ", ".join(sorted(found)) or "none"
            raise NoDataError(f"no data for workflow {workflow!r}; workflows with data: {known}")
        found = {workflow: found[workflow]}
    lacking = sorted(w for w, cohorts in found.items() if not {AI, BASELINE} <= cohorts)
    if lacking and skip_incomplete and len(lacking) < len(found):
        found = {w: c for w, c in found.items() if w not in lacking}
        lacking = []
    if lacking:
        complete = sorted(w for w, cohorts in found.items() if {AI, BASELINE} <= cohorts)
        hint = f"; workflows with both cohorts: {', '.join(complete)}" if complete else ""
        raise NoBaselineError(
            f"workflow(s) {', '.join(lacking)} lack an AI-assisted or a baseline cohort, "
            f"so there is nothing to compare (pick one with --workflow){hint}"
        )
    comparisons = [compare(samples, name, slo) for name in sorted(found)]
    if len(comparisons) > 1 and len(found) == total_workflows:
        comparisons.append(compare(samples, None, slo))
    return comparisons
