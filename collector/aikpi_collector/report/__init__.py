"""The pilot scorecard: KPIs per cohort and workflow, verdicts, evidence strength, rendering.

``aikpi-collector report`` reads a collector's ``/metrics`` or a Prometheus window; the demo
uses the same :func:`build_scorecards` on the collector it just fed.
"""

from __future__ import annotations

from aikpi_collector.report.kpis import compare_all
from aikpi_collector.report.samples import MetricSamples
from aikpi_collector.report.scorecard import Scorecard, build_scorecard
from aikpi_collector.report.verdicts import Thresholds
from aikpi_collector.slo.spec import SLOSpec

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
) -> list[Scorecard]:
    """One scorecard per workflow (plus all workflows together); raises on no data/baseline.

    ``window_seconds``: the window's length when known (Prometheus, the demo), for per-hour value.
    ``skip_incomplete``: leave out workflows that lack a cohort instead of failing.
    ``spec``: the SLO spec whose objectives the error budget rows use (the alerts' spec).
    """
    comparisons = compare_all(samples, workflow, spec, skip_incomplete=skip_incomplete)
    return [build_scorecard(c, window, thresholds, window_seconds) for c in comparisons]
