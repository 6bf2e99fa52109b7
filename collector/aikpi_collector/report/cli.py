"""``aikpi-collector report``: the pilot scorecard from Prometheus or a collector's /metrics.

Exit status: 0 with a scorecard; 1 when the source cannot be read, holds no data for the
window, a workflow has nothing to compare with (no baseline cohort, and no pre-period runs),
or the options cannot go together (a one-line message on stderr, no traceback); 2 for a bad
command line.

With a pre-pilot window (``--baseline-window`` or the plan's ``baseline_period``, Prometheus
only), a workflow without a baseline cohort is compared before/after, and every scorecard
lists its estimates under each available design (:mod:`aikpi_collector.report.designs`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aikpi_collector.plan import Period, Plan
    from aikpi_collector.report.designs import PrePeriod
    from aikpi_collector.report.scorecard import Scorecard
    from aikpi_collector.slo.spec import SLOSpec

__all__ = (
    "DEFAULT_SLO_SPEC",
    "add_arguments",
    "check_pre_period",
    "load_slo_spec",
    "period_bounds",
    "pilot_window",
    "read_pre_period",
    "run",
)

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
    parser.add_argument(
        "--baseline-window",
        metavar="START/END",
        type=_period_argument,
        help="Prometheus: the pre-pilot days, both included (UTC), e.g. "
        "2026-08-01/2026-09-30, to compare the pilot with: before/after for a workflow "
        "without a baseline cohort, and a designs section (concurrent, before/after, "
        "difference-in-differences) on every scorecard (default: the plan's baseline_period)",
    )


def _period_argument(text: str) -> Period:
    """``START/END`` as a :class:`~aikpi_collector.plan.Period` (argparse type)."""
    from pydantic import ValidationError

    from aikpi_collector.plan import Period

    try:
        return Period.model_validate(text)
    except ValidationError as exc:
        message = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise argparse.ArgumentTypeError(message) from None


def period_bounds(period: Period) -> tuple[float, float]:
    """Unix seconds of a period's first midnight (UTC) and of the midnight after its last day."""
    from datetime import UTC, datetime, timedelta
    from datetime import time as day_start

    start = datetime.combine(period.start, day_start(), UTC).timestamp()
    end = datetime.combine(period.end + timedelta(days=1), day_start(), UTC).timestamp()
    return start, end


def pilot_window(period: Period, at: float | None) -> tuple[str, float]:
    """The Prometheus window of a pilot period: from its first day's midnight (UTC) to the
    end of its last day, or to ``at`` (default: now) while the pilot is running."""
    import time

    from aikpi_collector.report.sources import SourceError

    start, end = period_bounds(period)
    at = min(end, time.time() if at is None else at)
    if at <= start:
        raise SourceError(f"the pilot period {period} has not started yet")
    return f"{int(at - start)}s", at


def check_pre_period(period: Period, pilot_start: float, origin: str) -> None:
    """Refuse a pre-pilot period that does not end before the pilot window starts (checked
    before anything is read; ``origin`` names where the period came from)."""
    from datetime import UTC, datetime

    from aikpi_collector.report.sources import SourceError

    if period_bounds(period)[1] > pilot_start:
        starts = datetime.fromtimestamp(pilot_start, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        raise SourceError(
            f"the pre-period {period} ({origin}) must end before the pilot window starts "
            f"({starts}): a before/after comparison needs two separate windows"
        )


def read_pre_period(url: str, period: Period, origin: str) -> PrePeriod:
    """The increases over a pre-pilot period, read at its end.

    A period without step data is not an error (a note on stderr): the comparisons that
    need it then say it has no runs, and the concurrent ones still stand.
    """
    from aikpi_collector.report.designs import PrePeriod
    from aikpi_collector.report.kpis import workflows_in
    from aikpi_collector.report.sources import read_prometheus

    start, end = period_bounds(period)
    samples = read_prometheus(url, f"{int(end - start)}s", end)
    if not workflows_in(samples):
        _note(
            f"no aikpi step data in the pre-period {period} ({origin}): not instrumented then, "
            "or beyond Prometheus's retention; no before/after or difference-in-differences"
        )
    return PrePeriod(samples, str(period))


def load_optional_plan(path: str | None) -> Plan | None:
    """The pilot plan at ``path`` (``None`` without one); raises ``PlanError`` naming keys."""
    if not path:
        return None
    from aikpi_collector.plan import load_plan

    return load_plan(path)


def prometheus_window(args: argparse.Namespace, plan: Plan | None) -> tuple[str, float]:
    """The window and its end (unix seconds): ``--window``/``--at``; else, with a plan, its
    pilot period up to now; else the last 28 days."""
    import time

    window, at = args.window or "28d", args.at
    if plan is not None and args.window is None:
        window, at = pilot_window(plan.pilot_period, args.at)
    return window, time.time() if at is None else at


def _fail(message: str) -> int:
    print(f"aikpi-collector report: error: {message}", file=sys.stderr)
    return 1


def _note(message: str) -> None:
    print(f"aikpi-collector report: note: {message}", file=sys.stderr)


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
    from aikpi_collector.plan import PlanError

    try:
        plan = load_optional_plan(args.plan)
    except PlanError as exc:
        return _fail(str(exc))
    period, origin = args.baseline_window, "--baseline-window"
    if period is not None and not args.prometheus:
        return _fail(
            "--baseline-window needs --prometheus: a collector's /metrics holds totals since "
            "it started, with no history to read a pre-pilot window from"
        )
    if period is None and plan is not None and plan.baseline_period is not None:
        period, origin = plan.baseline_period, "the plan's baseline_period"
        if not args.prometheus:
            _note(
                f"the plan's baseline_period {period} is not compared: a collector's /metrics "
                "has no history (use --prometheus)"
            )
            period = None
    seconds = None
    pre = None
    try:
        if args.prometheus:
            window_text, at = prometheus_window(args, plan)
            seconds = window_seconds(window_text)
            if period is not None and seconds is not None:
                check_pre_period(period, at - seconds, origin)
            samples = read_prometheus(args.prometheus, window_text, at)
            window = f"last {window_text}"
            if period is not None:
                pre = read_pre_period(args.prometheus, period, origin)
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
            pre=pre,
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
