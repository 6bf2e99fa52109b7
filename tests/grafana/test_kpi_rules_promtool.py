"""The generated KPI recording rules compute the catalogue's formulas: ``promtool test rules``
on counters with known per-minute increments, expected values worked out by hand below.

Every record of ``grafana/rules/kpi.rules.yml`` is checked at least once (a test below makes
sure), each against the whole result set: a sample that should not exist (a baseline
override rate, a gain for a workflow without a baseline) fails the test.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from grafana_files import RULES
from support.binaries import require_binary

# Per-minute increments: 1h later every rate1h is increment / 60 exactly.
AI = {"workflow": "w", "step": "s", "cohort": "ai_assisted", "team": "none"}
BASE = {"workflow": "w", "step": "s", "cohort": "baseline", "team": "none"}
MINUTES = 120
KPI_RULES = RULES / "kpi.rules.yml"


def _labels(dims: dict[str, str], **extra: str) -> str:
    items = {**dims, **extra}
    return "{" + ", ".join(f'{k}="{v}"' for k, v in items.items()) + "}"


def _series(name: str, dims: dict[str, str], per_minute: float, **extra: str) -> dict[str, str]:
    return {"series": f"{name}{_labels(dims, **extra)}", "values": f"0+{per_minute!r}x{MINUTES}"}


def _gauge(team: str, usd_per_hour: float, **extra: str) -> dict[str, str]:
    labels = _labels({"team": team}, **extra)
    return {
        "series": f"aikpi_labor_cost_usd_per_hour{labels}",
        "values": f"{usd_per_hour!r}x{MINUTES}",
    }


def _run(dims: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in dims.items() if k != "step"}


# AI-assisted, per minute: 16 steps (1 raised); 14 of them assisted, 2 done by a human alone
# (150 s each). 10 assisted steps were decided (6 accepted, 2 edited, 1 overridden,
# 1 escalated; review 300 s and correction 120 s in all), 4 await their outcome. So
# aikpi_human_seconds observed 2 + 10 = 12 steps worth 2 x 150 + 300 + 120 = 720 s: 60 s each.
# Human time per step observed once per step: 6 observations up to 60 s, 6 in (60, 300].
INPUT = [
    _series("aikpi_steps_total", AI, 15, status="ok"),
    _series("aikpi_steps_total", AI, 1, status="error"),
    _series("aikpi_assisted_steps_total", AI, 14),
    _series("aikpi_step_duration_seconds_sum", AI, 580),
    _series("aikpi_step_duration_seconds_count", AI, 16),
    _series("aikpi_outcomes_total", AI, 6, outcome="accepted"),
    _series("aikpi_outcomes_total", AI, 2, outcome="edited"),
    _series("aikpi_outcomes_total", AI, 1, outcome="overridden"),
    _series("aikpi_outcomes_total", AI, 1, outcome="escalated"),
    _series("aikpi_review_seconds_sum", AI, 300),
    _series("aikpi_review_seconds_count", AI, 10),
    _series("aikpi_correction_seconds_sum", AI, 120),
    _series("aikpi_correction_seconds_count", AI, 2),
    _series("aikpi_correction_seconds_bucket", AI, 0, le="30"),
    _series("aikpi_correction_seconds_bucket", AI, 2, le="120"),
    _series("aikpi_correction_seconds_bucket", AI, 2, le="+Inf"),
    _series("aikpi_human_seconds_sum", AI, 720),
    _series("aikpi_human_seconds_count", AI, 12),
    _series("aikpi_human_seconds_bucket", AI, 6, le="60"),
    _series("aikpi_human_seconds_bucket", AI, 12, le="300"),
    _series("aikpi_human_seconds_bucket", AI, 12, le="900"),
    _series("aikpi_human_seconds_bucket", AI, 12, le="+Inf"),
    _series("aikpi_cost_usd_total", AI, 0.5, model="m"),
    _series("aikpi_policy_violations_total", AI, 1, policy="p"),
    _series("aikpi_workflows_total", _run(AI), 4, status="completed"),
    _series("aikpi_workflows_total", _run(AI), 1, status="abandoned"),
    _series("aikpi_workflows_total", _run(AI), 1, status="reopened"),
    _series("aikpi_workflow_duration_seconds_sum", _run(AI), 4000),
    _series("aikpi_workflow_duration_seconds_count", _run(AI), 5),
    _series("aikpi_workflow_duration_seconds_bucket", _run(AI), 0, le="600"),
    _series("aikpi_workflow_duration_seconds_bucket", _run(AI), 5, le="1200"),
    _series("aikpi_workflow_duration_seconds_bucket", _run(AI), 5, le="+Inf"),
    # baseline, per minute: 5 steps of 600 s each, all done by a human and accepted; 5 runs of
    # 660 s, all completed. A baseline step's human time is its duration.
    _series("aikpi_steps_total", BASE, 5, status="ok"),
    _series("aikpi_step_duration_seconds_sum", BASE, 3000),
    _series("aikpi_step_duration_seconds_count", BASE, 5),
    _series("aikpi_step_duration_seconds_bucket", BASE, 0, le="300"),
    _series("aikpi_step_duration_seconds_bucket", BASE, 5, le="900"),
    _series("aikpi_step_duration_seconds_bucket", BASE, 5, le="+Inf"),
    _series("aikpi_outcomes_total", BASE, 5, outcome="accepted"),
    _series("aikpi_human_seconds_sum", BASE, 3000),
    _series("aikpi_human_seconds_count", BASE, 5),
    _series("aikpi_human_seconds_bucket", BASE, 0, le="60"),
    _series("aikpi_human_seconds_bucket", BASE, 0, le="300"),
    _series("aikpi_human_seconds_bucket", BASE, 5, le="900"),
    _series("aikpi_human_seconds_bucket", BASE, 5, le="+Inf"),
    _series("aikpi_workflows_total", _run(BASE), 5, status="completed"),
    _series("aikpi_workflow_duration_seconds_sum", _run(BASE), 3300),
    _series("aikpi_workflow_duration_seconds_count", _run(BASE), 5),
    _series("aikpi_workflow_duration_seconds_bucket", _run(BASE), 0, le="600"),
    _series("aikpi_workflow_duration_seconds_bucket", _run(BASE), 5, le="900"),
    _series("aikpi_workflow_duration_seconds_bucket", _run(BASE), 5, le="+Inf"),
    _gauge("default", 60),
]

AI_WC = {"workflow": "w", "cohort": "ai_assisted"}
BASE_WC = {"workflow": "w", "cohort": "baseline"}
W = {"workflow": "w"}
EXPECTED = {
    "workflow_cohort:aikpi_steps:rate1h": [(AI_WC, 16 / 60), (BASE_WC, 5 / 60)],
    "team:aikpi_labor_cost_usd_per_hour:max": [({"team": "default"}, 60)],
    # Speed: mean run and step durations; reopened / completed runs
    "workflow_cohort:aikpi_cycle_time:ratio_rate1h": [(AI_WC, 800), (BASE_WC, 660)],
    "workflow_cohort:aikpi_step_time:ratio_rate1h": [(AI_WC, 36.25), (BASE_WC, 600)],
    "workflow_cohort:aikpi_reopen_rate:ratio_rate1h": [(AI_WC, 0.25), (BASE_WC, 0)],
    # Quality: shares of all outcomes; override is AI-only (no baseline sample at all)
    "workflow_cohort:aikpi_acceptance_rate:ratio_rate1h": [(AI_WC, 0.8), (BASE_WC, 1)],
    "workflow_cohort:aikpi_clean_acceptance_rate:ratio_rate1h": [(AI_WC, 0.6), (BASE_WC, 1)],
    "workflow_cohort:aikpi_override_rate:ratio_rate1h": [(AI_WC, 0.1)],
    "workflow_cohort:aikpi_repair_rate:ratio_rate1h": [(AI_WC, 0.2), (BASE_WC, 0)],
    "workflow_cohort:aikpi_escalation_rate:ratio_rate1h": [(AI_WC, 0.1), (BASE_WC, 0)],
    "workflow_cohort:aikpi_rejection_rate:ratio_rate1h": [(AI_WC, 0), (BASE_WC, 0)],
    "workflow_cohort:aikpi_step_error_rate:ratio_rate1h": [(AI_WC, 1 / 16), (BASE_WC, 0)],
    # Rework: correction seconds / all steps (a step without correction counts 0)
    "workflow_cohort:aikpi_correction_time_per_step:ratio_rate1h": [(AI_WC, 7.5), (BASE_WC, 0)],
    # Cost: (token cost + human seconds x 60 USD/h) / completed runs, per minute:
    # AI (0.5 + 720 x 60 / 3600) / 4 = 12.5 / 4; baseline 3000 x 60 / 3600 / 5 = 10
    "workflow_cohort:aikpi_cost_per_completed_run:ratio_rate1h": [(AI_WC, 3.125), (BASE_WC, 10)],
    "workflow_cohort:aikpi_cost_per_accepted_outcome:ratio_rate1h": [(AI_WC, 0.0625), (BASE_WC, 0)],
    "workflow_cohort:aikpi_token_cost:rate1h": [(AI_WC, 0.5 / 60), (BASE_WC, 0)],
    # Adoption: assisted steps / steps of the AI cohort (not the cohort split 16 / 21)
    "workflow_cohort:aikpi_adoption_rate:ratio_rate1h": [(AI_WC, 14 / 16)],
    "workflow_cohort:aikpi_completion_rate:ratio_rate1h": [(AI_WC, 0.8), (BASE_WC, 1)],
    # Governance
    "workflow_cohort:aikpi_policy_violations_per_1000:ratio_rate1h": [(AI_WC, 62.5), (BASE_WC, 0)],
    # Value: human time per step = aikpi_human_seconds sum / count (not review + correction
    # over decided steps only, 42 s: the human-only steps count too)
    "workflow_cohort:aikpi_human_time_per_step:ratio_rate1h": [(AI_WC, 60), (BASE_WC, 600)],
    # (600 - 60) s x 16/60 AI steps/s x 60 USD/h / 3600 = 2.4 USD/s, less 0.5/60 USD/s of
    # tokens: per hour 8640 - 30
    "workflow:aikpi_net_productivity_gain_usd_per_hour:rate1h": [(W, 8610)],
    # (600 - 60) s x 16/60 steps/s = 144 s saved per second: 144 hours per hour
    "workflow:aikpi_human_hours_saved_per_hour:rate1h": [(W, 144)],
    # Quantiles (linear inside the bucket): AI human p50 = 60 (rank 6 of 12 ends bucket
    # le=60), p90 = 60 + 240 x (10.8 - 6) / 6 = 252; baseline p50 = 300 + 600 x 2.5 / 5,
    # p90 = 300 + 600 x 4.5 / 5
    "workflow_cohort:aikpi_human_seconds:p50_rate1h": [(AI_WC, 60), (BASE_WC, 600)],
    "workflow_cohort:aikpi_human_seconds:p90_rate1h": [(AI_WC, 252), (BASE_WC, 840)],
    # runs: AI 600 + 600 x 2.5 / 5 and 600 + 600 x 4.5 / 5; baseline the same in (600, 900]
    "workflow_cohort:aikpi_workflow_duration_seconds:p50_rate1h": [(AI_WC, 900), (BASE_WC, 750)],
    "workflow_cohort:aikpi_workflow_duration_seconds:p90_rate1h": [(AI_WC, 1140), (BASE_WC, 870)],
    "workflow_cohort:aikpi_step_duration_seconds:p50_rate1h": [(BASE_WC, 600)],
    "workflow_cohort:aikpi_step_duration_seconds:p90_rate1h": [(BASE_WC, 840)],
    # correction p50: rank 1 of 2 in (30, 120]: 30 + 90 x 1 / 2; p90: 30 + 90 x 1.8 / 2
    "workflow_cohort:aikpi_correction_seconds:p50_rate1h": [(AI_WC, 75)],
    "workflow_cohort:aikpi_correction_seconds:p90_rate1h": [(AI_WC, 111)],
}


def _rule_document() -> dict:
    return yaml.safe_load(KPI_RULES.read_text(encoding="utf-8"))


def _run_promtool(tmp_path: Path, input_series: list, expected: dict) -> None:
    """``promtool test rules`` of the KPI rules on ``input_series`` against ``expected``."""
    promtool = require_binary("promtool")
    # compared in millionths, rounded to integers: absorbs last-bit float differences
    # (0.7999999999999999 for 0.8) and nothing else
    cases = [
        {
            "expr": f"round({record} * 1e6)",
            "eval_time": "90m",
            "exp_samples": [
                {"labels": _labels(labels), "value": round(value * 1e6)}
                for labels, value in samples
            ],
        }
        for record, samples in expected.items()
    ]
    document = {
        "rule_files": [str(KPI_RULES)],
        "evaluation_interval": "1m",
        # the file's order is the dependency order (base series first, values last)
        "group_eval_order": [group["name"] for group in _rule_document()["groups"]],
        "tests": [{"interval": "1m", "input_series": input_series, "promql_expr_test": cases}],
    }
    path = tmp_path / "kpi.test.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_kpi_rules_compute_the_catalogue_formulas(tmp_path: Path) -> None:
    _run_promtool(tmp_path, INPUT, EXPECTED)


def test_every_kpi_record_has_a_hand_computed_case() -> None:
    records = [rule["record"] for group in _rule_document()["groups"] for rule in group["rules"]]
    assert sorted(records) == sorted(EXPECTED)


# Each team priced at its own labour rate: sre at 120 USD/h (exposed by two collector
# replicas: max, not sum), blue and ops at the default 60 USD/h (no gauge of their own).
SRE_AI = {"workflow": "w", "step": "s", "cohort": "ai_assisted", "team": "sre"}
BLUE_AI = {**SRE_AI, "team": "blue"}
OPS_BASE = {"workflow": "w", "step": "s", "cohort": "baseline", "team": "ops"}
TEAM_INPUT = [
    # per minute: sre 6 assisted steps of 60 s human time, 0.6 USD; blue 4 of 60 s, 0.4 USD
    _series("aikpi_steps_total", SRE_AI, 6, status="ok"),
    _series("aikpi_assisted_steps_total", SRE_AI, 6),
    _series("aikpi_outcomes_total", SRE_AI, 6, outcome="accepted"),
    _series("aikpi_human_seconds_sum", SRE_AI, 360),
    _series("aikpi_human_seconds_count", SRE_AI, 6),
    _series("aikpi_cost_usd_total", SRE_AI, 0.6, model="m"),
    _series("aikpi_workflows_total", _run(SRE_AI), 6, status="completed"),
    _series("aikpi_steps_total", BLUE_AI, 4, status="ok"),
    _series("aikpi_assisted_steps_total", BLUE_AI, 4),
    _series("aikpi_outcomes_total", BLUE_AI, 4, outcome="accepted"),
    _series("aikpi_human_seconds_sum", BLUE_AI, 240),
    _series("aikpi_human_seconds_count", BLUE_AI, 4),
    _series("aikpi_cost_usd_total", BLUE_AI, 0.4, model="m"),
    _series("aikpi_workflows_total", _run(BLUE_AI), 4, status="completed"),
    # ops baseline: 3 steps of 600 s
    _series("aikpi_steps_total", OPS_BASE, 3, status="ok"),
    _series("aikpi_human_seconds_sum", OPS_BASE, 1800),
    _series("aikpi_human_seconds_count", OPS_BASE, 3),
    _series("aikpi_workflows_total", _run(OPS_BASE), 3, status="completed"),
    _gauge("default", 60, instance="a"),
    _gauge("default", 60, instance="b"),
    _gauge("sre", 120, instance="a"),
    _gauge("sre", 120, instance="b"),
]
TEAM_EXPECTED = {
    "team:aikpi_labor_cost_usd_per_hour:max": [({"team": "default"}, 60), ({"team": "sre"}, 120)],
    # per minute: AI (1.0 + 360 s at 120 USD/h + 240 s at 60 USD/h) / 10 = (1 + 12 + 4) / 10;
    # baseline 1800 s at 60 USD/h / 3 = 30 / 3
    "workflow_cohort:aikpi_cost_per_completed_run:ratio_rate1h": [(AI_WC, 1.7), (BASE_WC, 10)],
    "workflow_cohort:aikpi_human_time_per_step:ratio_rate1h": [(AI_WC, 60), (BASE_WC, 600)],
    # (600 - 60) s x (6/60 steps/s x 120 + 4/60 x 60) USD/h / 3600 = 2.4 USD/s, less 1/60
    # USD/s of tokens: per hour 8640 - 60
    "workflow:aikpi_net_productivity_gain_usd_per_hour:rate1h": [(W, 8580)],
    "workflow:aikpi_human_hours_saved_per_hour:rate1h": [(W, 90)],
}


def test_each_team_is_priced_at_its_own_labour_rate(tmp_path: Path) -> None:
    _run_promtool(tmp_path, TEAM_INPUT, TEAM_EXPECTED)


# A workflow piloted without a baseline cohort: its KPIs exist, its value does not (no
# comparison, so no gain; not a "gain" of minus the token cost). A step without an outcome
# yet leaves human time per step to the observed steps.
SOLO_AI = {"workflow": "solo", "step": "s", "cohort": "ai_assisted", "team": "none"}
SOLO_INPUT = [
    _series("aikpi_steps_total", SOLO_AI, 4, status="ok"),
    _series("aikpi_assisted_steps_total", SOLO_AI, 3),
    _series("aikpi_outcomes_total", SOLO_AI, 2, outcome="overridden"),
    _series("aikpi_human_seconds_sum", SOLO_AI, 540),
    _series("aikpi_human_seconds_count", SOLO_AI, 3),
    _series("aikpi_cost_usd_total", SOLO_AI, 0.3, model="m"),
    _gauge("default", 60),
]
SOLO = {"workflow": "solo", "cohort": "ai_assisted"}
SOLO_EXPECTED = {
    # 1 human-only step and 2 decided ones observed; 1 assisted step awaits its outcome
    "workflow_cohort:aikpi_human_time_per_step:ratio_rate1h": [(SOLO, 180)],
    "workflow_cohort:aikpi_adoption_rate:ratio_rate1h": [(SOLO, 0.75)],
    "workflow_cohort:aikpi_override_rate:ratio_rate1h": [(SOLO, 1)],
    # no completed run: no cost per completed run (not 0, not +Inf)
    "workflow_cohort:aikpi_cost_per_completed_run:ratio_rate1h": [],
    "workflow:aikpi_net_productivity_gain_usd_per_hour:rate1h": [],
    "workflow:aikpi_human_hours_saved_per_hour:rate1h": [],
}


def test_a_workflow_without_baseline_has_kpis_but_no_value(tmp_path: Path) -> None:
    _run_promtool(tmp_path, SOLO_INPUT, SOLO_EXPECTED)
