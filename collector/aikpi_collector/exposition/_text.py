"""What both ``/metrics`` writers share, so no stored value can make a scrape fail: label
values any scraper can read, and the labels and timestamp of an exemplar.

``metrics`` builds ``prometheus_client`` exemplars from :func:`exemplar_parts` for the
reference output; ``_kpi_writer`` writes the same exemplars as text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aikpi_collector.exposition.metrics import ExemplarContext

__all__ = ("EXEMPLAR_MAX_RUNES", "encodable", "escape_label_value", "exemplar_parts")

EXEMPLAR_MAX_RUNES = 128
"""OpenMetrics limit on the combined length of an exemplar's label names and values."""

_CID_BUDGET = EXEMPLAR_MAX_RUNES - len("trace_id") - 32 - len("correlation_id")
"""Characters of a correlation id that fit beside the trace id (32 hex digits)."""

_MAX_NANOS = 2**64 - 1
"""OTLP times are uint64 nanoseconds; an exemplar timestamp outside them is left out."""


def encodable(value: str) -> str:
    """``value``, with what no scraper can read written as its Python escape, so that no
    stored value can make a scrape fail and distinct values stay distinct: a code point
    UTF-8 cannot encode (a lone surrogate, ``\\ud800``), and NUL (``\\x00``: valid UTF-8,
    but Prometheus's parser refuses the whole scrape). Other values are returned as they are.
    """
    if "\x00" in value:
        value = value.replace("\x00", "\\x00")
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def escape_label_value(value: str) -> str:
    """A label value escaped as both exposition formats require (backslash, newline, quote),
    made encodable first (:func:`encodable`)."""
    value = encodable(value)
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def exemplar_parts(context: ExemplarContext) -> tuple[str, str | None, float | None]:
    """(trace id in hex, correlation id, timestamp in seconds) of the exemplar of
    ``context``: the correlation id made encodable, then cut to fit the OpenMetrics limit
    (``None`` when absent); the timestamp ``None`` when outside the OTLP range (it is
    optional in OpenMetrics, and no float holds some of those times)."""
    trace_id, correlation_id, end_nanos = context
    return (
        trace_id.hex(),
        encodable(correlation_id)[:_CID_BUDGET] if correlation_id else None,
        end_nanos / 1e9 if 0 <= end_nanos <= _MAX_NANOS else None,
    )
