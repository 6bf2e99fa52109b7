"""OTLP/HTTP against the real ``aikpi-collector`` process: exporters, raw bodies, bad input.

Every test compares ``/metrics`` (parsed with prometheus_client's parser) with ground truth
computed from the known workload in ``support.otlp_workload``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult
from support.collector import running_collector
from support.otlp_workload import (
    assert_kpis_equal,
    build_spans,
    expected_samples,
    json_body,
    make_runs,
    protobuf_body,
    self_metric,
    spans_per_run,
)

pytestmark = pytest.mark.slow

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def test_official_http_exporter_counts_exactly(tmp_path: Path) -> None:
    runs = make_runs(30)
    spans = build_spans(runs)
    with running_collector(tmp_path) as collector:
        plain = OTLPSpanExporter(endpoint=collector.traces_url, timeout=10)
        zipped = OTLPSpanExporter(
            endpoint=collector.traces_url, compression=Compression.Gzip, timeout=10
        )
        assert plain.export(spans[:45]) is SpanExportResult.SUCCESS
        assert zipped.export(spans[45:]) is SpanExportResult.SUCCESS
        plain.shutdown()
        zipped.shutdown()
        samples = collector.samples()
    assert_kpis_equal(samples, expected_samples(runs))
    received = self_metric(
        samples, "aikpi_collector_spans_received_total", transport="http_protobuf"
    )
    assert received == len(runs) * spans_per_run()
    assert (
        self_metric(
            samples, "aikpi_collector_request_duration_seconds_count", transport="http_protobuf"
        )
        == 2
    )


def test_json_and_gzip_bodies_count_exactly(tmp_path: Path) -> None:
    first, second = make_runs(10), make_runs(12, start=10)
    with running_collector(tmp_path) as collector:
        url = collector.traces_url
        response = httpx.post(url, content=json_body(build_spans(first)), headers=JSON)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        assert response.json() == {}
        zipped = gzip.compress(json_body(build_spans(second)))
        response = httpx.post(url, content=zipped, headers={**JSON, "Content-Encoding": "gzip"})
        assert response.status_code == 200, response.text
        samples = collector.samples()
    assert_kpis_equal(samples, expected_samples(first + second))
    assert (
        self_metric(samples, "aikpi_collector_spans_received_total", transport="http_json")
        == 22 * spans_per_run()
    )


def test_protobuf_response_is_an_export_response(tmp_path: Path) -> None:
    runs = make_runs(4)
    with running_collector(tmp_path) as collector:
        response = httpx.post(
            collector.traces_url, content=protobuf_body(build_spans(runs)), headers=PROTOBUF
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-protobuf"
        parsed = ExportTraceServiceResponse.FromString(response.content)
        assert not parsed.HasField("partial_success")
        assert_kpis_equal(collector.samples(), expected_samples(runs))


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_partial_success_rejects_one_span_and_counts_the_rest(
    tmp_path: Path, encoding: str
) -> None:
    runs = make_runs(14)
    bad = 3  # a run whose step is not an error, so it carries an outcome
    spans = build_spans(runs, bad_outcome_index=bad)
    with running_collector(tmp_path) as collector:
        if encoding == "protobuf":
            response = httpx.post(
                collector.traces_url, content=protobuf_body(spans), headers=PROTOBUF
            )
            assert response.status_code == 200
            partial = ExportTraceServiceResponse.FromString(response.content).partial_success
            rejected, message = partial.rejected_spans, partial.error_message
        else:
            response = httpx.post(collector.traces_url, content=json_body(spans), headers=JSON)
            assert response.status_code == 200
            partial_json = response.json()["partialSuccess"]
            rejected = int(partial_json["rejectedSpans"])
            message = partial_json["errorMessage"]
        assert rejected == 1
        assert "bogus" in message
        samples = collector.samples()
    assert_kpis_equal(samples, expected_samples(runs, skip_outcome_of=bad))
    transport = "http_protobuf" if encoding == "protobuf" else "http_json"
    rejected_total = sum(
        value
        for (name, labels), value in samples.items()
        if name == "aikpi_collector_spans_rejected_total" and ("transport", transport) in labels
    )
    assert rejected_total == 1


def test_retried_body_is_counted_once(tmp_path: Path) -> None:
    runs = make_runs(9)
    body = protobuf_body(build_spans(runs))
    with running_collector(tmp_path) as collector:
        for _ in range(2):
            response = httpx.post(collector.traces_url, content=body, headers=PROTOBUF)
            assert response.status_code == 200
        samples = collector.samples()
    assert_kpis_equal(samples, expected_samples(runs))
    n = len(runs) * spans_per_run()
    assert (
        self_metric(samples, "aikpi_collector_duplicate_spans_total", transport="http_protobuf")
        == n
    )
    assert (
        self_metric(samples, "aikpi_collector_spans_received_total", transport="http_protobuf")
        == 2 * n
    )


def _status_message(response: httpx.Response) -> str:
    """The ``google.rpc.Status`` message of an error response, in its encoding."""
    if response.headers["content-type"].startswith("application/json"):
        return str(response.json()["message"])
    assert response.headers["content-type"] == "application/x-protobuf"
    return status_pb2.Status.FromString(response.content).message


def test_bad_requests_are_refused_and_good_ones_still_count(tmp_path: Path) -> None:
    runs = make_runs(6)
    good = protobuf_body(build_spans(runs))
    limit = 64 * 1024
    valid_json = json.loads(json_body(build_spans(make_runs(2, start=100))))
    valid_json["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["traceId"] = "xyz"
    bomb = gzip.compress(b"\0" * (50 * limit))  # small on the wire, huge inflated
    cases = [
        # (body, headers, status, reason, transport, words in the message)
        (b"\x0a\x05garbage", PROTOBUF, 400, "malformed", "http_protobuf", ["protobuf"]),
        (b"{not json", JSON, 400, "malformed", "http_json", ["JSON"]),
        (b"[1, 2]", JSON, 400, "malformed", "http_json", ["expected an object"]),
        (
            json.dumps(valid_json).encode(),
            JSON,
            400,
            "malformed",
            "http_json",
            ["spans[1].traceId", "hex"],
        ),
        (
            b"\x1f\x8bnot gzip",
            {**PROTOBUF, "Content-Encoding": "gzip"},
            400,
            "malformed",
            "http_protobuf",
            ["gzip"],
        ),
        (
            good,
            {"Content-Type": "text/plain"},
            415,
            "unsupported_media_type",
            "http_protobuf",
            ["Content-Type"],
        ),
        (
            good,
            {**PROTOBUF, "Content-Encoding": "br"},
            415,
            "unsupported_media_type",
            "http_protobuf",
            ["Content-Encoding"],
        ),
        (b"\0" * (limit + 1), PROTOBUF, 413, "too_large", "http_protobuf", ["limit"]),
        (
            bomb,
            {**PROTOBUF, "Content-Encoding": "gzip"},
            413,
            "too_large",
            "http_protobuf",
            ["inflated"],
        ),
    ]
    with running_collector(tmp_path, {"max_request_bytes": limit}) as collector:
        with httpx.Client(timeout=10) as client:
            for body, headers, status, _reason, _transport, words in cases:
                response = client.post(collector.traces_url, content=body, headers=headers)
                assert response.status_code == status, (headers, response.text)
                message = _status_message(response)
                for word in words:
                    assert word in message, message
            before_good = collector.samples()
            response = client.post(collector.traces_url, content=good, headers=PROTOBUF)
            assert response.status_code == 200
        samples = collector.samples()
    # nothing from a refused request was counted
    assert (
        self_metric(before_good, "aikpi_collector_spans_received_total", transport="http_protobuf")
        == 0
    )
    assert (
        self_metric(before_good, "aikpi_collector_spans_received_total", transport="http_json") == 0
    )
    assert_kpis_equal(samples, expected_samples(runs))
    wanted: dict[tuple[str, str], int] = {}
    for _body, _headers, _status, reason, transport, _words in cases:
        wanted[(transport, reason)] = wanted.get((transport, reason), 0) + 1
    for (transport, reason), count in wanted.items():
        assert (
            self_metric(
                samples,
                "aikpi_collector_requests_rejected_total",
                transport=transport,
                reason=reason,
            )
            == count
        ), (transport, reason)


def test_wrong_method_and_path(tmp_path: Path) -> None:
    with running_collector(tmp_path) as collector:
        assert httpx.get(collector.traces_url).status_code == 405
        assert httpx.post(collector.http_endpoint + "/v1/metrics", content=b"").status_code == 404
        assert httpx.get(collector.metrics_url.replace("/metrics", "/healthz")).text == "ok\n"


def test_chunked_body_over_the_limit_gets_413_while_streaming(tmp_path: Path) -> None:
    limit = 32 * 1024
    runs = make_runs(3)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while reading
        for _ in range(4):
            yield b"\0" * (limit // 2)

    with running_collector(tmp_path, {"max_request_bytes": limit}) as collector:
        response = httpx.post(collector.traces_url, content=chunks(), headers=PROTOBUF)
        assert response.status_code == 413
        assert "limit" in _status_message(response)
        good = protobuf_body(build_spans(runs))
        assert len(good) < limit
        response = httpx.post(collector.traces_url, content=good, headers=PROTOBUF)
        assert response.status_code == 200
        samples = collector.samples()
    assert_kpis_equal(samples, expected_samples(runs))
    assert (
        self_metric(
            samples,
            "aikpi_collector_requests_rejected_total",
            transport="http_protobuf",
            reason="too_large",
        )
        == 1
    )


def test_standard_endpoint_variable_points_an_exporter_at_the_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = make_runs(4)
    with running_collector(tmp_path) as collector:
        # what docs/collector.md tells application owners to set
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.http_endpoint)
        exporter = OTLPSpanExporter()
        assert exporter.export(build_spans(runs)) is SpanExportResult.SUCCESS
        exporter.shutdown()
        samples = collector.samples()
    assert_kpis_equal(samples, expected_samples(runs))


def test_every_gzip_member_is_read_and_bounded_together(tmp_path: Path) -> None:
    """A gzip body may hold several members (RFC 1952); like Go's gzip reader (the
    OpenTelemetry Collector's), all are read, and their inflated total is what is bounded."""
    first, second = make_runs(4), make_runs(5, start=40)
    # two protobuf messages back to back are one message with both span lists
    two_members = gzip.compress(protobuf_body(build_spans(first))) + gzip.compress(
        protobuf_body(build_spans(second))
    )
    limit = 64 * 1024
    many_small_members = gzip.compress(b"\0" * (limit // 4)) * 5  # 5/4 of the limit inflated
    trailing_garbage = gzip.compress(protobuf_body(build_spans(make_runs(2, start=90)))) + b"xx"
    zipped = {**PROTOBUF, "Content-Encoding": "gzip"}
    with running_collector(tmp_path, {"max_request_bytes": limit}) as collector:
        with httpx.Client(timeout=10) as client:
            counted = client.post(collector.traces_url, content=two_members, headers=zipped)
            too_large = client.post(
                collector.traces_url, content=many_small_members, headers=zipped
            )
            garbage = client.post(collector.traces_url, content=trailing_garbage, headers=zipped)
        samples = collector.samples()
    assert counted.status_code == 200, counted.text
    assert (too_large.status_code, garbage.status_code) == (413, 400)
    assert "gzip" in _status_message(garbage)
    assert_kpis_equal(samples, expected_samples(first + second))


def test_json_values_outside_their_protobuf_type_are_refused_whole(tmp_path: Path) -> None:
    runs = make_runs(2)
    document = json.loads(json_body(build_spans(runs)))
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["endTimeUnixNano"] = "1" + "0" * 400
    with running_collector(tmp_path) as collector:
        response = httpx.post(
            collector.traces_url, content=json.dumps(document).encode(), headers=JSON
        )
        samples = collector.samples()
    assert response.status_code == 400
    assert "endTimeUnixNano" in _status_message(response)
    assert_kpis_equal(samples, expected_samples([]))
    assert (
        self_metric(
            samples,
            "aikpi_collector_requests_rejected_total",
            transport="http_json",
            reason="malformed",
        )
        == 1
    )
