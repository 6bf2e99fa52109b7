"""The fast ``/metrics`` writer against ``prometheus_client``'s own generators.

``render_metrics`` writes the KPI samples itself (cached label text, values formatted per
scrape); ``render_metrics_reference`` leaves everything to ``prometheus_client``. For the
same registry both must give the same families, samples, labels, values and exemplars
(parsed with ``prometheus_client``'s parsers), the same content type, and in fact the same
bytes, for every Accept header, with hostile label values, exemplars on and off, overflow
series, dropped label keys and unusual bucket bounds.
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from aikpi import semconv
from aikpi_collector.engine import SpanEvent, SpanRecord
from aikpi_collector.exposition import (
    OPENMETRICS_ACCEPT,
    OVERFLOW,
    render_metrics,
    render_metrics_reference,
)
from aikpi_collector.exposition.metrics import RAW_FAMILIES
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text
from support.binaries import require_binary
from support.engine_spans import dims, new_engine, span
from support.synthetic import benchmark_render, fill_every_metric, pilot_spans

HOSTILE = (
    'say "hi"',
    "back\\slash",
    "new\nline",
    "ünïcødé ✓ 日本語",
    'all three: \\ " \n',
    "ends with a backslash\\",
    "\\n is not a newline",
    "tab\tand\rcarriage",
)
"""Label values the exposition formats must escape (or must not)."""

PROMETHEUS_2_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
PROMETHEUS_3_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,"
    "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
)
FAST_ACCEPTS = (
    None,
    "",
    "text/plain; version=0.0.4",
    "text/plain; version=1.0.0; escaping=allow-utf-8",
    "text/plain; version=1.0.0; escaping=underscores",
    "application/json",
    OPENMETRICS_ACCEPT,
    "application/openmetrics-text",
    "application/openmetrics-text; version=1.0.0; escaping=allow-utf-8",
    "application/openmetrics-text; version=2.0.0",
    PROMETHEUS_2_ACCEPT,
    PROMETHEUS_3_ACCEPT,
)
"""Accept headers the fast writer serves (names unchanged by the escaping scheme)."""
FALLBACK_ACCEPTS = (
    "application/openmetrics-text; version=1.0.0; escaping=dots",
    "application/openmetrics-text; version=1.0.0; escaping=values",
    "text/plain; version=1.0.0; escaping=dots",
)
"""Escaping schemes that rewrite names: the whole registry goes to prometheus_client."""

CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    "exemplars_off": {"exemplars": False},
    "overflow": {"cardinality_limit": 6},
    "dropped_keys": {"label_keys": ("workflow", "cohort", "status", "token_type", "policy")},
    "no_label_keys": {"label_keys": ()},
    "odd_buckets": {"time_buckets_seconds": (0.001, 0.25, 1, 3, 1234567.0, 1e7, 2.5e9)},
    "labour_teams": {"labor_cost": {"default_usd_per_hour": 55.5, "teams": {'t "x"': 70.25}}},
}


def stored(family: Any, labels: dict[str, str]) -> tuple[Any, ...]:
    """What the store holds for one series (its copy under the engine lock), read without
    ``collect()``."""
    key = tuple(labels[name] for name in family.label_names)
    return dict(family.snapshot())[key]


def _parse_safe_cid(text: str) -> str:
    """``text`` without double quotes: prometheus_client 0.26's OpenMetrics parser rejects an
    escaped quote in an exemplar label value (valid OpenMetrics; its writer emits it), so
    the parsed comparisons use these; ``test_quoted_correlation_ids`` covers the quotes."""
    return text.replace('"', "'")


def _hostile_spans(correlation_ids: str = "parse_safe") -> list[SpanRecord]:
    """Every span kind once per hostile value, with non-integer values throughout."""
    spans = []
    for index, text in enumerate(HOSTILE):
        cid = text if correlation_ids == "raw" else _parse_safe_cid(text)
        base = dims(workflow=f"wf {text}", step=f"step {text}", team=text, correlation_id=cid)
        violation = SpanEvent(semconv.POLICY_VIOLATION_EVENT, {semconv.POLICY_NAME: text})
        step = {
            **base,
            semconv.SPAN_TYPE: "step",
            semconv.OUTCOME: "edited",
            semconv.CORRECTION_SECONDS: 12.375 + index,
            semconv.REVIEW_SECONDS: 0.1 * (index + 1),
        }
        spans.append(span(step, seconds=1.5 + index / 7, events=[violation], name="step"))
        chat = {
            **base,
            semconv.GEN_AI_OPERATION_NAME: "chat",
            semconv.GEN_AI_REQUEST_MODEL: f"model {text}",
            semconv.GEN_AI_USAGE_INPUT_TOKENS: 1000 + index,
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 33,
            semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 7,
            semconv.COST_USD: 0.0123 * (index + 1),
        }
        spans.append(span(chat, seconds=0.3))
        late = {**base, semconv.SPAN_TYPE: "outcome", semconv.OUTCOME: "rejected"}
        spans.append(span({**late, semconv.REVIEW_SECONDS: 1e6 / 3}, seconds=0.0))
        workflow = {**base, semconv.SPAN_TYPE: "workflow", semconv.WORKFLOW_STATUS: "failed"}
        spans.append(span(workflow, seconds=100.25 * index, error=True))
    # no correlation id (exemplar with the trace id only), and one cut at the exemplar limit
    no_cid = {**dims(workflow="no-cid"), semconv.SPAN_TYPE: "step", semconv.OUTCOME: "accepted"}
    del no_cid[semconv.CORRELATION_ID]
    spans.append(span(no_cid))
    long_cid = dims(workflow="long-cid", correlation_id="\\\n" * 200)
    spans.append(span({**long_cid, semconv.SPAN_TYPE: "step", semconv.OUTCOME: "accepted"}))
    return spans


def _filled(config: dict[str, Any]):
    engine, registry = new_engine(**config)
    engine.process_batch(pilot_spans(150), "grpc")
    result = engine.process_batch(_hostile_spans(), "http_json")
    assert result.rejected == 0, result.error_message
    fill_every_metric(engine, 12)
    engine.process_batch(pilot_spans(5), "grpc")  # duplicates
    engine.process_batch([span({**dims(), semconv.SPAN_TYPE: "bogus"})], "http_protobuf")
    sm = engine.self_metrics
    sm.request_duration.labels(transport="grpc").observe(0.0123)
    sm.requests_rejected.labels(transport="http_json", reason="malformed").inc()
    return engine, registry


def _parse(body: bytes, content_type: str):
    parse = parse_om if content_type.startswith("application/openmetrics-text") else parse_text
    return list(parse(body.decode("utf-8")))


def _assert_same_families(fast: list, reference: list) -> None:
    """Family by family, sample by sample: names, labels, values, timestamps, exemplars."""
    assert [f.name for f in fast] == [f.name for f in reference]
    for mine, theirs in zip(fast, reference, strict=True):
        assert (mine.type, mine.documentation, mine.unit) == (
            theirs.type,
            theirs.documentation,
            theirs.unit,
        ), mine.name
        assert len(mine.samples) == len(theirs.samples), mine.name
        for a, b in zip(mine.samples, theirs.samples, strict=True):
            assert (a.name, a.labels, a.value, a.timestamp) == (
                b.name,
                b.labels,
                b.value,
                b.timestamp,
            )
            assert a.exemplar == b.exemplar, (a, b)


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
def test_fast_output_equals_prometheus_client(config_name: str) -> None:
    _engine, registry = _filled(CONFIGS[config_name])
    for accept in FAST_ACCEPTS:
        fast, fast_type = render_metrics(registry, accept)
        reference, reference_type = render_metrics_reference(registry, accept)
        assert fast_type == reference_type, accept
        if accept in (None, OPENMETRICS_ACCEPT):  # parsing is slow; equal bytes parse equal
            _assert_same_families(_parse(fast, fast_type), _parse(reference, reference_type))
        assert fast == reference, accept


@pytest.mark.parametrize("accept", [None, OPENMETRICS_ACCEPT])
def test_fast_writer_serves_the_usual_headers_and_caches_label_text(accept: str | None) -> None:
    engine, registry = _filled({})
    render_metrics(registry, accept)
    for family in engine.metrics.families:
        assert family.label_text.keys() == family.series.keys(), family.name


def test_name_rewriting_escapings_fall_back_to_prometheus_client() -> None:
    # (prometheus_client's own parser cannot read these outputs: bytes are compared)
    engine, registry = _filled({})
    for accept in FALLBACK_ACCEPTS:
        body, content_type = render_metrics(registry, accept)
        assert (body, content_type) == render_metrics_reference(registry, accept), accept
    assert all(not family.label_text for family in engine.metrics.families)


def test_hostile_label_values_round_trip() -> None:
    """Independent of the reference: the parser gives back exactly the values sent."""
    _engine, registry = _filled({})
    body, content_type = render_metrics(registry, OPENMETRICS_ACCEPT)
    families = {f.name: f for f in _parse(body, content_type)}
    steps = families["aikpi_steps"].samples
    assert {s.labels["team"] for s in steps} >= set(HOSTILE)
    assert {s.labels["workflow"] for s in steps} >= {f"wf {t}" for t in HOSTILE}
    cids = {s.exemplar.labels.get("correlation_id") for s in steps if s.exemplar is not None}
    assert cids >= {_parse_safe_cid(text) for text in HOSTILE}
    models = {s.labels["model"] for s in families["aikpi_tokens"].samples}
    assert models >= {f"model {t}" for t in HOSTILE}
    policies = {s.labels["policy"] for s in families["aikpi_policy_violations"].samples}
    assert policies >= set(HOSTILE)
    buckets = families["aikpi_correction_seconds"].samples
    mine = [s for s in buckets if s.labels.get("team") == 'all three: \\ " \n']
    assert [s.name for s in mine[-3:]] == [
        "aikpi_correction_seconds_bucket",
        "aikpi_correction_seconds_count",
        "aikpi_correction_seconds_sum",
    ]
    assert mine[-1].value == 12.375 + HOSTILE.index('all three: \\ " \n')


def test_quoted_correlation_ids() -> None:
    """Exemplar label values with quotes: byte-equal to prometheus_client, escaped per spec."""
    engine, registry = new_engine()
    engine.process_batch(_hostile_spans(correlation_ids="raw"), "grpc")
    body, _ = render_metrics(registry, OPENMETRICS_ACCEPT)
    assert body == render_metrics_reference(registry, OPENMETRICS_ACCEPT)[0]
    text = body.decode()
    assert '# {correlation_id="say \\"hi\\"",trace_id="' in text
    assert '# {correlation_id="all three: \\\\ \\" \\n",trace_id="' in text


def test_overflow_series_and_dropped_keys_are_written() -> None:
    engine, registry = _filled(CONFIGS["overflow"])
    body, content_type = render_metrics(registry, None)
    families = {f.name: f for f in _parse(body, content_type)}
    overflow = [s for s in families["aikpi_steps"].samples if s.labels["workflow"] == OVERFLOW]
    assert overflow and all(set(s.labels.values()) == {OVERFLOW} for s in overflow)

    engine, registry = _filled(CONFIGS["no_label_keys"])
    body, content_type = render_metrics(registry, None)
    text = body.decode()
    assert f"aikpi_steps_total {stored(engine.metrics.steps, {})[0]!r}\n" in text
    assert 'aikpi_review_seconds_bucket{le="+Inf"} ' in text


def test_later_scrapes_see_new_series_and_new_values() -> None:
    engine, registry = _filled({})
    for accept in (None, OPENMETRICS_ACCEPT):
        render_metrics(registry, accept)
    engine.process_batch(_hostile_spans(), "grpc")  # same label sets, new values and exemplars
    fill_every_metric(engine, 40, seed=9)  # new label sets
    for accept in (None, OPENMETRICS_ACCEPT):
        assert render_metrics(registry, accept)[0] == render_metrics_reference(registry, accept)[0]


def test_a_full_store_renders_identically() -> None:
    engine, registry = new_engine()
    fill_every_metric(engine, 150)
    for accept in (None, OPENMETRICS_ACCEPT):
        fast, fast_type = render_metrics(registry, accept)
        reference, reference_type = render_metrics_reference(registry, accept)
        assert fast == reference
        _assert_same_families(_parse(fast, fast_type), _parse(reference, reference_type))


def test_self_metrics_kept_and_one_eof() -> None:
    _engine, registry = _filled({})
    registry.set_target_info({"service": "aikpi-collector"})
    assert render_metrics(registry, None) == render_metrics_reference(registry, None)
    body, content_type = render_metrics(registry, OPENMETRICS_ACCEPT)
    assert body == render_metrics_reference(registry, OPENMETRICS_ACCEPT)[0]
    assert body.endswith(b"\n# EOF\n") and body.count(b"# EOF") == 1
    names = {f.name for f in _parse(body, content_type)}
    assert names >= {
        "aikpi_collector_spans_received",
        "aikpi_collector_spans_rejected",
        "aikpi_collector_requests_rejected",
        "aikpi_collector_duplicate_spans",
        "aikpi_collector_request_duration_seconds",
        "aikpi_labor_cost_usd_per_hour",
        "target",
    }


def test_collect_outside_a_scrape_still_builds_families() -> None:
    engine, registry = _filled({})
    render_metrics(registry, OPENMETRICS_ACCEPT)
    assert RAW_FAMILIES.get() is False
    labels = {"workflow": 'wf say "hi"', "step": 'step say "hi"', "cohort": "ai_assisted"}
    labels |= {"team": 'say "hi"', "status": "ok"}
    assert registry.get_sample_value("aikpi_steps_total", labels) == 1.0
    assert stored(engine.metrics.steps, labels)[0] == 1.0


def test_promtool_accepts_the_fast_text(tmp_path) -> None:
    promtool = require_binary("promtool")
    for config in ({}, CONFIGS["overflow"], CONFIGS["no_label_keys"]):
        _engine, registry = _filled(config)
        body, _ = render_metrics(registry, None)
        result = subprocess.run(
            [promtool, "check", "metrics"], input=body, capture_output=True, timeout=60
        )
        output = result.stdout.decode() + result.stderr.decode()
        assert result.returncode == 0, output
        assert output.strip() == "", output


def test_benchmark_render_reports_both_paths() -> None:
    figures = benchmark_render(n_label_sets=5, runs=1)
    assert figures["text_identical"] is True
    assert figures["openmetrics_identical"] is True
    for key in ("text_fast_ms", "text_reference_ms", "openmetrics_fast_ms"):
        assert figures[key] > 0
    # 6 counters x 5 series + 4 histograms x 5 series x (15 buckets + +Inf + count + sum),
    # plus the labour-cost gauge and self-metric samples (received, _created gauges)
    assert figures["samples"] >= 6 * 5 + 4 * 5 * 18 + 1
