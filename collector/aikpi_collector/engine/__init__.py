"""The KPI engine: one decoded span in, metric updates out (no network, no transport types).

* :mod:`.spanrecord`: :class:`SpanRecord`, the one span shape the engine reads;
* :mod:`.engine`: :class:`KpiEngine`, which checks a span completely, then applies its updates;
* :mod:`.validate`: the checks of attribute values (:class:`SpanRejected` and its reasons);
* :mod:`.usage` and :mod:`.pricing`: token counts and cost of a span, whichever
  instrumentation wrote it;
* :mod:`.dedup`: the windows that count a retried span or a second decision once;
* :mod:`.cardinality`: label keys kept and the ``__overflow__`` series.

Receivers (:mod:`aikpi_collector.receivers`) feed it; it updates the store of
:mod:`aikpi_collector.exposition`. Names load on first use (:mod:`aikpi_collector._lazy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aikpi_collector._lazy import lazy_exports

if TYPE_CHECKING:
    from aikpi_collector.engine.cardinality import OVERFLOW
    from aikpi_collector.engine.engine import (
        GRPC,
        HTTP_JSON,
        HTTP_PROTOBUF,
        IN_PROCESS,
        TRANSPORTS,
        BatchResult,
        KpiEngine,
    )
    from aikpi_collector.engine.spanrecord import SpanEvent, SpanRecord
    from aikpi_collector.engine.validate import REASONS, SpanRejected

__all__ = (
    "GRPC",
    "HTTP_JSON",
    "HTTP_PROTOBUF",
    "IN_PROCESS",
    "OVERFLOW",
    "REASONS",
    "TRANSPORTS",
    "BatchResult",
    "KpiEngine",
    "SpanEvent",
    "SpanRecord",
    "SpanRejected",
)

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".cardinality": ("OVERFLOW",),
        ".engine": (
            "GRPC",
            "HTTP_JSON",
            "HTTP_PROTOBUF",
            "IN_PROCESS",
            "TRANSPORTS",
            "BatchResult",
            "KpiEngine",
        ),
        ".spanrecord": ("SpanEvent", "SpanRecord"),
        ".validate": ("REASONS", "SpanRejected"),
    },
)
