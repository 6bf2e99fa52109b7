"""Exposition: the metric store the engine updates, and ``/metrics`` that serves it.

* :mod:`.metrics`: the KPI metrics (a light store: series handles, the cardinality guard)
  and the ``aikpi_collector_*`` self-metrics;
* :mod:`.render`: one scrape in Prometheus text or OpenMetrics (exemplars), with the KPI
  samples written by :mod:`._kpi_writer` from label text cached per series;
* :mod:`.metrics_app`: the metrics port, ``/metrics``, ``/healthz`` and ``/readyz``.

Names load on first use (:mod:`aikpi_collector._lazy`): the engine imports the store without
the web framework of the metrics port.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aikpi_collector._lazy import lazy_exports

if TYPE_CHECKING:
    from aikpi_collector.exposition.metrics import ExemplarContext, KpiMetrics, SelfMetrics
    from aikpi_collector.exposition.metrics_app import ExpositionHealth, create_metrics_app
    from aikpi_collector.exposition.render import (
        OPENMETRICS_ACCEPT,
        render_metrics,
        render_metrics_reference,
    )

__all__ = (
    "OPENMETRICS_ACCEPT",
    "ExemplarContext",
    "ExpositionHealth",
    "KpiMetrics",
    "SelfMetrics",
    "create_metrics_app",
    "render_metrics",
    "render_metrics_reference",
)

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".metrics": ("ExemplarContext", "KpiMetrics", "SelfMetrics"),
        ".metrics_app": ("ExpositionHealth", "create_metrics_app"),
        ".render": ("OPENMETRICS_ACCEPT", "render_metrics", "render_metrics_reference"),
    },
)
