"""What every receiver shares: admission control, decode + engine, and request self-metrics.

Receivers are thin adapters: they turn their transport's request into bytes and an encoding,
ask :class:`Admission` for a slot (never waiting: over capacity is answered at once with a
retryable status), call :meth:`Ingest.export`, and map the result or error to their protocol.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aikpi_collector.decode import DecodeError, decode_json, decode_protobuf
from aikpi_collector.engine import GRPC, HTTP_JSON, HTTP_PROTOBUF
from aikpi_collector.spanrecord import SpanRecord

if TYPE_CHECKING:
    from aikpi_collector.engine import BatchResult, KpiEngine

__all__ = (
    "GRPC",
    "HTTP_JSON",
    "HTTP_PROTOBUF",
    "REASON_MALFORMED",
    "REASON_OVERLOADED",
    "REASON_TOO_LARGE",
    "REASON_UNSUPPORTED_MEDIA_TYPE",
    "Admission",
    "DecodeError",
    "Ingest",
)


REASON_MALFORMED = "malformed"
REASON_UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
REASON_TOO_LARGE = "too_large"
REASON_OVERLOADED = "overloaded"

_DECODERS: dict[str, Callable[[bytes], list[SpanRecord]]] = {
    HTTP_PROTOBUF: decode_protobuf,
    HTTP_JSON: decode_json,
    GRPC: decode_protobuf,
}


class Admission:
    """A non-blocking counter of requests in progress, shared by HTTP and gRPC.

    ``try_acquire`` never waits: a request beyond the limit is refused at once, so work and
    memory stay bounded by ``limit`` requests of at most ``max_request_bytes`` each.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._in_flight = 0
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        """Take a slot if one is free; ``False`` means answer "overloaded, retry later"."""
        with self._lock:
            if self._in_flight >= self.limit:
                return False
            self._in_flight += 1
            return True

    def release(self) -> None:
        """Give back a slot taken by a successful :meth:`try_acquire`."""
        with self._lock:
            self._in_flight -= 1


class Ingest:
    """Decode a request body and feed its spans to the engine, all or nothing on decode errors.

    The engine is thread-safe (one lock around a batch, which also keeps the
    de-duplication window exact under concurrent retries); receivers call this from threads.
    """

    def __init__(self, engine: KpiEngine, max_concurrent_requests: int) -> None:
        self.engine = engine
        self.admission = Admission(max_concurrent_requests)
        self._self_metrics: Any = engine.self_metrics

    def export(self, body: bytes, transport: str) -> BatchResult:
        """Decode ``body`` (the transport names its encoding) and process every span.

        Raises :class:`DecodeError` (nothing counted) when the body is malformed.
        """
        return self.engine.process_batch(_DECODERS[transport](body), transport)

    def rejected(self, transport: str, reason: str) -> None:
        """Count one whole request refused before reaching the engine."""
        self._self_metrics.requests_rejected.labels(transport=transport, reason=reason).inc()

    def observe(self, transport: str, seconds: float) -> None:
        """Record how long one request took to answer."""
        self._self_metrics.request_duration.labels(transport=transport).observe(seconds)
