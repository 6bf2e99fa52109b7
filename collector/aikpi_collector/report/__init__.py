"""The pilot scorecard: KPIs per cohort and workflow, verdicts, evidence strength, rendering.

``aikpi-collector report`` reads a collector's ``/metrics`` or a Prometheus window; the demo
uses the same :func:`build_scorecards` on the collector it just fed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aikpi_collector.report.designs import PrePeriod, compare_designs
from aikpi_collector.report.samples import MetricSamples
from aikpi_collector.report.scorecard import Scorecard, build_scorecard
from aikpi_collector.report.verdicts import Thresholds
from aikpi_collector.slo.spec import SLOSpec

if TYPE_CHECKING:
    from aikpi_collector.plan import Plan, PlanVerdict

__all__ = ("PrePeriod", "build_scorecards")


def build_scorecards(
    samples: MetricSamples,
    window: str,
    *,
    workflow: str | None = None,
    thresholds: Thresholds | None = None,
    spec: SLOSpec | None = None,
    window_seconds: float | None = None,
    skip_incomplete: bool = False,
    plan: Plan | None = None,
    pre: PrePeriod | None = None,
) -> list[Scorecard]:
    """One scorecard per workflow (plus all workflows together); raises on no data/baseline.

    ``window_seconds``: the window's length when known (Prometheus, the demo), for per-hour value.
    ``skip_incomplete``: leave out workflows that lack a cohort instead of failing.
    ``spec``: the SLO spec whose objectives the error budget rows use (the alerts' spec).
    ``plan``: a pilot plan; each scorecard it covers gets its verdict (``extra["plan"]``).
    ``pre``: a pre-pilot window; a workflow without a baseline cohort is then compared
    before/after, and every scorecard lists its estimates under each available design
    (``extra["designs"]``). ``extra["design"]`` always names the scorecard's own design.
    """
    comparisons = compare_designs(samples, pre, workflow, spec, skip_incomplete=skip_incomplete)
    cards = [build_scorecard(c, window, thresholds, window_seconds) for c in comparisons]
    for card, c in zip(cards, comparisons, strict=True):
        card.extra["design"] = c.design
    verdicts: dict[str, PlanVerdict] = {}
    if plan is not None:
        from aikpi_collector.report.plans import judge

        rate = comparisons[0].ai.labor_rate("default")
        verdicts = judge(comparisons, plan, rate)
        for card in cards:
            if card.workflow in verdicts:
                card.extra["plan"] = verdicts[card.workflow]
    if pre is not None:
        from aikpi_collector.report.designs import HEADLINE_KPIS, summarize

        for card, c in zip(cards, comparisons, strict=True):
            judged = card.workflow in verdicts and plan is not None
            kpis = tuple(x.kpi for x in plan.criteria) if judged else HEADLINE_KPIS
            alpha = plan.alpha if plan is not None else 0.05
            card.extra["designs"] = summarize(c, pre, kpis, alpha)
    return cards
