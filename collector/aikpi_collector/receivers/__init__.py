"""Receivers: how spans arrive, each turned into :class:`~aikpi_collector.engine.SpanRecord`
lists for the engine.

* :mod:`.http_receiver`: OTLP/HTTP, ``POST /v1/traces`` (protobuf or JSON, gzip);
* :mod:`.grpc_receiver`: OTLP/gRPC, ``TraceService/Export``;
* :mod:`.ingest`: what both share: the request slots, the memory budget, decode + engine,
  and the reasons a whole request is refused;
* :mod:`.decode`: OTLP protobuf and JSON bodies to span records, all or nothing;
* :mod:`.processor`: :class:`KpiSpanProcessor`, the in-process receiver (an OpenTelemetry
  SDK span processor, no network).

Receivers are thin adapters around the engine; :mod:`aikpi_collector.server` runs the network
ones. Names load on first use (:mod:`aikpi_collector._lazy`): the in-process processor never
imports gRPC, Starlette or uvicorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aikpi_collector._lazy import lazy_exports

if TYPE_CHECKING:
    from aikpi_collector.receivers.decode import DecodeError, decode_json, decode_protobuf
    from aikpi_collector.receivers.grpc_receiver import GrpcLimits, create_grpc_server
    from aikpi_collector.receivers.http_receiver import TRACES_PATH, create_http_app
    from aikpi_collector.receivers.ingest import Ingest
    from aikpi_collector.receivers.processor import KpiSpanProcessor, span_record

__all__ = (
    "TRACES_PATH",
    "DecodeError",
    "GrpcLimits",
    "Ingest",
    "KpiSpanProcessor",
    "create_grpc_server",
    "create_http_app",
    "decode_json",
    "decode_protobuf",
    "span_record",
)

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".decode": ("DecodeError", "decode_json", "decode_protobuf"),
        ".grpc_receiver": ("GrpcLimits", "create_grpc_server"),
        ".http_receiver": ("TRACES_PATH", "create_http_app"),
        ".ingest": ("Ingest",),
        ".processor": ("KpiSpanProcessor", "span_record"),
    },
)
