"""The KPI engine: one decoded span in, metric updates out (no network, no transport types).

* :mod:`.spanrecord`: :class:`SpanRecord`, the one span shape the engine reads;
* :mod:`.engine`: :class:`KpiEngine`, which checks a span completely, then applies its updates;
* :mod:`.validate`: the checks of attribute values (:class:`SpanRejected` and its reasons);
* :mod:`.usage` and :mod:`.pricing`: token counts and cost of a span, whichever
  instrumentation wrote it;
* :mod:`.dedup`: the windows that count a retried span or a second decision once.

Receivers (:mod:`aikpi_collector.receivers`) feed it; it updates the metric store of
:mod:`aikpi_collector.exposition`.
"""

from aikpi_collector.engine.engine import TRANSPORTS, BatchResult, KpiEngine
from aikpi_collector.engine.spanrecord import SpanEvent, SpanRecord
from aikpi_collector.engine.validate import REASONS, SpanRejected

__all__ = (
    "REASONS",
    "TRANSPORTS",
    "BatchResult",
    "KpiEngine",
    "SpanEvent",
    "SpanRecord",
    "SpanRejected",
)
