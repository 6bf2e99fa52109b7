"""Connection limits of the HTTP ports: a request-head timeout and a count of open connections.

uvicorn closes a keep-alive connection after ``timeout_keep_alive``, but a connection that
never sends a request (or sends a request head slowly, a byte at a time) stays open for as
long as the client likes, and its ``limit_concurrency`` answers a bare 503 with no
``Retry-After`` once idle connections fill it. :class:`ConnectionGuard` gives uvicorn's own
h11 protocol the Go ``net/http`` (and so OpenTelemetry Collector) behaviour instead:

- a new connection must send a complete request head within ``header_read_timeout``
  (a keep-alive connection: from the first byte of its next request), else it is closed;
- a keep-alive connection with no request in progress is closed after ``idle_timeout``;
- a response sent before the request body was read closes the connection (the client
  cannot keep it busy by trickling an unwanted body);
- the open connections are counted, so the receiver can answer a request on a connection
  over ``max_connections`` itself, the OTLP way (503 + ``Retry-After``, counted).

HTTP parsing stays uvicorn's and h11's; only the timers and the count are added here.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

if TYPE_CHECKING:
    from aikpi_collector.exposition.metrics import SelfMetrics

__all__ = ("REASON_HEADER_TIMEOUT", "REASON_IDLE_TIMEOUT", "ConnectionGuard")

REASON_HEADER_TIMEOUT = "header_timeout"
REASON_IDLE_TIMEOUT = "idle_timeout"


class ConnectionGuard:
    """Timeouts and the open-connection count of one listening port (used from its loop)."""

    def __init__(
        self,
        listener: str,
        self_metrics: SelfMetrics,
        *,
        max_connections: int,
        header_read_timeout: float,
        idle_timeout: float,
    ) -> None:
        self.listener = listener
        self.max_connections = max_connections
        self.header_read_timeout = header_read_timeout
        self.idle_timeout = idle_timeout
        self.open = 0
        self._gauge = self_metrics.open_connections.labels(listener=listener)
        closed = self_metrics.connections_closed
        self._closed = {
            reason: closed.labels(listener=listener, reason=reason)
            for reason in (REASON_HEADER_TIMEOUT, REASON_IDLE_TIMEOUT)
        }

    @property
    def over_limit(self) -> bool:
        """More connections are open than ``max_connections`` (this one included)."""
        return self.open > self.max_connections

    def opened(self) -> None:
        self.open += 1
        self._gauge.inc()

    def lost(self) -> None:
        self.open -= 1
        self._gauge.dec()

    def closed_by_us(self, reason: str) -> None:
        self._closed[reason].inc()

    def protocol_class(self) -> type[asyncio.Protocol]:
        """uvicorn's h11 protocol with this guard's timers (``uvicorn.Config(http=...)``)."""
        guard = self

        class GuardedH11Protocol(_GuardedH11Protocol):
            _guard = guard

        return GuardedH11Protocol


class _GuardedH11Protocol(H11Protocol):
    """uvicorn's ``H11Protocol`` plus the request-head timer and the connection count."""

    _guard: ConnectionGuard

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout_keep_alive = self._guard.idle_timeout  # type: ignore[assignment]
        self._head_timer: asyncio.TimerHandle | None = None
        self._counted = False

    def _in_request(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(
            self._guard.header_read_timeout, self._head_timed_out
        )

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._in_request() and not self.transport.is_closing():
            self._guard.closed_by_us(REASON_HEADER_TIMEOUT)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._guard.opened()
        self._counted = True
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        if self._counted:
            self._counted = False
            self._guard.lost()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and not self._in_request():
            self._arm_head_timer()  # the first byte of the next request on a kept-alive one
        super().data_received(data)
        if self._in_request():
            self._cancel_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.SEND_BODY and not self.transport.is_closing():
            self.transport.close()  # answered before the body was read: do not wait for it

    def timeout_keep_alive_handler(self) -> None:
        if not self.transport.is_closing():
            self._guard.closed_by_us(REASON_IDLE_TIMEOUT)
        super().timeout_keep_alive_handler()
