"""SDK tests use aikpi's own in-memory capture fixture, as users would."""

from aikpi.testing import aikpi_spans  # noqa: F401  (pytest fixture)
