"""What every receiver shares: admission control, decode + engine, and request self-metrics.

Receivers are thin adapters: they read their transport's request body (charging the bytes
to the shared :class:`MemoryBudget` as they arrive), then ask :class:`Admission` for a slot
(never waiting: over capacity is answered at once with a retryable status), call
:meth:`Ingest.export`, and map the result or error to their protocol. A slot is taken only
once the body is in, so a client that sends slowly holds no slot that others need.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aikpi_collector.config import DECODE_MEMORY_FACTOR
from aikpi_collector.engine.engine import GRPC, HTTP_JSON, HTTP_PROTOBUF
from aikpi_collector.engine.spanrecord import SpanRecord
from aikpi_collector.receivers.decode import DecodeError, decode_json, decode_protobuf

if TYPE_CHECKING:
    from aikpi_collector.engine.engine import BatchResult, KpiEngine

__all__ = (
    "GRPC",
    "HTTP_JSON",
    "HTTP_PROTOBUF",
    "REASON_BODY_TIMEOUT",
    "REASON_MALFORMED",
    "REASON_MEMORY_BUDGET",
    "REASON_OVERLOADED",
    "REASON_TOO_LARGE",
    "REASON_TOO_MANY_CONNECTIONS",
    "REASON_UNAUTHENTICATED",
    "REASON_UNSUPPORTED_MEDIA_TYPE",
    "Admission",
    "DecodeError",
    "Ingest",
    "MemoryBudget",
    "OverBudget",
    "Reservation",
)


REASON_MALFORMED = "malformed"
REASON_UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
REASON_TOO_LARGE = "too_large"
REASON_OVERLOADED = "overloaded"
REASON_MEMORY_BUDGET = "memory_budget"
REASON_TOO_MANY_CONNECTIONS = "too_many_connections"
REASON_BODY_TIMEOUT = "body_timeout"
REASON_UNAUTHENTICATED = "unauthenticated"

_DECODERS: dict[str, Callable[[bytes], list[SpanRecord]]] = {
    HTTP_PROTOBUF: decode_protobuf,
    HTTP_JSON: decode_json,
    GRPC: decode_protobuf,
}


class Admission:
    """A non-blocking counter of requests being decoded and counted, shared by HTTP and gRPC.

    ``try_acquire`` never waits: a request beyond the limit is refused at once, so CPU work
    stays bounded by ``limit`` requests.
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


class OverBudget(Exception):
    """The memory budget cannot take this request now (answer "overloaded, retry later")."""


class MemoryBudget:
    """Bytes that requests in progress may hold together, HTTP and gRPC.

    Bodies are charged as their bytes arrive (a stalled body holds only what it sent) and,
    once complete, for their decoding (``DECODE_MEMORY_FACTOR`` per byte). Never waits.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def reservation(self) -> Reservation:
        """An empty charge for one request; release it when the request is answered."""
        return Reservation(self)

    def _take(self, amount: int) -> bool:
        with self._lock:
            if self.used + amount > self.limit:
                return False
            self.used += amount
            return True

    def _give_back(self, amount: int) -> None:
        with self._lock:
            self.used -= amount


class Reservation:
    """What one request holds of the budget; :meth:`release` gives all of it back."""

    __slots__ = ("_budget", "held")

    def __init__(self, budget: MemoryBudget) -> None:
        self._budget = budget
        self.held = 0

    def add(self, amount: int) -> None:
        """Charge ``amount`` more bytes, or raise :class:`OverBudget` (nothing charged)."""
        if amount <= 0:
            return
        if not self._budget._take(amount):
            raise OverBudget(
                f"collector over its memory budget ({self._budget.limit} bytes for requests "
                "in progress), retry later"
            )
        self.held += amount

    def add_decoding(self, body_size: int, transport: str) -> None:
        """Charge the decoding of a complete body of ``body_size`` bytes."""
        encoding = "json" if transport == HTTP_JSON else "protobuf"
        self.add(body_size * DECODE_MEMORY_FACTOR[encoding])

    def release(self) -> None:
        if self.held:
            self._budget._give_back(self.held)
            self.held = 0


class Ingest:
    """Decode a request body and feed its spans to the engine, all or nothing on decode errors.

    The engine is thread-safe (one lock around a batch, which also keeps the
    de-duplication window exact under concurrent retries); receivers call this from threads.
    """

    def __init__(
        self, engine: KpiEngine, max_concurrent_requests: int, memory_budget_bytes: int
    ) -> None:
        self.engine = engine
        self.admission = Admission(max_concurrent_requests)
        self.budget = MemoryBudget(memory_budget_bytes)
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
