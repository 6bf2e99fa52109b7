"""``CollectorServer`` used in-process (as the demo does): start, count, stop, ports released."""

from __future__ import annotations

import socket

import httpx
import pytest
from aikpi_collector.config import load_config
from aikpi_collector.server import CollectorServer
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from support.collector import parse_samples
from support.otlp_workload import assert_kpis_equal, build_spans, expected_samples, make_runs


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_start_count_stop_with_port_zero() -> None:
    runs = make_runs(7)
    server = CollectorServer(load_config(otlp_http_port=0, otlp_grpc_port=0, metrics_port=0))
    server.start()
    try:
        assert server.ready
        assert 0 not in (server.http_port, server.grpc_port, server.metrics_port)
        base = f"http://127.0.0.1:{server.metrics_port}"
        assert httpx.get(base + "/readyz").status_code == 200
        exporter = OTLPSpanExporter(
            endpoint=f"127.0.0.1:{server.grpc_port}", insecure=True, timeout=10
        )
        assert exporter.export(build_spans(runs)) is SpanExportResult.SUCCESS
        exporter.shutdown()
        samples = parse_samples(httpx.get(base + "/metrics").text)
        assert_kpis_equal(samples, expected_samples(runs))
        assert server.registry.get_sample_value(
            "aikpi_collector_spans_received_total", {"transport": "grpc"}
        ) == 3 * len(runs)
    finally:
        server.stop(grace=1)
    assert not server.ready
    for port in (server.http_port, server.grpc_port, server.metrics_port):
        assert _port_is_free(port), port
    server.stop()  # a second stop is harmless


def test_busy_port_raises_oserror_and_releases_the_others() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        server = CollectorServer(
            load_config(otlp_http_port=0, otlp_grpc_port=0, metrics_port=taken)
        )
        with pytest.raises(OSError, match=str(taken)):
            server.start()
