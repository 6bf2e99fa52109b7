"""Step, outcome, workflow and policy KPIs: exact sample values for known spans."""

from __future__ import annotations

import pytest
from aikpi import semconv
from aikpi_collector.engine import SpanEvent
from support.engine_spans import (
    TEAM,
    WORKFLOW,
    dims,
    new_engine,
    outcome_span,
    span,
    step_labels,
    step_span,
    value,
    workflow_labels,
)


def test_steps_by_status_and_duration_histogram() -> None:
    engine, registry = new_engine()
    engine.process(step_span(seconds=2.0))
    engine.process(step_span(seconds=0.3))
    engine.process(step_span(seconds=400.0, error=True))

    assert value(registry, "aikpi_steps_total", step_labels(status="ok")) == 2
    assert value(registry, "aikpi_steps_total", step_labels(status="error")) == 1
    labels = step_labels()
    assert value(registry, "aikpi_step_duration_seconds_count", labels) == 3
    assert value(registry, "aikpi_step_duration_seconds_sum", labels) == pytest.approx(402.3)
    # default buckets: 0.1, 0.5, 1, 5, 15, 60, 300, 900, ...
    assert value(registry, "aikpi_step_duration_seconds_bucket", {**labels, "le": "0.1"}) == 0
    assert value(registry, "aikpi_step_duration_seconds_bucket", {**labels, "le": "0.5"}) == 1
    assert value(registry, "aikpi_step_duration_seconds_bucket", {**labels, "le": "5.0"}) == 2
    assert value(registry, "aikpi_step_duration_seconds_bucket", {**labels, "le": "300.0"}) == 2
    assert value(registry, "aikpi_step_duration_seconds_bucket", {**labels, "le": "900.0"}) == 3
    assert value(registry, "aikpi_step_duration_seconds_bucket", {**labels, "le": "+Inf"}) == 3


def test_inline_and_late_outcomes_each_count_once() -> None:
    engine, registry = new_engine()
    inline = step_span(
        attrs={
            semconv.OUTCOME: "edited",
            semconv.CORRECTION_SECONDS: 120.0,
            semconv.REVIEW_SECONDS: 30.0,
        },
        # the SDK also writes the GenAI evaluation event: it must not count a second time
        events=[
            SpanEvent(
                semconv.GEN_AI_EVALUATION_RESULT,
                {
                    semconv.GEN_AI_EVALUATION_NAME: semconv.EVALUATION_NAME_OUTCOME,
                    semconv.GEN_AI_EVALUATION_SCORE_LABEL: "edited",
                },
            )
        ],
    )
    engine.process(inline)
    engine.process(step_span())  # decided later
    engine.process(outcome_span("accepted", **{semconv.REVIEW_SECONDS: 7200.0}))
    engine.process(outcome_span("overridden"))

    assert value(registry, "aikpi_outcomes_total", step_labels(outcome="edited")) == 1
    assert value(registry, "aikpi_outcomes_total", step_labels(outcome="accepted")) == 1
    assert value(registry, "aikpi_outcomes_total", step_labels(outcome="overridden")) == 1
    # outcome spans are not steps
    assert value(registry, "aikpi_steps_total", step_labels(status="ok")) == 2
    # correction only where reported, never observed as 0 when absent
    assert value(registry, "aikpi_correction_seconds_count", step_labels()) == 1
    assert value(registry, "aikpi_correction_seconds_sum", step_labels()) == 120.0
    # review: inline 30 s and the late span's 7200 s; the late override reports none
    assert value(registry, "aikpi_review_seconds_count", step_labels()) == 2
    assert value(registry, "aikpi_review_seconds_sum", step_labels()) == 7230.0


@pytest.mark.parametrize("word", [o.value for o in semconv.Outcome])
def test_every_outcome_word_counts(word: str) -> None:
    engine, registry = new_engine()
    engine.process(outcome_span(word))
    assert value(registry, "aikpi_outcomes_total", step_labels(outcome=word)) == 1


def test_workflows_by_status_reopened_and_duration() -> None:
    engine, registry = new_engine()
    base = {**dims(step=None), semconv.SPAN_TYPE: "workflow"}
    engine.process(span({**base, semconv.WORKFLOW_STATUS: "completed"}, seconds=3600.0))
    engine.process(span({**base, semconv.WORKFLOW_STATUS: "abandoned"}, seconds=60.0))
    engine.process(span({**base, semconv.WORKFLOW_STATUS: "failed"}, seconds=10.0, error=True))
    # no status attribute: the span status decides
    engine.process(span(base, seconds=1.0))
    engine.process(span(base, seconds=1.0, error=True))
    event = {
        **dims(step=None),
        semconv.SPAN_TYPE: "workflow_event",
        semconv.WORKFLOW_EVENT: "reopened",
    }
    engine.process(span(event))

    assert value(registry, "aikpi_workflows_total", workflow_labels(status="completed")) == 2
    assert value(registry, "aikpi_workflows_total", workflow_labels(status="abandoned")) == 1
    assert value(registry, "aikpi_workflows_total", workflow_labels(status="failed")) == 2
    assert value(registry, "aikpi_workflows_total", workflow_labels(status="reopened")) == 1
    # the reopen event has no duration of its own
    assert value(registry, "aikpi_workflow_duration_seconds_count", workflow_labels()) == 5
    assert value(registry, "aikpi_workflow_duration_seconds_sum", workflow_labels()) == 3672.0
    # a workflow span counts no step
    assert registry.get_sample_value("aikpi_steps_total", step_labels(status="ok")) is None


def test_policy_violations_from_events_on_any_dimensioned_span() -> None:
    engine, registry = new_engine()
    violation = SpanEvent(semconv.POLICY_VIOLATION_EVENT, {semconv.POLICY_NAME: "pii-in-prompt"})
    other = SpanEvent("exception", {"exception.type": "ValueError"})
    engine.process(step_span(events=[violation, violation, other]))
    # a third-party span inside the step (no span type) counts its violation too
    engine.process(span(dims(), events=[SpanEvent(semconv.POLICY_VIOLATION_EVENT, {})]))

    assert (
        value(registry, "aikpi_policy_violations_total", step_labels(policy="pii-in-prompt")) == 2
    )
    assert value(registry, "aikpi_policy_violations_total", step_labels(policy="unknown")) == 1


def test_missing_team_and_step_become_none() -> None:
    engine, registry = new_engine()
    engine.process(span({**dims(team=None, step=None), semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 5}))
    labels = {
        "workflow": WORKFLOW,
        "step": "none",
        "cohort": "ai_assisted",
        "team": "none",
        "model": "unknown",
        "token_type": "output",
    }
    assert value(registry, "aikpi_tokens_total", labels) == 5


def test_spans_without_dims_are_ignored_not_rejected() -> None:
    engine, registry = new_engine()
    plain = span({"http.method": "GET"})
    usage_only = span({semconv.GEN_AI_USAGE_INPUT_TOKENS: 10, semconv.GEN_AI_REQUEST_MODEL: "x"})
    result = engine.process_batch([plain, usage_only], "grpc")
    assert (result.accepted, result.rejected, result.error_message) == (2, 0, "")
    assert value(registry, "aikpi_collector_spans_received_total", {"transport": "grpc"}) == 2
    names = {m.name for m in registry.collect() if m.samples and m.name.startswith("aikpi_t")}
    assert names == set()


def test_span_names_do_not_matter() -> None:
    engine, registry = new_engine()
    engine.process(span({**dims(), semconv.SPAN_TYPE: "step"}, name="anything at all"))
    engine.process(span(dims(), name="step draft-reply"))  # looks like a step, is not one
    assert value(registry, "aikpi_steps_total", step_labels(status="ok")) == 1


def test_labor_cost_gauge_from_config() -> None:
    _engine, registry = new_engine(
        labor_cost={"default_usd_per_hour": 80.0, "teams": {TEAM: 120.0, "support": 45.5}}
    )
    gauge = "aikpi_labor_cost_usd_per_hour"
    assert registry.get_sample_value(gauge, {"team": "default"}) == 80.0
    assert registry.get_sample_value(gauge, {"team": TEAM}) == 120.0
    assert registry.get_sample_value(gauge, {"team": "support"}) == 45.5


def test_labels_of_every_kpi_metric() -> None:
    engine, registry = new_engine()
    engine.process(step_span(attrs={semconv.OUTCOME: "accepted", semconv.REVIEW_SECONDS: 1.0}))
    engine.process(span({**dims(step=None), semconv.SPAN_TYPE: "workflow"}))
    engine.process(
        span(
            {
                **dims(),
                semconv.GEN_AI_REQUEST_MODEL: "gpt-4o",
                semconv.GEN_AI_USAGE_INPUT_TOKENS: 3,
            },
            events=[SpanEvent(semconv.POLICY_VIOLATION_EVENT, {})],
        )
    )
    expected = {
        "aikpi_steps": ["cohort", "status", "step", "team", "workflow"],
        "aikpi_step_duration_seconds": ["cohort", "step", "team", "workflow"],
        "aikpi_outcomes": ["cohort", "outcome", "step", "team", "workflow"],
        "aikpi_review_seconds": ["cohort", "step", "team", "workflow"],
        "aikpi_workflows": ["cohort", "status", "team", "workflow"],
        "aikpi_workflow_duration_seconds": ["cohort", "team", "workflow"],
        "aikpi_tokens": ["cohort", "model", "step", "team", "token_type", "workflow"],
        "aikpi_cost_usd": ["cohort", "model", "step", "team", "workflow"],
        "aikpi_policy_violations": ["cohort", "policy", "step", "team", "workflow"],
        "aikpi_labor_cost_usd_per_hour": ["team"],
    }
    seen = {}
    for metric in registry.collect():
        if metric.name in expected and metric.samples:
            sample = metric.samples[0]
            seen[metric.name] = sorted(k for k in sample.labels if k != "le")
            assert metric.type in ("counter", "histogram", "gauge")
    assert seen == expected
