"""Fixtures for the interop tests: the OpenAI stand-in, the KPI engine in-process, and a
guard that refuses any connection beyond loopback.

Every test runs real instrumentation packages against the real ``openai`` client, inside
an ``aikpi.workflow``/``aikpi.step``, and reads the counters of a fresh
``CollectorRegistry`` fed by :class:`aikpi_collector.KpiSpanProcessor`.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import aikpi
import pytest
from aikpi import _config
from aikpi_collector import KpiSpanProcessor
from interop_support import Kpis
from openai_standin import RunningStandIn, running_standin
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection to an address outside 127.0.0.0/8 and ::1 (a library phoning
    home, a base URL not taken): these tests must need nothing but loopback."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(address: Any) -> None:
        if isinstance(address, tuple):
            host = address[0]
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:  # a name: these tests only ever use 127.0.0.1
                loopback = host == "localhost"
            if not loopback:
                raise ConnectionRefusedError(f"interop tests stay on loopback; refused {host!r}")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningStandIn]:
    """The OpenAI stand-in, with the client's key and base URL pointing at it."""
    with running_standin() as running:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-interop-dummy")
        monkeypatch.setenv("OPENAI_BASE_URL", running.base_url)
        yield running


@pytest.fixture
def kpis() -> Iterator[Kpis]:
    """aikpi configured on a fresh provider whose spans feed a KPI engine on a fresh registry."""
    registry = CollectorRegistry()
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(KpiSpanProcessor(registry=registry))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    aikpi.configure(tracer_provider=provider)
    yield Kpis(registry, provider, exporter)
    _config.reset()
    provider.shutdown()
