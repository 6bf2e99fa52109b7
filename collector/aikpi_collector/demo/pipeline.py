"""The demo's telemetry pipeline: aikpi SDK -> official OTLP/HTTP exporter -> the collector.

:class:`PilotSender` owns a tracer provider of its own (so an application's global provider
is never touched), re-times spans with the simulated clock, and after each batch waits until
the collector has counted every exported span, so a scorecard read right after is complete.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aikpi_collector.demo.simulate import RunEvent
    from aikpi_collector.server import CollectorServer

__all__ = ("PilotSender", "reachable_host")

_FLUSH_TIMEOUT_SECONDS = 30.0


def reachable_host(host: str) -> str:
    """The host part of a URL reaching a server bound to ``host`` from this machine."""
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"  # a wildcard bind is reached over loopback
    return f"[{host}]" if ":" in host else host


def _received(server: CollectorServer) -> float:
    total = 0.0
    for metric in server.registry.collect():
        for sample in metric.samples:
            if sample.name == "aikpi_collector_spans_received_total":
                total += sample.value
    return total


class PilotSender:
    """Replays planned runs through the SDK into one collector; ``close()`` when done."""

    def __init__(self, server: CollectorServer, service_name: str = "aikpi-demo") -> None:
        host = reachable_host(server.config.host)
        import aikpi
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from aikpi_collector.demo.clock import SimulatedClock, SimulatedClockExporter

        self._server = server
        self.clock = SimulatedClock()
        self._exporter = SimulatedClockExporter(
            OTLPSpanExporter(endpoint=f"http://{host}:{server.http_port}/v1/traces"),
            self.clock,
        )
        self._provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self._provider.add_span_processor(
            BatchSpanProcessor(
                self._exporter,
                max_queue_size=65536,
                max_export_batch_size=1024,
                schedule_delay_millis=200,
            )
        )
        # a key, as production has one: step tokens are signed (so no unsigned-token
        # warning) and the late outcomes of this process verify them
        key = os.environ.get("AIKPI_TOKEN_KEY") or secrets.token_hex(32)
        aikpi.configure(service_name=service_name, tracer_provider=self._provider, token_key=key)

    def send(
        self, runs: list[RunEvent], progress: Callable[[RunEvent], None] | None = None
    ) -> None:
        """Replay ``runs``, flush, and wait until the collector has counted every span."""
        from aikpi_collector.demo.drive import replay

        received_before = _received(self._server)
        exported_before = self._exporter.exported
        replay(runs, self.clock, progress)
        self._provider.force_flush(int(_FLUSH_TIMEOUT_SECONDS * 1000))
        exported = self._exporter.exported - exported_before
        deadline = time.monotonic() + _FLUSH_TIMEOUT_SECONDS
        while _received(self._server) - received_before < exported:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the collector did not count {exported} exported spans within "
                    f"{_FLUSH_TIMEOUT_SECONDS:.0f} s"
                )
            time.sleep(0.05)

    def close(self) -> None:
        """Flush and shut the provider down."""
        self._provider.shutdown()
