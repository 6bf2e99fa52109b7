"""Shared helpers of the grafana tests: load the boards, list their queries, substitute
Grafana's template variables, collect every PromQL expression of the rule files, and write a
pilot plan's rules for a pilot running now (end-to-end tests)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
RULES = GRAFANA / "rules"

__all__ = (
    "DASHBOARDS",
    "GRAFANA",
    "REPO",
    "RULES",
    "builder",
    "dashboards",
    "live_plan",
    "live_plan_rules",
    "panel_queries",
    "rule_expressions",
    "substitute",
)


def builder() -> ModuleType:
    """``grafana/build_dashboards.py`` imported as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location(
        "aikpi_build_dashboards", GRAFANA / "build_dashboards.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> parsed JSON of every checked-in board."""
    return {
        p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASHBOARDS.glob("*.json"))
    }


def panel_queries(board: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(panel, target) for every query target of every non-row panel."""
    return [
        (panel, target)
        for panel in board["panels"]
        if panel["type"] != "row"
        for target in panel.get("targets", [])
    ]


def substitute(
    expr: str, values: dict[str, str], rate_interval: str = "1m", range_: str = "5m"
) -> str:
    """Replace Grafana variables as Grafana would: ``$var`` / ``${var}`` with a regex of
    ``values[var]`` and the built-ins ``$__rate_interval``, ``$__interval``, ``$__range``."""
    builtins = {"__rate_interval": rate_interval, "__interval": rate_interval, "__range": range_}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in builtins:
            return builtins[name]
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", replace, expr)


def rule_expressions(paths: Iterable[Path] | None = None) -> list[tuple[Path, str, str]]:
    """(file, record or alert name, expr) of every rule in ``paths`` (default: grafana/rules)."""
    out = []
    for path in sorted(RULES.glob("*.yml")) if paths is None else paths:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                out.append((path, rule.get("record") or rule["alert"], rule["expr"]))
    return out


def live_plan(**changes: Any) -> dict[str, Any]:
    """The demo plan (grafana/pilot-plan.yaml) as a mapping, its pilot running now: from
    yesterday to tomorrow (UTC), so a test crossing midnight stays inside it."""
    plan = yaml.safe_load((GRAFANA / "pilot-plan.yaml").read_text(encoding="utf-8"))
    today = datetime.now(UTC).date()
    plan["pilot_period"] = f"{today - timedelta(days=1)}/{today + timedelta(days=1)}"
    plan.pop("baseline_period", None)
    plan.update(changes)
    return plan


def live_plan_rules(directory: Path, plan: dict[str, Any]) -> Path:
    """Write ``plan``'s rule file into ``directory``, evaluated every second (the generated
    file's 2m30s would make a test wait minutes for the first evaluation)."""
    from aikpi_collector.plan import parse_plan
    from aikpi_collector.plan.rules import plan_rules_file, render_plan_rules

    parsed = parse_plan(plan)
    path = Path(directory) / plan_rules_file(parsed)
    path.write_text(render_plan_rules(parsed, "live-plan.yaml", interval="1s"), encoding="utf-8")
    return path
