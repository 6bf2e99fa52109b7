"""Exposition: the metric store the engine updates, and ``/metrics`` that serves it.

* :mod:`.metrics`: the KPI metrics (a light store of series handles) and the
  ``aikpi_collector_*`` self-metrics;
* :mod:`.cardinality`: the label keys a metric keeps, and the ``__overflow__`` series past
  its cardinality limit;
* :mod:`.render`: one scrape in Prometheus text or OpenMetrics (exemplars), with the KPI
  samples written by :mod:`._kpi_writer` from label text cached per series;
* :mod:`.metrics_app`: the metrics port, ``/metrics``, ``/healthz`` and ``/readyz``.
"""

from aikpi_collector.exposition.cardinality import OVERFLOW
from aikpi_collector.exposition.metrics import KpiMetrics, SelfMetrics
from aikpi_collector.exposition.metrics_app import ExpositionHealth, create_metrics_app
from aikpi_collector.exposition.render import (
    OPENMETRICS_ACCEPT,
    render_metrics,
    render_metrics_reference,
)

__all__ = (
    "OPENMETRICS_ACCEPT",
    "OVERFLOW",
    "ExpositionHealth",
    "KpiMetrics",
    "SelfMetrics",
    "create_metrics_app",
    "render_metrics",
    "render_metrics_reference",
)
