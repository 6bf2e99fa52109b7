"""Structural checks of the Grafana boards and their provisioning, without Grafana.

Every board: fixed unique uid, unique panel ids, the ``${datasource}`` variable on every panel
and query, a query in every panel, no overlapping grid positions, the template variables, and
exemplars on histogram queries; every PromQL expression parses (``promtool check rules``);
every recorded series a board reads is defined in ``grafana/rules`` and every metric is one a
collector exposes; the JSON on disk is what ``grafana/build_dashboards.py`` builds.

The scorecard follows the catalogue (``aikpi_collector.catalogue``): a row per area, every KPI
in its area with the catalogue's title, unit, direction, description and recording rule,
beside every counter-metric the catalogue pairs it with; then a "Pilot plan" row reading only
the generic series of the plans' rules (``aikpi_collector.plan.rules``), chosen by ``$plan``.
"""

from __future__ import annotations

import re
import subprocess
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
import yaml
from aikpi_collector import catalogue as cat
from aikpi_collector.exposition import SelfMetrics
from aikpi_collector.plan import rules as plan_rules
from grafana_files import (
    DASHBOARDS,
    GRAFANA,
    builder,
    dashboards,
    panel_queries,
    rule_expressions,
    substitute,
)
from prometheus_client import CollectorRegistry
from support.binaries import require_binary

DS = {"type": "prometheus", "uid": "${datasource}"}
EXPECTED_UIDS = {
    "aikpi-scorecard.json": "aikpi-scorecard",
    "aikpi-error-budget.json": "aikpi-error-budget",
    "aikpi-collector-health.json": "aikpi-collector-health",
}


def _exposed_names() -> set[str]:
    """Every family a collector exposes: the catalogue's KPI metrics and the self-metrics,
    read from a fresh registry (histograms by their base name)."""
    registry = CollectorRegistry()
    SelfMetrics(registry)
    names = {metric.name for metric in cat.METRICS}
    for family in registry.collect():
        names.add(f"{family.name}_total" if family.type == "counter" else family.name)
    return names


EXPOSED = _exposed_names()
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
            if "_bucket" in target["expr"] and "aikpi_collector" not in target["expr"]:
                assert target.get("exemplar"), f"histogram query of {panel['title']!r}: exemplars"


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
        "aikpi-scorecard.json": {"datasource", "workflow", "step", "team", "model", "plan"},
        "aikpi-error-budget.json": {"datasource", "slo", "workflow"},
        "aikpi-collector-health.json": {"datasource", "instance"},
    }[name]
    assert set(variables) == expected
    used = " ".join(t["expr"] for _, t in panel_queries(BOARDS[name]))
    used += " ".join(v.get("definition", "") for v in variables.values())
    for variable in expected - {"datasource"}:
        assert f"${variable}" in used, f"variable {variable} is never used"


def _rows(board: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Row title -> its panels, in board order."""
    rows: dict[str, list[dict[str, Any]]] = {}
    current: list[dict[str, Any]] = []
    for panel in board["panels"]:
        if panel["type"] == "row":
            current = rows.setdefault(panel["title"], [])
        else:
            current.append(panel)
    return rows


SCORECARD = BOARDS["aikpi-scorecard.json"]
SCORECARD_ROWS = _rows(SCORECARD)
GRAFANA_UNITS = {
    cat.Unit.SECONDS: "s",
    cat.Unit.RATIO: "percentunit",
    cat.Unit.USD: "currencyUSD",
    cat.Unit.PER_1000: "short",
    cat.Unit.COUNT: "short",
    cat.Unit.HOURS: "h",
}
WORKFLOW_LEVEL = {f"{v.title[:1].upper()}{v.title[1:]} per day" for v in cat.VALUES} | {
    "Error budget remaining (counter-metric)"
}


def _reads(panel: dict[str, Any], record: str) -> bool:
    return any(re.search(rf"\b{re.escape(record)}\b", t["expr"]) for t in panel["targets"])


def _kpi_panels(row: str, kpi: cat.Kpi) -> list[dict[str, Any]]:
    return [p for p in SCORECARD_ROWS[row] if _reads(p, kpi.record)]


def test_scorecard_has_a_row_per_catalogue_area_and_both_cohorts() -> None:
    areas = list(dict.fromkeys(kpi.area for kpi in cat.KPIS))
    assert areas == ["Speed", "Quality", "Rework", "Cost", "Adoption", "Governance", "Value"]
    assert list(SCORECARD_ROWS) == [*areas, "Pilot plan"]
    for panel, target in panel_queries(SCORECARD):
        if panel in SCORECARD_ROWS["Pilot plan"]:
            continue  # per criterion, not per cohort: test_pilot_plan_row
        if panel["title"] not in WORKFLOW_LEVEL:
            assert "{{cohort}}" in target["legendFormat"], panel["title"]
        else:
            assert target["legendFormat"] == "{{workflow}}", panel["title"]


def test_every_kpi_is_shown_in_its_area_as_the_catalogue_defines_it() -> None:
    """Title, unit, direction, description and recording rule come from the catalogue."""
    for kpi in cat.KPIS:
        (panel,) = _kpi_panels(kpi.area, kpi)
        title = kpi.title[:1].upper() + kpi.title[1:]
        if kpi.kind is cat.KpiKind.TOTAL:  # a rate per second, shown per hour
            assert panel["title"] == f"{title}, per hour"
            assert [t["expr"] for t in panel["targets"]] == [
                f'3600 * {kpi.record}{{workflow=~"$workflow"}}'
            ]
        else:
            assert panel["title"] == title
            assert [t["expr"] for t in panel["targets"]] == [
                f'{kpi.record}{{workflow=~"$workflow"}}'
            ]
        assert panel["fieldConfig"]["defaults"]["unit"] == GRAFANA_UNITS[kpi.unit]
        description = panel["description"]
        assert kpi.description[1:] in description and kpi.record in description, kpi.name
        assert f"{kpi.better.value.capitalize()} is better." in description
        for name in kpi.counter_metrics:
            assert cat.kpi(name).title in description, (kpi.name, name)
        assert ("AI-assisted cohort only." in description) == kpi.ai_only


def test_every_kpi_sits_beside_every_counter_metric_the_catalogue_pairs_it_with() -> None:
    for kpi in cat.KPIS:
        for name in kpi.counter_metrics:
            counter = cat.kpi(name)
            panels = _kpi_panels(kpi.area, counter)
            assert panels, f"row {kpi.area}: {kpi.name} without its counter-metric {name}"
            if counter.area != kpi.area:
                (panel,) = panels
                assert panel["title"].endswith(" (counter-metric)")
                assert kpi.title in panel["description"]


def test_headlines_are_stats_and_override_rate_is_one() -> None:
    """Each area's first KPI (the report's verdict) and the override rate lead their rows."""
    module = builder()
    firsts = {}
    for kpi in cat.KPIS:
        firsts.setdefault(kpi.area, kpi.name)
    assert module.headlines() == (*firsts.values(), "override_rate")
    for name in module.headlines():
        kpi = cat.kpi(name)
        (panel,) = _kpi_panels(kpi.area, kpi)
        assert panel["type"] == "stat", name
        stats = [p for p in SCORECARD_ROWS[kpi.area] if p["type"] == "stat"]
        assert panel in stats[:2], f"{name} does not lead its row"
    kinds = {p["title"]: p["type"] for p in SCORECARD_ROWS["Quality"]}
    assert kinds["Override rate"] == "stat"
    assert kinds["Clean acceptance"] == "timeseries"


def test_values_quantiles_and_undecided_steps_are_on_the_board() -> None:
    for value in cat.VALUES:
        (panel,) = [p for p in SCORECARD_ROWS["Value"] if _reads(p, value.record)]
        assert panel["fieldConfig"]["defaults"]["unit"] == GRAFANA_UNITS[value.unit]
        assert [t["expr"] for t in panel["targets"]] == [
            f'24 * {value.record}{{workflow=~"$workflow"}}'
        ]
    for metric, quantiles in cat.QUANTILES:
        area = builder().mean_kpi_of(metric).area
        records = [f"workflow_cohort:{metric.name}:p{q * 100:.0f}_rate1h" for q in quantiles]
        (panel,) = [p for p in SCORECARD_ROWS[area] if _reads(p, records[0])]
        assert all(_reads(panel, record) for record in records)
        (drill,) = [t for t in panel["targets"] if f"{metric.name}_bucket" in t["expr"]]
        assert drill["exemplar"] is True
    (human,) = [p for p in SCORECARD_ROWS["Value"] if p["title"] == "Human time per step p50 / p90"]
    assert human["fieldConfig"]["defaults"]["unit"] == "s"
    (awaiting,) = [p for p in SCORECARD_ROWS["Adoption"] if "awaiting an outcome" in p["title"]]
    ((target,),) = [awaiting["targets"]]
    assert 'cohort="ai_assisted"' in target["expr"]
    assert "aikpi_human_seconds_count" in target["expr"] and "aikpi_steps_total" in target["expr"]


def test_scorecard_reads_only_catalogue_records() -> None:
    """No hand-written rule name: every recorded KPI series is a catalogue record."""
    module = builder()
    known = {kpi.record for kpi in cat.KPIS} | {value.record for value in cat.VALUES}
    known |= {module.quantile_record(m, q) for m, qs in cat.QUANTILES for q in qs}
    known.add("slo:period_error_budget_remaining:ratio")
    known |= set(plan_rules.RECORDS)
    for panel, target in panel_queries(SCORECARD):
        for record in re.findall(r"\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b", target["expr"]):
            assert record in known, f"{panel['title']!r} reads {record}"
    assert set(module.UNITS) == set(cat.Unit)


PILOT = SCORECARD_ROWS["Pilot plan"]


def _pilot_panel(title: str) -> dict[str, Any]:
    (panel,) = [p for p in PILOT if p["title"] == title]
    return panel


def test_pilot_plan_row_reads_only_plan_records_of_the_chosen_plan() -> None:
    """Generic series of every plan's rules, filtered by the plan and workflow variables, so
    one row serves every plan; the plan variable lists the plans that have rules."""
    variables = {v["name"]: v for v in SCORECARD["templating"]["list"]}
    assert variables["plan"]["definition"] == "label_values(plan:aikpi_criterion_limit:ratio, plan)"
    records = set(plan_rules.RECORDS)
    read = set()
    for panel in PILOT:
        for target in panel["targets"]:
            expr = target["expr"]
            names = set(re.findall(r"\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b", expr))
            alerts = expr.startswith('ALERTS{alertname="AikpiPilotGuardrailBreached"')
            assert names <= records and (names or alerts), (panel["title"], expr)
            assert expr.count('plan=~"$plan", workflow=~"$workflow"') == max(1, len(names)), expr
            read |= names
    # everything a leader reads: the estimate against its limit, headroom, samples vs needed
    assert read == records - {plan_rules.STEPS, plan_rules.VALUE}


def test_pilot_plan_row_shows_estimate_vs_limit_and_samples_vs_needed() -> None:
    table = _pilot_panel("Criteria: estimate vs target or margin")
    assert [t["expr"] for t in table["targets"]] == [
        'plan:aikpi_criterion_estimate:ratio{plan=~"$plan", workflow=~"$workflow"}',
        'plan:aikpi_criterion_limit:ratio{plan=~"$plan", workflow=~"$workflow"}',
        'plan:aikpi_criterion_headroom:ratio{plan=~"$plan", workflow=~"$workflow"}',
        'min without (cohort) (plan:aikpi_criterion_samples:increase{plan=~"$plan", '
        'workflow=~"$workflow"})',
        'plan:aikpi_criterion_needed:count{plan=~"$plan", workflow=~"$workflow"}',
    ]
    assert all(t["format"] == "table" and t["instant"] for t in table["targets"])
    # one row per workflow and criterion: the queries share their labels and are merged
    merge, organize = table["transformations"]
    assert merge["id"] == "merge"
    assert organize["options"]["renameByName"] == {
        "Value #A": "estimate",
        "Value #B": "target or margin",
        "Value #C": "headroom",
        "Value #D": "samples (smaller cohort)",
        "Value #E": "needed per cohort",
    }
    overrides = {
        o["matcher"]["options"]: o["properties"] for o in table["fieldConfig"]["overrides"]
    }
    for column in ("estimate", "target or margin"):
        assert overrides[column] == [{"id": "unit", "value": "percentunit"}]
    pass_fail = {
        "mode": "absolute",
        "steps": [{"color": "red", "value": None}, {"color": "green", "value": 0}],
    }
    assert {"id": "thresholds", "value": pass_fail} in overrides["headroom"]
    headroom = _pilot_panel("Headroom per criterion")
    assert headroom["type"] == "bargauge"
    assert headroom["fieldConfig"]["defaults"]["thresholds"] == pass_fail
    samples = _pilot_panel("Samples vs needed per cohort")
    ((target,),) = [samples["targets"]]
    assert "plan:aikpi_criterion_samples:increase" in target["expr"]
    assert "/ ignoring (cohort) group_left" in target["expr"]
    assert target["legendFormat"] == "{{workflow}} {{kpi}} {{cohort}}"
    defaults = samples["fieldConfig"]["defaults"]
    assert (defaults["unit"], defaults["min"], defaults["max"]) == ("percentunit", 0, 1)
    assert [s["value"] for s in defaults["thresholds"]["steps"]] == [None, 1]
    over_time = _pilot_panel("Estimate vs target or margin over the pilot")
    assert [t["legendFormat"] for t in over_time["targets"]] == [
        "{{workflow}} {{kpi}} estimate",
        "{{workflow}} {{kpi}} {{role}} limit",
    ]


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
                assert metric in EXPOSED, f"{panel['title']!r} reads unknown metric {metric}"


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
        "plan": ".*",
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
