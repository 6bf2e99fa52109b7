"""Shared helpers of the grafana tests: load the boards, list their queries, substitute
Grafana's template variables, and collect every PromQL expression of the rule files."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
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


def rule_expressions() -> list[tuple[Path, str, str]]:
    """(file, record or alert name, expr) of every rule in grafana/rules."""
    out = []
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                out.append((path, rule.get("record") or rule["alert"], rule["expr"]))
    return out
