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
    from aikpi_collector.demo.pipeline import PilotSender
    from aikpi_collector.demo.simulate import RunEvent
    from aikpi_collector.server import CollectorServer
    from aikpi_collector.slo.spec import SpecError

__all__ = ("DEFAULT_SEED", "DEFAULT_UNITS", "add_arguments", "run", "run_pilot")

DEFAULT_SEED = 7
DEFAULT_UNITS = 1200
_SERVE_METRICS_PORT = 9464


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
        "--live-units",
        type=int,
        default=10,
        help="with --serve: new runs sent every --live-interval seconds (0: none; default 10)",
    )
    parser.add_argument(
        "--live-interval",
        type=float,
        default=5.0,
        help="with --serve: seconds between live batches (default 5)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help=f"/metrics port (default: a free one; {_SERVE_METRICS_PORT} with --serve)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the collector binds (default 127.0.0.1; 0.0.0.0 to let a container scrape)",
    )
    parser.add_argument("--http-port", type=int, default=0, help="OTLP/HTTP port (default: free)")
    parser.add_argument("--grpc-port", type=int, default=0, help="OTLP/gRPC port (default: free)")
    parser.add_argument(
        "--format", choices=("table", "json", "markdown"), default="table", help="scorecard format"
    )
    parser.add_argument("--plot", metavar="FILE.png", help="also write a chart of the cohorts")
    parser.add_argument(
        "--plan",
        metavar="FILE",
        help="a pilot plan to judge the simulated pilot by (make demo: grafana/pilot-plan.yaml); "
        "the pilot then lasts the plan's pilot_period",
    )
    parser.add_argument(
        "--full", action="store_true", help="table: every KPI row, not only the headlines"
    )


def _fail(message: str) -> int:
    print(f"aikpi-collector demo: error: {message}", file=sys.stderr)
    return 1


def run_pilot(
    server: CollectorServer, *, units: int, seed: int, days: float, show_progress: bool = True
) -> list[RunEvent]:
    """Replay a seeded pilot into a started ``CollectorServer``; returns the planned runs.

    Returns only once the collector has counted every exported span.
    """
    from aikpi_collector.demo.pipeline import PilotSender
    from aikpi_collector.demo.simulate import simulate

    runs = simulate(units, seed, now=time.time(), days=days)
    sender = PilotSender(server)
    try:
        if show_progress:
            _send_with_progress(sender, runs)
        else:
            sender.send(runs)
    finally:
        sender.close()
    return runs


def _live(server: CollectorServer, args: argparse.Namespace) -> None:
    """Keep sending a small batch of new runs every few seconds (until Ctrl-C).

    Prometheus's ``rate()``/``increase()`` only see what happens after its first scrape, so
    boards and ``report --prometheus`` need traffic that goes on while they watch.
    """
    from aikpi_collector.demo.pipeline import PilotSender
    from aikpi_collector.demo.simulate import simulate

    sender = PilotSender(server)
    try:
        batch = 0
        while True:
            batch += 1
            runs = simulate(args.live_units, args.seed + batch, now=time.time(), days=args.days)
            sender.send(runs)
            time.sleep(args.live_interval)
    finally:
        sender.close()


def _send_with_progress(sender: PilotSender, runs: list[RunEvent]) -> None:
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
        sender.send(runs, lambda r: progress.update(task, advance=1, unit=r.unit))


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
    if args.live_units < 0 or args.live_interval <= 0:
        return _fail("--live-units must be >= 0 and --live-interval > 0")
    from aikpi_collector.plan import PlanError
    from aikpi_collector.report.cli import load_optional_plan

    try:
        plan = load_optional_plan(args.plan)
    except PlanError as exc:
        return _fail(str(exc))
    if plan is not None:
        args.days = float(plan.pilot_period.days)  # the costs are charged for these days
    from aikpi_collector.config import CollectorConfig, LaborCost
    from aikpi_collector.demo.model import LABOR_RATES
    from aikpi_collector.demo.pipeline import reachable_host
    from aikpi_collector.report import build_scorecards
    from aikpi_collector.report.cli import emit, load_slo_spec
    from aikpi_collector.report.kpis import NoBaselineError, NoDataError
    from aikpi_collector.report.sources import SourceError, read_metrics_url
    from aikpi_collector.server import CollectorServer

    metrics_port = args.metrics_port
    if metrics_port is None:
        metrics_port = _SERVE_METRICS_PORT if args.serve else 0
    config = CollectorConfig(
        host=args.host,
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
        metrics_url = f"http://{reachable_host(args.host)}:{server.metrics_port}/metrics"
        try:
            cards = build_scorecards(
                read_metrics_url(metrics_url),
                f"simulated {args.days:g} d",
                spec=load_slo_spec(None),
                window_seconds=args.days * 86400.0,
                skip_incomplete=True,  # a tiny --units may leave a workflow with one cohort
                plan=plan,
            )
        except (SourceError, NoDataError, NoBaselineError, SpecError) as exc:
            return _fail(str(exc))
        print(
            f"pilot: {len(runs)} runs (seed {args.seed}) through the aikpi SDK -> OTLP/HTTP "
            f"-> collector in {elapsed:.1f} s",
            file=sys.stderr,
        )
        status = emit(cards, args.format, args.plot, headlines=not args.full)
        if not args.serve:  # the collector stops with the demo: print nothing that points at it
            print(
                "the collector stops now; to keep /metrics up and query it with "
                "`aikpi-collector report --metrics URL`, run the demo with --serve",
                file=sys.stderr,
            )
        if status == 0 and args.serve:
            print(
                f"the same scorecard any time: aikpi-collector report --metrics {metrics_url}",
                file=sys.stderr,
            )
            live = (
                f"; {args.live_units} new runs every {args.live_interval:g} s"
                if args.live_units > 0
                else ""
            )
            print(
                f"serving on {args.host}: OTLP/HTTP port {server.http_port}, OTLP/gRPC port "
                f"{server.grpc_port}, {metrics_url}{live}; Ctrl-C to stop",
                file=sys.stderr,
            )
            try:
                if args.live_units > 0:
                    _live(server, args)
                while True:
                    time.sleep(1.0)
            except KeyboardInterrupt:
                print("stopping", file=sys.stderr)
        return status
    finally:
        server.stop()
