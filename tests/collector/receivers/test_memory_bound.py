"""Memory stays within ``memory_budget_bytes`` whatever the bodies (issue 9, item 7).

Decoding costs up to ~90 bytes per byte of body (empty events: two bytes each on the wire,
a Python object each once decoded), so "32 x max_request_bytes" was no bound at all. The
budget charges each request for its bytes and its worst-case decoding; the real collector
process is measured from ``/proc`` (``memory_probe.measure``).
"""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from memory_probe import body_of, measure
from support.collector import running_collector
from support.otlp_workload import self_metric
from support.slowclients import EXPORT_METHOD, stalled_http_requests

pytestmark = pytest.mark.slow

MiB = 1024 * 1024


def test_peak_memory_stays_within_the_budget_under_the_costliest_bodies(tmp_path: Path) -> None:
    size = MiB // 2
    budget = 96 * MiB
    slack = 48 * MiB  # allocator and thread overhead beyond what the budget models
    config = {"max_request_bytes": size, "memory_budget_bytes": budget, "log_level": "WARNING"}
    result = measure(tmp_path, config, [body_of("worst", size)] * 16, concurrency=16)
    # without the budget these 16 bodies took ~480 MiB over the idle process
    assert result["peak_over_before_bytes"] <= budget + slack, result
    assert result["statuses"].get(200, 0) >= 1, result  # the budget admits what fits
    assert set(result["statuses"]) <= {200, 503}, result


def test_bodies_in_flight_share_one_budget_across_http_and_grpc(tmp_path: Path) -> None:
    limit = 64 * 1024
    # the smallest budget that still takes one request of the largest size (99 x limit),
    # plus a little: 20 stalled HTTP bodies of 60 KiB then leave too little for a gRPC one
    config = {"max_request_bytes": limit, "memory_budget_bytes": 99 * limit + 256 * 1024}
    message = body_of("worst", 63 * 1024)  # charged ~6 MiB: fits alone, not beside 1.2 MiB
    with running_collector(tmp_path, config) as collector:
        with grpc.insecure_channel(collector.grpc_endpoint) as channel:
            export = channel.unary_unary(
                EXPORT_METHOD, request_serializer=None, response_deserializer=None
            )
            export(message, timeout=10)  # fits while nothing else is in flight
            with stalled_http_requests(
                collector.host, collector.http_port, 20, body_bytes=limit, sent_bytes=60 * 1024
            ):
                time.sleep(1.0)  # every stalled body's bytes have arrived and are charged
                with pytest.raises(grpc.RpcError) as caught:
                    export(message, timeout=10)
            time.sleep(0.5)  # the stalled requests are gone: their bytes are given back
            export(message, timeout=10)
        samples = collector.samples()
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "memory budget" in caught.value.details()
    trailers = dict(caught.value.trailing_metadata())
    retry = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
    assert retry.retry_delay.seconds == 1
    rejected = "aikpi_collector_requests_rejected_total"
    assert self_metric(samples, rejected, transport="grpc", reason="memory_budget") == 1
