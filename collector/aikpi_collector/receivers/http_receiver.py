"""OTLP/HTTP trace receiver: ``POST /v1/traces`` as a Starlette app (served by uvicorn).

Behaviour follows the OTLP/HTTP specification: protobuf or JSON bodies, optional gzip;
the response is an ``ExportTraceServiceResponse`` in the request's encoding, with
``partial_success`` when the engine rejected some spans; errors carry a ``google.rpc.Status``.
401 without the configured bearer token (checked before the body is read), 400 malformed,
408 when the body does not arrive within ``body_read_timeout_seconds``, 413
too large (checked on the wire and while inflating, so a zip bomb costs at most
``max_request_bytes``), 415 unsupported media type or content encoding, 503 with
``Retry-After`` when the connection is over ``max_connections``, the memory budget is full
or every request slot is taken. The body is read before a request slot is taken, so a slow
client holds no slot; its bytes are charged to the shared memory budget as they arrive.
A refusal sent before the body was read closes the connection.
"""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from typing import TYPE_CHECKING, Any

from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from aikpi_collector.receivers.ingest import (
    HTTP_JSON,
    HTTP_PROTOBUF,
    REASON_BODY_TIMEOUT,
    REASON_MALFORMED,
    REASON_MEMORY_BUDGET,
    REASON_OVERLOADED,
    REASON_TOO_LARGE,
    REASON_TOO_MANY_CONNECTIONS,
    REASON_UNAUTHENTICATED,
    REASON_UNSUPPORTED_MEDIA_TYPE,
    DecodeError,
    Ingest,
    OverBudget,
    Reservation,
)
from aikpi_collector.security import WWW_AUTHENTICATE

if TYPE_CHECKING:
    from aikpi_collector.connections import ConnectionGuard
    from aikpi_collector.engine.engine import BatchResult
    from aikpi_collector.security import BearerAuth

__all__ = ("TRACES_PATH", "create_http_app")

TRACES_PATH = "/v1/traces"
PROTOBUF_MEDIA_TYPES = frozenset(("application/x-protobuf", "application/protobuf"))
JSON_MEDIA_TYPE = "application/json"
_PROTOBUF_CONTENT_TYPE = "application/x-protobuf"


class _TooLarge(Exception):
    """The body (on the wire or inflated) exceeds ``max_request_bytes``."""


def _status_response(transport: str, http_status: int, code: int, message: str) -> Response:
    """A ``google.rpc.Status`` error body in the request's encoding."""
    if transport == HTTP_JSON:
        body = json.dumps({"code": code, "message": message}).encode()
        return Response(body, http_status, media_type=JSON_MEDIA_TYPE)
    body = status_pb2.Status(code=code, message=message).SerializeToString()
    return Response(body, http_status, media_type=_PROTOBUF_CONTENT_TYPE)


def _success_response(transport: str, result: BatchResult) -> Response:
    """``ExportTraceServiceResponse``; ``partial_success`` only when spans were rejected."""
    if transport == HTTP_JSON:
        document: dict[str, object] = {}
        if result.rejected:
            document["partialSuccess"] = {
                "rejectedSpans": str(result.rejected),
                "errorMessage": result.error_message,
            }
        return Response(json.dumps(document).encode(), 200, media_type=JSON_MEDIA_TYPE)
    response = ExportTraceServiceResponse()
    if result.rejected:
        response.partial_success.CopyFrom(
            ExportTracePartialSuccess(
                rejected_spans=result.rejected, error_message=result.error_message
            )
        )
    return Response(response.SerializeToString(), 200, media_type=_PROTOBUF_CONTENT_TYPE)


class _Refusal(Exception):
    """A request refused before it reached the engine: counted, answered in its encoding."""

    def __init__(self, http_status: int, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.reason = reason


async def _read_body(
    request: Request, limit: int, gzipped: bool, reservation: Reservation
) -> bytes:
    """The request body, inflated if gzip (every member), never holding more than
    ``limit`` (+1) bytes, wire or inflated.

    Every byte kept (received, then inflated) is charged to ``reservation`` as it arrives.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge(f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    inflater = _gunzip() if gzipped else None
    wire = 0
    async for chunk in request.stream():
        wire += len(chunk)
        if wire > limit:
            raise _TooLarge(f"request body exceeds the limit of {limit} bytes")
        reservation.add(len(chunk))
        if inflater is None:
            chunks.append(chunk)
            continue
        data = chunk
        while data:
            if inflater.eof:  # the next gzip member: read it too (RFC 1952, Go's reader)
                inflater = _gunzip()
            try:
                out = inflater.decompress(data, limit + 1 - size)
            except zlib.error as exc:
                raise DecodeError(f"body is not valid gzip: {exc}") from exc
            size += len(out)
            if size > limit:
                raise _TooLarge(f"inflated request body exceeds the limit of {limit} bytes")
            reservation.add(len(out))
            chunks.append(out)
            data = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
    if inflater is not None and not inflater.eof:
        raise DecodeError("body is not valid gzip: stream is truncated")
    return b"".join(chunks)


def _gunzip() -> Any:
    """An inflater for one gzip member."""
    return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)


def _parse_media_type(request: Request) -> tuple[str, str]:
    """(media type, transport label) of a request."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type, HTTP_JSON if "json" in media_type else HTTP_PROTOBUF


def create_http_app(
    ingest: Ingest,
    guard: ConnectionGuard,
    *,
    max_request_bytes: int,
    retry_after_seconds: int,
    body_read_timeout_seconds: float,
    auth: BearerAuth | None = None,
) -> Starlette:
    """The OTLP/HTTP receiver app; ``ingest`` holds the engine, the shared admission and
    memory budget, ``guard`` the connection count of its port; with ``auth``, requests
    without the bearer token get 401 before their body is read."""
    admission = ingest.admission
    budget = ingest.budget
    retry_after = str(retry_after_seconds)

    def check_head(request: Request, media_type: str) -> str:
        """Refusals decided from the request head alone; returns the content encoding."""
        if guard.over_limit:
            raise _Refusal(
                503,
                code_pb2.UNAVAILABLE,
                REASON_TOO_MANY_CONNECTIONS,
                f"collector has more than {guard.max_connections} open connections, retry later",
            )
        if auth is not None:
            problem = auth.problem(request.headers.get("authorization"))
            if problem is not None:
                raise _Refusal(401, code_pb2.UNAUTHENTICATED, REASON_UNAUTHENTICATED, problem)
        if media_type != JSON_MEDIA_TYPE and media_type not in PROTOBUF_MEDIA_TYPES:
            raise _Refusal(
                415,
                code_pb2.INVALID_ARGUMENT,
                REASON_UNSUPPORTED_MEDIA_TYPE,
                f"unsupported Content-Type {media_type or '(none)'!r}; use "
                f"{_PROTOBUF_CONTENT_TYPE} or {JSON_MEDIA_TYPE}",
            )
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip", ""):
            raise _Refusal(
                415,
                code_pb2.INVALID_ARGUMENT,
                REASON_UNSUPPORTED_MEDIA_TYPE,
                f"unsupported Content-Encoding {encoding!r}; use gzip or none",
            )
        return encoding

    async def receive(request: Request, encoding: str, reservation: Reservation) -> bytes:
        """The whole body within the read timeout, charged to ``reservation``."""
        try:
            async with asyncio.timeout(body_read_timeout_seconds):
                return await _read_body(request, max_request_bytes, encoding == "gzip", reservation)
        except TimeoutError:
            raise _Refusal(
                408,
                code_pb2.DEADLINE_EXCEEDED,
                REASON_BODY_TIMEOUT,
                f"request body not received within {body_read_timeout_seconds:g} s",
            ) from None
        except _TooLarge as exc:
            raise _Refusal(413, code_pb2.INVALID_ARGUMENT, REASON_TOO_LARGE, str(exc)) from None
        except OverBudget as exc:
            raise _Refusal(503, code_pb2.UNAVAILABLE, REASON_MEMORY_BUDGET, str(exc)) from None

    async def export_traces(request: Request) -> Response:
        started = time.perf_counter()
        media_type, transport = _parse_media_type(request)
        reservation = budget.reservation()
        body_read = False
        try:
            encoding = check_head(request, media_type)
            body = await receive(request, encoding, reservation)
            body_read = True
            try:
                reservation.add(len(body))  # the joined copy
                reservation.add_decoding(len(body), transport)
            except OverBudget as exc:
                raise _Refusal(503, code_pb2.UNAVAILABLE, REASON_MEMORY_BUDGET, str(exc)) from None
            if not admission.try_acquire():
                raise _Refusal(
                    503,
                    code_pb2.UNAVAILABLE,
                    REASON_OVERLOADED,
                    "collector over capacity: too many requests in progress, retry later",
                )
            try:
                result = await run_in_threadpool(ingest.export, body, transport)
            finally:
                admission.release()
        except _Refusal as refusal:
            ingest.rejected(transport, refusal.reason)
            response = _status_response(transport, refusal.http_status, refusal.code, str(refusal))
            if refusal.http_status == 503:
                response.headers["Retry-After"] = retry_after
            elif refusal.http_status == 401:
                response.headers["WWW-Authenticate"] = WWW_AUTHENTICATE
            if not body_read:
                response.headers["Connection"] = "close"
            return response
        except DecodeError as exc:
            ingest.rejected(transport, REASON_MALFORMED)
            response = _status_response(transport, 400, code_pb2.INVALID_ARGUMENT, str(exc))
            if not body_read:
                response.headers["Connection"] = "close"
            return response
        except ClientDisconnect:
            return Response(status_code=400)
        finally:
            reservation.release()
            ingest.observe(transport, time.perf_counter() - started)
        return _success_response(transport, result)

    return Starlette(routes=[Route(TRACES_PATH, export_traces, methods=["POST"])])
