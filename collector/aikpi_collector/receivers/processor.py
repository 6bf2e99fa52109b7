"""``KpiSpanProcessor``: the KPI engine inside the application, no collector needed.

An OpenTelemetry SDK ``SpanProcessor`` whose ``on_end`` converts the finished span into a
:class:`~aikpi_collector.engine.spanrecord.SpanRecord` and hands it to a
:class:`~aikpi_collector.engine.KpiEngine` (transport ``in_process``). Telemetry never
raises into the application: a rejected span is logged and counted, nothing else.
"""

from __future__ import annotations

import logging

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode
from prometheus_client import REGISTRY, CollectorRegistry

from aikpi_collector.config import CollectorConfig
from aikpi_collector.engine.engine import IN_PROCESS, KpiEngine
from aikpi_collector.engine.spanrecord import SpanEvent, SpanRecord

__all__ = ("IN_PROCESS", "KpiSpanProcessor", "span_record")

log = logging.getLogger(__name__)


def span_record(span: ReadableSpan) -> SpanRecord:
    """The engine's view of a finished OpenTelemetry SDK span."""
    context = span.context
    trace_id = context.trace_id if context is not None else 0
    span_id = context.span_id if context is not None else 0
    start = span.start_time or 0
    end = span.end_time or start
    resource = span.resource.attributes if span.resource is not None else {}
    parent = span.parent
    return SpanRecord(
        trace_id=trace_id.to_bytes(16, "big"),
        span_id=span_id.to_bytes(8, "big"),
        name=span.name,
        start_unix_nano=start,
        end_unix_nano=end,
        status_error=span.status.status_code is StatusCode.ERROR,
        attributes=dict(span.attributes or {}),
        events=[SpanEvent(event.name, dict(event.attributes or {})) for event in span.events],
        resource_attributes=dict(resource),
        parent_span_id=parent.span_id.to_bytes(8, "big") if parent is not None else b"",
    )


class KpiSpanProcessor(SpanProcessor):
    """Feeds every finished span to a KPI engine whose metrics live in ``registry``."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        config: CollectorConfig | None = None,
    ) -> None:
        self.registry = REGISTRY if registry is None else registry
        self.config = CollectorConfig() if config is None else config
        # in-process spans are never retried, so no de-duplication window: it would cost
        # memory and time per span, and would drop spans that carry no ids (all zero)
        no_dedup = self.config.model_copy(update={"dedup_window_spans": 0})
        self.engine = KpiEngine(no_dedup, self.registry)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do: KPIs come from finished spans."""

    def on_end(self, span: ReadableSpan) -> None:
        """Count the finished span; never raises."""
        try:
            result = self.engine.process_batch((span_record(span),), IN_PROCESS)
        except Exception:  # pragma: no cover - a bug must not break the application
            log.exception("aikpi: KPI engine failed on span %r", getattr(span, "name", "?"))
            return
        if result.rejected:
            log.warning("aikpi: %s", result.error_message)

    def shutdown(self) -> None:
        """Nothing to flush: metrics are updated synchronously in ``on_end``."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Always flushed: there is no buffer."""
        return True
