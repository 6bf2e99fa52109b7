"""render_metrics: Prometheus text, OpenMetrics with exemplars, and promtool's verdict."""

from __future__ import annotations

import subprocess

import pytest
from aikpi import semconv
from aikpi_collector.engine import SpanEvent
from aikpi_collector.exposition import OPENMETRICS_ACCEPT, render_metrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.parser import text_string_to_metric_families as parse_text
from support.binaries import require_binary
from support.engine_spans import chat_span, new_engine, outcome_span, span, step_span
from support.synthetic import fill_every_metric, pilot_spans


def _filled():
    engine, registry = new_engine()
    engine.process_batch(pilot_spans(400), "grpc")
    return engine, registry


def test_text_format_by_default() -> None:
    _engine, registry = _filled()
    body, content_type = render_metrics(registry, None)
    assert content_type.startswith("text/plain")
    families = {f.name: f for f in parse_text(body.decode())}
    assert families["aikpi_steps"].type == "counter"
    assert families["aikpi_step_duration_seconds"].type == "histogram"
    assert " # {" not in body.decode()  # no exemplars in the Prometheus text format


def test_openmetrics_carries_trace_and_correlation_exemplars() -> None:
    engine, registry = new_engine()
    step = step_span(seconds=3.0, attrs={semconv.OUTCOME: "accepted"})
    engine.process(step)
    engine.process(outcome_span("edited", **{semconv.CORRECTION_SECONDS: 42.0}))
    engine.process(chat_span("gpt-4o", **{semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 10}))

    body, content_type = render_metrics(registry, OPENMETRICS_ACCEPT)
    assert content_type.startswith("application/openmetrics-text")
    text = body.decode()
    assert text.endswith("# EOF\n")
    exemplars = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.exemplar is not None:
                exemplars.setdefault(sample.name, []).append(sample)
    steps = exemplars["aikpi_steps_total"][0]
    assert steps.exemplar.labels == {"trace_id": step.trace_id.hex(), "correlation_id": "INC-42"}
    assert steps.exemplar.value == 1.0
    stamp = steps.exemplar.timestamp
    assert stamp.sec + stamp.nsec / 1e9 == pytest.approx(step.end_unix_nano / 1e9)
    # a histogram exemplar sits on the bucket the observation fell into
    (bucket,) = exemplars["aikpi_step_duration_seconds_bucket"]
    assert bucket.labels["le"] == "5.0"
    assert bucket.exemplar.value == 3.0
    assert len(bucket.exemplar.labels["trace_id"]) == 32
    assert "aikpi_correction_seconds_bucket" in exemplars
    assert "aikpi_tokens_total" in exemplars
    assert "aikpi_cost_usd_total" in exemplars


def test_long_correlation_ids_are_cut_to_the_exemplar_limit() -> None:
    engine, registry = new_engine()
    attrs = {**step_span().attributes, semconv.CORRELATION_ID: "C" * 500}
    engine.process(span(attrs))
    body, _ = render_metrics(registry, OPENMETRICS_ACCEPT)
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.exemplar is not None:
                runes = sum(len(k) + len(v) for k, v in sample.exemplar.labels.items())
                assert runes <= 128


def test_exemplars_off() -> None:
    engine, registry = new_engine(exemplars=False)
    engine.process(step_span())
    body, _ = render_metrics(registry, OPENMETRICS_ACCEPT)
    assert " # {" not in body.decode()


def test_fill_every_metric_gives_exact_label_set_counts() -> None:
    engine, _registry = new_engine()
    fill_every_metric(engine, 50)
    for family in engine.metrics.families:
        assert len(family.series) == 50, family.name


def test_promtool_finds_no_problem(tmp_path) -> None:
    promtool = require_binary("promtool")
    engine, registry = _filled()
    engine.process(
        step_span(events=[SpanEvent(semconv.POLICY_VIOLATION_EVENT, {semconv.POLICY_NAME: "p"})])
    )
    engine.process_batch([outcome_span("bad-word")], "http_json")
    fill_every_metric(engine, 20)
    engine.self_metrics.request_duration.labels(transport="grpc").observe(0.01)
    engine.self_metrics.requests_rejected.labels(transport="grpc", reason="malformed").inc()
    # promtool (2.42) lints the Prometheus text format; it cannot parse OpenMetrics.
    body, _ = render_metrics(registry, None)
    result = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert result.stdout.decode().strip() == "", result.stdout.decode()
    assert result.stderr.decode().strip() == "", result.stderr.decode()
    # the OpenMetrics body goes through prometheus_client's strict OpenMetrics parser
    body, _ = render_metrics(registry, OPENMETRICS_ACCEPT)
    families = list(text_string_to_metric_families(body.decode()))
    assert {f.name for f in families} >= {"aikpi_steps", "aikpi_tokens", "aikpi_cost_usd"}


def test_exemplar_without_correlation_id_has_only_the_trace() -> None:
    engine, registry = new_engine()
    attrs = dict(step_span().attributes)
    del attrs[semconv.CORRELATION_ID]
    one = span(attrs)
    engine.process(one)
    body, _ = render_metrics(registry, OPENMETRICS_ACCEPT)
    labels = [
        sample.exemplar.labels
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if sample.exemplar is not None
    ]
    assert labels
    assert all(lbl == {"trace_id": one.trace_id.hex()} for lbl in labels)
