"""``aikpi-collector report``: the pilot scorecard from Prometheus or a collector's /metrics.

Exit status: 0 with a scorecard; 1 when the source cannot be read, holds no data for the
window, or a workflow lacks a baseline cohort (a one-line message on stderr, no traceback);
2 for a bad command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aikpi_collector.plan import Period
    from aikpi_collector.report.scorecard import Scorecard
    from aikpi_collector.slo.spec import SLOSpec

__all__ = ("DEFAULT_SLO_SPEC", "add_arguments", "load_slo_spec", "run")

DEFAULT_SLO_SPEC = "grafana/slo.yaml"
"""The spec the generated alert rules come from, relative to the working directory."""


def load_slo_spec(path: str | None) -> SLOSpec:
    """The SLO spec at ``path``; without one, ``grafana/slo.yaml`` if present, else defaults.

    Raises :class:`~aikpi_collector.slo.spec.SpecError` for an invalid or missing file.
    """
    from aikpi_collector.slo.spec import SLOSpec, load_spec

    if path is not None:
        return load_spec(path)
    if Path(DEFAULT_SLO_SPEC).is_file():
        return load_spec(DEFAULT_SLO_SPEC)
    return SLOSpec()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Source, window, format and evidence options."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--prometheus",
        metavar="URL",
        help="Prometheus base URL, e.g. http://localhost:9090 (reads increase() over --window)",
    )
    source.add_argument(
        "--metrics",
        metavar="URL",
        help="a collector's /metrics URL, e.g. http://localhost:9464/metrics (totals since start)",
    )
    parser.add_argument(
        "--window",
        help="Prometheus range for increase(), e.g. 28d, 7d (default 28d, or with --plan the "
        "plan's pilot_period up to now)",
    )
    parser.add_argument(
        "--at",
        type=float,
        metavar="UNIX_SECONDS",
        help="Prometheus: end of the window (default: now), for a report as of a past date",
    )
    parser.add_argument(
        "--format", choices=("table", "json", "markdown"), default="table", help="output format"
    )
    parser.add_argument("--plot", metavar="FILE.png", help="also write a chart of the cohorts")
    parser.add_argument("--workflow", metavar="NAME", help="only this workflow")
    parser.add_argument(
        "--min-samples",
        type=int,
        default=30,
        metavar="N",
        help="smallest sample per cohort for a verdict (default 30)",
    )
    parser.add_argument(
        "--slo-spec",
        metavar="FILE",
        help=f"SLO spec with each workflow's objective, the one the alerts use (default: "
        f"{DEFAULT_SLO_SPEC} when it exists, else a 95 %% objective for every workflow)",
    )
    parser.add_argument(
        "--headlines", action="store_true", help="table: only each area's headline row"
    )
    parser.add_argument(
        "--plan",
        metavar="FILE",
        help="a pilot plan (e.g. grafana/pilot-plan.yaml): judge its criteria per workflow, "
        "net of the pilot's total cost of ownership",
    )


def pilot_window(period: Period, at: float | None) -> tuple[str, float]:
    """The Prometheus window of a pilot period: from its first day's midnight (UTC) to the
    end of its last day, or to ``at`` (default: now) while the pilot is running."""
    import time
    from datetime import UTC, datetime, timedelta
    from datetime import time as day_start

    from aikpi_collector.report.sources import SourceError

    start = datetime.combine(period.start, day_start(), UTC).timestamp()
    end = datetime.combine(period.end + timedelta(days=1), day_start(), UTC).timestamp()
    at = min(end, time.time() if at is None else at)
    if at <= start:
        raise SourceError(f"the pilot period {period} has not started yet")
    return f"{int(at - start)}s", at


def _fail(message: str) -> int:
    print(f"aikpi-collector report: error: {message}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    """Read the source, build the scorecards, print them in the chosen format."""
    from aikpi_collector.report import build_scorecards
    from aikpi_collector.report.kpis import NoBaselineError, NoDataError
    from aikpi_collector.report.sources import (
        SourceError,
        read_metrics_url,
        read_prometheus,
        window_seconds,
    )
    from aikpi_collector.report.verdicts import Thresholds
    from aikpi_collector.slo.spec import SpecError

    try:
        spec = load_slo_spec(args.slo_spec)
    except SpecError as exc:
        return _fail(str(exc))
    if args.min_samples < 1:
        return _fail(f"--min-samples must be >= 1, got {args.min_samples}")
    plan = None
    if args.plan:
        from aikpi_collector.plan import PlanError, load_plan

        try:
            plan = load_plan(args.plan)
        except PlanError as exc:
            return _fail(str(exc))
    seconds = None
    try:
        if args.prometheus:
            window_text, at = args.window or "28d", args.at
            if plan is not None and args.window is None:
                window_text, at = pilot_window(plan.pilot_period, args.at)
            samples = read_prometheus(args.prometheus, window_text, at)
            window = f"last {window_text}"
            seconds = window_seconds(window_text)
        else:
            samples = read_metrics_url(args.metrics)
            window = "since collector start"
        cards = build_scorecards(
            samples,
            window,
            workflow=args.workflow,
            thresholds=Thresholds(min_samples=args.min_samples),
            spec=spec,
            window_seconds=seconds,
            plan=plan,
        )
    except (SourceError, NoDataError, NoBaselineError) as exc:
        return _fail(str(exc))
    return emit(cards, args.format, args.plot, headlines=args.headlines)


def emit(cards: list[Scorecard], fmt: str, plot: str | None, *, headlines: bool = False) -> int:
    """Print ``cards`` as ``fmt`` and write the chart; shared with the demo."""
    from aikpi_collector.report.render import render_table, to_json, to_markdown

    if fmt == "json":
        print(to_json(cards))
    elif fmt == "markdown":
        print(to_markdown(cards))
    else:
        render_table(cards, detail=not headlines)
    if plot:
        from aikpi_collector.report.plot import plot_scorecards

        try:
            written = plot_scorecards(cards, plot)
        except OSError as exc:
            return _fail(f"cannot write the chart {plot}: {exc.strerror or exc}")
        print(f"chart written to {written}", file=sys.stderr)
    return 0
