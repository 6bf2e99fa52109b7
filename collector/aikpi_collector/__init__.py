"""aikpi collector: OTLP receivers and a KPI engine that exposes Prometheus metrics."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("aikpi")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ("__version__",)
