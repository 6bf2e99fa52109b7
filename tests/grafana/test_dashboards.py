"""Structural checks of the Grafana boards and their provisioning, without Grafana.

Every board: fixed unique uid, unique panel ids, the ``${datasource}`` variable on every panel
and query, a query in every panel, no overlapping grid positions, the template variables, and
exemplars on histogram panels; every PromQL expression parses (``promtool check rules``);
every recorded series a board reads is defined in ``grafana/rules``; the JSON on disk is what
``grafana/build_dashboards.py`` builds.
"""

from __future__ import annotations

import re
import subprocess
from itertools import combinations
from pathlib import Path

import pytest
import yaml
from grafana_files import (
    DASHBOARDS,
    GRAFANA,
    builder,
    dashboards,
    panel_queries,
    rule_expressions,
    substitute,
)
from support.binaries import require_binary

DS = {"type": "prometheus", "uid": "${datasource}"}
EXPECTED_UIDS = {
    "aikpi-scorecard.json": "aikpi-scorecard",
    "aikpi-error-budget.json": "aikpi-error-budget",
    "aikpi-collector-health.json": "aikpi-collector-health",
}
CATALOGUE = {
    "aikpi_steps_total",
    "aikpi_step_duration_seconds",
    "aikpi_outcomes_total",
    "aikpi_correction_seconds",
    "aikpi_review_seconds",
    "aikpi_workflows_total",
    "aikpi_workflow_duration_seconds",
    "aikpi_tokens_total",
    "aikpi_cost_usd_total",
    "aikpi_policy_violations_total",
    "aikpi_labor_cost_usd_per_hour",
    "aikpi_collector_spans_received_total",
    "aikpi_collector_spans_rejected_total",
    "aikpi_collector_requests_rejected_total",
    "aikpi_collector_duplicate_spans_total",
    "aikpi_collector_label_sets_overflowed_total",
    "aikpi_collector_unpriced_spans_total",
    "aikpi_collector_request_duration_seconds",
}
BOARDS = dashboards()


def test_boards_on_disk_are_what_the_builder_builds() -> None:
    module = builder()
    built = {name: module.render(board) for name, board in module.build_all().items()}
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in DASHBOARDS.glob("*.json")}
    assert built == on_disk, "run `python grafana/build_dashboards.py` and commit the JSON"


def test_uids_are_fixed_and_unique() -> None:
    assert {name: board["uid"] for name, board in BOARDS.items()} == EXPECTED_UIDS
    assert len({board["title"] for board in BOARDS.values()}) == len(BOARDS)


@pytest.mark.parametrize("name", sorted(EXPECTED_UIDS))
def test_panels_ids_queries_and_datasource(name: str) -> None:
    board = BOARDS[name]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), "duplicate panel id"
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DS, panel["title"]
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids))
        for target in panel["targets"]:
            assert target["datasource"] == DS, panel["title"]
            assert target["expr"].strip(), panel["title"]
        if any("_bucket" in t["expr"] for t in panel["targets"]):
            assert all(
                t.get("exemplar") for t in panel["targets"] if "aikpi_collector" not in t["expr"]
            ), f"histogram panel {panel['title']!r} must show exemplars"


@pytest.mark.parametrize("name", sorted(EXPECTED_UIDS))
def test_grid_positions_do_not_overlap(name: str) -> None:
    boxes = []
    for panel in BOARDS[name]["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        assert pos["h"] > 0 and pos["w"] > 0
        boxes.append((panel["title"], pos["x"], pos["y"], pos["x"] + pos["w"], pos["y"] + pos["h"]))
    for a, b in combinations(boxes, 2):
        overlap = a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]
        assert not overlap, f"panels {a[0]!r} and {b[0]!r} overlap"


@pytest.mark.parametrize("name", sorted(EXPECTED_UIDS))
def test_template_variables(name: str) -> None:
    variables = {v["name"]: v for v in BOARDS[name]["templating"]["list"]}
    datasource = variables["datasource"]
    assert datasource["type"] == "datasource" and datasource["query"] == "prometheus"
    for variable in variables.values():
        if variable["name"] != "datasource":
            assert variable["type"] == "query"
            assert variable["datasource"] == DS
            assert variable["definition"].startswith("label_values(")
    expected = {
        "aikpi-scorecard.json": {"datasource", "workflow", "step", "team", "model"},
        "aikpi-error-budget.json": {"datasource", "slo", "workflow"},
        "aikpi-collector-health.json": {"datasource", "instance"},
    }[name]
    assert set(variables) == expected
    used = " ".join(t["expr"] for _, t in panel_queries(BOARDS[name]))
    used += " ".join(v.get("definition", "") for v in variables.values())
    for variable in expected - {"datasource"}:
        assert f"${variable}" in used, f"variable {variable} is never used"


def test_scorecard_has_a_row_per_area_and_both_cohorts() -> None:
    board = BOARDS["aikpi-scorecard.json"]
    rows = [p["title"] for p in board["panels"] if p["type"] == "row"]
    assert rows == ["Speed", "Quality", "Rework", "Cost", "Adoption", "Governance", "Value"]
    titles = [p["title"] for p in board["panels"] if p["type"] != "row"]
    assert sum("counter-metric" in t for t in titles) >= len(rows), (
        "each area pairs a counter-metric"
    )
    for panel, target in panel_queries(board):
        if "cohort" not in target["legendFormat"] and panel["title"] not in (
            "Net productivity gain per day",
            "Error budget remaining (counter-metric)",
        ):
            pytest.fail(f"panel {panel['title']!r} does not split by cohort")


def _metric_names(expr: str) -> set[str]:
    names = set(re.findall(r"\b(aikpi_[a-z_]+?)(?:_bucket|_sum|_count)?\b(?=\s*[{\[)]|\s*$)", expr))
    return names


def test_boards_read_only_catalogue_metrics_and_defined_records() -> None:
    records = {name for _, name, _ in rule_expressions()}
    for board in BOARDS.values():
        for panel, target in panel_queries(board):
            expr = target["expr"]
            for record, prefix in re.findall(r"\b([a-z_]+:[a-z0-9_]+:[a-z0-9_]+)\b(\.\+)?", expr):
                defined = (
                    any(r.startswith(record) for r in records) if prefix else record in records
                )
                assert defined, f"{panel['title']!r} reads undefined {record}"
            for metric in _metric_names(expr):
                assert metric in CATALOGUE, f"{panel['title']!r} reads unknown metric {metric}"


def test_every_expression_parses_with_promtool(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    rules = []
    values = {
        "workflow": ".*",
        "step": ".*",
        "team": ".*",
        "model": ".*",
        "slo": ".*",
        "instance": ".*",
    }
    for name, board in BOARDS.items():
        for panel, target in panel_queries(board):
            rules.append(
                {
                    "record": f"check:panel_{len(rules)}:expr",
                    "expr": substitute(target["expr"], values),
                    "labels": {"board": name, "panel": panel["title"]},
                }
            )
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                inner = re.fullmatch(r"label_values\((.*),\s*\w+\)", variable["definition"])
                assert inner, variable["definition"]
                rules.append(
                    {
                        "record": f"check:var_{len(rules)}:expr",
                        "expr": substitute(inner.group(1), values),
                    }
                )
    path = tmp_path / "board-queries.rules.yml"
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "boards", "rules": rules}]}), encoding="utf-8"
    )
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_datasource_provisioning_links_exemplars_to_the_trace_store() -> None:
    doc = yaml.safe_load(
        (GRAFANA / "provisioning/datasources/aikpi.yml").read_text(encoding="utf-8")
    )
    by_uid = {ds["uid"]: ds for ds in doc["datasources"]}
    prometheus = by_uid["prometheus"]
    assert prometheus["type"] == "prometheus"
    destinations = prometheus["jsonData"]["exemplarTraceIdDestinations"]
    assert [d["name"] for d in destinations] == ["trace_id", "correlation_id"]
    assert by_uid[destinations[0]["datasourceUid"]]["type"] in ("tempo", "jaeger")
    assert "aikpi.correlation_id" in destinations[1]["url"]


def test_dashboard_provisioning_points_at_the_mounted_boards() -> None:
    doc = yaml.safe_load(
        (GRAFANA / "provisioning/dashboards/aikpi.yml").read_text(encoding="utf-8")
    )
    (provider,) = doc["providers"]
    assert provider["type"] == "file"
    compose = (GRAFANA.parent / "deploy/docker-compose.yml").read_text(encoding="utf-8")
    assert f"../grafana/dashboards:{provider['options']['path']}:ro" in compose
