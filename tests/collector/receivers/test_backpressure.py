"""Back-pressure and graceful shutdown of the real collector.

Deterministic by construction: the over-capacity test holds every request slot itself, the
shutdown test keeps a request in flight by sending its body slowly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import httpx
import pytest
from aikpi_collector.config import load_config
from aikpi_collector.server import CollectorServer
from google.rpc import error_details_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpExporter,
)
from opentelemetry.sdk.trace.export import SpanExportResult
from support.collector import parse_samples, running_collector
from support.otlp_workload import (
    assert_kpis_equal,
    build_spans,
    expected_samples,
    make_runs,
    protobuf_body,
    self_metric,
)

pytestmark = pytest.mark.slow

PROTOBUF = {"Content-Type": "application/x-protobuf"}
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


class SlowRequest:
    """A POST whose body stops half way until :meth:`finish`: it holds a request slot."""

    def __init__(self, url: str, body: bytes) -> None:
        self._release = threading.Event()
        self.started = threading.Event()
        self._body = body
        self.response: httpx.Response | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._post, args=(url,), daemon=True)
        self._thread.start()
        # no other request runs while this one starts, so it cannot be the refused one
        assert self.started.wait(15), "the slow request did not start"
        time.sleep(0.3)

    def _chunks(self) -> Iterator[bytes]:
        half = len(self._body) // 2
        yield self._body[:half]
        self.started.set()
        self._release.wait(30)
        yield self._body[half:]

    def _post(self, url: str) -> None:
        try:
            self.response = httpx.post(url, content=self._chunks(), headers=PROTOBUF, timeout=30)
        except BaseException as exc:
            self.error = exc

    def finish(self) -> httpx.Response:
        self._release.set()
        self._thread.join(30)
        assert self.error is None, self.error
        assert self.response is not None
        return self.response


def test_over_capacity_is_refused_at_once_then_retries_count_exactly() -> None:
    """Every request slot busy: the slots are held the way a request holds one (a slot is
    taken only once a body is in, so no slow client can hold one; holding them here keeps
    the test deterministic whatever the machine's speed)."""
    burst_runs = [make_runs(3, start=100 + 10 * i) for i in range(12)]
    exporter_runs = make_runs(5, start=500)
    config = load_config(
        otlp_http_port=0,
        otlp_grpc_port=0,
        metrics_port=0,
        max_concurrent_requests=2,
        retry_after_seconds=1,
        log_level="WARNING",
    )
    server = CollectorServer(config)
    server.start()
    admission = server.ingest.admission
    try:
        url = f"http://127.0.0.1:{server.http_port}/v1/traces"
        grpc_target = f"127.0.0.1:{server.grpc_port}"
        assert admission.try_acquire() and admission.try_acquire()  # both slots busy

        # a burst of concurrent requests: every one is refused at once with Retry-After
        bodies = [protobuf_body(build_spans(runs)) for runs in burst_runs]
        with ThreadPoolExecutor(max_workers=12) as pool:
            responses = list(
                pool.map(
                    lambda body: httpx.post(url, content=body, headers=PROTOBUF, timeout=10),
                    bodies,
                )
            )
        assert [r.status_code for r in responses] == [503] * len(bodies)
        assert all(r.headers["retry-after"] == "1" for r in responses)

        # gRPC shares the same slots: RESOURCE_EXHAUSTED with a RetryInfo
        with grpc.insecure_channel(grpc_target) as channel:
            raw = channel.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)
            with pytest.raises(grpc.RpcError) as caught:
                raw(bodies[0], timeout=10)
        assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        trailers = dict(caught.value.trailing_metadata())
        retry = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
        assert retry.retry_delay.seconds == 1

        # the official exporters retry on their own and succeed once the slots are free
        http_exporter = HttpExporter(endpoint=url, timeout=20)
        grpc_exporter = GrpcExporter(endpoint=grpc_target, insecure=True, timeout=20)
        exporter_spans = build_spans(exporter_runs)
        with ThreadPoolExecutor(max_workers=2) as pool:
            http_result = pool.submit(http_exporter.export, exporter_spans[:9])
            grpc_result = pool.submit(grpc_exporter.export, exporter_spans[9:])
            time.sleep(0.3)
            admission.release()
            admission.release()
            assert http_result.result(30) is SpanExportResult.SUCCESS
            assert grpc_result.result(30) is SpanExportResult.SUCCESS
        http_exporter.shutdown()
        grpc_exporter.shutdown()

        # the refused burst, retried, counts exactly once
        for body in bodies:
            assert httpx.post(url, content=body, headers=PROTOBUF, timeout=10).status_code == 200
        metrics = f"http://127.0.0.1:{server.metrics_port}/metrics"
        samples = parse_samples(httpx.get(metrics, timeout=10).text)
    finally:
        server.stop(grace=1)

    everything = [run for runs in burst_runs for run in runs] + exporter_runs
    assert_kpis_equal(samples, expected_samples(everything))
    rejected = "aikpi_collector_requests_rejected_total"
    overloaded_http = self_metric(samples, rejected, transport="http_protobuf", reason="overloaded")
    assert overloaded_http >= len(bodies)  # the burst (plus the exporter's tries)
    assert self_metric(samples, rejected, transport="grpc", reason="overloaded") >= 1


def test_sigterm_finishes_in_flight_request_and_exits_zero(tmp_path: Path) -> None:
    runs = make_runs(6)
    with running_collector(tmp_path, {"max_concurrent_requests": 2}) as collector:
        holder = SlowRequest(collector.traces_url, protobuf_body(build_spans(runs)))
        time.sleep(0.5)  # the request is in flight, its body half sent
        collector.process.terminate()  # SIGTERM
        # new connections are soon refused while the in-flight request is still open
        deadline = time.monotonic() + 10
        refused = False
        while not refused and time.monotonic() < deadline:
            try:
                httpx.post(collector.traces_url, content=b"", headers=PROTOBUF, timeout=2)
                time.sleep(0.1)
            except httpx.TransportError:
                refused = True
        assert refused, "the OTLP/HTTP listener stayed open after SIGTERM"
        assert collector.process.poll() is None  # still finishing the request
        # readiness is withdrawn, the metrics port still answers until the end
        readyz = collector.metrics_url.removesuffix("/metrics") + "/readyz"
        assert httpx.get(readyz, timeout=5).status_code == 503
        response = holder.finish()
        assert response.status_code == 200
        assert collector.process.wait(15) == 0
    assert "received SIGTERM" in collector.log()
