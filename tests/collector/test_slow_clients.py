"""Slow, idle and stalled clients never deny service to well-behaved ones (issue 9, item 3).

The real collector process on loopback; the misbehaving clients are bounded raw sockets and
gRPC calls (``support.slowclients``), closed when each test ends.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpExporter,
)
from opentelemetry.sdk.trace.export import SpanExportResult
from support.collector import running_collector
from support.otlp_workload import (
    assert_kpis_equal,
    build_spans,
    expected_samples,
    make_runs,
    protobuf_body,
    self_metric,
)
from support.slowclients import (
    idle_connections,
    stalled_grpc_calls,
    stalled_http_requests,
    stalled_request_head,
)

pytestmark = pytest.mark.slow

PROTOBUF = {"Content-Type": "application/x-protobuf"}
REJECTED = "aikpi_collector_requests_rejected_total"
CLOSED = "aikpi_collector_connections_closed_total"


def _read_until_closed(sock: socket.socket, timeout: float = 15.0) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_export_succeeds_within_2s_while_200_idle_and_32_stalled_connections_are_open(
    tmp_path: Path,
) -> None:
    runs = make_runs(6)
    spans = build_spans(runs)
    with running_collector(tmp_path) as collector:
        host, port = collector.host, collector.http_port
        with (
            idle_connections(host, port, 200),
            stalled_http_requests(host, port, 32, body_bytes=1 << 20, sent_bytes=64 << 10),
            idle_connections(host, collector.grpc_port, 50),
            stalled_grpc_calls(collector.grpc_endpoint, 50),
        ):
            time.sleep(0.5)  # let the server accept every connection first
            http_exporter = HttpExporter(endpoint=collector.traces_url, timeout=2)
            started = time.monotonic()
            http_result = http_exporter.export(spans[:9])
            http_seconds = time.monotonic() - started
            grpc_exporter = GrpcExporter(endpoint=collector.grpc_endpoint, insecure=True, timeout=2)
            started = time.monotonic()
            grpc_result = grpc_exporter.export(spans[9:])
            grpc_seconds = time.monotonic() - started
            http_exporter.shutdown()
            grpc_exporter.shutdown()
        samples = collector.samples()
    assert http_result is SpanExportResult.SUCCESS and http_seconds < 2, (
        f"OTLP/HTTP export under 200 idle + 32 stalled connections: {http_result} "
        f"after {http_seconds:.2f}s (must succeed within 2 s)"
    )
    assert grpc_result is SpanExportResult.SUCCESS and grpc_seconds < 2, (
        f"OTLP/gRPC export under 50 idle connections + 50 stalled calls: {grpc_result} "
        f"after {grpc_seconds:.2f}s (must succeed within 2 s)"
    )
    assert_kpis_equal(samples, expected_samples(runs))
    for transport in ("http_protobuf", "grpc"):
        for reason in ("overloaded", "too_many_connections"):
            assert self_metric(samples, REJECTED, transport=transport, reason=reason) == 0


def test_a_body_that_stalls_gets_408_and_is_counted(tmp_path: Path) -> None:
    config = {"body_read_timeout_seconds": 1}
    with (
        running_collector(tmp_path, config) as collector,
        stalled_http_requests(collector.host, collector.http_port, 1) as (sock,),
    ):
        answer = _read_until_closed(sock)
        samples = collector.samples()
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    assert head.startswith("http/1.1 408"), head
    assert "connection: close" in head
    assert self_metric(samples, REJECTED, transport="http_protobuf", reason="body_timeout") == 1


def test_silent_and_slow_header_connections_are_closed_and_counted(tmp_path: Path) -> None:
    config = {"header_read_timeout_seconds": 1}
    with running_collector(tmp_path, config) as collector:
        host, port = collector.host, collector.http_port
        with idle_connections(host, port, 2) as (silent, slow):
            slow.sendall(stalled_request_head(host, port, 10)[:20])  # half a request line
            assert _read_until_closed(silent) == b""
            assert _read_until_closed(slow) == b""
        samples = collector.samples()
    assert self_metric(samples, CLOSED, listener="otlp_http", reason="header_timeout") == 2


def test_keep_alive_connections_are_closed_after_the_idle_timeout(tmp_path: Path) -> None:
    config = {"idle_timeout_seconds": 1}
    with running_collector(tmp_path, config) as collector:
        host, port = collector.host, collector.http_port
        with idle_connections(host, port, 1) as (sock,):
            sock.sendall(stalled_request_head(host, port, 0))  # an empty, complete request
            answer = _read_until_closed(sock)
        samples = collector.samples()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
    assert self_metric(samples, CLOSED, listener="otlp_http", reason="idle_timeout") == 1


def test_connections_over_the_limit_get_503_with_retry_after_and_are_counted(
    tmp_path: Path,
) -> None:
    runs = make_runs(3)
    body = protobuf_body(build_spans(runs))
    config = {"max_connections": 3, "retry_after_seconds": 2}
    with running_collector(tmp_path, config) as collector:
        with idle_connections(collector.host, collector.http_port, 3):
            time.sleep(0.3)
            refused = httpx.post(collector.traces_url, content=body, headers=PROTOBUF)
        time.sleep(0.3)
        accepted = httpx.post(collector.traces_url, content=body, headers=PROTOBUF)
        samples = collector.samples()
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "2"
    assert refused.headers["connection"] == "close"
    assert accepted.status_code == 200
    assert_kpis_equal(samples, expected_samples(runs))
    assert (
        self_metric(samples, REJECTED, transport="http_protobuf", reason="too_many_connections")
        == 1
    )


def test_a_grpc_call_whose_message_never_comes_gets_deadline_exceeded(tmp_path: Path) -> None:
    config = {"body_read_timeout_seconds": 1}
    with running_collector(tmp_path, config) as collector:
        with stalled_grpc_calls(collector.grpc_endpoint, 1) as (call,):
            error = call.exception(timeout=15)
        samples = collector.samples()
    assert error is not None and error.code() is grpc.StatusCode.DEADLINE_EXCEEDED, error
    assert self_metric(samples, REJECTED, transport="grpc", reason="body_timeout") == 1
