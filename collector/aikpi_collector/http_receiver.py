"""OTLP/HTTP trace receiver: ``POST /v1/traces`` as a Starlette app (served by uvicorn).

Behaviour follows the OTLP/HTTP specification: protobuf or JSON bodies, optional gzip;
the response is an ``ExportTraceServiceResponse`` in the request's encoding, with
``partial_success`` when the engine rejected some spans; errors carry a ``google.rpc.Status``.
400 malformed, 413 too large (checked on the wire and while inflating, so a zip bomb costs
at most ``max_request_bytes``), 415 unsupported media type or content encoding, 503 with
``Retry-After`` when every request slot is taken.
"""

from __future__ import annotations

import json
import time
import zlib
from typing import TYPE_CHECKING

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

from aikpi_collector.ingest import (
    HTTP_JSON,
    HTTP_PROTOBUF,
    REASON_MALFORMED,
    REASON_OVERLOADED,
    REASON_TOO_LARGE,
    REASON_UNSUPPORTED_MEDIA_TYPE,
    DecodeError,
    Ingest,
)

if TYPE_CHECKING:
    from aikpi_collector.engine import BatchResult

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


async def _read_body(request: Request, limit: int, gzipped: bool) -> bytes:
    """The request body, inflated if gzip, never holding more than ``limit`` (+1) bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge(f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS) if gzipped else None
    wire = 0
    async for chunk in request.stream():
        wire += len(chunk)
        if wire > limit:
            raise _TooLarge(f"request body exceeds the limit of {limit} bytes")
        if inflater is None:
            chunks.append(chunk)
            continue
        data = chunk
        while data:
            try:
                out = inflater.decompress(data, limit + 1 - size)
            except zlib.error as exc:
                raise DecodeError(f"body is not valid gzip: {exc}") from exc
            size += len(out)
            if size > limit:
                raise _TooLarge(f"inflated request body exceeds the limit of {limit} bytes")
            chunks.append(out)
            data = inflater.unconsumed_tail
            if inflater.eof:
                break
    if inflater is not None and not inflater.eof:
        raise DecodeError("body is not valid gzip: stream is truncated")
    return b"".join(chunks)


def create_http_app(ingest: Ingest, max_request_bytes: int, retry_after_seconds: int) -> Starlette:
    """The OTLP/HTTP receiver app; ``ingest`` holds the engine and the shared admission."""
    admission = ingest.admission
    retry_after = str(retry_after_seconds)

    async def export_traces(request: Request) -> Response:
        started = time.perf_counter()
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        transport = HTTP_JSON if "json" in media_type else HTTP_PROTOBUF
        try:
            if media_type != JSON_MEDIA_TYPE and media_type not in PROTOBUF_MEDIA_TYPES:
                ingest.rejected(transport, REASON_UNSUPPORTED_MEDIA_TYPE)
                return _status_response(
                    transport,
                    415,
                    code_pb2.INVALID_ARGUMENT,
                    f"unsupported Content-Type {media_type or '(none)'!r}; use "
                    f"{_PROTOBUF_CONTENT_TYPE} or {JSON_MEDIA_TYPE}",
                )
            encoding = request.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in ("identity", "gzip", ""):
                ingest.rejected(transport, REASON_UNSUPPORTED_MEDIA_TYPE)
                return _status_response(
                    transport,
                    415,
                    code_pb2.INVALID_ARGUMENT,
                    f"unsupported Content-Encoding {encoding!r}; use gzip or none",
                )
            if not admission.try_acquire():
                ingest.rejected(transport, REASON_OVERLOADED)
                response = _status_response(
                    transport,
                    503,
                    code_pb2.UNAVAILABLE,
                    "collector over capacity: too many requests in progress, retry later",
                )
                response.headers["Retry-After"] = retry_after
                return response
            try:
                body = await _read_body(request, max_request_bytes, encoding == "gzip")
                result = await run_in_threadpool(ingest.export, body, transport)
            finally:
                admission.release()
        except _TooLarge as exc:
            ingest.rejected(transport, REASON_TOO_LARGE)
            return _status_response(transport, 413, code_pb2.INVALID_ARGUMENT, str(exc))
        except DecodeError as exc:
            ingest.rejected(transport, REASON_MALFORMED)
            return _status_response(transport, 400, code_pb2.INVALID_ARGUMENT, str(exc))
        except ClientDisconnect:
            return Response(status_code=400)
        finally:
            ingest.observe(transport, time.perf_counter() - started)
        return _success_response(transport, result)

    return Starlette(routes=[Route(TRACES_PATH, export_traces, methods=["POST"])])
