"""OTLP/gRPC against the real ``aikpi-collector`` process: exporter, gzip, bad bytes, partial."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult
from support.collector import running_collector
from support.otlp_workload import (
    assert_kpis_equal,
    build_spans,
    expected_samples,
    make_runs,
    protobuf_body,
    request_of,
    self_metric,
    spans_per_run,
)

pytestmark = pytest.mark.slow

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def test_official_grpc_exporter_counts_exactly_with_and_without_gzip(tmp_path: Path) -> None:
    runs = make_runs(25)
    spans = build_spans(runs)
    with running_collector(tmp_path) as collector:
        plain = OTLPSpanExporter(endpoint=collector.grpc_endpoint, insecure=True, timeout=10)
        zipped = OTLPSpanExporter(
            endpoint=collector.grpc_endpoint,
            insecure=True,
            timeout=10,
            compression=grpc.Compression.Gzip,
        )
        assert plain.export(spans[:30]) is SpanExportResult.SUCCESS
        assert zipped.export(spans[30:]) is SpanExportResult.SUCCESS
        plain.shutdown()
        zipped.shutdown()
        samples = collector.samples()
    assert_kpis_equal(samples, expected_samples(runs))
    assert (
        self_metric(samples, "aikpi_collector_spans_received_total", transport="grpc")
        == len(runs) * spans_per_run()
    )
    assert (
        self_metric(samples, "aikpi_collector_request_duration_seconds_count", transport="grpc")
        == 2
    )


def test_undecodable_bytes_get_invalid_argument_and_count_nothing(tmp_path: Path) -> None:
    runs = make_runs(5)
    with (
        running_collector(tmp_path) as collector,
        grpc.insecure_channel(collector.grpc_endpoint) as channel,
    ):
        raw = channel.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)
        with pytest.raises(grpc.RpcError) as caught:
            raw(b"\x0a\x05garbage", timeout=10)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "not a valid protobuf" in caught.value.details()
        short_id = request_of(build_spans(make_runs(1, start=50)))
        short_id.resource_spans[0].scope_spans[0].spans[0].trace_id = b"\x01\x02"
        with pytest.raises(grpc.RpcError) as caught:
            raw(short_id.SerializeToString(), timeout=10)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "trace_id must be 16 bytes" in caught.value.details()
        assert (
            self_metric(
                collector.samples(), "aikpi_collector_spans_received_total", transport="grpc"
            )
            == 0
        )
        # a good request afterwards still counts
        answer = raw(protobuf_body(build_spans(runs)), timeout=10)
        assert ExportTraceServiceResponse.FromString(answer) == ExportTraceServiceResponse()
        samples = collector.samples()
    assert_kpis_equal(samples, expected_samples(runs))
    assert (
        self_metric(
            samples, "aikpi_collector_requests_rejected_total", transport="grpc", reason="malformed"
        )
        == 2
    )


def test_partial_success_and_retry_dedup_over_grpc(tmp_path: Path) -> None:
    runs = make_runs(11)
    bad = 2
    request = request_of(build_spans(runs, bad_outcome_index=bad))
    with (
        running_collector(tmp_path) as collector,
        grpc.insecure_channel(collector.grpc_endpoint) as channel,
    ):
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        first = stub.Export(request, timeout=10)
        assert first.partial_success.rejected_spans == 1
        assert "bogus" in first.partial_success.error_message
        second = stub.Export(request, timeout=10)  # a retry: duplicates dropped
        assert second.partial_success.rejected_spans == 1  # the bad span is still bad
        samples = collector.samples()
    assert_kpis_equal(samples, expected_samples(runs, skip_outcome_of=bad))
    n = len(runs) * spans_per_run()
    assert self_metric(samples, "aikpi_collector_duplicate_spans_total", transport="grpc") == n - 1


def test_oversized_grpc_message_is_refused(tmp_path: Path) -> None:
    big = protobuf_body(build_spans(make_runs(80)))
    limit = len(big) * 3 // 4  # over the limit, under grpcio's own hard cap (2 x limit)
    huge = protobuf_body(build_spans(make_runs(200)))
    assert len(huge) > 2 * limit
    with (
        running_collector(tmp_path, {"max_request_bytes": limit}) as collector,
        grpc.insecure_channel(collector.grpc_endpoint) as channel,
    ):
        raw = channel.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)
        with pytest.raises(grpc.RpcError) as caught:
            raw(big, timeout=10)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "exceeds the limit" in caught.value.details()
        with pytest.raises(grpc.RpcError) as caught:
            raw(huge, timeout=10)
        assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        samples = collector.samples()
    assert self_metric(samples, "aikpi_collector_spans_received_total", transport="grpc") == 0
    assert (
        self_metric(
            samples, "aikpi_collector_requests_rejected_total", transport="grpc", reason="too_large"
        )
        == 1
    )
