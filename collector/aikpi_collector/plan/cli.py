"""``aikpi-collector plan FILE --metrics URL | --prometheus URL``: how many samples each
criterion of a pilot plan needs, and how many days that takes at the observed pace.

Exit status: 0 with the sizes; 1 when the plan or the source cannot be read (one line on
stderr); 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ("add_arguments", "run")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The plan file, the source and its window."""
    parser.add_argument("plan", help="pilot plan file, e.g. grafana/pilot-plan.yaml")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--prometheus", metavar="URL", help="Prometheus base URL")
    source.add_argument("--metrics", metavar="URL", help="a collector's /metrics URL")
    parser.add_argument(
        "--window",
        help="Prometheus range the pace is measured over, e.g. 7d (default: the plan's "
        "pilot period up to now)",
    )
    parser.add_argument("--at", type=float, metavar="UNIX_SECONDS", help="end of the window")
    parser.add_argument(
        "--days",
        type=float,
        help="days the source's counts cover (default: the window's length; for --metrics, "
        "the days of the pilot period so far)",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")


def _fail(message: str) -> int:
    print(f"aikpi-collector plan: error: {message}", file=sys.stderr)
    return 1


def _elapsed_pilot_days(plan) -> float:
    """Days of the pilot period up to today (at least 1, at most the period)."""
    from datetime import UTC, datetime

    today = datetime.now(UTC).date()
    elapsed = (min(today, plan.pilot_period.end) - plan.pilot_period.start).days + 1
    return float(min(max(elapsed, 1), plan.pilot_period.days))


def run(args: argparse.Namespace) -> int:
    """Read the plan and the source; print each criterion's size per workflow."""
    from aikpi_collector.plan import PlanError, load_plan, size_plan
    from aikpi_collector.report.cli import prometheus_window
    from aikpi_collector.report.kpis import NoBaselineError, NoDataError, compare_all
    from aikpi_collector.report.plans import covered, observed
    from aikpi_collector.report.sources import (
        SourceError,
        read_metrics_url,
        read_prometheus,
        window_seconds,
    )

    try:
        plan = load_plan(args.plan)
    except PlanError as exc:
        return _fail(str(exc))
    if args.days is not None and not args.days > 0:
        return _fail(f"--days must be > 0, got {args.days}")
    try:
        if args.prometheus:
            window, at = prometheus_window(args, plan)
            samples = read_prometheus(args.prometheus, window, at)
            seconds = window_seconds(window)
            days = args.days or (seconds / 86400.0 if seconds else None)
        else:
            samples = read_metrics_url(args.metrics)
            days = args.days or _elapsed_pilot_days(plan)
        comparisons = covered(compare_all(samples, skip_incomplete=True), plan)
    except (SourceError, NoDataError, NoBaselineError) as exc:
        return _fail(str(exc))
    if not comparisons:
        return _fail(f"no data for the plan's workflows ({', '.join(plan.workflows)})")
    if not days:
        return _fail("cannot tell how many days the counts cover: give --days")
    sizes = {c.workflow: size_plan(plan, observed(c, plan), days) for c in comparisons}
    if args.format == "json":
        document = {
            "plan": plan.name,
            "alpha": plan.alpha,
            "power": plan.power,
            "days_observed": days,
            "workflows": {w: [s.to_dict() for s in found] for w, found in sizes.items()},
        }
        print(json.dumps(document, indent=2))
        return 0
    _print_table(plan, sizes, days)
    return 0


def _print_table(plan, sizes, days: float) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    for workflow, found in sizes.items():
        table = Table(
            title=f"pilot plan {plan.name}: {workflow} (alpha {plan.alpha:g}, power "
            f"{plan.power:g}; pace over {days:.1f} days)",
            title_justify="left",
        )
        for column in (
            "role",
            "KPI",
            "needed / cohort",
            "have (AI / baseline)",
            "per day",
            "days in all",
            "days to go",
        ):
            table.add_column(column, justify="left" if column in ("role", "KPI") else "right")
        for size in found:
            have = size.have_per_cohort
            pace = size.per_day
            table.add_row(
                size.role.value,
                size.kpi,
                "-" if size.needed_per_cohort is None else f"{size.needed_per_cohort:,}",
                f"{have['ai_assisted']:,.0f} / {have['baseline']:,.0f}",
                f"{pace['ai_assisted']:,.1f} / {pace['baseline']:,.1f}",
                "-" if size.days_total is None else f"{size.days_total:,.0f}",
                "-" if size.days_remaining is None else f"{size.days_remaining:,.0f}",
            )
        console.print(table)
        for size in found:
            console.print(f"  {size.kpi}: {size.reason}", highlight=False, markup=False)
        console.print()
