"""Pilot plans: success criteria written before the pilot, judged pass / fail / inconclusive.

* :mod:`.spec` reads and validates a plan file (``load_plan``);
* :mod:`.stats` estimates effects AI vs baseline with fixed and always-valid intervals from
  per-cohort sufficient statistics (``MeanStats``, ``ProportionStats``, ``RateStats``);
* :mod:`.power` gives the samples per cohort a criterion needs;
* :mod:`.verdict` judges criteria and the plan (``judge_plan``);
* :mod:`.costs` prices the pilot (total cost of ownership, net gain and its interval, payback);
* :mod:`.sizing` is the core of ``aikpi-collector plan`` (samples needed, days to reach them).

The statistics need ``scipy`` and ``statsmodels`` (``pip install 'aikpi[report]'``); reading a
plan and pricing it do not, so those names load only when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from aikpi_collector.plan.costs import (
    CostSummary,
    Tco,
    allocate,
    cost_summary,
    share_tco,
    total_cost_of_ownership,
)
from aikpi_collector.plan.spec import (
    CRITERION_KPIS,
    KPI_VOCABULARY,
    Costs,
    Criterion,
    Guardrail,
    Period,
    Plan,
    PlanError,
    Primary,
    Role,
    Threshold,
    ThresholdUnit,
    load_plan,
    parse_plan,
)

if TYPE_CHECKING:
    from aikpi_collector.plan.sizing import CriterionSize, size_criterion, size_plan
    from aikpi_collector.plan.stats import (
        CohortStats,
        Interval,
        IntervalKind,
        MeanStats,
        ProportionStats,
        RateStats,
        Scale,
        always_valid_interval,
        cohort_stats,
        fixed_interval,
    )
    from aikpi_collector.plan.verdict import (
        CohortPair,
        CriterionResult,
        PlanVerdict,
        Status,
        judge_criterion,
        judge_plan,
    )

_LAZY = {
    "CohortStats": "stats",
    "Interval": "stats",
    "IntervalKind": "stats",
    "MeanStats": "stats",
    "ProportionStats": "stats",
    "RateStats": "stats",
    "Scale": "stats",
    "always_valid_interval": "stats",
    "cohort_stats": "stats",
    "fixed_interval": "stats",
    "CohortPair": "verdict",
    "CriterionResult": "verdict",
    "PlanVerdict": "verdict",
    "Status": "verdict",
    "judge_criterion": "verdict",
    "judge_plan": "verdict",
    "CriterionSize": "sizing",
    "size_criterion": "sizing",
    "size_plan": "sizing",
}

__all__ = (
    "CRITERION_KPIS",
    "KPI_VOCABULARY",
    "CohortPair",
    "CohortStats",
    "CostSummary",
    "Costs",
    "Criterion",
    "CriterionResult",
    "CriterionSize",
    "Guardrail",
    "Interval",
    "IntervalKind",
    "MeanStats",
    "Period",
    "Plan",
    "PlanError",
    "PlanVerdict",
    "Primary",
    "ProportionStats",
    "RateStats",
    "Role",
    "Scale",
    "Status",
    "Tco",
    "Threshold",
    "ThresholdUnit",
    "allocate",
    "always_valid_interval",
    "cohort_stats",
    "cost_summary",
    "fixed_interval",
    "judge_criterion",
    "judge_plan",
    "load_plan",
    "parse_plan",
    "share_tco",
    "size_criterion",
    "size_plan",
    "total_cost_of_ownership",
)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
