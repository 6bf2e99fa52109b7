"""OTLP/gRPC trace receiver: ``opentelemetry.proto.collector.trace.v1.TraceService/Export``.

A ``grpc.aio`` server: a call waiting for its request message costs a coroutine, not a
worker thread (with the threaded server, a few dozen calls that never send their message
took every worker and stopped all exports). Decoding and counting run in a thread pool.

The method is registered as stream-unary with raw bytes: on the wire a unary call is a
stream of one message, and reading it ourselves lets the handler check the credentials
before the message is read and bound the time it may take to arrive
(``body_read_timeout_seconds``, then ``DEADLINE_EXCEEDED``). With the generated servicer,
grpcio would also parse the message itself and answer an undecodable one with
``UNKNOWN``/``INTERNAL``; here a malformed request gets ``INVALID_ARGUMENT`` with a
readable message (not retryable), and every refusal for capacity gets
``RESOURCE_EXHAUSTED`` with a ``RetryInfo`` (retryable, per the OTLP specification). gzip is
handled by grpcio.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from aikpi_collector.receivers.ingest import (
    GRPC,
    REASON_BODY_TIMEOUT,
    REASON_MALFORMED,
    REASON_MEMORY_BUDGET,
    REASON_OVERLOADED,
    REASON_TOO_LARGE,
    REASON_TOO_MANY_CONNECTIONS,
    REASON_UNAUTHENTICATED,
    DecodeError,
    Ingest,
    OverBudget,
)

__all__ = ("SERVICE_NAME", "GrpcLimits", "create_grpc_server")

SERVICE_NAME = "opentelemetry.proto.collector.trace.v1.TraceService"
_EMPTY_RESPONSE = ExportTraceServiceResponse().SerializeToString()
_OVERLOADED_MESSAGE = "collector over capacity: too many requests in progress, retry later"

Metadata = Sequence[tuple[str, str | bytes]]


class GrpcLimits:
    """The settings the gRPC receiver enforces (from the collector config)."""

    def __init__(
        self,
        *,
        max_request_bytes: int,
        retry_after_seconds: int,
        max_calls: int,
        body_read_timeout_seconds: float,
        header_read_timeout_seconds: float,
        idle_timeout_seconds: float,
    ) -> None:
        self.max_request_bytes = max_request_bytes
        self.retry_after_seconds = retry_after_seconds
        self.max_calls = max_calls
        self.body_read_timeout_seconds = body_read_timeout_seconds
        self.header_read_timeout_seconds = header_read_timeout_seconds
        self.idle_timeout_seconds = idle_timeout_seconds


def _retry_trailers(retry_after_seconds: int, message: str) -> tuple[tuple[str, bytes], ...]:
    """``RetryInfo`` both as the OTel exporters read it and as a rich ``google.rpc.Status``."""
    retry_info = error_details_pb2.RetryInfo(
        retry_delay=duration_pb2.Duration(seconds=retry_after_seconds)
    )
    detail = any_pb2.Any()
    detail.Pack(retry_info)
    status = status_pb2.Status(
        code=code_pb2.RESOURCE_EXHAUSTED,
        message=message,
        details=[detail],
    )
    return (
        ("google.rpc.retryinfo-bin", retry_info.SerializeToString()),
        ("grpc-status-details-bin", status.SerializeToString()),
    )


def _response(rejected: int, error_message: str) -> bytes:
    if not rejected:
        return _EMPTY_RESPONSE
    return ExportTraceServiceResponse(
        partial_success=ExportTracePartialSuccess(
            rejected_spans=rejected, error_message=error_message
        )
    ).SerializeToString()


class _Refusal(Exception):
    """A call refused before it reached the engine: counted, then aborted with ``code``."""

    def __init__(
        self, code: grpc.StatusCode, reason: str, message: str, trailers: Metadata = ()
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.trailers = trailers


def create_grpc_server(
    ingest: Ingest,
    limits: GrpcLimits,
    executor: ThreadPoolExecutor,
    authorize: Callable[[Metadata], str | None] | None = None,
) -> grpc.aio.Server:
    """A ``grpc.aio`` server with the Export method registered (add a port, then start it).

    Create it inside the event loop that will run it. ``authorize`` gets the call's
    metadata and returns ``None`` to let it through, else the refusal message (the call
    ends ``UNAUTHENTICATED`` before its message is read). grpcio refuses messages over
    twice ``max_request_bytes`` by itself (``RESOURCE_EXHAUSTED``); between the limit and
    that, the handler answers ``INVALID_ARGUMENT`` and counts it.
    """
    admission = ingest.admission
    budget = ingest.budget
    limit = limits.max_request_bytes
    read_timeout = limits.body_read_timeout_seconds
    overloaded = _retry_trailers(limits.retry_after_seconds, _OVERLOADED_MESSAGE)
    calls_in_progress = 0

    def capacity(reason: str, message: str) -> _Refusal:
        trailers = _retry_trailers(limits.retry_after_seconds, message)
        return _Refusal(grpc.StatusCode.RESOURCE_EXHAUSTED, reason, message, trailers)

    async def read_request(context: grpc.aio.ServicerContext) -> bytes:
        try:
            async with asyncio.timeout(read_timeout):
                request = await context.read()
        except TimeoutError:
            raise _Refusal(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                REASON_BODY_TIMEOUT,
                f"request message not received within {read_timeout:g} s",
            ) from None
        if request is grpc.aio.EOF or not isinstance(request, bytes):
            raise _Refusal(grpc.StatusCode.INVALID_ARGUMENT, REASON_MALFORMED, "no request message")
        return request

    async def handle(context: grpc.aio.ServicerContext) -> bytes:
        if calls_in_progress > limits.max_calls:
            raise capacity(
                REASON_TOO_MANY_CONNECTIONS,
                f"collector has more than {limits.max_calls} calls in progress, retry later",
            )
        if authorize is not None:
            problem = authorize(context.invocation_metadata() or ())
            if problem is not None:
                raise _Refusal(grpc.StatusCode.UNAUTHENTICATED, REASON_UNAUTHENTICATED, problem)
        request = await read_request(context)
        if len(request) > limit:
            raise _Refusal(
                grpc.StatusCode.INVALID_ARGUMENT,
                REASON_TOO_LARGE,
                f"request of {len(request)} bytes exceeds the limit of {limit} bytes",
            )
        reservation = budget.reservation()
        try:
            try:
                reservation.add(len(request))
                reservation.add_decoding(len(request), GRPC)
            except OverBudget as exc:
                raise capacity(REASON_MEMORY_BUDGET, str(exc)) from None
            if not admission.try_acquire():
                raise _Refusal(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    REASON_OVERLOADED,
                    _OVERLOADED_MESSAGE,
                    overloaded,
                )
            try:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(executor, ingest.export, request, GRPC)
            except DecodeError as exc:
                raise _Refusal(
                    grpc.StatusCode.INVALID_ARGUMENT, REASON_MALFORMED, str(exc)
                ) from None
            finally:
                admission.release()
        finally:
            reservation.release()
        return _response(result.rejected, result.error_message)

    async def export(_requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
        nonlocal calls_in_progress
        started = time.perf_counter()
        calls_in_progress += 1
        try:
            return await handle(context)
        except _Refusal as refusal:
            ingest.rejected(GRPC, refusal.reason)
            await context.abort(refusal.code, str(refusal), trailing_metadata=refusal.trailers)
            raise  # pragma: no cover - abort raises
        finally:
            calls_in_progress -= 1
            ingest.observe(GRPC, time.perf_counter() - started)

    handler = grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {"Export": grpc.stream_unary_rpc_method_handler(export)},
    )
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", 2 * limit),
        ("grpc.so_reuseport", 0),
        ("grpc.max_connection_idle_ms", int(limits.idle_timeout_seconds * 1000)),
        ("grpc.server_handshake_timeout_ms", int(limits.header_read_timeout_seconds * 1000)),
    ]
    return grpc.aio.server(handlers=[handler], options=options)
