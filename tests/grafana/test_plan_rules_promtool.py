"""A pilot plan's generated rules compute each criterion over the pilot window: ``promtool test
rules`` on counters with known per-minute increments, expected values worked out by hand.

The plan below pilots on 1970-01-02 (promtool's clock starts at 0): minute 1440 to 2880. Its
rules total every term as ``increase(...[1d] @ 172800)``: the pilot day, whatever the
evaluation time. Before the pilot the baseline worked differently (slower, all outcomes
rejected, every run reopened, many violations): none of it may count.

``increase()`` extrapolates: k minutes into the pilot a series has samples at minutes
0..k of the range, which starts exactly at its first sample, and the range's end (the end of
the pilot day) lies far beyond the last one, so Prometheus extends by half a sample interval:
a counter growing r per minute reads r x (k + 0.5). Ratios of such totals are exact.

promtool evaluates every group each minute (``evaluation_interval``), whatever the group's own
interval, and sees samples only up to the evaluation time, as a live Prometheus does.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from aikpi_collector.plan import parse_plan
from aikpi_collector.plan.rules import RECORDS, render_plan_rules, rules_document
from support.binaries import require_binary

START = 1440  # minute the pilot starts: 1970-01-02T00:00Z
END = 2880  # 1970-01-03T00:00Z
PLAN = {
    "version": 1,
    "name": "test-pilot",
    "workflows": ["w", "quiet"],
    "min_samples_per_cohort": 30,
    "primary": {"kpi": "human_time_per_step", "target": "-10%", "samples_per_cohort": 200},
    "guardrails": [
        {"kpi": "acceptance_rate", "margin": "3pp"},  # pp of a proportion, higher is better
        {"kpi": "reopen_rate", "margin": "20%", "samples_per_cohort": 10},  # relative proportion
        {"kpi": "correction_time_per_step", "margin": "25%", "samples_per_cohort": 120},  # mean
        {"kpi": "policy_violations_per_1000", "margin": "50%"},  # rate
    ],
    "pilot_period": "1970-01-02/1970-01-02",
}
RUNBOOK = "https://github.com/aikpi/aikpi/blob/main/grafana/runbook.md"


def _labels(**labels: str) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _counter(
    name: str, labels: dict[str, str], during: float, before: float = 0.0, minutes: int = 130
) -> dict[str, str]:
    """``before`` per minute up to the pilot's start, then ``during`` per minute for
    ``minutes`` minutes of the pilot."""
    at_start = before * START
    values = f"0+{before!r}x{START} {at_start + during!r}+{during!r}x{minutes - 1}"
    return {"series": f"{name}{_labels(**labels)}", "values": values}


def _step(workflow: str, cohort: str) -> dict[str, str]:
    return {"workflow": workflow, "step": "s", "cohort": cohort, "team": "none"}


def _run(workflow: str, cohort: str) -> dict[str, str]:
    return {"workflow": workflow, "cohort": cohort, "team": "none"}


W_AI, W_BASE = _step("w", "ai_assisted"), _step("w", "baseline")
Q_AI, Q_BASE = _step("quiet", "ai_assisted"), _step("quiet", "baseline")
O_AI = _step("other", "ai_assisted")

# Per minute of the pilot. Workflow w, AI: 10 steps of 60 s human time, 12 s correction each;
# 8 outcomes (5 accepted, 1 edited, 1 overridden, 1 rejected); 5 completed runs, 1 reopened;
# 0.5 violations. Baseline: 5 steps of 100 s, 8 s correction each; 5 outcomes (4 accepted,
# 1 rejected); 4 completed runs, 1 reopened; 0.2 violations.
INPUT = [
    _counter("aikpi_steps_total", {**W_AI, "status": "ok"}, 10),
    _counter("aikpi_human_seconds_sum", W_AI, 600),
    _counter("aikpi_human_seconds_count", W_AI, 10),
    _counter("aikpi_correction_seconds_sum", W_AI, 120),
    _counter("aikpi_outcomes_total", {**W_AI, "outcome": "accepted"}, 5),
    _counter("aikpi_outcomes_total", {**W_AI, "outcome": "edited"}, 1),
    _counter("aikpi_outcomes_total", {**W_AI, "outcome": "overridden"}, 1),
    _counter("aikpi_outcomes_total", {**W_AI, "outcome": "rejected"}, 1),
    _counter("aikpi_workflows_total", {**_run("w", "ai_assisted"), "status": "completed"}, 5),
    _counter("aikpi_workflows_total", {**_run("w", "ai_assisted"), "status": "reopened"}, 1),
    _counter("aikpi_policy_violations_total", {**W_AI, "policy": "p"}, 0.5),
    # the baseline before the pilot: 400 s per step, every outcome rejected, every run
    # reopened, one violation per step
    _counter("aikpi_steps_total", {**W_BASE, "status": "ok"}, 5, before=5),
    _counter("aikpi_human_seconds_sum", W_BASE, 500, before=2000),
    _counter("aikpi_human_seconds_count", W_BASE, 5, before=5),
    _counter("aikpi_correction_seconds_sum", W_BASE, 40),
    _counter("aikpi_outcomes_total", {**W_BASE, "outcome": "accepted"}, 4),
    _counter("aikpi_outcomes_total", {**W_BASE, "outcome": "rejected"}, 1, before=5),
    _counter("aikpi_workflows_total", {**_run("w", "baseline"), "status": "completed"}, 4, 4),
    _counter("aikpi_workflows_total", {**_run("w", "baseline"), "status": "reopened"}, 1, 4),
    _counter("aikpi_policy_violations_total", {**W_BASE, "policy": "p"}, 0.2, before=5),
    # quiet: AI 2 steps and 2 outcomes (1 accepted, 1 rejected); baseline 0.2 steps, all
    # accepted: a breach of the acceptance margin, but the baseline never has 30 outcomes
    _counter("aikpi_steps_total", {**Q_AI, "status": "ok"}, 2),
    _counter("aikpi_outcomes_total", {**Q_AI, "outcome": "accepted"}, 1),
    _counter("aikpi_outcomes_total", {**Q_AI, "outcome": "rejected"}, 1),
    _counter("aikpi_steps_total", {**Q_BASE, "status": "ok"}, 0.2),
    _counter("aikpi_outcomes_total", {**Q_BASE, "outcome": "accepted"}, 0.2),
    # a workflow the plan does not name: no series at all
    _counter("aikpi_steps_total", {**O_AI, "status": "ok"}, 3),
    _counter("aikpi_outcomes_total", {**O_AI, "outcome": "rejected"}, 3),
]

AT = 60  # minutes into the pilot: every total is its per-minute rate x 60.5
N = AT + 0.5
CRITERIA = {  # kpi -> (role, unit)
    "human_time_per_step": ("primary", "relative"),
    "acceptance_rate": ("guardrail", "pp"),
    "reopen_rate": ("guardrail", "relative"),
    "correction_time_per_step": ("guardrail", "relative"),
    "policy_violations_per_1000": ("guardrail", "relative"),
}


def _c(kpi: str, workflow: str, cohort: str | None = None) -> dict[str, str]:
    """The labels of a criterion's series."""
    role, unit = CRITERIA[kpi]
    labels = {"plan": "test-pilot", "workflow": workflow, "kpi": kpi, "role": role, "unit": unit}
    return {**labels, "cohort": cohort} if cohort else labels


AI, BASE = "ai_assisted", "baseline"


def _both(value: float, kpi: str) -> list[tuple[dict[str, str], float]]:
    """A plan constant: the same value for both workflows with steps in the pilot."""
    return [(_c(kpi, "w"), value), (_c(kpi, "quiet"), value)]


EXPECTED: dict[str, list[tuple[dict[str, str], float]]] = {
    # steps per cohort over the pilot so far (not the 5 x 1440 pre-pilot baseline steps)
    "plan:aikpi_steps:increase": [
        ({"plan": "test-pilot", "workflow": "w", "cohort": AI}, 10 * N),
        ({"plan": "test-pilot", "workflow": "w", "cohort": BASE}, 5 * N),
        ({"plan": "test-pilot", "workflow": "quiet", "cohort": AI}, 2 * N),
        ({"plan": "test-pilot", "workflow": "quiet", "cohort": BASE}, 0.2 * N),
    ],
    # the KPI's denominator per cohort: human-time observations, outcomes, completed runs,
    # steps (correction time and the violations' exposure); 0 where a workflow has none
    "plan:aikpi_criterion_samples:increase": [
        (_c("human_time_per_step", "w", AI), 10 * N),
        (_c("human_time_per_step", "w", BASE), 5 * N),
        (_c("human_time_per_step", "quiet", AI), 0),
        (_c("human_time_per_step", "quiet", BASE), 0),
        (_c("acceptance_rate", "w", AI), 8 * N),
        (_c("acceptance_rate", "w", BASE), 5 * N),
        (_c("acceptance_rate", "quiet", AI), 2 * N),
        (_c("acceptance_rate", "quiet", BASE), 0.2 * N),
        (_c("reopen_rate", "w", AI), 5 * N),
        (_c("reopen_rate", "w", BASE), 4 * N),
        (_c("reopen_rate", "quiet", AI), 0),
        (_c("reopen_rate", "quiet", BASE), 0),
        (_c("correction_time_per_step", "w", AI), 10 * N),
        (_c("correction_time_per_step", "w", BASE), 5 * N),
        (_c("correction_time_per_step", "quiet", AI), 2 * N),
        (_c("correction_time_per_step", "quiet", BASE), 0.2 * N),
        (_c("policy_violations_per_1000", "w", AI), 10 * N),
        (_c("policy_violations_per_1000", "w", BASE), 5 * N),
        (_c("policy_violations_per_1000", "quiet", AI), 2 * N),
        (_c("policy_violations_per_1000", "quiet", BASE), 0.2 * N),
    ],
    # the KPI per cohort over the pilot; none where its denominator is 0
    "plan:aikpi_criterion_value:ratio": [
        (_c("human_time_per_step", "w", AI), 60),  # 600 / 10 s
        (_c("human_time_per_step", "w", BASE), 100),  # 500 / 5 s (400 s before the pilot)
        (_c("acceptance_rate", "w", AI), 0.75),  # (5 + 1) / 8
        (_c("acceptance_rate", "w", BASE), 0.8),  # 4 / 5
        (_c("acceptance_rate", "quiet", AI), 0.5),
        (_c("acceptance_rate", "quiet", BASE), 1),
        (_c("reopen_rate", "w", AI), 0.2),  # 1 / 5
        (_c("reopen_rate", "w", BASE), 0.25),  # 1 / 4
        (_c("correction_time_per_step", "w", AI), 12),  # 120 / 10 s
        (_c("correction_time_per_step", "w", BASE), 8),  # 40 / 5 s
        (_c("correction_time_per_step", "quiet", AI), 0),
        (_c("correction_time_per_step", "quiet", BASE), 0),
        (_c("policy_violations_per_1000", "w", AI), 50),  # 1000 x 0.5 / 10
        (_c("policy_violations_per_1000", "w", BASE), 40),  # 1000 x 0.2 / 5
        (_c("policy_violations_per_1000", "quiet", AI), 0),
        (_c("policy_violations_per_1000", "quiet", BASE), 0),
    ],
    # AI / baseline - 1, or AI - baseline for pp; undefined (absent) on a baseline of 0
    "plan:aikpi_criterion_estimate:ratio": [
        (_c("human_time_per_step", "w"), -0.4),  # relative mean: 60 / 100 - 1
        (_c("acceptance_rate", "w"), -0.05),  # pp proportion: 0.75 - 0.8
        (_c("acceptance_rate", "quiet"), -0.5),  # 0.5 - 1
        (_c("reopen_rate", "w"), -0.2),  # relative proportion: 0.2 / 0.25 - 1
        (_c("correction_time_per_step", "w"), 0.5),  # 12 / 8 - 1
        (_c("policy_violations_per_1000", "w"), 0.25),  # relative rate: 50 / 40 - 1
    ],
    # the target and the margins, signed in the worse direction
    "plan:aikpi_criterion_limit:ratio": [
        *_both(-0.1, "human_time_per_step"),
        *_both(-0.03, "acceptance_rate"),
        *_both(0.2, "reopen_rate"),
        *_both(0.25, "correction_time_per_step"),
        *_both(0.5, "policy_violations_per_1000"),
    ],
    # on the good side of the limit (> 0) or not, in the KPI's better direction
    "plan:aikpi_criterion_headroom:ratio": [
        (_c("human_time_per_step", "w"), 0.3),  # lower is better: -0.1 - (-0.4)
        (_c("acceptance_rate", "w"), -0.02),  # higher is better: -0.05 - (-0.03)
        (_c("acceptance_rate", "quiet"), -0.47),
        (_c("reopen_rate", "w"), 0.4),  # 0.2 - (-0.2)
        (_c("correction_time_per_step", "w"), -0.25),  # 0.25 - 0.5
        (_c("policy_violations_per_1000", "w"), 0.25),  # 0.5 - 0.25
    ],
    # pre-registered sizes, never below the minimum of 30 (reopen's 10); else the minimum
    "plan:aikpi_criterion_needed:count": [
        *_both(200, "human_time_per_step"),
        *_both(30, "acceptance_rate"),
        *_both(30, "reopen_rate"),
        *_both(120, "correction_time_per_step"),
        *_both(30, "policy_violations_per_1000"),
    ],
}


def _breach(workflow: str, kpi: str, summary: str, description: str) -> dict[str, Any]:
    role, unit = CRITERIA[kpi]
    return {
        "exp_labels": {
            "severity": "ticket",
            "plan": "test-pilot",
            "workflow": workflow,
            "kpi": kpi,
            "role": role,
            "unit": unit,
        },
        "exp_annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{RUNBOOK}#aikpipilotguardrailbreached",
        },
    }


CLOSING = (
    "with at least 30 samples in each cohort. A point estimate, the report's guardrail fail: "
    "`aikpi-collector report --plan` gives its confidence interval and the plan's verdict."
)
ACCEPTANCE_BREACH = _breach(
    "w",
    "acceptance_rate",
    "w: acceptance_rate is worse than its 3pp margin in pilot test-pilot",
    "Pilot test-pilot, workflow w: acceptance rate changed by -5 pp AI-assisted vs baseline "
    "over the pilot so far (1970-01-02/1970-01-02), worse than the guardrail's margin (-3 pp; "
    f"higher is better), {CLOSING}",
)
CORRECTION_BREACH = _breach(
    "w",
    "correction_time_per_step",
    "w: correction_time_per_step is worse than its 25% margin in pilot test-pilot",
    "Pilot test-pilot, workflow w: correction time per step changed by 50% AI-assisted vs "
    "baseline over the pilot so far (1970-01-02/1970-01-02), worse than the guardrail's margin "
    f"(+25 %; lower is better), {CLOSING}",
)


def _plan_rules(tmp_path: Path, plan: dict[str, Any] = PLAN) -> Path:
    path = tmp_path / "test-pilot.plan.rules.yml"
    path.write_text(render_plan_rules(parse_plan(plan), "test-plan.yaml"), encoding="utf-8")
    return path


def _cases(expected: dict[str, list[tuple[dict[str, str], float]]], at: int) -> list[dict]:
    # compared in millionths, rounded to integers: absorbs last-bit float differences
    # (0.7999999999999999 for 0.8) and nothing else
    return [
        {
            "expr": f"round({record} * 1e6)",
            "eval_time": f"{at}m",
            "exp_samples": [
                {"labels": _labels(**labels), "value": round(value * 1e6)}
                for labels, value in samples
            ],
        }
        for record, samples in expected.items()
    ]


def _promtool(tmp_path: Path, rules: Path, tests: list[dict[str, Any]]) -> None:
    promtool = require_binary("promtool")
    groups = yaml.safe_load(rules.read_text(encoding="utf-8"))["groups"]
    document = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "group_eval_order": [group["name"] for group in groups],
        "tests": tests,
    }
    path = tmp_path / "plan.test.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_criterion_is_estimated_over_the_pilot_window(tmp_path: Path) -> None:
    """Each estimate kind, the limits, samples, headroom and needed sizes, 60 minutes in."""
    test = {
        "interval": "1m",
        "input_series": INPUT,
        "promql_expr_test": _cases(EXPECTED, START + AT),
    }
    _promtool(tmp_path, _plan_rules(tmp_path), [test])


def test_every_plan_record_has_a_hand_computed_case() -> None:
    records = {
        rule["record"]
        for group in rules_document(parse_plan(PLAN))["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    assert records == set(EXPECTED) == set(RECORDS)


def test_guardrail_alert_fires_after_its_for_with_enough_samples(tmp_path: Path) -> None:
    """w breaches two guardrails from the start, but its baseline has 30 samples only from
    minute 6 (5 x 6.5 = 32.5; 5 x 5.5 = 27.5 before): pending from minute 6, firing after the
    1h ``for:`` at minute 66, not at 65. quiet breaches acceptance with too few baseline
    outcomes (0.2 x 125.5 = 25.1 at minute 125) and never fires; reopen and violations stay
    within their margins, with plenty of samples, and never fire."""
    alert = "AikpiPilotGuardrailBreached"
    both = [ACCEPTANCE_BREACH, CORRECTION_BREACH]
    checks = [(START + 5, []), (START + 65, []), (START + 66, both), (START + 125, both)]
    outcomes = 'round(plan:aikpi_criterion_samples:increase{kpi="acceptance_rate"} * 1e6)'
    cases = [
        {
            "expr": outcomes,
            "eval_time": f"{START + minute}m",
            "exp_samples": [
                {"labels": _labels(**_c("acceptance_rate", workflow, cohort)), "value": value}
                for workflow, cohort, value in (
                    ("w", AI, round(8 * (minute + 0.5) * 1e6)),
                    ("w", BASE, round(5 * (minute + 0.5) * 1e6)),
                    ("quiet", AI, round(2 * (minute + 0.5) * 1e6)),
                    ("quiet", BASE, round(0.2 * (minute + 0.5) * 1e6)),
                )
            ],
        }
        for minute in (5, 6, 125)
    ]
    test = {
        "interval": "1m",
        "input_series": INPUT,
        "promql_expr_test": cases,
        "alert_rule_test": [
            {"eval_time": f"{at}m", "alertname": alert, "exp_alerts": expected}
            for at, expected in checks
        ],
    }
    _promtool(tmp_path, _plan_rules(tmp_path), [test])


# After the pilot: 10-minute samples, the pilot from sample 144 to 288. Workflow w keeps its
# acceptance breach (AI 6 of 8 used, baseline 4 of 5) through the pilot; afterwards the AI is
# perfect (10 accepted per sample), which must not count.
AFTER = 30  # samples after the pilot


def _pilot_day(name: str, labels: dict[str, str], during: float, after: float) -> dict[str, str]:
    at_end = during * 144
    values = f"0x144 {during!r}+{during!r}x143 {at_end + after!r}+{after!r}x{AFTER - 1}"
    return {"series": f"{name}{_labels(**labels)}", "values": values}


AFTER_INPUT = [
    _pilot_day("aikpi_steps_total", {**W_AI, "status": "ok"}, 8, 10),
    _pilot_day("aikpi_outcomes_total", {**W_AI, "outcome": "accepted"}, 6, 10),
    _pilot_day("aikpi_outcomes_total", {**W_AI, "outcome": "rejected"}, 2, 0),
    _pilot_day("aikpi_steps_total", {**W_BASE, "status": "ok"}, 5, 5),
    _pilot_day("aikpi_outcomes_total", {**W_BASE, "outcome": "accepted"}, 4, 4),
    _pilot_day("aikpi_outcomes_total", {**W_BASE, "outcome": "rejected"}, 1, 1),
]
AFTER_PLAN = {
    "version": 1,
    "name": "test-pilot",
    "workflows": ["w"],
    "min_samples_per_cohort": 30,
    "primary": {"kpi": "human_time_per_step", "target": "-10%"},
    "guardrails": [{"kpi": "acceptance_rate", "margin": "3pp"}],
    "pilot_period": "1970-01-02/1970-01-02",
}


def test_after_the_pilot_the_totals_freeze_and_the_alert_stops(tmp_path: Path) -> None:
    """At the pilot's end the range holds exactly its samples (no extrapolation: the first
    and the last sample sit on its edges): 144 intervals of increments. Later samples do not
    count, and the alert, firing the minute before the end, is gone the minute after."""
    expected = {
        "plan:aikpi_criterion_samples:increase": [
            (_c("human_time_per_step", "w", AI), 0),  # no human time in this data
            (_c("human_time_per_step", "w", BASE), 0),
            (_c("acceptance_rate", "w", AI), 8 * 144),
            (_c("acceptance_rate", "w", BASE), 5 * 144),
        ],
        "plan:aikpi_criterion_estimate:ratio": [(_c("acceptance_rate", "w"), -0.05)],
    }
    test = {
        "interval": "10m",
        "input_series": AFTER_INPUT,
        "promql_expr_test": _cases(expected, END + 60),
        "alert_rule_test": [
            {
                "eval_time": f"{END - 1}m",
                "alertname": "AikpiPilotGuardrailBreached",
                "exp_alerts": [ACCEPTANCE_BREACH],
            },
            {
                "eval_time": f"{END + 1}m",
                "alertname": "AikpiPilotGuardrailBreached",
                "exp_alerts": [],
            },
        ],
    }
    _promtool(tmp_path, _plan_rules(tmp_path, AFTER_PLAN), [test])


@pytest.mark.parametrize("workflows", [[], ["w"]])
def test_workflow_selection_is_a_label_matcher(workflows: list[str]) -> None:
    """One rule serves every workflow of the plan (or every workflow when it names none)."""
    plan = parse_plan({**AFTER_PLAN, "workflows": workflows})
    rules = [r for g in rules_document(plan)["groups"] for r in g["rules"]]
    raw = [r["expr"] for r in rules if "increase(aikpi_" in r["expr"]]
    assert raw
    for expr in raw:
        assert ('workflow="w"' in expr) == bool(workflows), expr
        assert "workflow=~" not in expr
        assert "[1d] @ 172800)" in expr
