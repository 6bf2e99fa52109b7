"""Bounded fuzzing of decode + engine + exposition together (hypothesis).

Any OTLP body, protobuf or JSON, well-formed or not, must either be refused cleanly (a
:class:`DecodeError`: nothing counted) or be processed, each span counted or refused on its
own (``partial_success``), and ``/metrics`` must always render, in the Prometheus text
format and in OpenMetrics, and pass ``promtool check metrics``. Spans are built from the
contract's own attribute keys and words, with hostile values mixed in (huge and negative
numbers, NaN, lone surrogates in JSON strings, ids of the wrong length, flipped bytes).

Bounded: ``max_examples`` per strategy, no deadline, no example database, no shrinking (a
failure prints its example as generated). Everything the examples stored is then checked
together: one promtool run on the text format, and one real Prometheus scraping the
OpenMetrics format from a collector's ``/metrics``.
"""

from __future__ import annotations

import base64
import json
import math
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aikpi import semconv
from aikpi_collector.config import CollectorConfig, load_config
from aikpi_collector.engine import KpiEngine
from aikpi_collector.exposition import OPENMETRICS_ACCEPT, render_metrics
from aikpi_collector.receivers import DecodeError, decode_json, decode_protobuf
from aikpi_collector.server import CollectorServer
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text
from support.binaries import require_binary
from support.prometheus import running_prometheus

MAX_EXAMPLES = 200
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    # no shrinking: it can take minutes; a failure prints its (unshrunk) example
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- what a span may carry --------------------------------------------------------------

KEYS = [
    semconv.SPAN_TYPE,
    semconv.CORRELATION_ID,
    semconv.WORKFLOW_NAME,
    semconv.STEP_NAME,
    semconv.STEP_ASSISTED,
    semconv.COHORT,
    semconv.TEAM,
    semconv.WORKFLOW_STATUS,
    semconv.WORKFLOW_EVENT,
    semconv.OUTCOME,
    semconv.CORRECTION_SECONDS,
    semconv.REVIEW_SECONDS,
    semconv.COST_USD,
    semconv.GEN_AI_OPERATION_NAME,
    semconv.GEN_AI_PROVIDER_NAME,
    semconv.GEN_AI_REQUEST_MODEL,
    semconv.GEN_AI_RESPONSE_MODEL,
    semconv.GEN_AI_USAGE_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
    semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    semconv.LEGACY_CACHE_READ_INPUT_TOKENS,
    semconv.LEGACY_PROMPT_TOKENS,
    semconv.LEGACY_COMPLETION_TOKENS,
]
WORDS = [
    *(t.value for t in semconv.SpanType),
    *(o.value for o in semconv.Outcome),
    *(s.value for s in semconv.WorkflowStatus),
    "ai_assisted",
    "baseline",
    "reopened",
    "chat",
    "gpt-4o",
    "claude-sonnet-4",
    "payroll",
    "",
]
EVENT_NAMES = [semconv.POLICY_VIOLATION_EVENT, semconv.GEN_AI_EVALUATION_RESULT, "exception", ""]
EVENT_KEYS = [
    semconv.POLICY_NAME,
    semconv.GEN_AI_EVALUATION_NAME,
    semconv.GEN_AI_EVALUATION_SCORE_LABEL,
]
NOW_NS = 1_760_000_000_000_000_000

# Strategies are built once here: building them inside a composite per draw costs more
# than the test itself.
texts = st.one_of(st.sampled_from(WORDS), st.text(max_size=24))
ints = st.one_of(
    st.integers(-5, 5_000),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([10**12, 10**13, 2**53 + 1, 2**63 - 1, -(2**63)]),
)
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0, max_value=10**7),
    st.sampled_from([1e300, -0.0, 5e-324]),
)
scalars = st.one_of(texts, ints, floats, st.booleans())
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.binary(max_size=8))
times = st.one_of(
    st.integers(NOW_NS - 10**14, NOW_NS + 10**14),
    st.integers(0, 2**64 - 1),
    st.just(0),
)
names = st.sampled_from(["incident-triage", "draft-reply", "support", "gpt-4o", "n\\a", 'q"t'])
odd_texts = st.text(
    st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Z", "Cc", "Cf"]), max_size=12
)
"""Label values from anywhere in Unicode: newlines, quotes, backslashes, NUL, RTL marks."""
surrogate_texts = st.text(st.characters(codec=None, categories=["Cs", "L"]), min_size=1, max_size=4)
"""Strings with lone surrogates: only JSON can carry them (escaped), json.loads accepts them."""
json_label_texts = st.one_of(odd_texts, surrogate_texts)
span_types = st.sampled_from([t.value for t in semconv.SpanType])
cohorts = st.sampled_from(["ai_assisted", "baseline"])
outcomes = st.sampled_from([o.value for o in semconv.Outcome])
statuses = st.sampled_from([s.value for s in semconv.WorkflowStatus])
seconds = st.floats(0, 10**6)
odd_numbers = st.one_of(floats, ints)
token_counts = st.integers(0, 10**6)
costs = st.floats(0, 100)
soup = st.dictionaries(st.one_of(st.sampled_from(KEYS), texts), values, max_size=8)
extras = st.dictionaries(st.one_of(st.sampled_from(KEYS), texts), values, max_size=2)
trace_ids = st.binary(min_size=16, max_size=16)
span_ids = st.binary(min_size=8, max_size=8)
odd_ids = st.binary(max_size=20)
parents = st.one_of(st.just(b""), span_ids)
status_codes = st.one_of(st.sampled_from([0, 1, 2]), st.integers(-(2**31), 2**31 - 1))
event_names = st.sampled_from(EVENT_NAMES)
event_keys = st.one_of(st.sampled_from(EVENT_KEYS), texts)


def rarely(draw: st.DrawFn, usual: Any, odd: Any, one_in: int = 20) -> Any:
    """``odd`` once in ``one_in`` draws, else ``usual`` (each a strategy to draw from, or a
    plain value): hostile values, but not in every span, so that most requests decode and
    their spans reach the engine."""
    chosen = odd if draw(st.integers(1, one_in)) == 1 else usual
    return draw(chosen) if isinstance(chosen, st.SearchStrategy) else chosen


@st.composite
def contract_attributes(draw: st.DrawFn, label_texts: st.SearchStrategy[str]) -> dict[str, Any]:
    """The attributes of an aikpi or GenAI span, mostly valid, some values hostile."""

    def label() -> str:
        return rarely(draw, names, label_texts, 4)

    span_type = rarely(draw, span_types, texts)
    attributes: dict[str, Any] = {
        semconv.SPAN_TYPE: span_type,
        semconv.CORRELATION_ID: rarely(draw, "INC-42", label_texts, 3),
        semconv.WORKFLOW_NAME: label(),
        semconv.COHORT: rarely(draw, cohorts, texts),
    }
    if draw(st.booleans()):
        attributes[semconv.TEAM] = label()
    if span_type in ("step", "outcome"):
        attributes[semconv.STEP_NAME] = label()
        if draw(st.booleans()):
            attributes[semconv.OUTCOME] = rarely(draw, outcomes, texts)
        for key in (semconv.CORRECTION_SECONDS, semconv.REVIEW_SECONDS):
            if draw(st.booleans()):
                attributes[key] = rarely(draw, seconds, odd_numbers)
    elif span_type == "workflow":
        attributes[semconv.WORKFLOW_STATUS] = rarely(draw, statuses, texts)
    elif span_type == "workflow_event":
        attributes[semconv.WORKFLOW_EVENT] = rarely(draw, "reopened", texts)
    if draw(st.integers(0, 2)) == 0:  # an LLM call inside the step
        attributes[semconv.STEP_NAME] = label()
        attributes[semconv.GEN_AI_REQUEST_MODEL] = label()
        for key in KEYS[-7:]:  # token counts, current and legacy spellings
            if draw(st.booleans()):
                attributes[key] = rarely(draw, token_counts, odd_numbers)
        if draw(st.booleans()):
            attributes[semconv.COST_USD] = rarely(draw, costs, floats)
    if draw(st.integers(0, 4)) == 0:
        attributes.update(draw(extras))
    return attributes


@st.composite
def span_models(draw: st.DrawFn, label_texts: st.SearchStrategy[str]) -> dict[str, Any]:
    """A span as plain data, rendered below as protobuf or as OTLP/JSON."""
    start = draw(times)
    if draw(st.integers(0, 9)) == 0:  # a library span, or any attribute soup
        attributes = draw(soup)
    else:
        attributes = draw(contract_attributes(label_texts))
    events = []
    for _ in range(draw(st.integers(0, 3))):
        event_values = st.one_of(names, label_texts, values)
        events.append(
            (draw(event_names), draw(st.dictionaries(event_keys, event_values, max_size=3)))
        )
    return {
        "trace_id": rarely(draw, trace_ids, odd_ids, 60),
        "span_id": rarely(draw, span_ids, odd_ids, 60),
        "parent": draw(parents),
        "name": draw(texts),
        "start": start,
        "end": rarely(draw, min(start + draw(st.integers(0, 10**13)), 2**64 - 1), times, 8),
        "status": draw(status_codes),
        "attributes": attributes,
        "events": events,
    }


requests = st.lists(span_models(odd_texts), max_size=6)
json_requests = st.lists(span_models(json_label_texts), max_size=6)
resources = st.dictionaries(st.sampled_from(["service.name", *KEYS[:6]]), scalars, max_size=3)


# --- protobuf ---------------------------------------------------------------------------


def _any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        out = AnyValue()
        out.array_value.values.extend(_any_value(item) for item in value)
        return out
    return AnyValue(string_value=value)


def _key_values(attributes: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=_any_value(value)) for key, value in attributes.items()]


def protobuf_request(spans: list[dict[str, Any]], resource: dict[str, Any]) -> bytes:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(_key_values(resource))
    scope = resource_spans.scope_spans.add()
    for model in spans:
        span = scope.spans.add()
        span.trace_id = model["trace_id"]
        span.span_id = model["span_id"]
        span.parent_span_id = model["parent"]
        span.name = model["name"]
        span.start_time_unix_nano = model["start"]
        span.end_time_unix_nano = model["end"]
        span.status.code = model["status"] % 3
        span.attributes.extend(_key_values(model["attributes"]))
        for name, attributes in model["events"]:
            event = span.events.add(name=name)
            event.attributes.extend(_key_values(attributes))
    return request.SerializeToString()


MUTATIONS = st.sampled_from(["flip", "truncate", "junk"])


@st.composite
def protobuf_bodies(draw: st.DrawFn) -> bytes:
    body = protobuf_request(draw(requests), draw(resources))
    mutation = rarely(draw, "none", MUTATIONS)
    if mutation == "flip" and body:
        index = draw(st.integers(0, len(body) - 1))
        body = body[:index] + bytes([body[index] ^ draw(st.integers(1, 255))]) + body[index + 1 :]
    elif mutation == "truncate" and body:
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif mutation == "junk":
        body = draw(st.binary(max_size=64))
    return body


# --- OTLP/JSON --------------------------------------------------------------------------

json_strings = st.one_of(texts, surrogate_texts)
BAD_END_TIMES = st.sampled_from([2**64, -1, "1" + "0" * 40, 1e19, "12 3", None])


def _json_any_value(value: Any, draw: st.DrawFn) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value) if draw(st.booleans()) else value}
    if isinstance(value, float):
        if math.isnan(value):
            return {"doubleValue": "NaN"}
        if math.isinf(value):
            return {"doubleValue": "Infinity" if value > 0 else "-Infinity"}
        return {"doubleValue": value}
    if isinstance(value, bytes):
        encoded = base64.b64encode(value).decode()
        return {"bytesValue": rarely(draw, encoded, value.hex() + "!")}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_json_any_value(item, draw) for item in value]}}
    return {"stringValue": rarely(draw, value, json_strings)}


def _json_attributes(attributes: dict[str, Any], draw: st.DrawFn) -> list[dict[str, Any]]:
    return [{"key": k, "value": _json_any_value(v, draw)} for k, v in attributes.items()]


def _json_id(raw: bytes, draw: st.DrawFn) -> Any:
    if draw(st.integers(1, 60)) > 1:
        return raw.hex()
    return draw(st.sampled_from([raw.hex().upper(), " ".join(f"{b:02x}" for b in raw), 7]))


@st.composite
def json_bodies(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 19)) == 0:
        return draw(st.binary(max_size=64))
    spans = []
    for model in draw(json_requests):
        span: dict[str, Any] = {
            "traceId": _json_id(model["trace_id"], draw),
            "spanId": _json_id(model["span_id"], draw),
            "parentSpanId": model["parent"].hex(),
            "name": rarely(draw, model["name"], json_strings),
            "startTimeUnixNano": str(model["start"]) if draw(st.booleans()) else model["start"],
            "endTimeUnixNano": rarely(
                draw, str(model["end"]) if draw(st.booleans()) else model["end"], BAD_END_TIMES, 60
            ),
            "status": {"code": model["status"]},
            "attributes": _json_attributes(model["attributes"], draw),
            "events": [
                {"name": name, "attributes": _json_attributes(attrs, draw)}
                for name, attrs in model["events"]
            ],
        }
        spans.append(span)
    document = {
        "resourceSpans": [
            {
                "resource": {"attributes": _json_attributes(draw(resources), draw)},
                "scopeSpans": [{"scope": {"name": "fuzz"}, "spans": spans}],
            }
        ]
    }
    return json.dumps(document).encode()  # ensure_ascii: surrogates travel as \\udxxx


# --- the properties ---------------------------------------------------------------------


def _kpi_state(engine: KpiEngine) -> list[Any]:
    return [(family.name, family.snapshot()) for family in engine.metrics.families]


def _parse_openmetrics(text: str) -> None:
    """prometheus_client's OpenMetrics parser, strict, except for one bug of its own: it
    cannot read an escaped quote or backslash in an exemplar label value, which its own
    encoder writes (``{correlation_id="a\\"b"}``). Such a body is read by the real
    Prometheus scrape at the end of each fuzz test instead."""
    try:
        list(parse_om(text))
    except ValueError as exc:
        if "\\" not in str(exc) or " # {" not in str(exc):
            raise


def _check_exposition(registry: CollectorRegistry) -> None:
    text, _ = render_metrics(registry, None)
    list(parse_text(text.decode("utf-8")))
    openmetrics, _ = render_metrics(registry, OPENMETRICS_ACCEPT)
    assert openmetrics.endswith(b"# EOF\n")
    _parse_openmetrics(openmetrics.decode("utf-8"))


def _promtool(registry: CollectorRegistry) -> None:
    body, _ = render_metrics(registry, None)
    result = subprocess.run(
        [require_binary("promtool"), "check", "metrics"],
        input=body,
        capture_output=True,
        timeout=60,
        check=False,
    )
    report = (result.stdout + result.stderr).decode()
    assert result.returncode == 0 and not report.strip(), report


def _fuzz(
    decode: Callable[[bytes], list[Any]],
    transport: str,
    bodies: st.SearchStrategy[bytes],
    shared: KpiEngine,
) -> None:
    """Run the properties over ``bodies``; every decoded example also feeds ``shared``."""
    stats = {"refused": 0, "counted": 0, "rejected": 0}

    @FUZZ
    @given(bodies)
    def one(body: bytes) -> None:
        try:
            records = decode(body)
        except DecodeError:
            stats["refused"] += 1
            return
        registry = CollectorRegistry()
        engine = KpiEngine(CollectorConfig(), registry)
        for record in records:
            before = _kpi_state(engine)
            result = engine.process_batch([record], transport)
            assert result.accepted + result.rejected + result.duplicates == 1
            if result.rejected:
                stats["rejected"] += 1
                assert result.error_message
                assert _kpi_state(engine) == before, (
                    f"a span reported rejected ({result.error_message}) changed the KPIs"
                )
            else:
                stats["counted"] += 1
        _check_exposition(registry)
        shared.process_batch(records, transport)

    one()
    assert stats["refused"] and stats["counted"] and stats["rejected"], stats  # all paths ran


def _everything_exposes(server: CollectorServer, tmp_path: Path) -> None:
    """What every example stored, together: promtool passes the text format; a real
    Prometheus scrapes the OpenMetrics format (it asks for it) without an error."""
    _check_exposition(server.registry)
    _promtool(server.registry)
    target = f"127.0.0.1:{server.metrics_port}"
    last: dict[str, Any] = {}
    with running_prometheus(tmp_path, targets=[target]) as prometheus:

        def healthy() -> bool:
            targets = prometheus.api("targets")["activeTargets"]
            last.update(targets[0] if targets else {})
            return last.get("health") == "up"

        try:  # a slow first scrape on a busy machine may time out: wait for a good one
            prometheus.wait_for(healthy, timeout=30)
        except TimeoutError:
            pytest.fail(f"Prometheus could not scrape: {last.get('lastError')}", pytrace=False)


@pytest.fixture
def shared() -> Iterator[CollectorServer]:
    server = CollectorServer(
        load_config(otlp_http_port=0, otlp_grpc_port=0, metrics_port=0, log_level="ERROR")
    )
    server.start()
    try:
        yield server
    finally:
        server.stop(grace=0)


def test_fuzz_protobuf_decode_engine_exposition(shared: CollectorServer, tmp_path: Path) -> None:
    _fuzz(decode_protobuf, "http_protobuf", protobuf_bodies(), shared.engine)
    _everything_exposes(shared, tmp_path)


def test_fuzz_json_decode_engine_exposition(shared: CollectorServer, tmp_path: Path) -> None:
    _fuzz(decode_json, "http_json", json_bodies(), shared.engine)
    _everything_exposes(shared, tmp_path)


@pytest.mark.parametrize("body", [b"", b"{}", b"\x0a\x00", b'{"resourceSpans": []}'])
def test_empty_requests_count_nothing_and_expose_cleanly(body: bytes) -> None:
    registry = CollectorRegistry()
    engine = KpiEngine(CollectorConfig(), registry)
    decode = decode_json if body.startswith(b"{") else decode_protobuf
    result = engine.process_batch(decode(body), "http_protobuf")
    assert (result.accepted, result.rejected, result.duplicates) == (0, 0, 0)
    _check_exposition(registry)


def test_engine_refuses_a_nul_in_a_label_value() -> None:
    engine = KpiEngine(CollectorConfig(), CollectorRegistry())
    body = json.dumps(
        {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": "0af7651916cd43dd8448eb211c80319c",
                                    "spanId": "b7ad6b7169203331",
                                    "name": "step",
                                    "startTimeUnixNano": str(NOW_NS),
                                    "endTimeUnixNano": str(NOW_NS + 10**9),
                                    "attributes": [
                                        {"key": k, "value": {"stringValue": v}}
                                        for k, v in (
                                            (semconv.SPAN_TYPE, "step"),
                                            (semconv.WORKFLOW_NAME, "pay\x00roll"),
                                            (semconv.STEP_NAME, "draft"),
                                            (semconv.COHORT, "baseline"),
                                        )
                                    ],
                                }
                            ]
                        }
                    ]
                }
            ]
        }
    ).encode()
    result = engine.process_batch(decode_json(body), "http_json")
    assert result.rejected == 1
