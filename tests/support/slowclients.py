"""Misbehaving clients for the fault tests: idle TCP connections, requests that stall.

Loopback only, bounded in number, and every socket or call is closed when its ``with``
block ends. They are clients, not servers: each one writes at most a request head and a
part of a body, then waits.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import grpc

__all__ = ("idle_connections", "stalled_grpc_calls", "stalled_http_requests")

EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_MAX_CONNECTIONS = 2000


def _connect(host: str, port: int) -> socket.socket:
    if host not in _LOOPBACK:
        raise ValueError(f"fault clients only target loopback, not {host!r}")
    sock = socket.create_connection((host, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


@contextmanager
def idle_connections(host: str, port: int, count: int) -> Iterator[list[socket.socket]]:
    """``count`` TCP connections that send nothing at all."""
    if not 0 < count <= _MAX_CONNECTIONS:
        raise ValueError(f"count must be 1..{_MAX_CONNECTIONS}")
    with ExitStack() as stack:
        sockets = [stack.enter_context(_connect(host, port)) for _ in range(count)]
        yield sockets


def stalled_request_head(
    host: str,
    port: int,
    content_length: int,
    *,
    path: str = "/v1/traces",
    content_type: str = "application/x-protobuf",
    headers: dict[str, str] | None = None,
) -> bytes:
    """The head of a POST that announces ``content_length`` body bytes."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        f"Content-Type: {content_type}",
        f"Content-Length: {content_length}",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


@contextmanager
def stalled_http_requests(
    host: str,
    port: int,
    count: int,
    *,
    body_bytes: int = 4096,
    sent_bytes: int = 1024,
    headers: dict[str, str] | None = None,
) -> Iterator[list[socket.socket]]:
    """``count`` POSTs to ``/v1/traces`` that send their head and ``sent_bytes`` of a
    ``body_bytes`` body, then stall."""
    if not 0 < count <= _MAX_CONNECTIONS or not 0 <= sent_bytes < body_bytes:
        raise ValueError("bad stalled request shape")
    with ExitStack() as stack:
        sockets = []
        for _ in range(count):
            sock = stack.enter_context(_connect(host, port))
            sock.sendall(stalled_request_head(host, port, body_bytes, headers=headers))
            sock.sendall(b"\x0a" * sent_bytes)
            sockets.append(sock)
        yield sockets


@contextmanager
def stalled_grpc_calls(
    target: str, count: int, *, timeout: float = 30.0
) -> Iterator[list[grpc.Future]]:
    """``count`` Export calls that open their stream (headers sent) and never send the
    request message, each on its own channel; released and cancelled when the block ends."""
    if not 0 < count <= 500:
        raise ValueError("count must be 1..500")
    host = target.rsplit(":", 1)[0].strip("[]")
    if host not in _LOOPBACK:
        raise ValueError(f"fault clients only target loopback, not {host!r}")
    release = threading.Event()

    def never_sends() -> Iterator[bytes]:
        release.wait(timeout)
        return
        yield b""  # pragma: no cover - makes this a generator

    channels: list[grpc.Channel] = []
    calls: list[grpc.Future] = []
    try:
        for _ in range(count):
            channel = grpc.insecure_channel(target)
            channels.append(channel)
            method = channel.stream_unary(
                EXPORT_METHOD, request_serializer=None, response_deserializer=None
            )
            calls.append(method.future(never_sends(), timeout=timeout))
        yield calls
    finally:
        release.set()
        for call in calls:
            call.cancel()
        for channel in channels:
            channel.close()
