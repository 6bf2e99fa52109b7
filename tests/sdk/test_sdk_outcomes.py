"""Inline and late outcomes, reopened workflows, LLM calls and policy violations."""

from __future__ import annotations

import time

import aikpi
import pytest
from aikpi import semconv
from opentelemetry.trace import StatusCode

DIM_KEYS = semconv.BAGGAGE_KEYS


def evaluation_events(span) -> list[dict]:
    return [
        dict(event.attributes)
        for event in span.events
        if event.name == semconv.GEN_AI_EVALUATION_RESULT
    ]


def test_inline_outcome_on_step_span(aikpi_spans):
    with aikpi.workflow("review", team="legal"), aikpi.step("summarise") as s:
        s.outcome(aikpi.Outcome.EDITED, correction_seconds=90, review_seconds=12.5)
    span = aikpi_spans.one("step summarise")
    assert span.attributes[semconv.OUTCOME] == "edited"
    assert span.attributes[semconv.CORRECTION_SECONDS] == 90.0
    assert span.attributes[semconv.REVIEW_SECONDS] == 12.5
    assert evaluation_events(span) == [
        {
            semconv.GEN_AI_EVALUATION_NAME: "aikpi.outcome",
            semconv.GEN_AI_EVALUATION_SCORE_LABEL: "edited",
        }
    ]
    assert len(aikpi_spans.spans) == 2  # no extra outcome span for an inline decision


def test_inline_outcome_without_seconds_sets_none(aikpi_spans):
    with aikpi.step("quick") as s:
        s.outcome("accepted")
    attributes = aikpi_spans.one("step quick").attributes
    assert semconv.CORRECTION_SECONDS not in attributes
    assert semconv.REVIEW_SECONDS not in attributes


def test_late_outcome_span_content_and_link(aikpi_spans):
    triage = aikpi.workflow("triage", correlation_id="INC-77", cohort="baseline", team="sre")
    with triage, aikpi.step("diagnose") as s:
        pass
    token = s.token()
    time.sleep(0.05)
    aikpi.record_outcome(token, "overridden", correction_seconds=300)

    step_span = aikpi_spans.one("step diagnose")
    outcome = aikpi_spans.one("outcome diagnose")
    attributes = dict(outcome.attributes)
    assert attributes.pop(semconv.SPAN_TYPE) == "outcome"
    assert attributes.pop(semconv.OUTCOME) == "overridden"
    assert attributes.pop(semconv.CORRECTION_SECONDS) == 300.0
    review = attributes.pop(semconv.REVIEW_SECONDS)
    assert review == (outcome.start_time - step_span.end_time) / 1e9
    assert review >= 0.045
    assert attributes == {key: step_span.attributes[key] for key in DIM_KEYS}
    assert attributes[semconv.CORRELATION_ID] == "INC-77"
    (link,) = outcome.links
    assert link.context.trace_id == step_span.context.trace_id
    assert link.context.span_id == step_span.context.span_id
    assert evaluation_events(outcome)[0][semconv.GEN_AI_EVALUATION_SCORE_LABEL] == "overridden"


def test_late_outcome_given_review_wins(aikpi_spans):
    with aikpi.step("classify") as s:
        pass
    aikpi.record_outcome(s.token(), "accepted", review_seconds=3600)
    assert aikpi_spans.one("outcome classify").attributes[semconv.REVIEW_SECONDS] == 3600.0


def test_outcome_after_step_ended_is_a_late_outcome(aikpi_spans):
    with aikpi.workflow("w"), aikpi.step("answer") as s:
        pass
    s.outcome("rejected")
    step_span = aikpi_spans.one("step answer")
    assert semconv.OUTCOME not in step_span.attributes
    outcome = aikpi_spans.one("outcome answer")
    assert outcome.attributes[semconv.OUTCOME] == "rejected"
    assert outcome.links[0].context.span_id == step_span.context.span_id
    assert outcome.attributes[semconv.REVIEW_SECONDS] == pytest.approx(
        (outcome.start_time - step_span.end_time) / 1e9
    )


def test_late_outcome_is_not_stamped_with_the_deciders_context(aikpi_spans):
    with aikpi.step("draft") as s:
        pass
    token = s.token()
    with aikpi.workflow("review-queue", correlation_id="OTHER"), aikpi.step("decide"):
        aikpi.record_outcome(token, "accepted")
    outcome = aikpi_spans.one("outcome draft")
    assert outcome.attributes[semconv.CORRELATION_ID] == s.correlation_id
    assert outcome.attributes[semconv.STEP_NAME] == "draft"


def test_reopen_workflow(aikpi_spans):
    with aikpi.workflow("ticket", correlation_id="T-5", team="desk") as run:
        pass
    aikpi.reopen(run.token())
    aikpi.reopen(run.token())  # a run can be reopened again
    workflow_span = aikpi_spans.one("workflow ticket")
    events = aikpi_spans.named("reopen ticket")
    assert len(events) == 2
    attributes = dict(events[0].attributes)
    assert attributes == {
        semconv.SPAN_TYPE: "workflow_event",
        semconv.WORKFLOW_EVENT: "reopened",
        semconv.CORRELATION_ID: "T-5",
        semconv.WORKFLOW_NAME: "ticket",
        semconv.COHORT: "ai_assisted",
        semconv.TEAM: "desk",
    }
    assert events[0].links[0].context.span_id == workflow_span.context.span_id


def test_llm_call_span(aikpi_spans):
    with aikpi.workflow("chat", team="t"), aikpi.step("reply") as s:
        with s.llm_call("claude-sonnet-4", provider="anthropic") as call:
            call.record_usage(1000, 200, cache_read_tokens=600, cache_creation_tokens=100)
            call.record_cost(0.0123)
        with pytest.raises(TimeoutError), s.llm_call("gpt-4o"):
            raise TimeoutError("slow")
    span = aikpi_spans.one("chat claude-sonnet-4")
    step_span = aikpi_spans.one("step reply")
    assert span.parent.span_id == step_span.context.span_id
    expected = {key: step_span.attributes[key] for key in DIM_KEYS}
    expected.update(
        {
            semconv.GEN_AI_OPERATION_NAME: "chat",
            semconv.GEN_AI_REQUEST_MODEL: "claude-sonnet-4",
            semconv.GEN_AI_PROVIDER_NAME: "anthropic",
            semconv.GEN_AI_USAGE_INPUT_TOKENS: 1000,
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 200,
            semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 600,
            semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: 100,
            semconv.COST_USD: 0.0123,
        }
    )
    assert dict(span.attributes) == expected
    assert semconv.SPAN_TYPE not in span.attributes
    failed = aikpi_spans.one("chat gpt-4o")
    assert failed.status.status_code is StatusCode.ERROR
    assert semconv.GEN_AI_PROVIDER_NAME not in failed.attributes


def test_policy_violation_event(aikpi_spans):
    with aikpi.step("send-email") as s:
        s.policy_violation("pii-in-prompt")
        s.policy_violation("pii-in-prompt")
    span = aikpi_spans.one("step send-email")
    violations = [e for e in span.events if e.name == semconv.POLICY_VIOLATION_EVENT]
    assert [dict(e.attributes) for e in violations] == [{semconv.POLICY_NAME: "pii-in-prompt"}] * 2
