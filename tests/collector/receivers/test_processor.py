"""KpiSpanProcessor end to end: a real OTel SDK TracerProvider and the real tracer API."""

from __future__ import annotations

import logging

import pytest
from aikpi import semconv
from aikpi_collector import KpiSpanProcessor
from aikpi_collector.config import CollectorConfig
from aikpi_collector.receivers import span_record
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode
from prometheus_client import CollectorRegistry

DIMS = {
    semconv.CORRELATION_ID: "PR-7",
    semconv.WORKFLOW_NAME: "code-review",
    semconv.COHORT: "ai_assisted",
    semconv.TEAM: "platform",
}
STEP = {**DIMS, semconv.STEP_NAME: "summarise"}
STEP_LABELS = {
    "workflow": "code-review",
    "step": "summarise",
    "cohort": "ai_assisted",
    "team": "platform",
}


@pytest.fixture
def traced():
    registry = CollectorRegistry()
    processor = KpiSpanProcessor(registry=registry, config=CollectorConfig())
    provider = TracerProvider()
    provider.add_span_processor(processor)
    yield provider.get_tracer("test"), registry, processor
    provider.shutdown()


def test_workflow_steps_usage_and_outcome(traced) -> None:
    tracer, registry, _ = traced
    with tracer.start_as_current_span(
        "workflow code-review",
        attributes={**DIMS, semconv.SPAN_TYPE: "workflow", semconv.WORKFLOW_STATUS: "completed"},
    ):
        for word in ("accepted", "edited"):
            with tracer.start_as_current_span(
                "step summarise", attributes={**STEP, semconv.SPAN_TYPE: "step"}
            ) as step:
                with tracer.start_as_current_span(
                    "chat gpt-4o",
                    attributes={
                        **STEP,
                        semconv.GEN_AI_OPERATION_NAME: "chat",
                        semconv.GEN_AI_REQUEST_MODEL: "gpt-4o",
                        semconv.GEN_AI_PROVIDER_NAME: "openai",
                        semconv.GEN_AI_USAGE_INPUT_TOKENS: 2_000,
                        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 100,
                        semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1_000,
                    },
                ):
                    pass
                step.set_attribute(semconv.OUTCOME, word)
                step.add_event(semconv.POLICY_VIOLATION_EVENT, {semconv.POLICY_NAME: "secrets"})
        try:
            with tracer.start_as_current_span(
                "step summarise", attributes={**STEP, semconv.SPAN_TYPE: "step"}
            ):
                raise RuntimeError("model timed out")
        except RuntimeError:
            pass

    get = registry.get_sample_value
    assert get("aikpi_steps_total", {**STEP_LABELS, "status": "ok"}) == 2
    assert get("aikpi_steps_total", {**STEP_LABELS, "status": "error"}) == 1
    assert get("aikpi_outcomes_total", {**STEP_LABELS, "outcome": "accepted"}) == 1
    assert get("aikpi_outcomes_total", {**STEP_LABELS, "outcome": "edited"}) == 1
    assert get("aikpi_policy_violations_total", {**STEP_LABELS, "policy": "secrets"}) == 2
    tokens = {**STEP_LABELS, "model": "gpt-4o"}
    assert get("aikpi_tokens_total", {**tokens, "token_type": "input"}) == 2_000
    assert get("aikpi_tokens_total", {**tokens, "token_type": "cache_read"}) == 2_000
    assert get("aikpi_tokens_total", {**tokens, "token_type": "output"}) == 200
    expected_cost = 2 * (1_000 * 2.5 + 1_000 * 1.25 + 100 * 10.0) / 1e6
    assert get("aikpi_cost_usd_total", tokens) == pytest.approx(expected_cost, rel=1e-12)
    wf = {"workflow": "code-review", "cohort": "ai_assisted", "team": "platform"}
    assert get("aikpi_workflows_total", {**wf, "status": "completed"}) == 1
    assert get("aikpi_workflow_duration_seconds_count", wf) == 1
    assert get("aikpi_collector_spans_received_total", {"transport": "in_process"}) == 6


def test_rejected_span_is_logged_never_raised(traced, caplog) -> None:
    tracer, registry, _ = traced
    caplog.set_level(logging.WARNING, logger="aikpi_collector.receivers.processor")
    with tracer.start_as_current_span(
        "step summarise",
        attributes={**STEP, semconv.SPAN_TYPE: "step", semconv.OUTCOME: "meh"},
    ):
        pass
    with tracer.start_as_current_span(
        "step summarise", attributes={**STEP, semconv.SPAN_TYPE: "step"}
    ) as s:
        s.set_status(Status(StatusCode.ERROR))
    assert any("'meh'" in r.getMessage() for r in caplog.records)
    labels = {"transport": "in_process", "reason": "invalid_outcome"}
    assert registry.get_sample_value("aikpi_collector_spans_rejected_total", labels) == 1
    assert registry.get_sample_value("aikpi_steps_total", {**STEP_LABELS, "status": "error"}) == 1
    assert registry.get_sample_value("aikpi_steps_total", {**STEP_LABELS, "status": "ok"}) is None


def test_span_record_conversion() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("x", attributes={"a": 1}) as s:
        s.add_event("e", {"k": "v"})
    (finished,) = exporter.get_finished_spans()
    record = span_record(finished)
    assert record.trace_id == finished.context.trace_id.to_bytes(16, "big")
    assert record.span_id == finished.context.span_id.to_bytes(8, "big")
    assert record.attributes == {"a": 1}
    assert [(e.name, e.attributes) for e in record.events] == [("e", {"k": "v"})]
    assert record.end_unix_nano - record.start_unix_nano == finished.end_time - finished.start_time
    assert record.status_error is False
    provider.shutdown()


def test_spans_without_ids_all_count_in_process() -> None:
    # in-process spans are never retried: no de-duplication, even for ids that are all zero
    from opentelemetry.sdk.trace import ReadableSpan

    registry = CollectorRegistry()
    processor = KpiSpanProcessor(registry=registry)
    attributes = {**STEP, semconv.SPAN_TYPE: "step"}
    for _ in range(3):
        processor.on_end(ReadableSpan(name="step summarise", attributes=attributes))
    labels = {**STEP_LABELS, "status": "ok"}
    assert registry.get_sample_value("aikpi_steps_total", labels) == 3
    assert processor.engine.config.dedup_window_spans == 0
