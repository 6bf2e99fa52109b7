"""The aikpi SDK and KpiSpanProcessor together: decorators in, exact KPI numbers out."""

from __future__ import annotations

import aikpi
import pytest
from aikpi import _config
from aikpi_collector import KpiSpanProcessor
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry


@pytest.fixture
def kpi_registry():
    registry = CollectorRegistry()
    provider = TracerProvider()
    provider.add_span_processor(KpiSpanProcessor(registry=registry))
    aikpi.configure(tracer_provider=provider)
    yield registry, provider
    _config.reset()
    provider.shutdown()


@pytest.mark.filterwarnings("ignore::aikpi.UnsignedTokenWarning")  # no key: on purpose here
def test_sdk_workflow_counts_through_the_processor(kpi_registry) -> None:
    registry, provider = kpi_registry
    third_party = provider.get_tracer("some-genai-library")

    @aikpi.step("draft-reply")
    def draft(word: str) -> str:
        step = aikpi.current_step()
        with step.llm_call("gpt-4o", provider="openai") as call:
            call.record_usage(1_000, 100, cache_read_tokens=200)
        # a third-party GenAI span inside the step: dimensions come from baggage
        with third_party.start_as_current_span(
            "openai.chat",
            attributes={
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.prompt_tokens": 500,
                "gen_ai.usage.completion_tokens": 50,
            },
        ):
            pass
        step.outcome(word, correction_seconds=30.0 if word == "edited" else None)
        return word

    @aikpi.step("classify")
    def classify() -> None:
        raise RuntimeError("model unavailable")

    tokens = []
    with aikpi.workflow("ticket-triage", correlation_id="T-100", team="support") as run:
        assert draft("accepted") == "accepted"
        assert draft("edited") == "edited"
        with pytest.raises(RuntimeError):
            classify()
        with aikpi.step("summarise") as late_step:
            aikpi.current_step().policy_violation("pii")
            tokens.append(late_step.token())
        workflow_token = run.token()
    aikpi.record_outcome(tokens[0], "overridden", review_seconds=600.0)
    aikpi.reopen(workflow_token)

    get = registry.get_sample_value
    base = {"workflow": "ticket-triage", "cohort": "ai_assisted", "team": "support"}
    draft_labels = {**base, "step": "draft-reply"}
    assert get("aikpi_steps_total", {**draft_labels, "status": "ok"}) == 2
    assert get("aikpi_steps_total", {**base, "step": "classify", "status": "error"}) == 1
    assert get("aikpi_outcomes_total", {**draft_labels, "outcome": "accepted"}) == 1
    assert get("aikpi_outcomes_total", {**draft_labels, "outcome": "edited"}) == 1
    assert get("aikpi_correction_seconds_sum", draft_labels) == 30.0
    assert get("aikpi_correction_seconds_count", draft_labels) == 1
    summarise = {**base, "step": "summarise"}
    assert get("aikpi_outcomes_total", {**summarise, "outcome": "overridden"}) == 1
    assert get("aikpi_review_seconds_sum", summarise) == 600.0
    assert get("aikpi_policy_violations_total", {**summarise, "policy": "pii"}) == 1
    model = {**draft_labels, "model": "gpt-4o"}
    # SDK calls: 2 x (800 uncached + 200 cached); legacy third-party spans: 2 x 500
    assert get("aikpi_tokens_total", {**model, "token_type": "input"}) == 2 * 800 + 2 * 500
    assert get("aikpi_tokens_total", {**model, "token_type": "cache_read"}) == 2 * 200
    assert get("aikpi_tokens_total", {**model, "token_type": "output"}) == 2 * 100 + 2 * 50
    per_run = (800 * 2.5 + 200 * 1.25 + 100 * 10.0 + 500 * 2.5 + 50 * 10.0) / 1e6
    assert get("aikpi_cost_usd_total", model) == pytest.approx(2 * per_run, rel=1e-12)
    assert get("aikpi_workflows_total", {**base, "status": "completed"}) == 1
    assert get("aikpi_workflows_total", {**base, "status": "reopened"}) == 1
    assert get("aikpi_workflow_duration_seconds_count", base) == 1
    rejected = [
        sample
        for metric in registry.collect()
        if metric.name == "aikpi_collector_spans_rejected"
        for sample in metric.samples
    ]
    assert rejected == []
    # workflow, 4 steps, 4 chat spans, late outcome, reopen event
    assert get("aikpi_collector_spans_received_total", {"transport": "in_process"}) == 11
