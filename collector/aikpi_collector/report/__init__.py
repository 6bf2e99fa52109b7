"""The pilot scorecard: KPIs per cohort and workflow, verdicts, evidence strength, rendering.

``aikpi-collector report`` reads a collector's ``/metrics`` or a Prometheus window; the demo
uses the same :func:`build_scorecards` on the collector it just fed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aikpi_collector.report.kpis import compare_all
from aikpi_collector.report.samples import MetricSamples
from aikpi_collector.report.scorecard import Scorecard, build_scorecard
from aikpi_collector.report.verdicts import Thresholds
from aikpi_collector.slo.spec import SLOSpec

if TYPE_CHECKING:
    from aikpi_collector.plan import Plan

__all__ = ("build_scorecards",)


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
) -> list[Scorecard]:
    """One scorecard per workflow (plus all workflows together); raises on no data/baseline.

    ``window_seconds``: the window's length when known (Prometheus, the demo), for per-hour value.
    ``skip_incomplete``: leave out workflows that lack a cohort instead of failing.
    ``spec``: the SLO spec whose objectives the error budget rows use (the alerts' spec).
    ``plan``: a pilot plan; each scorecard it covers gets its verdict (``extra["plan"]``).
    """
    comparisons = compare_all(samples, workflow, spec, skip_incomplete=skip_incomplete)
    cards = [build_scorecard(c, window, thresholds, window_seconds) for c in comparisons]
    if plan is not None:
        from aikpi_collector.report.plans import judge

        rate = comparisons[0].ai.labor_rate("default")
        verdicts = judge(comparisons, plan, rate)
        for card in cards:
            if card.workflow in verdicts:
                card.extra["plan"] = verdicts[card.workflow]
    return cards
