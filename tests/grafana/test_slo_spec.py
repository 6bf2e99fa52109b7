"""The SLO spec, the rule generator and the checked-in rule files.

Generated rules must not drift from ``grafana/slo.yaml`` (the SLO rules), the catalogue (the
KPI rules) or ``grafana/pilot-plan.yaml`` (the plan's live view); every rule file passes
``promtool check rules``; bad specs and plans are refused with the key named; every alert
carries severity, summary, description and a runbook_url whose anchor exists in the runbook.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from aikpi_collector.slo import SLOSpec, SpecError, load_spec, parse_duration
from aikpi_collector.slo.generate import generated_files
from grafana_files import GRAFANA, REPO, RULES
from support.binaries import require_binary

SPEC = GRAFANA / "slo.yaml"
PLAN = "grafana/pilot-plan.yaml"
GENERATED = ["ai-outcome.slo.rules.yml", "kpi.rules.yml"]
"""What the generator writes from the spec: its SLO rules and the catalogue's KPI rules."""
PLAN_FILE = "demo-pilot-q4.plan.rules.yml"
MAKE_RULES = sorted([*GENERATED, PLAN_FILE])
"""What ``make rules`` writes: with ``--plan grafana/pilot-plan.yaml``, the plan's rules too."""


def _rules_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aikpi_collector", "rules", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def test_generated_rules_do_not_drift_from_the_spec_or_the_plan(tmp_path: Path) -> None:
    """Every generated file: the SLO rules (from the spec), the KPI rules (from the catalogue)
    and the demo plan's live view (from the plan), as ``make rules`` runs it."""
    result = _rules_cli(str(SPEC), "--plan", PLAN, "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    generated = sorted(p.name for p in tmp_path.iterdir())
    assert generated == MAKE_RULES
    for name in generated:
        assert (tmp_path / name).read_text() == (RULES / name).read_text(), (
            f"grafana/rules/{name} drifted from grafana/slo.yaml, the catalogue or {PLAN}: "
            "run `make rules`"
        )
    # without --plan, the same spec and catalogue files and no plan's
    alone = _rules_cli(str(SPEC), "--output-dir", str(tmp_path / "alone"))
    assert alone.returncode == 0, alone.stderr
    assert sorted(p.name for p in (tmp_path / "alone").iterdir()) == GENERATED


@pytest.mark.parametrize(
    ("name", "edit"),
    [
        (GENERATED[0], ("14.4", "14.5")),
        (GENERATED[1], ("[1h]", "[2h]")),
        (PLAN_FILE, ("< -0.03", "< -0.04")),
    ],
)
def test_check_mode_passes_on_the_repo_and_fails_on_drift(
    tmp_path: Path, name: str, edit: tuple[str, str]
) -> None:
    args = ("--plan", PLAN)
    ok = _rules_cli("grafana/slo.yaml", *args, "--output-dir", "grafana/rules", "--check")
    assert ok.returncode == 0, ok.stderr
    stale = tmp_path / "rules"
    stale.mkdir()
    for each in MAKE_RULES:
        (stale / each).write_text((RULES / each).read_text())
    text = (RULES / name).read_text()
    assert edit[0] in text
    (stale / name).write_text(text.replace(*edit))
    drift = _rules_cli(str(SPEC), *args, "--output-dir", str(stale), "--check")
    assert drift.returncode == 1
    assert "out of date" in drift.stderr and "make rules" in drift.stderr
    assert name in drift.stderr
    missing = _rules_cli(str(SPEC), *args, "--output-dir", str(tmp_path / "empty"), "--check")
    assert missing.returncode == 1


@pytest.mark.parametrize("name", GENERATED)
def test_generated_file_says_do_not_edit_and_names_the_command(name: str) -> None:
    first_lines = (RULES / name).read_text().splitlines()[:2]
    assert first_lines[0].startswith("# DO NOT EDIT")
    assert "make rules" in first_lines[0]
    assert "aikpi-collector rules grafana/slo.yaml --output-dir grafana/rules" in first_lines[1]


def test_plan_file_says_do_not_edit_and_names_its_command_and_window() -> None:
    header = [line for line in (RULES / PLAN_FILE).read_text().splitlines() if line.startswith("#")]
    assert header[0] == (
        "# DO NOT EDIT: generated from the pilot plan grafana/pilot-plan.yaml by `make rules`"
    )
    assert header[1] == (
        "# (aikpi-collector rules grafana/slo.yaml --plan grafana/pilot-plan.yaml "
        "--output-dir grafana/rules)."
    )
    text = "\n".join(header)
    # the window and its limitation are stated: 2026-10-01 00:00 UTC + 31 days = 1793491200
    assert "2026-10-01/2026-10-31 (31 days)" in text
    assert "increase(...[31d] @ 1793491200)" in text
    assert "A PromQL range cannot start at a\n# date" in text
    assert "`aikpi-collector report --plan`" in text and "verdict of record" in text


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ({"guardrails": [{"kpi": "acceptance_rate", "margin": "+2pp"}]}, "guardrails.0.margin"),
        ({"colour": "red"}, "colour: unknown key"),
    ],
)
def test_bad_plans_are_refused_with_the_key_named(tmp_path: Path, plan: dict, message: str) -> None:
    data = yaml.safe_load((GRAFANA / "pilot-plan.yaml").read_text())
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({**data, **plan}))
    result = _rules_cli(str(SPEC), "--plan", str(path), "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def test_two_plans_of_one_name_are_refused(tmp_path: Path) -> None:
    copy = tmp_path / "copy.yaml"
    copy.write_text((GRAFANA / "pilot-plan.yaml").read_text())
    out = tmp_path / "out"
    result = _rules_cli(str(SPEC), "--plan", PLAN, "--plan", str(copy), "--output-dir", str(out))
    assert result.returncode == 2
    assert "two pilot plans are named 'demo-pilot-q4'" in result.stderr
    assert not out.exists()


def test_every_rule_file_passes_promtool_check() -> None:
    promtool = require_binary("promtool")
    files = sorted(RULES.glob("*.yml"))
    assert [p.name for p in files] == MAKE_RULES
    for path in files:
        result = subprocess.run(
            [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout


def test_sloth_compatible_names_and_groups() -> None:
    doc = yaml.safe_load((RULES / "ai-outcome.slo.rules.yml").read_text())
    sli, alerts = doc["groups"]
    assert sli["name"] == "aikpi-slo-ai-outcome-sli"
    assert alerts["name"] == "aikpi-slo-ai-outcome-alerts"
    records = {rule["record"] for rule in sli["rules"]}
    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "28d"):
        assert f"slo:sli_error:ratio_rate{window}" in records
    assert {
        "slo:objective:ratio",
        "slo:error_budget:ratio",
        "slo:burn_rate:ratio",
        "slo:current_burn_rate:ratio",
        "slo:period_burn_rate:ratio",
        "slo:period_error_budget_remaining:ratio",
    } <= records
    assert all("alert" in rule for rule in alerts["rules"])


def test_every_alert_is_annotated_and_its_runbook_anchor_exists() -> None:
    runbook = (GRAFANA / "runbook.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", runbook, flags=re.M)
    }
    alerts = [
        rule
        for name in MAKE_RULES
        for group in yaml.safe_load((RULES / name).read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
    assert {a["alert"]: a["labels"]["severity"] for a in alerts} == {
        "AikpiErrorBudgetBurnPage": "page",
        "AikpiErrorBudgetBurnTicket": "ticket",
        "AikpiPilotGuardrailBreached": "ticket",
    }
    # one breach alert per guardrail of the demo plan, each with a for: (documented)
    breaches = [a for a in alerts if a["alert"] == "AikpiPilotGuardrailBreached"]
    assert [(a["labels"]["kpi"], a["for"]) for a in breaches] == [
        ("acceptance_rate", "1h"),
        ("reopen_rate", "1h"),
        ("correction_time_per_step", "1h"),
    ]
    for alert in alerts:
        annotations = alert["annotations"]
        assert annotations["summary"] and annotations["description"]
        url = annotations["runbook_url"]
        assert url.split("#")[0].endswith("grafana/runbook.md")
        assert url.split("#")[1] in anchors, f"runbook has no section for {alert['alert']}"


def test_default_spec_values() -> None:
    spec = SLOSpec()
    assert spec.objective == 95 and spec.period == "28d" and spec.cohort == "ai_assisted"
    assert [o.value for o in spec.bad_outcomes] == ["overridden", "escalated", "rejected"]
    windows = [
        (w.severity, w.burn_rate, w.long_window, w.short_window)
        for w in spec.alerting.effective_windows
    ]
    assert windows == [
        ("page", 14.4, "1h", "5m"),
        ("page", 6, "6h", "30m"),
        ("ticket", 3, "1d", "2h"),
        ("ticket", 1, "3d", "6h"),
    ]
    assert spec.error_budget() == 0.05
    assert load_spec(SPEC).error_budget("incident-triage") == 0.03


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"objective": 100}, "objective: objective is a percentage strictly between 0 and 100"),
        ({"bad_outcomes": ["wrong"]}, "bad_outcomes.0: Input should be 'accepted'"),
        ({"cohort": "everyone"}, "cohort: must be one of ai_assisted, baseline"),
        ({"period": "28 days"}, "is not a duration like 30s"),
        ({"colour": "red"}, "colour: unknown key"),
        ({"alerting": {"window_set": "custom"}}, "needs a non-empty 'windows' list"),
        (
            {
                "alerting": {
                    "window_set": "custom",
                    "windows": [
                        {
                            "severity": "page",
                            "burn_rate": 2,
                            "long_window": "5m",
                            "short_window": "1h",
                        }
                    ],
                }
            },
            "short_window 1h must be shorter than long_window 5m",
        ),
        ({"period": "1h"}, "alert window 6h is longer than the period 1h"),
        ({"workflows": {"x": {"objective": 0}}}, "workflows.x.objective"),
        ({"alerting": {"labels": {"severity": "x"}}}, "not a valid, unreserved label name"),
    ],
)
def test_bad_specs_are_refused_with_the_key_named(tmp_path: Path, data: dict, message: str) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError) as excinfo:
        load_spec(path)
    assert message in str(excinfo.value)
    result = _rules_cli(str(path), "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "out").exists()


def test_durations() -> None:
    assert parse_duration("5m") == 300
    assert parse_duration("1h30m") == 5400
    assert parse_duration("28d") == 28 * 86400
    for bad in ("", "0s", "5", "m5", "-1h"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_custom_windows_and_guard_off_generate_valid_rules(tmp_path: Path) -> None:
    spec = SLOSpec.model_validate(
        {
            "name": "fast",
            "period": "10m",
            "low_traffic": {"min_events": 0},
            "alerting": {
                "window_set": "custom",
                "windows": [
                    {
                        "severity": "page",
                        "burn_rate": 14.4,
                        "long_window": "1m",
                        "short_window": "10s",
                    }
                ],
                "for": {"page": "30s"},
                "labels": {"team": "sre"},
            },
            "workflows": {"a.b": {"objective": 99}, "c": {"objective": 99}},
            "select_workflows": ["a.b", "c", "d"],
        }
    )
    files = generated_files(spec, "fast.yaml")
    assert sorted(files) == ["fast.slo.rules.yml", "kpi.rules.yml"]
    name = "fast.slo.rules.yml"
    text = files[name]
    # the KPI rules do not depend on the spec: the same file whatever the spec
    assert files["kpi.rules.yml"] == (RULES / "kpi.rules.yml").read_text()
    assert "slo:sli_error:ratio_rate10s" in text and "slo:sli_error:ratio_rate10m" in text
    assert "sli_eligible_events" not in text
    assert 'workflow=~"a\\\\.b|c"' in text  # one scope for both 99 % workflows, dot escaped
    # one spec file can serve chosen workflows only
    assert 'aikpi_outcomes_total{cohort="ai_assisted", workflow=~"a\\\\.b|c|d"}' in text
    doc = yaml.safe_load(text)
    (alert,) = doc["groups"][1]["rules"]
    assert alert["for"] == "30s" and alert["labels"] == {"severity": "page", "team": "sre"}
    path = tmp_path / name
    path.write_text(text)
    promtool = require_binary("promtool")
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
