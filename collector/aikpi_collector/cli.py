"""``aikpi-collector``: one command, several jobs (serve, rules, report, demo).

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; those modules import their heavy dependencies inside ``run`` so that
building the parser stays fast. With no subcommand the collector serves (``aikpi-collector --config c.yaml``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ("main",)

SUBCOMMANDS = {
    "serve": ("aikpi_collector.serve", "run the collector: OTLP receivers and /metrics"),
    "rules": ("aikpi_collector.slo.cli", "generate Prometheus SLO recording and alert rules"),
    "report": ("aikpi_collector.report.cli", "print the pilot scorecard from Prometheus or /metrics"),
    "demo": ("aikpi_collector.demo.cli", "run a simulated pilot end to end and print its scorecard"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aikpi-collector",
        description="Turn AI-workflow spans into Prometheus KPIs.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aikpi-collector`` script; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0] not in SUBCOMMANDS and args_list[0] not in ("-h", "--help")):
        args_list.insert(0, "serve")
    args = _parser().parse_args(args_list)
    return int(args._module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
