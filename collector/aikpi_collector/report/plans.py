"""A pilot plan judged on the report's comparisons: criteria, verdict and the pilot's costs.

The glue between :mod:`aikpi_collector.report.kpis` (what the metrics say, per cohort) and
:mod:`aikpi_collector.plan` (how a criterion is judged): each criterion's KPI is evaluated
from its catalogue terms in both cohorts (:func:`observed`), and the pilot's total cost of
ownership is shared among the plan's workflows by their AI-assisted steps (:func:`judge`).
A comparison's ``baseline`` is the concurrent baseline cohort or, for a workflow without one,
every run of the pre-period (``Comparison.design``): the verdict reads whichever it holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

from aikpi_collector import catalogue as cat
from aikpi_collector.plan import (
    CohortPair,
    Plan,
    PlanVerdict,
    Scale,
    Tco,
    always_valid_interval,
    cost_summary,
    fixed_interval,
    judge_plan,
    share_tco,
    total_cost_of_ownership,
)
from aikpi_collector.report.kpis import ALL_WORKFLOWS, Comparison

__all__ = ("covered", "judge", "observed", "pair")


def pair(c: Comparison, name: str) -> CohortPair:
    """The statistics of KPI ``name`` in both cohorts of ``c``."""
    kpi = cat.kpi(name)
    return CohortPair(c.ai.stats(kpi), c.baseline.stats(kpi))


def observed(c: Comparison, plan: Plan) -> dict[str, CohortPair]:
    """Every criterion's KPI statistics for one comparison."""
    return {criterion.kpi: pair(c, criterion.kpi) for criterion in plan.criteria}


def covered(comparisons: Sequence[Comparison], plan: Plan) -> list[Comparison]:
    """The plan's workflows, and all workflows together when the plan covers every one."""
    names = {c.workflow for c in comparisons if c.workflow != ALL_WORKFLOWS}
    wanted = set(plan.workflows) if plan.workflows else names
    return [
        c
        for c in comparisons
        if c.workflow in wanted or (c.workflow == ALL_WORKFLOWS and names <= wanted)
    ]


def _human_interval(c: Comparison, plan: Plan, interim: bool) -> tuple[float, float, float]:
    """AI - baseline human seconds per step, with the interval kind the verdict used."""
    human = pair(c, "human_time_per_step")
    if interim:
        planned = max(plan.min_samples_per_cohort, int(min(human.have.values())))
        found = always_valid_interval(human.ai, human.baseline, Scale.ABSOLUTE, plan.alpha, planned)
    else:
        found = fixed_interval(human.ai, human.baseline, Scale.ABSOLUTE, plan.alpha)
    low, high = (found.low, found.high) if found.defined else (math.nan, math.nan)
    return float(found.estimate), float(low), float(high)


def _summary(c: Comparison, plan: Plan, tco: Tco, interim: bool):
    ai_steps = c.ai.steps
    labour = c.ai.total(cat.LabourCost(cat.ALL_STEPS))  # AI steps x each team's rate / 3600
    rate = labour * 3600.0 / ai_steps if ai_steps else 0.0
    human = None
    if (
        c.ai.value("human_time_per_step") is not None
        and c.baseline.value("human_time_per_step") is not None
    ):
        human = _human_interval(c, plan, interim)
    return cost_summary(
        tco,
        token_cost_usd=c.ai.value("token_cost") or 0.0,
        ai_steps=ai_steps,
        labour_rate_usd_per_hour=rate,
        human_seconds=human,
    )


def judge(
    comparisons: Sequence[Comparison], plan: Plan, labour_rate_usd_per_hour: float
) -> dict[str, PlanVerdict]:
    """The plan's verdict for each comparison it covers (workflow name -> verdict).

    The pilot's TCO (``pilot_period`` days, supervision at ``labour_rate_usd_per_hour``, the
    default rate) is shared among the plan's workflows in proportion to their AI-assisted
    steps; the all-workflows verdict carries the whole of it.
    """
    in_plan = covered(comparisons, plan)
    tco = total_cost_of_ownership(
        plan.costs, plan.pilot_period.days, Decimal(str(labour_rate_usd_per_hour))
    )
    workflows = [c for c in in_plan if c.workflow != ALL_WORKFLOWS]
    weights = {c.workflow: c.ai.total(cat.Total(cat.ASSISTED_STEPS.name)) for c in workflows}
    shares = share_tco(tco, weights) if sum(weights.values()) > 0 else {}
    verdicts: dict[str, PlanVerdict] = {}
    for c in in_plan:
        whole = c.workflow == ALL_WORKFLOWS or len(workflows) == 1
        share = tco if whole else shares.get(c.workflow)
        verdict = judge_plan(plan, observed(c, plan))
        if share is not None:
            costs = _summary(c, plan, share, verdict.interim)
            verdict = PlanVerdict(verdict.name, verdict.verdict, verdict.criteria, costs)
        verdicts[c.workflow] = verdict
    return verdicts
