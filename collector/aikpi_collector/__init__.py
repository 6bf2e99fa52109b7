"""aikpi collector: OTLP receivers and a KPI engine that exposes Prometheus metrics.

The heavier names (the engine, the in-process span processor, the config model) are
imported on first use, so ``aikpi-collector --help`` and the SDK stay quick to import.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from aikpi_collector.spanrecord import SpanRecord

if TYPE_CHECKING:
    from aikpi_collector.config import CollectorConfig, load_config
    from aikpi_collector.engine import KpiEngine
    from aikpi_collector.processor import KpiSpanProcessor

try:
    __version__ = version("aikpi")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = (
    "CollectorConfig",
    "KpiEngine",
    "KpiSpanProcessor",
    "SpanRecord",
    "__version__",
    "load_config",
)

_LAZY = {
    "CollectorConfig": "aikpi_collector.config",
    "load_config": "aikpi_collector.config",
    "KpiEngine": "aikpi_collector.engine",
    "KpiSpanProcessor": "aikpi_collector.processor",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
