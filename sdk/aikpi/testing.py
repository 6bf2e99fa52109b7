"""Test helpers: capture the spans your instrumented code produces, in memory.

In a test module or conftest::

    from aikpi.testing import aikpi_spans  # noqa: F401  (the pytest fixture)

    def test_draft(aikpi_spans):
        draft_reply("hello")
        (span,) = aikpi_spans.named("step draft-reply")
        assert span.attributes["aikpi.step.name"] == "draft-reply"

or, without pytest, ``with aikpi.testing.capture_spans() as spans: ...``.
Each capture has its own fresh provider; aikpi's previous configuration comes back after.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aikpi import _config
from aikpi._config import configure
from aikpi._outcomes import reset_decisions

__all__ = ("SpanCapture", "aikpi_spans", "capture_spans", "reset")


class SpanCapture:
    """Finished spans of one capture, plus the provider that made them."""

    def __init__(self, provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
        self.provider = provider
        self.exporter = exporter

    @property
    def spans(self) -> Sequence[ReadableSpan]:
        """Every finished span so far, in the order they ended."""
        return self.exporter.get_finished_spans()

    def named(self, name: str) -> list[ReadableSpan]:
        """Finished spans called ``name`` (e.g. ``"step draft-reply"``)."""
        return [span for span in self.spans if span.name == name]

    def one(self, name: str) -> ReadableSpan:
        """The single finished span called ``name``; AssertionError unless exactly one."""
        found = self.named(name)
        assert len(found) == 1, f"expected one span {name!r}, found {len(found)}: " + ", ".join(
            span.name for span in self.spans
        )
        return found[0]

    def tracer(self, name: str = "third.party") -> trace.Tracer:
        """A plain tracer on the same provider, like another library's instrumentation."""
        return self.provider.get_tracer(name)

    def clear(self) -> None:
        """Forget the spans captured so far."""
        self.exporter.clear()


def reset() -> None:
    """Undo ``aikpi.configure`` and forget decided steps: a clean slate for the next test."""
    _config.reset()
    reset_decisions()


@contextmanager
def capture_spans(*, propagate_baggage: bool | None = None) -> Iterator[SpanCapture]:
    """Route aikpi through a fresh in-memory provider for the duration of the block."""
    state = _config.state
    saved = {name: getattr(state, name) for name in _config.State.__slots__}
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    reset()
    configure(tracer_provider=provider, propagate_baggage=propagate_baggage)
    try:
        yield SpanCapture(provider, exporter)
    finally:
        provider.shutdown()
        for name, value in saved.items():
            setattr(state, name, value)
        reset_decisions()


try:
    import pytest
except ImportError:  # pragma: no cover - pytest is optional for users
    pass
else:

    @pytest.fixture
    def aikpi_spans() -> Iterator[SpanCapture]:
        """Pytest fixture: a :class:`SpanCapture` for one test."""
        with capture_spans() as capture:
            yield capture
