"""OTLP/gRPC trace receiver: ``opentelemetry.proto.collector.trace.v1.TraceService/Export``.

The method is registered with raw-bytes deserialisation and decoded by our own decoder: with
the generated servicer, grpcio would parse the message itself and answer an undecodable one
with ``UNKNOWN``/``INTERNAL`` ("Exception deserializing request!"), which clients treat
differently. Here a malformed request gets ``INVALID_ARGUMENT`` with a readable message
(not retryable), over capacity gets ``RESOURCE_EXHAUSTED`` with a ``RetryInfo`` (retryable,
per the OTLP specification), and gzip is handled by grpcio.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from aikpi_collector.ingest import (
    GRPC,
    REASON_MALFORMED,
    REASON_OVERLOADED,
    REASON_TOO_LARGE,
    DecodeError,
    Ingest,
)

__all__ = ("SERVICE_NAME", "create_grpc_server")

SERVICE_NAME = "opentelemetry.proto.collector.trace.v1.TraceService"
_EMPTY_RESPONSE = ExportTraceServiceResponse().SerializeToString()
_OVERLOADED_MESSAGE = "collector over capacity: too many requests in progress, retry later"


def _overloaded_trailers(retry_after_seconds: int) -> tuple[tuple[str, bytes], ...]:
    """``RetryInfo`` both as the OTel exporters read it and as a rich ``google.rpc.Status``."""
    retry_info = error_details_pb2.RetryInfo(
        retry_delay=duration_pb2.Duration(seconds=retry_after_seconds)
    )
    detail = any_pb2.Any()
    detail.Pack(retry_info)
    status = status_pb2.Status(
        code=code_pb2.RESOURCE_EXHAUSTED,
        message=_OVERLOADED_MESSAGE,
        details=[detail],
    )
    return (
        ("google.rpc.retryinfo-bin", retry_info.SerializeToString()),
        ("grpc-status-details-bin", status.SerializeToString()),
    )


def create_grpc_server(
    ingest: Ingest, max_request_bytes: int, retry_after_seconds: int
) -> grpc.Server:
    """A grpcio server with the Export method registered (call ``add_insecure_port``, ``start``).

    grpcio refuses messages over twice ``max_request_bytes`` by itself (``RESOURCE_EXHAUSTED``);
    between the limit and that, the handler answers ``INVALID_ARGUMENT`` and counts it.
    """
    admission = ingest.admission
    trailers = _overloaded_trailers(retry_after_seconds)

    def export(request: bytes, context: grpc.ServicerContext) -> bytes:
        started = time.perf_counter()
        try:
            if not admission.try_acquire():
                ingest.rejected(GRPC, REASON_OVERLOADED)
                context.set_trailing_metadata(trailers)
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, _OVERLOADED_MESSAGE)
            try:
                if len(request) > max_request_bytes:
                    ingest.rejected(GRPC, REASON_TOO_LARGE)
                    context.abort(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"request of {len(request)} bytes exceeds the limit of "
                        f"{max_request_bytes} bytes",
                    )
                try:
                    result = ingest.export(request, GRPC)
                except DecodeError as exc:
                    ingest.rejected(GRPC, REASON_MALFORMED)
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            finally:
                admission.release()
        finally:
            ingest.observe(GRPC, time.perf_counter() - started)
        if not result.rejected:
            return _EMPTY_RESPONSE
        return ExportTraceServiceResponse(
            partial_success=ExportTracePartialSuccess(
                rejected_spans=result.rejected, error_message=result.error_message
            )
        ).SerializeToString()

    handler = grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {"Export": grpc.unary_unary_rpc_method_handler(export)},
    )
    workers = admission.limit + 4
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", 2 * max_request_bytes),
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.server(
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aikpi-grpc"),
        handlers=[handler],
        options=options,
        maximum_concurrent_rpcs=2 * workers,
    )
    return server
