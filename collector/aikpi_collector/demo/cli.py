"""``aikpi-collector demo``: a simulated pilot through the real SDK, OTLP and collector.

Starts the collector in this process (loopback ports), points the aikpi SDK at it with the
official OTLP/HTTP exporter, replays a seeded four-week pilot (simulated time: spans carry
the pilot's timestamps, see :mod:`aikpi_collector.demo.clock`), then reads the collector's
``/metrics`` over HTTP and prints the same scorecard as ``aikpi-collector report``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aikpi_collector.demo.clock import SimulatedClock
    from aikpi_collector.demo.simulate import RunEvent
    from aikpi_collector.server import CollectorServer

__all__ = ("DEFAULT_SEED", "DEFAULT_UNITS", "add_arguments", "run", "run_pilot")

DEFAULT_SEED = 7
DEFAULT_UNITS = 800
_SERVE_METRICS_PORT = 9464
_FLUSH_TIMEOUT_SECONDS = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Size, seed, ports and output of the demo."""
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default 7)")
    parser.add_argument(
        "--units",
        type=int,
        default=DEFAULT_UNITS,
        help=f"tickets/PRs/incidents in the pilot (default {DEFAULT_UNITS})",
    )
    parser.add_argument(
        "--days", type=float, default=28.0, help="simulated pilot length in days (default 28)"
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="keep the collector (and /metrics) up after the scorecard, until Ctrl-C",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help=f"/metrics port (default: a free one; {_SERVE_METRICS_PORT} with --serve)",
    )
    parser.add_argument("--http-port", type=int, default=0, help="OTLP/HTTP port (default: free)")
    parser.add_argument("--grpc-port", type=int, default=0, help="OTLP/gRPC port (default: free)")
    parser.add_argument(
        "--format", choices=("table", "json", "markdown"), default="table", help="scorecard format"
    )
    parser.add_argument("--plot", metavar="FILE.png", help="also write a chart of the cohorts")
    parser.add_argument(
        "--full", action="store_true", help="table: every KPI row, not only the headlines"
    )


def _fail(message: str) -> int:
    print(f"aikpi-collector demo: error: {message}", file=sys.stderr)
    return 1


def _received(server: CollectorServer) -> float:
    total = 0.0
    for metric in server.registry.collect():
        for sample in metric.samples:
            if sample.name == "aikpi_collector_spans_received_total":
                total += sample.value
    return total


def run_pilot(
    server: CollectorServer, *, units: int, seed: int, days: float, show_progress: bool = True
) -> list[RunEvent]:
    """Replay a pilot into a started ``CollectorServer``; returns the planned runs.

    Uses a tracer provider of its own with the official OTLP/HTTP exporter pointed at the
    server, and returns only once the collector has received every exported span.
    """
    import aikpi
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from aikpi_collector.demo.clock import SimulatedClock, SimulatedClockExporter
    from aikpi_collector.demo.drive import replay
    from aikpi_collector.demo.simulate import simulate

    clock = SimulatedClock()
    exporter = SimulatedClockExporter(
        OTLPSpanExporter(endpoint=f"http://127.0.0.1:{server.http_port}/v1/traces"), clock
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "aikpi-demo"}))
    provider.add_span_processor(
        BatchSpanProcessor(
            exporter,
            max_queue_size=65536,
            max_export_batch_size=1024,
            schedule_delay_millis=200,
        )
    )
    aikpi.configure(service_name="aikpi-demo", tracer_provider=provider)
    runs = simulate(units, seed, now=time.time(), days=days)
    before = _received(server)
    try:
        if show_progress:
            _replay_with_progress(runs, clock, replay)
        else:
            replay(runs, clock)
        provider.force_flush(int(_FLUSH_TIMEOUT_SECONDS * 1000))
        deadline = time.monotonic() + _FLUSH_TIMEOUT_SECONDS
        while _received(server) - before < exporter.exported and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        provider.shutdown()
    return runs


def _replay_with_progress(runs: list[RunEvent], clock: SimulatedClock, replay) -> None:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("[bold]simulating pilot[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as progress:
        task = progress.add_task("pilot", total=len(runs), unit="")
        replay(runs, clock, lambda r: progress.update(task, advance=1, unit=r.unit))


def run(args: argparse.Namespace) -> int:
    """Start the collector, run the pilot, print the scorecard, optionally keep serving."""
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("aikpi-collector demo: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    if args.units < 1:
        return _fail(f"--units must be >= 1, got {args.units}")
    if args.days < 3:
        return _fail(f"--days must be >= 3, got {args.days}")
    from aikpi_collector.config import CollectorConfig, LaborCost
    from aikpi_collector.demo.model import LABOR_RATES
    from aikpi_collector.report import build_scorecards
    from aikpi_collector.report.cli import emit
    from aikpi_collector.report.kpis import NoBaselineError, NoDataError
    from aikpi_collector.report.sources import SourceError, read_metrics_url
    from aikpi_collector.server import CollectorServer

    metrics_port = args.metrics_port
    if metrics_port is None:
        metrics_port = _SERVE_METRICS_PORT if args.serve else 0
    config = CollectorConfig(
        host="127.0.0.1",
        otlp_http_port=args.http_port,
        otlp_grpc_port=args.grpc_port,
        metrics_port=metrics_port,
        labor_cost=LaborCost(teams=LABOR_RATES),
        log_level="WARNING",
    )
    server = CollectorServer(config)
    try:
        server.start()
    except OSError as exc:
        return _fail(f"cannot start the collector: {exc}")
    try:
        started = time.monotonic()
        runs = run_pilot(server, units=args.units, seed=args.seed, days=args.days)
        elapsed = time.monotonic() - started
        metrics_url = f"http://127.0.0.1:{server.metrics_port}/metrics"
        try:
            cards = build_scorecards(
                read_metrics_url(metrics_url),
                f"simulated {args.days:g} d",
                window_seconds=args.days * 86400.0,
            )
        except (SourceError, NoDataError, NoBaselineError) as exc:
            return _fail(str(exc))
        print(
            f"pilot: {len(runs)} runs (seed {args.seed}) through the aikpi SDK -> OTLP/HTTP "
            f"-> collector in {elapsed:.1f} s",
            file=sys.stderr,
        )
        status = emit(cards, args.format, args.plot, headlines=not args.full)
        print(f"metrics: {metrics_url}", file=sys.stderr)
        print(
            f"the same scorecard any time: aikpi-collector report --metrics {metrics_url}",
            file=sys.stderr,
        )
        if status == 0 and args.serve:
            print(
                f"serving: OTLP/HTTP 127.0.0.1:{server.http_port}, OTLP/gRPC "
                f"127.0.0.1:{server.grpc_port}, {metrics_url}; Ctrl-C to stop",
                file=sys.stderr,
            )
            try:
                while True:
                    time.sleep(1.0)
            except KeyboardInterrupt:
                print("stopping", file=sys.stderr)
        return status
    finally:
        server.stop()
