"""The one catalogue of aikpi's KPI metrics and KPI formulas.

Every consumer reads names and formulas from here, so they cannot drift apart:

* the metric store registers the :data:`METRICS` (name, type, labels, help);
* the report evaluates each :class:`Kpi` on metric samples (``report/kpis.py``);
* the rule generator renders each :class:`Kpi` as a Prometheus recording rule
  (``rules/kpi.py`` writes ``grafana/rules/kpi.rules.yml``);
* the dashboard builder and pilot plans refer to KPIs by :attr:`Kpi.name`.

A KPI formula is data: a numerator and a denominator, each a sum of :class:`Total` terms
(the sum of one sample name over a cohort's series, optionally restricted to some label
values) or :class:`LabourCost` terms (human seconds priced at each team's labour rate).
Workflow-level values (net gain, hours saved) combine cohort KPIs and terms with ``+ - * /``
(:class:`Expr`). The report and the rules both evaluate these same objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aikpi.semconv import Cohort, Outcome, WorkflowEvent, WorkflowStatus

__all__ = (
    "AI",
    "BASELINE",
    "DIMS",
    "KPIS",
    "METRICS",
    "NET_GAIN",
    "QUANTILES",
    "RUN_DIMS",
    "VALUES",
    "Better",
    "CohortKpi",
    "CohortTerm",
    "Expr",
    "Kpi",
    "KpiKind",
    "LabourCost",
    "Metric",
    "MetricType",
    "Total",
    "Unit",
    "Value",
    "kpi",
)

AI = Cohort.AI_ASSISTED.value
BASELINE = Cohort.BASELINE.value

DIMS = ("workflow", "step", "cohort", "team")
"""Labels of every per-step metric."""
RUN_DIMS = ("workflow", "cohort", "team")
"""Labels of every per-run metric."""


# --- metrics ------------------------------------------------------------------------------


class MetricType(StrEnum):
    """Prometheus metric type."""

    COUNTER = "counter"
    HISTOGRAM = "histogram"
    GAUGE = "gauge"


@dataclass(frozen=True, slots=True)
class Metric:
    """One exposed metric family: its exposition name, type, labels and help text."""

    name: str
    """Exposition name; a counter's ends in ``_total``."""
    type: MetricType
    labels: tuple[str, ...]
    help: str
    squares: bool = False
    """A histogram that also keeps an additive sum-of-squares counter
    (:attr:`squares_name`), so means, variances and intervals are exact for any window."""

    @property
    def squares_name(self) -> str:
        """``<name>_squares_total``: the sum of the squared observations."""
        return f"{self.name}_squares_total"

    @property
    def sum_name(self) -> str:
        """Histogram ``_sum`` sample name."""
        return f"{self.name}_sum"

    @property
    def count_name(self) -> str:
        """Histogram ``_count`` sample name."""
        return f"{self.name}_count"


_COUNTER, _HISTOGRAM, _GAUGE = MetricType.COUNTER, MetricType.HISTOGRAM, MetricType.GAUGE

STEPS = Metric(
    "aikpi_steps_total",
    _COUNTER,
    (*DIMS, "status"),
    "Finished steps; status error when the step's code raised.",
)
ASSISTED_STEPS = Metric(
    "aikpi_assisted_steps_total",
    _COUNTER,
    DIMS,
    "Finished steps in which AI output was produced (aikpi.step.assisted).",
)
STEP_DURATION = Metric(
    "aikpi_step_duration_seconds",
    _HISTOGRAM,
    DIMS,
    "Duration of each step span.",
    squares=True,
)
OUTCOMES = Metric(
    "aikpi_outcomes_total",
    _COUNTER,
    (*DIMS, "outcome"),
    "Human decisions on AI output (inline on the step or a late outcome span), one per step.",
)
CORRECTION = Metric(
    "aikpi_correction_seconds",
    _HISTOGRAM,
    DIMS,
    "Human time spent repairing AI output, per outcome that reports it.",
    squares=True,
)
REVIEW = Metric(
    "aikpi_review_seconds",
    _HISTOGRAM,
    DIMS,
    "Time from AI output to the human decision, per outcome that reports or implies it.",
)
HUMAN = Metric(
    "aikpi_human_seconds",
    _HISTOGRAM,
    DIMS,
    "Human time a step cost, once per step: its duration when not assisted, else the "
    "outcome's review + correction seconds.",
    squares=True,
)
WORKFLOWS = Metric(
    "aikpi_workflows_total",
    _COUNTER,
    (*RUN_DIMS, "status"),
    "Workflow runs by how they ended, plus later reopen events.",
)
WORKFLOW_DURATION = Metric(
    "aikpi_workflow_duration_seconds",
    _HISTOGRAM,
    RUN_DIMS,
    "Duration of each workflow span.",
    squares=True,
)
TOKENS = Metric(
    "aikpi_tokens_total",
    _COUNTER,
    (*DIMS, "model", "token_type"),
    "GenAI tokens by type; input excludes the cached part so the types add up.",
)
COST = Metric(
    "aikpi_cost_usd_total",
    _COUNTER,
    (*DIMS, "model"),
    "Token cost in US dollars: explicit span cost, else config override, else price table.",
)
POLICY_VIOLATIONS = Metric(
    "aikpi_policy_violations_total",
    _COUNTER,
    (*DIMS, "policy"),
    "Governance violations recorded as span events.",
)
LABOR_RATE = Metric(
    "aikpi_labor_cost_usd_per_hour",
    _GAUGE,
    ("team",),
    "Loaded labour cost of human time (from the collector config), for value formulas.",
)

METRICS: tuple[Metric, ...] = (
    STEPS,
    ASSISTED_STEPS,
    STEP_DURATION,
    OUTCOMES,
    CORRECTION,
    REVIEW,
    HUMAN,
    WORKFLOWS,
    WORKFLOW_DURATION,
    TOKENS,
    COST,
    POLICY_VIOLATIONS,
    LABOR_RATE,
)
"""Every KPI metric, in exposition order."""

# --- formula terms ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Total:
    """The sum of one sample name over a cohort's series, where labels take given values.

    ``where`` pairs a label with its accepted values, e.g. ``(("outcome", ("accepted",)),)``.
    Over a window this is an increase (report) or a rate (recording rules).
    """

    sample: str
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class LabourCost:
    """``seconds`` priced per team at the team's labour rate (default rate otherwise), USD."""

    seconds: Total


Term = Total | LabourCost


def _where(**labels: tuple[str, ...] | str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(
        (key, (value,) if isinstance(value, str) else tuple(value))
        for key, value in sorted(labels.items())
    )


def _outcomes(*words: Outcome) -> Total:
    return Total(OUTCOMES.name, _where(outcome=tuple(w.value for w in words)))


def _runs(*statuses: WorkflowStatus | WorkflowEvent) -> Total:
    return Total(WORKFLOWS.name, _where(status=tuple(s.value for s in statuses)))


ALL_OUTCOMES = Total(OUTCOMES.name)
ALL_STEPS = Total(STEPS.name)
FINISHED_RUNS = _runs(WorkflowStatus.COMPLETED, WorkflowStatus.ABANDONED, WorkflowStatus.FAILED)
COMPLETED_RUNS = _runs(WorkflowStatus.COMPLETED)
USED_OUTCOMES = _outcomes(Outcome.ACCEPTED, Outcome.EDITED)
TOKEN_COST = Total(COST.name)
HUMAN_SECONDS = Total(HUMAN.sum_name)


def _mean_of(histogram: Metric) -> dict[str, object]:
    """Numerator, denominator and squares of a histogram's mean observation."""
    return {
        "numerator": (Total(histogram.sum_name),),
        "denominator": (Total(histogram.count_name),),
        "squares": Total(histogram.squares_name),
    }


# --- KPIs --------------------------------------------------------------------------------


class KpiKind(StrEnum):
    """What a KPI's numerator and denominator are, which decides its statistics."""

    MEAN = "mean"
    """Sum of per-unit values / units, with the sum of squares: exact mean and variance."""
    PROPORTION = "proportion"
    """Successes / trials (each trial counts at most once)."""
    RATE = "rate"
    """Events per unit of exposure (Poisson), times ``scale``."""
    RATIO = "ratio"
    """A ratio of totals whose per-unit spread is not kept: a point estimate only."""
    TOTAL = "total"
    """An extensive amount (no denominator): a window total or a rate per hour."""


class Better(StrEnum):
    """Which direction of a KPI is an improvement."""

    LOWER = "lower"
    HIGHER = "higher"


class Unit(StrEnum):
    """How a value is shown, and whether deltas are points (ratios) or relative."""

    SECONDS = "seconds"
    RATIO = "ratio"
    USD = "usd"
    PER_1000 = "per_1000"
    COUNT = "count"
    HOURS = "hours"


@dataclass(frozen=True, slots=True)
class Kpi:
    """One KPI: its formula, statistics kind, direction of "better" and paired counter-metrics."""

    name: str
    """Stable identifier (pilot plans, recording rules, JSON)."""
    title: str
    area: str
    kind: KpiKind
    better: Better
    unit: Unit
    numerator: tuple[Term, ...]
    denominator: tuple[Term, ...] = ()
    squares: Total | None = None
    """MEAN only: the sum of the squared per-unit values."""
    scale: float = 1.0
    counter_metrics: tuple[str, ...] = ()
    """KPIs that must not get worse for an improvement of this one to count (design table)."""
    ai_only: bool = False
    """Meaningless for the baseline cohort (no AI output to judge): shown as "-" there."""
    description: str = ""

    @property
    def record(self) -> str:
        """Name of its recording rule (labels workflow and cohort, over 1h): a ratio, or for
        a TOTAL the rate per second."""
        operation = "rate1h" if self.kind is KpiKind.TOTAL else "ratio_rate1h"
        return f"workflow_cohort:aikpi_{self.name}:{operation}"


_QUALITY_COUNTERS = (
    "acceptance_rate",
    "clean_acceptance_rate",
    "override_rate",
    "reopen_rate",
    "completion_rate",
)
"""The quality counter-metrics of the cost KPIs: cheaper is better only if quality held."""
_QUALITY = (
    "override_rate",
    "repair_rate",
    "escalation_rate",
    "rejection_rate",
    "step_error_rate",
)

_SECONDS, _RATIO, _USD = Unit.SECONDS, Unit.RATIO, Unit.USD
_LOWER, _HIGHER = Better.LOWER, Better.HIGHER
_MEAN, _PROPORTION = KpiKind.MEAN, KpiKind.PROPORTION


def _share(name: str, title: str, area: str, words: tuple[Outcome, ...], better: Better) -> Kpi:
    """A share of all outcomes."""
    counters = ("acceptance_rate",) if name != "acceptance_rate" else _QUALITY
    return Kpi(
        name,
        title,
        area,
        _PROPORTION,
        better,
        _RATIO,
        (_outcomes(*words),),
        (ALL_OUTCOMES,),
        counter_metrics=counters,
        description=f"{' + '.join(w.value for w in words)} / all outcomes",
    )


KPIS: tuple[Kpi, ...] = (
    Kpi(
        "cycle_time",
        "cycle time, mean (run)",
        "Speed",
        _MEAN,
        _LOWER,
        _SECONDS,
        **_mean_of(WORKFLOW_DURATION),  # type: ignore[arg-type]
        counter_metrics=("correction_time_per_step", "reopen_rate"),
        description="mean workflow span duration",
    ),
    Kpi(
        "step_time",
        "step time, mean",
        "Speed",
        _MEAN,
        _LOWER,
        _SECONDS,
        **_mean_of(STEP_DURATION),  # type: ignore[arg-type]
        counter_metrics=("correction_time_per_step", "reopen_rate"),
        description="mean step span duration",
    ),
    Kpi(
        "reopen_rate",
        "reopen rate",
        "Speed",
        _PROPORTION,
        _LOWER,
        _RATIO,
        (_runs(WorkflowEvent.REOPENED),),
        (COMPLETED_RUNS,),
        counter_metrics=("cycle_time",),
        description="reopened / completed runs",
    ),
    _share(
        "acceptance_rate", "acceptance rate", "Quality", (Outcome.ACCEPTED, Outcome.EDITED), _HIGHER
    ),
    _share("clean_acceptance_rate", "clean acceptance", "Quality", (Outcome.ACCEPTED,), _HIGHER),
    Kpi(
        "override_rate",
        "override rate",
        "Quality",
        _PROPORTION,
        _LOWER,
        _RATIO,
        (_outcomes(Outcome.OVERRIDDEN),),
        (ALL_OUTCOMES,),
        counter_metrics=("acceptance_rate",),
        ai_only=True,
        description="overridden / all outcomes (a baseline has no AI output to override)",
    ),
    _share("repair_rate", "repair (edit) rate", "Quality", (Outcome.EDITED,), _LOWER),
    _share("escalation_rate", "escalation rate", "Quality", (Outcome.ESCALATED,), _LOWER),
    _share("rejection_rate", "rejection rate", "Quality", (Outcome.REJECTED,), _LOWER),
    Kpi(
        "step_error_rate",
        "step error rate",
        "Quality",
        _PROPORTION,
        _LOWER,
        _RATIO,
        (Total(STEPS.name, _where(status="error")),),
        (ALL_STEPS,),
        counter_metrics=("acceptance_rate",),
        description="steps whose code raised / steps",
    ),
    Kpi(
        "correction_time_per_step",
        "correction time per step",
        "Rework",
        _MEAN,
        _LOWER,
        _SECONDS,
        (Total(CORRECTION.sum_name),),
        (ALL_STEPS,),
        squares=Total(CORRECTION.squares_name),
        counter_metrics=("cycle_time", "step_time"),
        description="correction seconds / steps (a step without correction counts 0)",
    ),
    Kpi(
        "cost_per_completed_run",
        "cost per completed run (AI + labour)",
        "Cost",
        KpiKind.RATIO,
        _LOWER,
        _USD,
        (TOKEN_COST, LabourCost(HUMAN_SECONDS)),
        (COMPLETED_RUNS,),
        counter_metrics=_QUALITY_COUNTERS,
        description="(token cost + human seconds x team labour rate) / completed runs",
    ),
    Kpi(
        "cost_per_accepted_outcome",
        "token cost per accepted outcome",
        "Cost",
        KpiKind.RATIO,
        _LOWER,
        _USD,
        (TOKEN_COST,),
        (USED_OUTCOMES,),
        counter_metrics=_QUALITY_COUNTERS,
        description="token cost / (accepted + edited) outcomes",
    ),
    Kpi(
        "token_cost",
        "token cost, total",
        "Cost",
        KpiKind.TOTAL,
        _LOWER,
        _USD,
        (TOKEN_COST,),
        counter_metrics=_QUALITY_COUNTERS,
        description="explicit or price-table cost of model calls",
    ),
    Kpi(
        "adoption_rate",
        "AI used on steps (AI-assisted runs)",
        "Adoption",
        _PROPORTION,
        _HIGHER,
        _RATIO,
        (Total(ASSISTED_STEPS.name),),
        (ALL_STEPS,),
        counter_metrics=("acceptance_rate", "completion_rate"),
        ai_only=True,
        description="assisted steps / steps: AI used as intended, not just the cohort split",
    ),
    Kpi(
        "completion_rate",
        "run completion rate",
        "Adoption",
        _PROPORTION,
        _HIGHER,
        _RATIO,
        (COMPLETED_RUNS,),
        (FINISHED_RUNS,),
        counter_metrics=("acceptance_rate",),
        description="completed / (completed + abandoned + failed) runs",
    ),
    Kpi(
        "policy_violations_per_1000",
        "policy violations per 1,000 steps",
        "Governance",
        KpiKind.RATE,
        _LOWER,
        Unit.PER_1000,
        (Total(POLICY_VIOLATIONS.name),),
        (ALL_STEPS,),
        scale=1000.0,
        # "fewer violations must not come from doing less work": throughput per run (the
        # cohorts' sizes differ by design, so their step totals do not compare)
        counter_metrics=("completion_rate",),
        description="1000 x violations / steps",
    ),
    Kpi(
        "steps",
        "steps (throughput)",
        "Governance",
        KpiKind.TOTAL,
        _HIGHER,
        Unit.COUNT,
        (ALL_STEPS,),
        description="finished steps",
    ),
    Kpi(
        "human_time_per_step",
        "human time per step",
        "Value",
        _MEAN,
        _LOWER,
        _SECONDS,
        **_mean_of(HUMAN),  # type: ignore[arg-type]
        counter_metrics=("acceptance_rate", "reopen_rate"),
        description="aikpi_human_seconds: duration of human-only steps, review + correction "
        "of assisted ones",
    ),
)
"""Every KPI, grouped by area in scorecard order."""

_KPIS_BY_NAME = {k.name: k for k in KPIS}


def kpi(name: str) -> Kpi:
    """The KPI called ``name`` (``KeyError`` naming the known ones otherwise)."""
    try:
        return _KPIS_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown KPI {name!r}; known: {', '.join(sorted(_KPIS_BY_NAME))}") from None


# --- workflow-level values -------------------------------------------------------------------


class Expr:
    """A workflow-level formula over cohort KPIs and terms; ``+ - * /`` build bigger ones."""

    def __add__(self, other: Expr) -> Expr:
        return BinOp("+", self, other)

    def __sub__(self, other: Expr) -> Expr:
        return BinOp("-", self, other)

    def __mul__(self, other: Expr) -> Expr:
        return BinOp("*", self, other)

    def __truediv__(self, other: Expr) -> Expr:
        return BinOp("/", self, other)


@dataclass(frozen=True, slots=True, eq=False)
class BinOp(Expr):
    """``left op right``; a missing operand or a division by 0 leaves the result missing."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True, eq=False)
class CohortKpi(Expr):
    """The value of KPI ``name`` in ``cohort``."""

    name: str
    cohort: str


@dataclass(frozen=True, slots=True, eq=False)
class CohortTerm(Expr):
    """A term summed over ``cohort`` (0 when the cohort has none of it)."""

    term: Term
    cohort: str


@dataclass(frozen=True, slots=True, eq=False)
class Const(Expr):
    """A number."""

    value: float


_HUMAN_SAVED_PER_STEP = CohortKpi("human_time_per_step", BASELINE) - CohortKpi(
    "human_time_per_step", AI
)

HOURS_SAVED: Expr = _HUMAN_SAVED_PER_STEP * CohortTerm(ALL_STEPS, AI) / Const(3600.0)
"""Human hours saved by the AI cohort's steps: (baseline - AI human time per step) x AI steps."""

NET_GAIN: Expr = _HUMAN_SAVED_PER_STEP * CohortTerm(LabourCost(ALL_STEPS), AI) - CohortTerm(
    TOKEN_COST, AI
)
"""Net productivity gain, USD: the hours saved priced at each AI team's labour rate, minus the
AI cohort's token cost (``LabourCost`` of steps = steps x rate / 3600)."""


@dataclass(frozen=True, slots=True)
class Value:
    """A workflow-level value of the scorecard: an extensive amount over a window (USD,
    hours) whose recording rule gives it per hour."""

    name: str
    title: str
    unit: Unit
    expr: Expr
    description: str

    @property
    def record(self) -> str:
        """Name of its recording rule: the value per hour, over the last 1h."""
        return f"workflow:aikpi_{self.name}_per_hour:rate1h"


VALUES: tuple[Value, ...] = (
    Value(
        "net_productivity_gain_usd",
        "net productivity gain",
        Unit.USD,
        NET_GAIN,
        "(baseline - AI human time per step) x AI steps x labour rate - AI token cost",
    ),
    Value(
        "human_hours_saved",
        "human hours saved",
        Unit.HOURS,
        HOURS_SAVED,
        "(baseline - AI human time per step) x AI steps / 3600",
    ),
)
"""Every workflow-level value."""

QUANTILES: tuple[tuple[Metric, tuple[float, ...]], ...] = (
    (STEP_DURATION, (0.5, 0.9)),
    (WORKFLOW_DURATION, (0.5, 0.9)),
    (CORRECTION, (0.5, 0.9)),
    (HUMAN, (0.5, 0.9)),
)
"""Histograms whose quantiles the scorecard and the boards show (``histogram_quantile``)."""
