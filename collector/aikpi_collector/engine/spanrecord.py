"""The one span shape the KPI engine reads, whatever transport or SDK the span came from.

Receivers decode OTLP protobuf/JSON into it; the in-process ``KpiSpanProcessor`` converts
an OpenTelemetry SDK ``ReadableSpan`` into it. Attribute values are plain Python values
(str, bool, int, float, or a tuple of those), exactly as OTLP ``AnyValue`` carries them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ("SpanEvent", "SpanRecord")


@dataclass(slots=True)
class SpanEvent:
    """A span event: its name and attributes."""

    name: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SpanRecord:
    """A finished span, decoded once; the engine never sees transport types."""

    trace_id: bytes
    """16 bytes."""
    span_id: bytes
    """8 bytes."""
    name: str
    start_unix_nano: int
    end_unix_nano: int
    status_error: bool
    """True when the span status code is ERROR."""
    attributes: dict[str, Any]
    events: list[SpanEvent] = field(default_factory=list)
    resource_attributes: dict[str, Any] = field(default_factory=dict)
    parent_span_id: bytes = b""
    """8 bytes, or empty for a root span. A late outcome span's parent is the step it decides."""
