"""The KPI recording rules compute the design's formulas: ``promtool test rules`` on counters
with known per-minute increments, expected values worked out by hand below."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from grafana_files import RULES
from support.binaries import require_binary

# Per-minute increments (1h later every rate1h is increment / 60 exactly).
AI = {"workflow": "w", "step": "s", "cohort": "ai_assisted", "team": "none"}
BASE = {"workflow": "w", "step": "s", "cohort": "baseline", "team": "none"}
MINUTES = 120


def _labels(dims: dict[str, str], **extra: str) -> str:
    items = {**dims, **extra}
    return "{" + ", ".join(f'{k}="{v}"' for k, v in items.items()) + "}"


def _series(name: str, dims: dict[str, str], per_minute: float, **extra: str) -> dict[str, str]:
    return {"series": f"{name}{_labels(dims, **extra)}", "values": f"0+{per_minute!r}x{MINUTES}"}


def _workflow(dims: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in dims.items() if k != "step"}


INPUT = [
    # AI-assisted: 10 outcomes a minute (6 accepted, 2 edited, 1 overridden, 1 escalated)
    _series("aikpi_outcomes_total", AI, 6, outcome="accepted"),
    _series("aikpi_outcomes_total", AI, 2, outcome="edited"),
    _series("aikpi_outcomes_total", AI, 1, outcome="overridden"),
    _series("aikpi_outcomes_total", AI, 1, outcome="escalated"),
    _series("aikpi_steps_total", AI, 9, status="ok"),
    _series("aikpi_steps_total", AI, 1, status="error"),
    _series("aikpi_review_seconds_sum", AI, 300),
    _series("aikpi_review_seconds_count", AI, 10),
    _series("aikpi_correction_seconds_sum", AI, 120),
    _series("aikpi_correction_seconds_count", AI, 2),
    _series("aikpi_cost_usd_total", AI, 0.5, model="m"),
    _series("aikpi_policy_violations_total", AI, 1, policy="p"),
    _series("aikpi_workflows_total", _workflow(AI), 4, status="completed"),
    _series("aikpi_workflows_total", _workflow(AI), 1, status="abandoned"),
    _series("aikpi_workflows_total", _workflow(AI), 1, status="reopened"),
    # baseline: 5 steps a minute of 600 s each, all accepted, 5 completed workflows
    _series("aikpi_outcomes_total", BASE, 5, outcome="accepted"),
    _series("aikpi_steps_total", BASE, 5, status="ok"),
    _series("aikpi_step_duration_seconds_sum", BASE, 3000),
    _series("aikpi_step_duration_seconds_count", BASE, 5),
    _series("aikpi_workflows_total", _workflow(BASE), 5, status="completed"),
    {"series": 'aikpi_labor_cost_usd_per_hour{team="default"}', "values": f"60x{MINUTES}"},
]

AI_WC = {"workflow": "w", "cohort": "ai_assisted"}
BASE_WC = {"workflow": "w", "cohort": "baseline"}
EXPECTED = {
    # Quality: shares of all outcomes
    "workflow_cohort:aikpi_acceptance:ratio_rate1h": [(AI_WC, 0.8), (BASE_WC, 1)],
    "workflow_cohort:aikpi_clean_acceptance:ratio_rate1h": [(AI_WC, 0.6), (BASE_WC, 1)],
    "workflow_cohort:aikpi_override:ratio_rate1h": [(AI_WC, 0.1), (BASE_WC, 0)],
    "workflow_cohort:aikpi_repair:ratio_rate1h": [(AI_WC, 0.2), (BASE_WC, 0)],
    "workflow_cohort:aikpi_escalation:ratio_rate1h": [(AI_WC, 0.1), (BASE_WC, 0)],
    "workflow_cohort:aikpi_rejection:ratio_rate1h": [(AI_WC, 0), (BASE_WC, 0)],
    "workflow_cohort:aikpi_step_error:ratio_rate1h": [(AI_WC, 0.1), (BASE_WC, 0)],
    # Rework and reopen
    "workflow_cohort:aikpi_correction_seconds:mean_rate1h": [(AI_WC, 60)],
    "workflow_cohort:aikpi_reopen:ratio_rate1h": [(AI_WC, 0.25), (BASE_WC, 0)],
    # Adoption and governance
    "workflow_cohort:aikpi_share_of_steps:ratio_rate1h": [(AI_WC, 10 / 15), (BASE_WC, 5 / 15)],
    "workflow_cohort:aikpi_workflow_completion:ratio_rate1h": [(AI_WC, 0.8), (BASE_WC, 1)],
    "workflow_cohort:aikpi_policy_violations_per_1000_steps:ratio_rate1h": [
        (AI_WC, 100),
        (BASE_WC, 0),
    ],
    # Cost and value: human s/s = (300 + 120) / 60 = 7 (AI), 3000 / 60 = 50 (baseline)
    "workflow_cohort:aikpi_human_seconds_per_step:ratio_rate1h": [(AI_WC, 42), (BASE_WC, 600)],
    "workflow_cohort:aikpi_cost_per_accepted_outcome:ratio_rate1h": [(AI_WC, 0.0625)],
    # (0.5 + 7 * 60 / 3600 * 60) / 4 per minute = 1.875; baseline 50 * 60 / 3600 * 60 / 5 = 10
    "workflow_cohort:aikpi_cost_per_completed_workflow_usd:ratio_rate1h": [
        (AI_WC, 1.875),
        (BASE_WC, 10),
    ],
    # (600 - 42) s x 10/60 AI steps/s x 60 USD/h - 3600 x 0.5/60 USD/s = 5580 - 30
    "workflow:aikpi_net_productivity_gain_usd_per_hour:rate1h": [({"workflow": "w"}, 5550)],
}


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
        "rule_files": [str(RULES / "kpi.rules.yml")],
        "evaluation_interval": "1m",
        "group_eval_order": [
            "aikpi-kpi-base",
            "aikpi-kpi-quality",
            "aikpi-kpi-speed-rework",
            "aikpi-kpi-adoption-governance",
            "aikpi-kpi-cost-value",
        ],
        "tests": [{"interval": "1m", "input_series": input_series, "promql_expr_test": cases}],
    }
    path = tmp_path / "kpi.test.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_kpi_rules_compute_the_design_formulas(tmp_path: Path) -> None:
    _run_promtool(tmp_path, INPUT, EXPECTED)


# A team with its own labour rate (sre: 120 USD/h) beside one at the default (60 USD/h).
SRE_AI = {"workflow": "w", "step": "s", "cohort": "ai_assisted", "team": "sre"}
OPS_BASE = {"workflow": "w", "step": "s", "cohort": "baseline", "team": "ops"}
TEAM_INPUT = [
    _series("aikpi_steps_total", SRE_AI, 6, status="ok"),
    _series("aikpi_review_seconds_sum", SRE_AI, 360),
    _series("aikpi_cost_usd_total", SRE_AI, 0.6, model="m"),
    _series("aikpi_workflows_total", _workflow(SRE_AI), 6, status="completed"),
    _series("aikpi_steps_total", OPS_BASE, 3, status="ok"),
    _series("aikpi_step_duration_seconds_sum", OPS_BASE, 1800),
    _series("aikpi_workflows_total", _workflow(OPS_BASE), 3, status="completed"),
    {"series": 'aikpi_labor_cost_usd_per_hour{team="default"}', "values": f"60x{MINUTES}"},
    {"series": 'aikpi_labor_cost_usd_per_hour{team="sre"}', "values": f"120x{MINUTES}"},
]
TEAM_EXPECTED = {
    # per minute: AI (0.6 + 360 s at 120 USD/h = 12) / 6; baseline 1800 s at 60 USD/h / 3
    "workflow_cohort:aikpi_cost_per_completed_workflow_usd:ratio_rate1h": [
        (AI_WC, 2.1),
        (BASE_WC, 10),
    ],
    "workflow_cohort:aikpi_labor_rate_usd_per_hour:ratio_rate1h": [(AI_WC, 120), (BASE_WC, 60)],
    # (600 - 60) s x 6/60 AI steps/s x 120 USD/h - 3600 x 0.6/60 USD/s = 6480 - 36
    "workflow:aikpi_net_productivity_gain_usd_per_hour:rate1h": [({"workflow": "w"}, 6444)],
}


def test_each_team_is_priced_at_its_own_labour_rate(tmp_path: Path) -> None:
    _run_promtool(tmp_path, TEAM_INPUT, TEAM_EXPECTED)
