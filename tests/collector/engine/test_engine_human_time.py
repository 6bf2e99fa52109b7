"""aikpi_human_seconds: one observation per step, whoever did the work (design "Human time").

A step without AI output costs its duration; an assisted step costs the review + correction
of its outcome, observed when the outcome arrives (inline or late). The squares counter
beside the histogram makes the variance exact.
"""

from __future__ import annotations

import pytest
from aikpi import semconv
from support.engine_spans import new_engine, outcome_span, span, step_labels, step_span, value

ASSISTED = semconv.STEP_ASSISTED


def _human(registry, suffix: str, **labels: str) -> float:
    return value(registry, f"aikpi_human_seconds{suffix}", step_labels(**labels))


def test_human_only_step_in_an_ai_run_costs_its_duration() -> None:
    engine, registry = new_engine()
    engine.process(step_span(seconds=300.0, attrs={ASSISTED: False}))
    assert _human(registry, "_count") == 1
    assert _human(registry, "_sum") == 300.0
    assert _human(registry, "_squares_total") == 90_000.0
    assert value(registry, "aikpi_assisted_steps_total", step_labels()) == 0


def test_assisted_step_with_inline_outcome_costs_review_plus_correction() -> None:
    engine, registry = new_engine()
    attrs = {
        ASSISTED: True,
        semconv.OUTCOME: "edited",
        semconv.REVIEW_SECONDS: 30.0,
        semconv.CORRECTION_SECONDS: 90.0,
    }
    engine.process(step_span(seconds=5.0, attrs=attrs))
    assert _human(registry, "_count") == 1
    assert _human(registry, "_sum") == 120.0
    assert _human(registry, "_squares_total") == 14_400.0
    assert value(registry, "aikpi_assisted_steps_total", step_labels()) == 1


def test_assisted_step_waits_for_its_late_outcome() -> None:
    engine, registry = new_engine()
    step = step_span(seconds=5.0, attrs={ASSISTED: True})
    engine.process(step)
    assert _human(registry, "_count") == 0  # undecided: no human time yet
    late = outcome_span("accepted", **{semconv.REVIEW_SECONDS: 40.0})
    late.trace_id, late.parent_span_id = step.trace_id, step.span_id
    engine.process(late)
    assert (_human(registry, "_count"), _human(registry, "_sum")) == (1, 40.0)


def test_outcome_without_seconds_is_observed_as_zero_human_time() -> None:
    engine, registry = new_engine()
    engine.process(step_span(attrs={ASSISTED: True, semconv.OUTCOME: "accepted"}))
    assert (_human(registry, "_count"), _human(registry, "_sum")) == (1, 0.0)


def test_baseline_step_from_an_sdk_without_the_attribute_costs_its_duration() -> None:
    engine, registry = new_engine()
    attrs = {**step_span().attributes, semconv.COHORT: "baseline"}
    engine.process(span(attrs, seconds=600.0))
    labels = {"cohort": "baseline"}
    assert _human(registry, "_sum", **labels) == 600.0
    # and an AI-cohort step without the attribute is taken as assisted (older SDKs)
    engine.process(step_span(seconds=7.0))
    assert _human(registry, "_count") == 0
    assert value(registry, "aikpi_assisted_steps_total", step_labels()) == 1


def test_explicitly_unassisted_step_keeps_its_duration_even_with_an_outcome() -> None:
    engine, registry = new_engine()
    attrs = {ASSISTED: False, semconv.OUTCOME: "accepted", semconv.REVIEW_SECONDS: 9.0}
    engine.process(step_span(seconds=50.0, attrs=attrs))
    assert (_human(registry, "_count"), _human(registry, "_sum")) == (1, 50.0)
    assert value(registry, "aikpi_outcomes_total", step_labels(outcome="accepted")) == 1


@pytest.mark.parametrize("bad", ["yes", 1, 0.0])
def test_assisted_must_be_a_bool(bad) -> None:
    engine, _ = new_engine()
    result = engine.process_batch([step_span(attrs={ASSISTED: bad})], "grpc")
    assert result.rejected == 1
    assert "aikpi.step.assisted" in result.error_message


def test_squares_give_the_exact_variance() -> None:
    engine, registry = new_engine()
    durations = [12.0, 340.0, 7.5, 1800.0, 95.25]
    for seconds in durations:
        engine.process(step_span(seconds=seconds, attrs={ASSISTED: False}))
    n = _human(registry, "_count")
    total = _human(registry, "_sum")
    squares = _human(registry, "_squares_total")
    mean = sum(durations) / len(durations)
    variance = sum((d - mean) ** 2 for d in durations) / (len(durations) - 1)
    assert n == len(durations)
    assert (squares - total * total / n) / (n - 1) == pytest.approx(variance, rel=1e-12)
    # the same for the step and workflow durations and the correction time
    assert value(registry, "aikpi_step_duration_seconds_squares_total", step_labels()) == squares


def test_every_baseline_step_costs_its_duration_even_with_an_outcome() -> None:
    engine, registry = new_engine()
    attrs = {
        **step_span().attributes,
        semconv.COHORT: "baseline",
        ASSISTED: True,  # a reviewer's decision on human work is no AI output
        semconv.OUTCOME: "edited",
        semconv.CORRECTION_SECONDS: 60.0,
    }
    engine.process(span(attrs, seconds=900.0))
    labels = {"cohort": "baseline"}
    assert (_human(registry, "_count", **labels), _human(registry, "_sum", **labels)) == (1, 900.0)
    assert value(registry, "aikpi_assisted_steps_total", step_labels(**labels)) == 0
    assert value(registry, "aikpi_outcomes_total", step_labels(outcome="edited", **labels)) == 1


def test_a_baseline_step_decided_late_counts_its_human_time_once() -> None:
    # a reviewer's late decision on human work: the step's duration is its human time
    engine, registry = new_engine()
    attrs = {**step_span().attributes, semconv.COHORT: "baseline"}
    step = span(attrs, seconds=700.0)
    engine.process(step)
    late = outcome_span("edited", **{semconv.REVIEW_SECONDS: 60.0, semconv.COHORT: "baseline"})
    late.trace_id, late.parent_span_id = step.trace_id, step.span_id
    engine.process(late)
    labels = {"cohort": "baseline"}
    assert (_human(registry, "_count", **labels), _human(registry, "_sum", **labels)) == (1, 700.0)
    assert value(registry, "aikpi_outcomes_total", step_labels(outcome="edited", **labels)) == 1
