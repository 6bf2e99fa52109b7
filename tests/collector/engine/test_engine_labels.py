"""Configurable label keys, the cardinality limit with __overflow__, and histogram buckets."""

from __future__ import annotations

import pytest
from aikpi import semconv
from aikpi_collector.config import DEFAULT_LABEL_KEYS
from support.engine_spans import chat_span, dims, new_engine, span, step_labels, step_span, value


def test_dropped_label_key_is_aggregated_away() -> None:
    keys = tuple(k for k in DEFAULT_LABEL_KEYS if k not in ("team", "step"))
    engine, registry = new_engine(label_keys=keys)
    for team in ("a", "b", "c"):
        for step in ("s1", "s2"):
            attrs = {**dims(team=team, step=step), semconv.SPAN_TYPE: "step"}
            engine.process(span(attrs))
    wf = {"workflow": "incident-triage", "cohort": "ai_assisted"}
    assert registry.get_sample_value("aikpi_steps_total", {**wf, "status": "ok"}) == 6
    assert registry.get_sample_value("aikpi_step_duration_seconds_count", wf) == 6
    for metric in registry.collect():
        if metric.name.startswith("aikpi_") and not metric.name.startswith("aikpi_collector"):
            for sample in metric.samples:
                assert "team" not in sample.labels
                assert "step" not in sample.labels
    # without the team key the labour gauge keeps only the default rate
    assert registry.get_sample_value("aikpi_labor_cost_usd_per_hour", {}) == 60.0


def test_dropping_model_and_token_type() -> None:
    keys = tuple(k for k in DEFAULT_LABEL_KEYS if k not in ("model", "token_type"))
    engine, registry = new_engine(label_keys=keys)
    engine.process(
        chat_span(
            "gpt-4o",
            **{semconv.GEN_AI_USAGE_INPUT_TOKENS: 10, semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 5},
        )
    )
    engine.process(
        chat_span("other", **{semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 7, semconv.COST_USD: 0.25})
    )
    assert value(registry, "aikpi_tokens_total", step_labels()) == 22
    assert value(registry, "aikpi_cost_usd_total", step_labels()) == pytest.approx(
        (10 * 2.5 + 5 * 10.0) / 1e6 + 0.25, rel=1e-12
    )


def test_cardinality_limit_sends_new_sets_to_overflow() -> None:
    engine, registry = new_engine(cardinality_limit=3)
    for index in range(5):
        attrs = {**dims(step=f"s{index}"), semconv.SPAN_TYPE: "step"}
        engine.process(span(attrs))
        engine.process(span(attrs))  # a second update of the same set
    for index in range(3):
        assert value(registry, "aikpi_steps_total", step_labels(step=f"s{index}", status="ok")) == 2
    overflow = dict.fromkeys(("workflow", "step", "cohort", "team", "status"), "__overflow__")
    assert value(registry, "aikpi_steps_total", overflow) == 4
    hist_overflow = {k: v for k, v in overflow.items() if k != "status"}
    assert value(registry, "aikpi_step_duration_seconds_count", hist_overflow) == 4
    # the self-metric counts every update sent to the overflow series, per metric
    counted = "aikpi_collector_label_sets_overflowed_total"
    assert value(registry, counted, {"metric": "aikpi_steps_total"}) == 4
    assert value(registry, counted, {"metric": "aikpi_step_duration_seconds"}) == 4
    assert value(registry, counted, {"metric": "aikpi_outcomes_total"}) == 0
    # at most limit + 1 series per metric
    steps = {m.name: m for m in registry.collect()}["aikpi_steps"]
    assert len(steps.samples) == 4


def test_limit_counts_label_sets_after_dropping_keys() -> None:
    keys = tuple(k for k in DEFAULT_LABEL_KEYS if k != "step")
    engine, registry = new_engine(cardinality_limit=1, label_keys=keys)
    for index in range(4):
        engine.process(span({**dims(step=f"s{index}"), semconv.SPAN_TYPE: "step"}))
    labels = {"workflow": "incident-triage", "cohort": "ai_assisted", "team": "sre", "status": "ok"}
    assert value(registry, "aikpi_steps_total", labels) == 4
    counted = "aikpi_collector_label_sets_overflowed_total"
    assert value(registry, counted, {"metric": "aikpi_steps_total"}) == 0


def test_configured_buckets() -> None:
    engine, registry = new_engine(time_buckets_seconds=(1.0, 60.0, 86400.0))
    for seconds in (0.5, 1.0, 30.0, 3600.0, 200000.0):
        engine.process(step_span(seconds=seconds))
    labels = step_labels()
    buckets = {
        le: value(registry, "aikpi_step_duration_seconds_bucket", {**labels, "le": le})
        for le in ("1.0", "60.0", "86400.0", "+Inf")
    }
    # le is inclusive: 1.0 falls into the 1.0 bucket
    assert buckets == {"1.0": 2, "60.0": 3, "86400.0": 4, "+Inf": 5}
    names = {
        s.labels["le"]
        for m in registry.collect()
        if m.name == "aikpi_step_duration_seconds"
        for s in m.samples
        if "le" in s.labels
    }
    assert names == {"1.0", "60.0", "86400.0", "+Inf"}


def test_default_buckets_span_seconds_to_days() -> None:
    engine, registry = new_engine()
    engine.process(step_span(seconds=2 * 86400.0))
    labels = step_labels()
    assert value(registry, "aikpi_step_duration_seconds_bucket", {**labels, "le": "86400.0"}) == 0
    assert value(registry, "aikpi_step_duration_seconds_bucket", {**labels, "le": "259200.0"}) == 1


@pytest.mark.parametrize("keys", [(), ("workflow",)])
def test_few_or_no_label_keys(keys: tuple[str, ...]) -> None:
    engine, registry = new_engine(label_keys=keys)
    engine.process(step_span(attrs={semconv.OUTCOME: "accepted"}))
    engine.process(step_span(error=True))
    labels = {"workflow": "incident-triage"} if keys else {}
    assert value(registry, "aikpi_steps_total", labels) == 2
    assert value(registry, "aikpi_outcomes_total", labels) == 1
    assert value(registry, "aikpi_step_duration_seconds_count", labels) == 2
