"""aikpi: instrument AI-assisted workflows so their KPIs can be proven in production."""

from importlib.metadata import PackageNotFoundError, version

from aikpi.semconv import Cohort, Outcome

try:
    __version__ = version("aikpi")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ("Cohort", "Outcome", "__version__")
