"""aikpi collector: OTLP receivers and a KPI engine that exposes Prometheus metrics.

The pipeline, one sub-package per stage: :mod:`.receivers` (OTLP/HTTP, OTLP/gRPC, the
in-process span processor; decoding and admission) -> :mod:`.engine` (check a span, then
update the metrics) -> :mod:`.exposition` (the metric store and ``/metrics``).
:mod:`.server` runs them in one process. Names load on first use, so ``aikpi-collector
--help`` and the SDK stay quick to import.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from aikpi_collector._lazy import lazy_exports

if TYPE_CHECKING:
    from aikpi_collector.config import CollectorConfig, load_config
    from aikpi_collector.engine import KpiEngine, SpanRecord
    from aikpi_collector.receivers import KpiSpanProcessor
    from aikpi_collector.server import CollectorServer

try:
    __version__ = version("aikpi")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = (
    "CollectorConfig",
    "CollectorServer",
    "KpiEngine",
    "KpiSpanProcessor",
    "SpanRecord",
    "__version__",
    "load_config",
)

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".config": ("CollectorConfig", "load_config"),
        ".engine": ("KpiEngine", "SpanRecord"),
        ".receivers": ("KpiSpanProcessor",),
        ".server": ("CollectorServer",),
    },
)
