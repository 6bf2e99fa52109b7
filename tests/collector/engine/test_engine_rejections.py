"""Every rejection reason: a readable message, a bounded reason, and nothing updated."""

from __future__ import annotations

import math

import pytest
from aikpi import semconv
from aikpi_collector.engine import REASONS, SpanEvent, SpanRejected
from support.engine_spans import (
    chat_span,
    dims,
    kpi_samples,
    new_engine,
    outcome_span,
    span,
    step_span,
)

LONG = "x" * (semconv.MAX_NAME_LENGTH + 1)
VIOLATION = SpanEvent(semconv.POLICY_VIOLATION_EVENT, {semconv.POLICY_NAME: "pii"})


def _step(**attrs):
    # every bad step also carries usage and a violation: none of it may count
    usage = {semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 10, semconv.GEN_AI_REQUEST_MODEL: "gpt-4o"}
    return step_span(attrs={**usage, **attrs}, events=[VIOLATION])


CASES = [
    ("invalid_outcome", _step(**{semconv.OUTCOME: "great"}), "great", "accepted, edited"),
    ("invalid_outcome", outcome_span("ACCEPTED"), "ACCEPTED", "accepted"),
    ("invalid_cohort", _step(**{semconv.COHORT: "control"}), "control", "ai_assisted, baseline"),
    (
        "invalid_status",
        span({**dims(), semconv.SPAN_TYPE: "workflow", semconv.WORKFLOW_STATUS: "done"}),
        "done",
        "abandoned, completed, failed",
    ),
    (
        "invalid_event",
        span({**dims(), semconv.SPAN_TYPE: "workflow_event", semconv.WORKFLOW_EVENT: "closed"}),
        "closed",
        "reopened",
    ),
    ("invalid_span_type", span({**dims(), semconv.SPAN_TYPE: "task"}), "task", "outcome, step"),
    (
        "negative_value",
        _step(**{semconv.OUTCOME: "edited", semconv.CORRECTION_SECONDS: -1.0}),
        "-1.0",
        ">= 0",
    ),
    ("negative_value", outcome_span("edited", **{semconv.REVIEW_SECONDS: -5}), "-5", ">= 0"),
    ("negative_value", chat_span(**{semconv.GEN_AI_USAGE_INPUT_TOKENS: -3}), "-3", ">= 0"),
    ("negative_value", chat_span(**{semconv.COST_USD: -0.5}), "-0.5", ">= 0"),
    (
        "not_finite",
        _step(**{semconv.OUTCOME: "edited", semconv.CORRECTION_SECONDS: math.nan}),
        "nan",
        "finite",
    ),
    ("not_finite", chat_span(**{semconv.COST_USD: math.inf}), "inf", "finite"),
    ("not_finite", chat_span(**{semconv.GEN_AI_USAGE_OUTPUT_TOKENS: math.inf}), "inf", "finite"),
    (
        "invalid_type",
        _step(**{semconv.OUTCOME: "edited", semconv.REVIEW_SECONDS: "30"}),
        "'30'",
        "number",
    ),
    ("invalid_type", chat_span(**{semconv.GEN_AI_USAGE_INPUT_TOKENS: "12"}), "'12'", "integer"),
    ("invalid_type", chat_span(**{semconv.GEN_AI_USAGE_INPUT_TOKENS: 1.5}), "1.5", "integer"),
    ("invalid_type", chat_span(**{semconv.GEN_AI_USAGE_INPUT_TOKENS: True}), "True", "integer"),
    ("invalid_type", chat_span(**{semconv.COST_USD: "0.1"}), "'0.1'", "number"),
    ("invalid_type", _step(**{semconv.TEAM: 7}), "7", "string"),
    ("invalid_type", _step(**{semconv.STEP_NAME: ("a", "b")}), "('a', 'b')", "string"),
    ("invalid_name", _step(**{semconv.WORKFLOW_NAME: LONG}), "129 characters", "1 to 128"),
    ("invalid_name", _step(**{semconv.STEP_NAME: ""}), "0 characters", "1 to 128"),
    ("invalid_name", chat_span(LONG, **{semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 1}), "xxx", "1 to 128"),
    (
        "invalid_name",
        step_span(events=[SpanEvent(semconv.POLICY_VIOLATION_EVENT, {semconv.POLICY_NAME: LONG})]),
        "aikpi.policy.name",
        "1 to 128",
    ),
    (
        "missing_attribute",
        span({**dims(step=None), semconv.SPAN_TYPE: "step"}),
        semconv.STEP_NAME,
        "missing",
    ),
    (
        "missing_attribute",
        span({semconv.SPAN_TYPE: "outcome", semconv.OUTCOME: "accepted"}),
        semconv.WORKFLOW_NAME,
        "missing",
    ),
    (
        "missing_attribute",
        span({**dims(), semconv.SPAN_TYPE: "outcome"}),
        semconv.OUTCOME,
        "accepted, edited",
    ),
]


@pytest.mark.parametrize(("reason", "bad", "shown", "allowed"), CASES)
def test_rejected_span_updates_nothing(reason: str, bad, shown: str, allowed: str) -> None:
    engine, registry = new_engine()
    engine.process(step_span(attrs={semconv.OUTCOME: "accepted"}))  # some earlier state
    before = kpi_samples(registry)

    with pytest.raises(SpanRejected) as caught:
        engine.process(bad)
    assert caught.value.reason == reason
    assert reason in REASONS
    message = str(caught.value)
    assert shown in message
    assert allowed in message
    assert bad.span_id.hex() in message
    assert kpi_samples(registry) == before


@pytest.mark.parametrize(("reason", "bad", "shown", "allowed"), CASES)
def test_batch_counts_rejection_and_keeps_the_rest(
    reason: str, bad, shown: str, allowed: str
) -> None:
    engine, registry = new_engine()
    good = step_span()
    result = engine.process_batch([good, bad], "http_json")
    assert (result.accepted, result.rejected, result.duplicates) == (1, 1, 0)
    assert result.error_message.startswith("1 span(s) rejected: ")
    assert shown in result.error_message
    labels = {"transport": "http_json", "reason": reason}
    assert registry.get_sample_value("aikpi_collector_spans_rejected_total", labels) == 1
    steps = {m.name: m for m in registry.collect()}["aikpi_steps"].samples
    assert [s.value for s in steps] == [1.0]


def test_error_message_summarises_the_first_rejections() -> None:
    engine, _registry = new_engine()
    bad = [outcome_span(f"word-{i}") for i in range(5)]
    result = engine.process_batch(bad, "grpc")
    assert result.rejected == 5
    assert result.error_message.count("word-") == 3
    assert result.error_message.endswith("; and 2 more")
    assert result.error_message.startswith("5 span(s) rejected: ")


def test_long_values_are_shortened_in_messages() -> None:
    engine, _registry = new_engine()
    with pytest.raises(SpanRejected) as caught:
        engine.process(outcome_span("y" * 10_000))
    assert len(str(caught.value)) < 400


def test_bool_is_not_a_number() -> None:
    engine, _registry = new_engine()
    with pytest.raises(SpanRejected) as caught:
        engine.process(outcome_span("edited", **{semconv.CORRECTION_SECONDS: True}))
    assert caught.value.reason == "invalid_type"


def test_str_enum_values_are_accepted() -> None:
    engine, registry = new_engine()
    attrs = {
        **dims(cohort=semconv.Cohort.BASELINE),
        semconv.SPAN_TYPE: semconv.SpanType.OUTCOME,
        semconv.OUTCOME: semconv.Outcome.ESCALATED,
    }
    engine.process(span(attrs))
    labels = {
        "workflow": "incident-triage",
        "step": "draft-reply",
        "cohort": "baseline",
        "team": "sre",
        "outcome": "escalated",
    }
    assert registry.get_sample_value("aikpi_outcomes_total", labels) == 1


def test_whole_float_token_counts_are_accepted() -> None:
    engine, registry = new_engine()
    engine.process(chat_span("gpt-4o", **{semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 12.0}))
    labels = {
        "workflow": "incident-triage",
        "step": "draft-reply",
        "cohort": "ai_assisted",
        "team": "sre",
        "model": "gpt-4o",
        "token_type": "output",
    }
    assert registry.get_sample_value("aikpi_tokens_total", labels) == 12
