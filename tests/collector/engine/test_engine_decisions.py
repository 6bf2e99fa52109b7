"""One decision per step: a copied token or a retried outcome from another process counts once.

The SDK emits a late outcome span parented to the step's span; the engine keys decisions
by (trace id, step span id) and keeps a bounded window of decided steps.
"""

from __future__ import annotations

from aikpi import semconv
from support.engine_spans import new_engine, outcome_span, step_labels, step_span, value


def _late(word: str, step, **attrs):
    late = outcome_span(word, **attrs)
    late.trace_id, late.parent_span_id = step.trace_id, step.span_id
    return late


def test_the_same_step_decided_from_three_processes_counts_once() -> None:
    engine, registry = new_engine()
    step = step_span(attrs={semconv.STEP_ASSISTED: True})
    engine.process_batch([step], "grpc")
    copies = [_late("accepted", step, **{semconv.REVIEW_SECONDS: 10.0}) for _ in range(3)]
    for copy in copies:  # three distinct outcome spans (own span ids), one step
        engine.process_batch([copy], "http_protobuf")
    assert value(registry, "aikpi_outcomes_total", step_labels(outcome="accepted")) == 1
    assert value(registry, "aikpi_human_seconds_count", step_labels()) == 1
    assert value(registry, "aikpi_review_seconds_count", step_labels()) == 1
    dup = {"transport": "http_protobuf"}
    assert registry.get_sample_value("aikpi_collector_duplicate_decisions_total", dup) == 2


def test_a_late_outcome_after_an_inline_one_is_not_counted() -> None:
    engine, registry = new_engine()
    step = step_span(attrs={semconv.OUTCOME: "accepted"})
    engine.process_batch([step], "grpc")
    engine.process_batch([_late("overridden", step)], "grpc")
    assert value(registry, "aikpi_outcomes_total", step_labels(outcome="accepted")) == 1
    assert value(registry, "aikpi_outcomes_total", step_labels(outcome="overridden")) == 0


def test_an_inline_outcome_after_a_late_one_still_counts_the_step() -> None:
    engine, registry = new_engine()
    step = step_span(attrs={semconv.OUTCOME: "rejected"})
    engine.process_batch([_late("accepted", step)], "grpc")  # exported first
    engine.process_batch([step], "grpc")
    assert value(registry, "aikpi_steps_total", step_labels(status="ok")) == 1
    assert value(registry, "aikpi_outcomes_total", step_labels(outcome="accepted")) == 1
    assert value(registry, "aikpi_outcomes_total", step_labels(outcome="rejected")) == 0


def test_a_rejected_outcome_does_not_decide_the_step() -> None:
    engine, registry = new_engine()
    step = step_span()
    bad = _late("acepted", step)
    assert engine.process_batch([bad], "grpc").rejected == 1
    engine.process_batch([_late("accepted", step)], "grpc")
    assert value(registry, "aikpi_outcomes_total", step_labels(outcome="accepted")) == 1


def test_different_steps_are_decided_independently() -> None:
    engine, registry = new_engine()
    steps = [step_span() for _ in range(5)]
    engine.process_batch([_late("edited", s) for s in steps], "grpc")
    assert value(registry, "aikpi_outcomes_total", step_labels(outcome="edited")) == 5


def test_decided_window_zero_turns_the_check_off() -> None:
    engine, registry = new_engine(decided_window_steps=0)
    step = step_span()
    engine.process_batch([_late("edited", step), _late("edited", step)], "grpc")
    assert value(registry, "aikpi_outcomes_total", step_labels(outcome="edited")) == 2
