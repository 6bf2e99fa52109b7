"""``/metrics`` rendering: Prometheus text, or OpenMetrics (with exemplars) when asked.

The format is chosen from the ``Accept`` header by ``prometheus_client``'s own
``choose_encoder`` and written by its generators, never by hand.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

__all__ = ("OPENMETRICS_ACCEPT", "render_metrics")

OPENMETRICS_ACCEPT = "application/openmetrics-text; version=1.0.0"
"""An ``Accept`` header value that selects OpenMetrics (with exemplars)."""


def render_metrics(registry: CollectorRegistry, accept_header: str | None) -> tuple[bytes, str]:
    """The body and content type of one scrape of ``registry``."""
    encoder, content_type = choose_encoder(accept_header or "")
    return encoder(registry), content_type
