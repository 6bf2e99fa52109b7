"""aikpi.testing: captures are isolated and give the previous configuration back."""

from __future__ import annotations

import aikpi
from aikpi import testing


def test_nested_captures_are_isolated_and_restored():
    with testing.capture_spans() as outer:
        with aikpi.step("outer-1"):
            pass
        with testing.capture_spans() as inner, aikpi.step("inner"):
            pass
        with aikpi.step("outer-2"):
            pass
    assert [s.name for s in inner.spans] == ["step inner"]
    assert [s.name for s in outer.spans] == ["step outer-1", "step outer-2"]


def test_capture_forgets_decisions_between_tests():
    with testing.capture_spans():
        with aikpi.step("s") as s:
            pass
        token = s.token()
        aikpi.record_outcome(token, "accepted")
    with testing.capture_spans() as again:
        aikpi.record_outcome(token, "accepted")  # a fresh test may decide it again
    assert again.one("outcome s").attributes["aikpi.outcome"] == "accepted"


def test_configure_is_idempotent_for_one_provider(aikpi_spans):
    provider = aikpi_spans.provider
    assert aikpi.configure(tracer_provider=provider) is provider
    assert aikpi.configure() is provider  # no provider given: keeps the one in use
    library = aikpi_spans.tracer()
    with aikpi.step("once"), library.start_as_current_span("lib"):
        pass
    # the stamping processor is in place after repeated configure calls
    assert aikpi_spans.one("lib").attributes["aikpi.step.name"] == "once"
