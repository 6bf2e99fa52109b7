"""Hostile span values (issue "Hardening", items 1, 2 and 7): rejected whole, nothing counted,
and ``/metrics`` keeps rendering in both formats.

The first tests drive the real collector over OTLP/JSON exactly as the defects were found;
the rest check the engine's rules directly.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest
from aikpi import semconv
from aikpi_collector.engine import SpanEvent
from aikpi_collector.exposition import OPENMETRICS_ACCEPT, render_metrics
from support.binaries import require_binary
from support.collector import running_collector
from support.engine_spans import (
    chat_span,
    dims,
    kpi_samples,
    new_engine,
    span,
    step_labels,
    step_span,
    value,
)


def _json_request(attributes: dict[str, str], end: str = "2000000000") -> bytes:
    """An OTLP/JSON body with one step span; ``attributes`` are string attributes.

    Built as text so that a lone surrogate escape (``\\ud800``) reaches the collector
    exactly as a hostile client would send it.
    """
    attrs = ",".join(
        f'{{"key": {json.dumps(k)}, "value": {{"stringValue": "{v}"}}}}'
        for k, v in attributes.items()
    )
    return (
        '{"resourceSpans": [{"scopeSpans": [{"spans": [{'
        '"traceId": "0102030405060708090a0b0c0d0e0f10", "spanId": "0102030405060708", '
        f'"name": "step", "startTimeUnixNano": "1000000000", "endTimeUnixNano": "{end}", '
        f'"attributes": [{attrs}]'
        "}]}]}]}"
    ).encode()


STEP_ATTRS = {
    semconv.SPAN_TYPE: "step",
    semconv.WORKFLOW_NAME: "support-reply",
    semconv.STEP_NAME: "draft",
    semconv.COHORT: "ai_assisted",
    semconv.CORRELATION_ID: "T-1",
}


def _promtool_check(text: str) -> None:
    checked = subprocess.run(
        [require_binary("promtool"), "check", "metrics"],
        input=text.encode(),
        capture_output=True,
        timeout=60,
    )
    # promtool exits 3 for lint-only findings (e.g. counters without _total in text format)
    assert checked.returncode in (0, 3), checked.stderr.decode()


@pytest.mark.slow
@pytest.mark.parametrize(
    "key", [semconv.WORKFLOW_NAME, semconv.CORRELATION_ID, semconv.TEAM, semconv.STEP_NAME]
)
def test_a_lone_surrogate_is_rejected_and_metrics_keep_rendering(tmp_path: Path, key) -> None:
    attributes = {**STEP_ATTRS, key: "x\\ud800"}
    with running_collector(tmp_path) as collector:
        response = httpx.post(
            collector.traces_url,
            content=_json_request(attributes),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 200
        partial = response.json()["partialSuccess"]
        assert partial["rejectedSpans"] == "1"
        assert "UTF-8" in partial["errorMessage"]
        good = httpx.post(
            collector.traces_url,
            content=_json_request(STEP_ATTRS),
            headers={"Content-Type": "application/json"},
        )
        assert good.status_code == 200 and good.json() == {}
        text = collector.metrics_text()
        openmetrics = collector.metrics_text(OPENMETRICS_ACCEPT)
        steps = collector.sample(
            "aikpi_steps_total",
            {
                "workflow": "support-reply",
                "step": "draft",
                "cohort": "ai_assisted",
                "team": "none",
                "status": "ok",
            },
        )
    assert steps == 1.0
    _promtool_check(text)
    assert openmetrics.endswith("# EOF\n")


@pytest.mark.slow
def test_an_overflowing_end_time_is_refused_and_never_counted(tmp_path: Path) -> None:
    body = _json_request(STEP_ATTRS, end="1" + "0" * 400)
    with running_collector(tmp_path) as collector:
        for _ in range(3):  # the exporter retries: still nothing counted
            response = httpx.post(
                collector.traces_url, content=body, headers={"Content-Type": "application/json"}
            )
            assert response.status_code in (200, 400)
            if response.status_code == 200:
                assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
        samples = collector.samples()
        openmetrics = collector.metrics_text(OPENMETRICS_ACCEPT)
    steps = [v for (name, _), v in samples.items() if name == "aikpi_steps_total"]
    assert sum(steps) == 0
    assert openmetrics.endswith("# EOF\n")


def _render_both(registry) -> None:
    for accept in (None, OPENMETRICS_ACCEPT):
        body, _ = render_metrics(registry, accept)
        body.decode("utf-8")


@pytest.mark.parametrize(
    "attrs",
    [
        {semconv.GEN_AI_RESPONSE_MODEL: "gpt\ud800"},
        {semconv.GEN_AI_USAGE_INPUT_TOKENS: 10**13},
        {semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 1e300},
        {semconv.LEGACY_PROMPT_TOKENS: 2**70},
        {semconv.COST_USD: 1e300},
    ],
    ids=["surrogate-model", "huge-input", "huge-float-output", "huge-legacy", "huge-cost"],
)
def test_bad_usage_rejects_the_whole_span(attrs) -> None:
    engine, registry = new_engine()
    before = kpi_samples(registry)
    bad = chat_span("gpt-4o", **{semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 5, **attrs})
    bad.events.append(SpanEvent(semconv.POLICY_VIOLATION_EVENT, {semconv.POLICY_NAME: "pii"}))
    result = engine.process_batch([bad], "grpc")
    assert result.rejected == 1
    assert kpi_samples(registry) == before  # all or nothing: not even the violation
    _render_both(registry)


def test_a_surrogate_policy_name_is_rejected() -> None:
    engine, registry = new_engine()
    bad = step_span()
    bad.events.append(SpanEvent(semconv.POLICY_VIOLATION_EVENT, {semconv.POLICY_NAME: "p\udfff"}))
    assert engine.process_batch([bad], "grpc").rejected == 1
    assert value(registry, "aikpi_steps_total", step_labels(status="ok")) == 0
    _render_both(registry)


@pytest.mark.parametrize("seconds", [1e12, float("inf")])
def test_out_of_range_seconds_are_rejected(seconds) -> None:
    engine, registry = new_engine()
    bad = step_span(attrs={semconv.OUTCOME: "edited", semconv.CORRECTION_SECONDS: seconds})
    assert engine.process_batch([bad], "grpc").rejected == 1
    assert value(registry, "aikpi_steps_total", step_labels(status="ok")) == 0


def test_a_step_lasting_centuries_is_rejected() -> None:
    engine, registry = new_engine()
    bad = step_span(seconds=1e10)
    assert engine.process_batch([bad], "grpc").rejected == 1
    assert value(registry, "aikpi_steps_total", step_labels(status="ok")) == 0


def test_a_rejected_span_can_be_corrected_and_counted() -> None:
    engine, registry = new_engine()
    bad = step_span(seconds=1e10)
    assert engine.process_batch([bad], "grpc").rejected == 1
    bad.end_unix_nano = bad.start_unix_nano + 10**9  # the same ids, a sane value now
    assert engine.process_batch([bad], "grpc").accepted == 1
    assert value(registry, "aikpi_steps_total", step_labels(status="ok")) == 1


def test_spans_that_count_nothing_do_not_fill_the_dedup_window() -> None:
    engine, registry = new_engine(dedup_window_spans=2)
    counted = step_span()
    engine.process_batch([counted], "grpc")
    library = [span({"http.method": "GET"}) for _ in range(10)]  # plain library spans
    engine.process_batch(library, "grpc")
    assert engine.process_batch([counted], "grpc").duplicates == 1  # still remembered
    assert value(registry, "aikpi_steps_total", step_labels(status="ok")) == 1


def test_usage_on_a_span_with_dims_but_nothing_else_is_not_remembered() -> None:
    engine, _ = new_engine(dedup_window_spans=1)
    counted = step_span()
    engine.process_batch([counted], "grpc")
    # a foreign span under a workflow with no usage and no events counts nothing either
    engine.process_batch([span(dims())], "grpc")
    assert engine.process_batch([counted], "grpc").duplicates == 1


def test_huge_cache_counts_are_rejected_also_for_a_model_seen_before() -> None:
    engine, registry = new_engine()
    assert (
        engine.process_batch(
            [chat_span("gpt-4o", **{semconv.GEN_AI_USAGE_INPUT_TOKENS: 5})], "grpc"
        ).accepted
        == 1
    )
    before = kpi_samples(registry)
    huge = 2 * 10**12
    bad = chat_span(
        "gpt-4o",
        **{
            semconv.GEN_AI_USAGE_INPUT_TOKENS: huge,
            semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: huge - 5,
        },
    )
    assert engine.process_batch([bad], "grpc").rejected == 1
    assert kpi_samples(registry) == before
