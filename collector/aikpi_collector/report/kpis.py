"""The catalogue's KPI formulas evaluated on metric samples, per workflow and cohort.

Nothing here defines a formula: every KPI, term and value expression comes from
:mod:`aikpi_collector.catalogue`, which also renders the recording rules, so the report and
Prometheus compute the same numbers. :class:`CohortData` evaluates one experiment arm;
:class:`Comparison` pairs the arms of one workflow. The "all workflows" comparison pools the
arms' counts (every run, step and outcome weighs the same, so a ratio is volume-weighted)
and adds the workflows' values (net gain, hours saved), so it equals their sum.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from aikpi_collector import catalogue as cat
from aikpi_collector.plan.stats import CohortStats, cohort_stats
from aikpi_collector.report.samples import MetricSamples, Selector
from aikpi_collector.report.stats import Histogram
from aikpi_collector.slo.spec import SLOSpec

__all__ = (
    "AI",
    "ALL_WORKFLOWS",
    "BASELINE",
    "DEFAULT_LABOR_RATE",
    "CohortData",
    "Comparison",
    "NoBaselineError",
    "NoDataError",
    "StepTimes",
    "compare",
    "compare_all",
    "select_workflows",
    "step_times",
    "workflows_in",
)

AI = cat.AI
BASELINE = cat.BASELINE
ALL_WORKFLOWS = "all workflows"
DEFAULT_LABOR_RATE = 60.0
"""USD per hour used only when the source exposes no ``aikpi_labor_cost_usd_per_hour``."""


class NoDataError(LookupError):
    """The source holds no aikpi step data (empty window, or nothing sent yet)."""


class NoBaselineError(LookupError):
    """A workflow has AI-assisted data but no baseline cohort to compare with."""


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def _labor_rates(samples: MetricSamples) -> dict[str, float]:
    # without a team label (team dropped from label_keys) the gauge is the default rate
    return {s.labels.get("team", "default"): s.value for s in samples.select(cat.LABOR_RATE.name)}


class CohortData:
    """One cohort of one workflow (``workflow=None``: of every workflow), and its KPIs.

    ``cohort=None`` takes every run whatever its cohort label: a pre-pilot window, where
    nobody used AI yet, is one population (before/after). ``workflow`` may name several
    workflows (pooled). ``labor_rates`` prices labour at other rates than ``samples`` hold
    (a pre-period priced at the pilot's rates, so a rate change is not a cost change).
    """

    def __init__(
        self,
        samples: MetricSamples,
        cohort: str | None,
        workflow: str | tuple[str, ...] | None = None,
        *,
        labor_rates: Mapping[str, float] | None = None,
    ) -> None:
        self.samples = samples
        self.cohort = cohort
        self.selector: dict[str, str | tuple[str, ...]] = {}
        if cohort is not None:
            self.selector["cohort"] = cohort
        if workflow is not None:
            self.selector["workflow"] = workflow
        self._rates = dict(labor_rates) if labor_rates is not None else _labor_rates(samples)

    @property
    def labor_rates(self) -> dict[str, float]:
        """Team -> USD per hour this cohort's labour is priced at."""
        return dict(self._rates)

    # --- terms -------------------------------------------------------------------------

    def _select(self, term: cat.Total) -> Selector:
        return {**self.selector, **dict(term.where)}

    def total(self, term: cat.Term) -> float:
        """A catalogue term summed over this cohort (labour costs priced per team)."""
        if isinstance(term, cat.LabourCost):
            seconds = self.samples.by_label(term.seconds.sample, "team", self._select(term.seconds))
            return sum(s / 3600.0 * self.labor_rate(team) for team, s in seconds.items())
        return self.samples.total(term.sample, self._select(term))

    def labor_rate(self, team: str) -> float:
        """USD per hour of ``team``'s human time (the default rate for unlisted teams)."""
        rates = self._rates
        return rates.get(team, rates.get("default", DEFAULT_LABOR_RATE))

    # --- KPIs --------------------------------------------------------------------------

    def value(self, kpi: cat.Kpi | str) -> float | None:
        """The KPI's value; ``None`` when its denominator is 0 (or it is AI-only here)."""
        kpi = cat.kpi(kpi) if isinstance(kpi, str) else kpi
        if kpi.ai_only and self.cohort != AI:
            return None
        numerator = sum(self.total(t) for t in kpi.numerator)
        if kpi.kind is cat.KpiKind.TOTAL:
            return numerator * kpi.scale
        ratio = _ratio(numerator, sum(self.total(t) for t in kpi.denominator))
        return None if ratio is None else ratio * kpi.scale

    def units(self, kpi: cat.Kpi | str) -> float:
        """How many units the KPI averages over (its denominator): its sample size."""
        kpi = cat.kpi(kpi) if isinstance(kpi, str) else kpi
        return sum(self.total(t) for t in kpi.denominator)

    def stats(self, kpi: cat.Kpi | str) -> CohortStats:
        """The KPI's sufficient statistics in this cohort, for intervals and sample sizes: a
        MEAN's count, sum and sum of squares (exact variance), a PROPORTION's successes and
        trials, a RATE's events and exposure (``ValueError`` for the others)."""
        kpi = cat.kpi(kpi) if isinstance(kpi, str) else kpi
        numerator = sum(self.total(t) for t in kpi.numerator)
        squares = None if kpi.squares is None else self.total(kpi.squares)
        return cohort_stats(kpi.kind, numerator, self.units(kpi), squares)

    def histogram(self, metric: cat.Metric, **where: str) -> Histogram:
        """A histogram summed over this cohort's series (for quantiles)."""
        return self.samples.histogram(metric.name, {**self.selector, **where})

    @property
    def steps(self) -> float:
        """Finished steps."""
        return self.total(cat.ALL_STEPS)

    @property
    def undecided_steps(self) -> float:
        """Steps without a human-time observation: assisted steps whose outcome has not
        arrived (or never will: the step raised)."""
        observed = self.total(cat.Total(cat.HUMAN.count_name))
        return max(0.0, self.steps - observed)

    @property
    def runs(self) -> float:
        """Workflow runs that ended."""
        return self.total(cat.FINISHED_RUNS)

    @property
    def outcomes(self) -> float:
        """Human decisions recorded."""
        return self.total(cat.ALL_OUTCOMES)

    # --- error budget ------------------------------------------------------------------

    def sli_error_ratio(self, spec: SLOSpec) -> float | None:
        """Bad / eligible per the SLO spec, capped at 1 (what the SLO rules compute)."""
        bad_terms, eligible_terms = spec.sli_terms()
        bad = sum(self.total(t) for t in bad_terms)
        ratio = _ratio(bad, sum(self.total(t) for t in eligible_terms))
        return None if ratio is None else min(1.0, ratio)

    def sli_eligible(self, spec: SLOSpec) -> float:
        """Eligible events of the SLI."""
        return sum(self.total(t) for t in spec.sli_terms()[1])


@dataclass(frozen=True)
class StepTimes:
    """Step duration histograms of one step of a workflow, per cohort."""

    step: str
    ai: Histogram
    baseline: Histogram


@dataclass(frozen=True)
class Comparison:
    """AI-assisted vs baseline for one workflow (or all: then ``parts`` are the workflows)."""

    workflow: str
    ai: CohortData
    baseline: CohortData
    spec: SLOSpec = field(default_factory=SLOSpec)
    steps: tuple[StepTimes, ...] = ()
    """Per-step durations, for workflows with more than one step."""
    parts: tuple[Comparison, ...] = ()
    """The per-workflow comparisons an "all workflows" comparison adds up."""
    design: str = "concurrent"
    """What ``baseline`` is: the concurrent baseline cohort (``concurrent``), or every run of
    a pre-pilot window (``before_after``, see :mod:`aikpi_collector.report.designs`)."""

    def cohort(self, name: str) -> CohortData:
        """The data of cohort ``name``."""
        return self.ai if name == AI else self.baseline

    def evaluate(self, expr: cat.Expr) -> float | None:
        """A workflow-level value (e.g. :data:`catalogue.NET_GAIN`); for all workflows the
        sum of the workflows' values, so it never mixes their cohort proportions."""
        if self.parts:
            values = [part.evaluate(expr) for part in self.parts]
            known = [v for v in values if v is not None]
            return sum(known) if known else None
        return _evaluate(expr, self)

    @cached_property
    def net_gain_usd(self) -> float | None:
        """Net productivity gain over the window, USD (design formula)."""
        return self.evaluate(cat.NET_GAIN)

    @cached_property
    def hours_saved(self) -> float | None:
        """Human hours saved by the AI-assisted steps over the window."""
        return self.evaluate(cat.HOURS_SAVED)

    @property
    def objective(self) -> float | None:
        """SLO objective (0..1) of this workflow per the spec; ``None`` for all workflows,
        whose workflows may have different objectives."""
        if self.parts:
            return None
        workflow = None if self.workflow == ALL_WORKFLOWS else self.workflow
        return 1.0 - self.spec.error_budget(workflow)

    @property
    def sli_error_ratio(self) -> float | None:
        """Bad / eligible of the SLO's cohort (pooled over workflows for all workflows);
        ``None`` for a workflow the spec does not select."""
        selected = self.spec.select_workflows
        if selected and not self.parts and self.workflow not in selected:
            return None
        return self.cohort(self.spec.cohort).sli_error_ratio(self.spec)

    @property
    def sli(self) -> float | None:
        """Good / eligible of the SLO's cohort."""
        ratio = self.sli_error_ratio
        return None if ratio is None else 1.0 - ratio

    @property
    def budget_left(self) -> float | None:
        """Share of the error budget left over the window (1 = untouched, <= 0 = exhausted);
        ``None`` for all workflows, each of which has its own objective."""
        ratio = self.sli_error_ratio
        objective = self.objective
        if ratio is None or objective is None:
            return None
        return 1.0 - ratio / (1.0 - objective)


def _evaluate(expr: cat.Expr, c: Comparison) -> float | None:
    if isinstance(expr, cat.Const):
        return expr.value
    if isinstance(expr, cat.CohortKpi):
        return c.cohort(expr.cohort).value(expr.name)
    if isinstance(expr, cat.CohortTerm):
        return c.cohort(expr.cohort).total(expr.term)
    if isinstance(expr, cat.BinOp):
        left, right = _evaluate(expr.left, c), _evaluate(expr.right, c)
        if left is None or right is None:
            return None
        if expr.op == "+":
            return left + right
        if expr.op == "-":
            return left - right
        if expr.op == "*":
            return left * right
        return _ratio(left, right)
    raise TypeError(f"not a catalogue expression: {expr!r}")


def workflows_in(samples: MetricSamples) -> dict[str, set[str]]:
    """Workflow name -> cohorts that have steps in it."""
    found: dict[str, set[str]] = {}
    for sample in samples.select(cat.STEPS.name):
        if sample.value <= 0:
            continue
        found.setdefault(sample.labels.get("workflow", ""), set()).add(
            sample.labels.get("cohort", "")
        )
    return found


def select_workflows(
    samples: MetricSamples, workflow: str | None = None
) -> tuple[dict[str, set[str]], int]:
    """The workflows to compare (name -> cohorts with steps) and how many have data at all.

    Raises :class:`NoDataError` when there are no steps, or none for ``workflow``.
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
    return found, total_workflows


def step_times(
    workflow: str, samples: MetricSamples, base: MetricSamples, base_selector: Selector
) -> tuple[StepTimes, ...]:
    """Per-step durations of a workflow with more than one step: the AI cohort's from
    ``samples``, the comparison's from ``base`` where ``base_selector`` matches."""
    names = samples.label_values(cat.STEPS.name, "step", {"workflow": workflow, "cohort": AI})
    if len(names) < 2:
        return ()
    return tuple(
        StepTimes(
            name,
            samples.histogram(
                cat.STEP_DURATION.name, {"workflow": workflow, "step": name, "cohort": AI}
            ),
            base.histogram(
                cat.STEP_DURATION.name, {"workflow": workflow, "step": name, **base_selector}
            ),
        )
        for name in sorted(names)
    )


def compare(samples: MetricSamples, workflow: str, spec: SLOSpec | None = None) -> Comparison:
    """Comparison of the two cohorts of ``workflow``."""
    spec = spec or SLOSpec()
    steps = step_times(workflow, samples, samples, {"cohort": BASELINE})
    return Comparison(
        workflow=workflow,
        ai=CohortData(samples, AI, workflow),
        baseline=CohortData(samples, BASELINE, workflow),
        spec=spec,
        steps=steps,
    )


def compare_all(
    samples: MetricSamples,
    workflow: str | None = None,
    spec: SLOSpec | None = None,
    *,
    skip_incomplete: bool = False,
) -> list[Comparison]:
    """One comparison per workflow (then all workflows together, when more than one).

    Raises :class:`NoDataError` when there are no steps at all (or none for ``workflow``)
    and :class:`NoBaselineError` when a selected workflow lacks either cohort (with
    ``skip_incomplete``, such workflows are left out instead, unless none is left).
    """
    spec = spec or SLOSpec()
    found, total_workflows = select_workflows(samples, workflow)
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
    comparisons = [compare(samples, name, spec) for name in sorted(found)]
    if len(comparisons) > 1 and len(found) == total_workflows:
        comparisons.append(
            Comparison(
                workflow=ALL_WORKFLOWS,
                ai=CohortData(samples, AI),
                baseline=CohortData(samples, BASELINE),
                spec=spec,
                parts=tuple(comparisons),
            )
        )
    return comparisons
