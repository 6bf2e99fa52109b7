"""``aikpi-collector rules SPEC.yaml [--plan PLAN.yaml ...] --output-dir DIR [--check]``: the SLO
spec, the KPI catalogue and pilot plans to rule files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ("add_arguments", "run")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of the ``rules`` subcommand."""
    parser.add_argument("spec", type=Path, help="SLO spec file, e.g. grafana/slo.yaml")
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("grafana/rules"),
        help="directory for the generated rule files (default: grafana/rules)",
    )
    parser.add_argument(
        "--plan",
        type=Path,
        action="append",
        default=[],
        metavar="PLAN",
        help="a pilot plan (e.g. grafana/pilot-plan.yaml): also write <name>.plan.rules.yml, its "
        "criteria's live estimates and the guardrail alert; repeat for several plans",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the files on disk differ from what the spec generates",
    )


def run(args: argparse.Namespace) -> int:
    """Generate (or check) the rule files; 0 on success, 1 on drift, 2 on a bad spec or plan."""
    from aikpi_collector.plan.spec import PlanError, load_plan
    from aikpi_collector.slo.generate import generated_files
    from aikpi_collector.slo.spec import SpecError, load_spec

    try:
        spec = load_spec(args.spec)
        plans = [(load_plan(path), path.as_posix()) for path in args.plan]
        files = generated_files(spec, args.spec.name, plans)
    except (SpecError, PlanError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.check:
        stale = []
        for name, text in files.items():
            path = args.output_dir / name
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        if stale:
            print(
                "generated rules are out of date with the spec, the catalogue or the plans: "
                + ", ".join(stale)
                + "\nrun `make rules` and commit the result",
                file=sys.stderr,
            )
            return 1
        print(f"rules up to date: {', '.join(str(args.output_dir / n) for n in files)}")
        return 0
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.output_dir / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.output_dir / name}")
    return 0
