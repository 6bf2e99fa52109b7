"""Simulated time for the demo: spans carry the pilot's times, not the seconds the demo took.

A four-week pilot replays in seconds, so span timestamps must come from the simulation. The
SDK is used unchanged: inside each ``with``, the driver tells :class:`SimulatedClock` the
planned start and end of the current span (``opentelemetry.trace.get_current_span()``), and
:class:`SimulatedClockExporter`, wrapped around the official OTLP exporter, rewrites those
spans' times just before they are sent. The collector then measures the planned durations.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

__all__ = ("SimulatedClock", "SimulatedClockExporter")


class SimulatedClock:
    """Planned ``(start, end)`` per span id, filled while the spans are open."""

    def __init__(self) -> None:
        self._times: dict[int, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def place_current(self, start: float, end: float) -> None:
        """Give the current span the planned times ``start``..``end`` (unix seconds)."""
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            with self._lock:
                self._times[context.span_id] = (round(start * 1e9), round(end * 1e9))

    def take(self, span_id: int) -> tuple[int, int] | None:
        """The planned times of ``span_id`` (forgotten afterwards), or ``None``."""
        with self._lock:
            return self._times.pop(span_id, None)


class SimulatedClockExporter(SpanExporter):
    """Wraps an exporter; spans with planned times are re-timed, the rest pass unchanged."""

    def __init__(self, inner: SpanExporter, clock: SimulatedClock) -> None:
        self._inner = inner
        self._clock = clock
        self.exported = 0
        """Spans handed to the inner exporter with success."""

    def _retime(self, span: ReadableSpan) -> ReadableSpan:
        planned = self._clock.take(span.context.span_id) if span.context else None
        if planned is None:
            return span
        start, end = planned
        # Events (outcome, violation, exception) happen when the step ends.
        events = [Event(e.name, e.attributes, end) for e in span.events]
        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=span.attributes,
            events=events,
            links=span.links,
            kind=span.kind,
            status=span.status,
            start_time=start,
            end_time=end,
            instrumentation_scope=span.instrumentation_scope,
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Re-time, then export with the inner exporter."""
        result = self._inner.export([self._retime(span) for span in spans])
        if result is SpanExportResult.SUCCESS:
            self.exported += len(spans)
        return result

    def shutdown(self) -> None:
        """Shut the inner exporter down."""
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the inner exporter."""
        return self._inner.force_flush(timeout_millis)
