"""``aikpi-collector``: one command, several jobs (serve, rules, report, plan, demo).

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``. Only the chosen subcommand's module is imported, so one job's
dependencies never slow down or break another. With no subcommand the collector serves
(``aikpi-collector --config c.yaml``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ("SUBCOMMANDS", "main")

SUBCOMMANDS = {
    "serve": ("aikpi_collector.serve_command", "run the collector: OTLP receivers and /metrics"),
    "rules": ("aikpi_collector.slo.cli", "generate Prometheus SLO recording and alert rules"),
    "report": ("aikpi_collector.report.cli", "print the pilot scorecard"),
    "plan": (
        "aikpi_collector.plan.cli",
        "samples a pilot plan's criteria need, and the days to reach them",
    ),
    "demo": ("aikpi_collector.demo.cli", "run a simulated pilot end to end, print its scorecard"),
}


def _top_level_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aikpi-collector",
        description="Turn AI-workflow spans into Prometheus KPIs. Without a COMMAND, runs 'serve'.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aikpi-collector`` script; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in ("-h", "--help"):
        _top_level_parser().print_help()
        return 0
    command = args_list.pop(0) if args_list and args_list[0] in SUBCOMMANDS else "serve"
    module_name, help_text = SUBCOMMANDS[command]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"aikpi-collector {command}", description=help_text)
    module.add_arguments(parser)
    args = parser.parse_args(args_list)
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
