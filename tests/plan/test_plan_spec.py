"""The plan file: the shipped example loads, and every bad value is refused naming its key."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from aikpi_collector.catalogue import KPIS, Better, KpiKind, kpi
from aikpi_collector.plan import (
    CRITERION_KPIS,
    KPI_VOCABULARY,
    Guardrail,
    Plan,
    PlanError,
    Primary,
    ThresholdUnit,
    load_plan,
    parse_plan,
)
from aikpi_collector.plan.spec import parse_threshold

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = Path(__file__).resolve().parent / "design_example_plan.yaml"
"""The design's example plan."""
DEMO_PLAN = REPO / "grafana" / "pilot-plan.yaml"
"""The plan `make demo` judges its simulated pilot by."""


def minimal(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": 1,
        "name": "pilot",
        "primary": {"kpi": "human_time_per_step", "target": "-10%"},
        "pilot_period": "2026-10-01/2026-10-31",
    }
    data.update(changes)
    return data


def refused(data: dict[str, Any]) -> str:
    with pytest.raises(PlanError) as caught:
        parse_plan(data, "plan.yaml")
    return str(caught.value)


def test_the_shipped_demo_plan_preregisters_its_sample_sizes() -> None:
    plan = load_plan(DEMO_PLAN)
    assert plan.workflows == ("support-reply", "code-review", "incident-triage")
    assert plan.min_samples_per_cohort == 100
    assert [c.kpi for c in plan.criteria] == [
        "human_time_per_step",
        "acceptance_rate",
        "reopen_rate",
        "correction_time_per_step",
    ]
    assert all(c.samples_per_cohort is not None for c in plan.criteria)
    assert plan.pilot_period.days == 31


def test_the_designs_example_plan_reads_as_written() -> None:
    plan = load_plan(EXAMPLE)
    assert plan.workflows == ("support-reply", "code-review", "incident-triage")
    assert (plan.alpha, plan.power, plan.min_samples_per_cohort) == (0.05, 0.8, 30)
    assert plan.primary.kpi == "human_time_per_step"
    assert plan.primary.limit == pytest.approx(-0.10)
    assert plan.primary.target.unit is ThresholdUnit.RELATIVE
    margins = {g.kpi: (g.limit, g.margin.unit) for g in plan.guardrails}
    assert margins == {
        "acceptance_rate": (pytest.approx(-0.02), ThresholdUnit.PP),
        "reopen_rate": (pytest.approx(0.01), ThresholdUnit.PP),
        "correction_time_per_step": (pytest.approx(0.20), ThresholdUnit.RELATIVE),
    }
    assert plan.costs.per_month_usd == Decimal(4000)
    assert plan.costs.one_off_usd == Decimal(24000)
    assert plan.costs.amortise_months == 12
    assert plan.costs.supervision_hours_per_week == Decimal(5)
    assert plan.pilot_period.days == 31
    assert plan.baseline_period is not None and plan.baseline_period.days == 61
    assert [c.kpi for c in plan.criteria] == [
        "human_time_per_step",
        "acceptance_rate",
        "reopen_rate",
        "correction_time_per_step",
    ]


def test_the_vocabulary_is_the_designs_and_every_name_is_in_the_catalogue() -> None:
    assert len(KPI_VOCABULARY) == 16
    catalogue = {k.name for k in KPIS}
    assert set(KPI_VOCABULARY) <= catalogue
    # criteria need an AI-vs-baseline interval: no AI-only KPI, no ratio of totals
    assert set(KPI_VOCABULARY) - set(CRITERION_KPIS) == {
        "override_rate",
        "cost_per_completed_run",
        "cost_per_accepted_outcome",
    }
    for name in CRITERION_KPIS:
        item = kpi(name)
        assert item.kind in (KpiKind.MEAN, KpiKind.PROPORTION, KpiKind.RATE)
        assert not item.ai_only


@pytest.mark.parametrize(
    ("text", "value", "unit", "signed"),
    [
        ("-10%", -0.10, ThresholdUnit.RELATIVE, True),
        ("20%", 0.20, ThresholdUnit.RELATIVE, False),
        ("+2pp", 0.02, ThresholdUnit.PP, True),
        ("1pp", 0.01, ThresholdUnit.PP, False),
        ("- 12.5 %", -0.125, ThresholdUnit.RELATIVE, True),
    ],
)
def test_thresholds_parse_to_signed_fractions(
    text: str, value: float, unit: ThresholdUnit, signed: bool
) -> None:
    threshold = parse_threshold(text)
    assert threshold.value == pytest.approx(value)
    assert (threshold.unit, threshold.signed) == (unit, signed)


def test_a_periods_days_include_both_ends() -> None:
    plan = parse_plan(minimal(pilot_period="2026-10-01/2026-10-01"))
    assert plan.pilot_period.days == 1
    assert plan.pilot_period.start == date(2026, 10, 1)
    assert str(parse_plan(minimal()).pilot_period) == "2026-10-01/2026-10-31"
    leap = parse_plan(minimal(pilot_period="2028-02-01/2028-03-01"))
    assert leap.pilot_period.days == 30


def test_guardrail_limits_point_in_the_worse_direction() -> None:
    plan = parse_plan(
        minimal(
            guardrails=[
                {"kpi": "acceptance_rate", "margin": "-2pp"},  # signed the worse way: allowed
                {"kpi": "step_error_rate", "margin": "+1pp"},
                {"kpi": "cycle_time", "margin": "15%"},
                {"kpi": "policy_violations_per_1000", "margin": "50%"},
            ]
        )
    )
    limits = {g.kpi: g.limit for g in plan.guardrails}
    assert limits == pytest.approx(
        {
            "acceptance_rate": -0.02,
            "step_error_rate": 0.01,
            "cycle_time": 0.15,
            "policy_violations_per_1000": 0.50,
        }
    )
    for guardrail in plan.guardrails:
        worse = 1 if guardrail.catalogue_kpi.better is Better.LOWER else -1
        assert guardrail.limit * worse > 0


def test_a_higher_is_better_primary_takes_a_positive_target_in_pp() -> None:
    plan = parse_plan(minimal(primary={"kpi": "completion_rate", "target": "+3pp"}))
    assert isinstance(plan.primary, Primary)
    assert plan.primary.limit == pytest.approx(0.03)
    assert plan.primary.target.unit is ThresholdUnit.PP


@pytest.mark.parametrize(
    ("changes", "key", "words"),
    [
        ({"surprise": 1}, "surprise", "unknown key"),
        ({"version": 2}, "version", "must be 1"),
        ({"name": "Q4 Pilot"}, "name", "lowercase"),
        ({"alpha": 0.5}, "alpha", "(0, 0.5)"),
        ({"alpha": 0}, "alpha", "(0, 0.5)"),
        ({"power": 0.3}, "power", "[0.5, 1)"),
        ({"power": 1}, "power", "[0.5, 1)"),
        ({"min_samples_per_cohort": 1}, "min_samples_per_cohort", "at least 2"),
        ({"workflows": ["a", "a"]}, "workflows", "twice"),
        ({"workflows": ['bad"name']}, "workflows", "quote"),
        ({"primary": {"kpi": "steps", "target": "-10%"}}, "primary.kpi", "allowed: human_time"),
        ({"primary": {"kpi": "token_cost", "target": "-10%"}}, "primary.kpi", "unknown KPI"),
        ({"primary": {"kpi": "override_rate", "target": "-2pp"}}, "primary.kpi", "AI-only"),
        (
            {"primary": {"kpi": "cost_per_accepted_outcome", "target": "-10%"}},
            "primary.kpi",
            "no confidence interval",
        ),
        ({"primary": {"kpi": "human_time_per_step", "target": -0.1}}, "primary.target", "no unit"),
        ({"primary": {"kpi": "human_time_per_step", "target": "-10"}}, "primary.target", "-10%"),
        (
            {"primary": {"kpi": "human_time_per_step", "target": "10%"}},
            "primary.target",
            "needs a sign",
        ),
        (
            {"primary": {"kpi": "human_time_per_step", "target": "+10%"}},
            "primary.target",
            "wrong way",
        ),
        (
            {"primary": {"kpi": "acceptance_rate", "target": "-2pp"}},
            "primary.target",
            "looks like +2pp",
        ),
        (
            {"primary": {"kpi": "human_time_per_step", "target": "-10pp"}},
            "primary.target",
            "only for proportions",
        ),
        (
            {"primary": {"kpi": "policy_violations_per_1000", "target": "-1pp"}},
            "primary.target",
            "only for proportions",
        ),
        (
            {"primary": {"kpi": "human_time_per_step", "target": "-0%"}},
            "primary.target",
            "not be 0",
        ),
        (
            {"primary": {"kpi": "human_time_per_step", "target": "-100%"}},
            "primary.target",
            "100 %",
        ),
        ({"primary": {"kpi": "acceptance_rate", "target": "+100pp"}}, "primary.target", "100pp"),
        ({"primary": {"kpi": "human_time_per_step"}}, "primary.target", "required key"),
        ({"primary": {"kpi": "human_time_per_step", "target": "-10%", "x": 1}}, "primary.x", ""),
        (
            {
                "primary": {
                    "kpi": "human_time_per_step",
                    "target": "-10%",
                    "samples_per_cohort": 1,
                }
            },
            "primary.samples_per_cohort",
            "greater than 1",
        ),
        (
            {"guardrails": [{"kpi": "acceptance_rate", "margin": "+2pp"}]},
            "guardrails.0.margin",
            "points the better way",
        ),
        (
            {"guardrails": [{"kpi": "reopen_rate", "margin": "-1pp"}]},
            "guardrails.0.margin",
            "points the better way",
        ),
        (
            {"guardrails": [{"kpi": "cycle_time", "target": "5%"}]},
            "guardrails.0.target",
            "unknown key",
        ),
        (
            {"guardrails": [{"kpi": "human_time_per_step", "margin": "5%"}]},
            "guardrails",
            "judged twice",
        ),
        ({"pilot_period": "2026-10-31/2026-10-01"}, "pilot_period", "before it starts"),
        ({"pilot_period": "2026-10-01"}, "pilot_period", "START/END"),
        ({"pilot_period": "2026-02-30/2026-03-01"}, "pilot_period", "invalid date"),
        ({"pilot_period": None}, "pilot_period", "START/END"),
        (
            {"baseline_period": "2026-09-01/2026-10-01"},
            "baseline_period",
            "must end before pilot_period",
        ),
        ({"costs": {"one_off_usd": 100}}, "costs.amortise_months", "with one_off_usd"),
        ({"costs": {"per_month_usd": -1}}, "costs.per_month_usd", "greater than or equal"),
        ({"costs": {"per_month_usd": "lots"}}, "costs.per_month_usd", "decimal"),
        ({"costs": {"supervision_hours_per_week": 200}}, "costs.supervision_hours_per_week", "168"),
        ({"costs": {"amortise_months": 0}}, "costs.amortise_months", "greater than 0"),
        ({"costs": {"licences": 5}}, "costs.licences", "unknown key"),
    ],
)
def test_every_bad_value_is_refused_naming_its_key(
    changes: dict[str, Any], key: str, words: str
) -> None:
    message = refused(minimal(**changes))
    line = next((line for line in message.splitlines() if line.strip().startswith(f"{key}:")), "")
    assert line, f"no error line for {key!r} in:\n{message}"
    assert words in line, message
    assert message.startswith("invalid pilot plan plan.yaml:")


def test_errors_name_the_allowed_values() -> None:
    message = refused(minimal(primary={"kpi": "steps", "target": "-10%"}))
    for name in CRITERION_KPIS:
        assert name in message


def test_all_errors_are_reported_at_once() -> None:
    message = refused(minimal(alpha=2, power=2, name="X", surprise=True))
    assert {"alpha:", "power:", "name:", "surprise:"} <= {
        line.strip().split(" ")[0] for line in message.splitlines()[1:]
    }


def test_required_keys_are_named() -> None:
    message = refused({"version": 1})
    for key in ("name", "primary", "pilot_period"):
        assert f"{key}: required key is missing" in message


def test_money_is_exact_decimal_even_when_yaml_gives_floats(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    data = minimal(costs={"per_month_usd": 1234.1, "supervision_hours_per_week": 2.5})
    path.write_text(yaml.safe_dump(data))
    plan = load_plan(path)
    assert plan.costs.per_month_usd == Decimal("1234.1")
    assert plan.costs.supervision_hours_per_week == Decimal("2.5")


def test_unreadable_or_malformed_files_fail_with_the_file_named(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read pilot plan"):
        load_plan(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("primary: [unclosed\n")
    with pytest.raises(PlanError, match="not valid YAML"):
        load_plan(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(PlanError, match="must hold a mapping"):
        load_plan(listing)


def test_plan_models_are_frozen() -> None:
    plan = parse_plan(minimal(guardrails=[{"kpi": "reopen_rate", "margin": "1pp"}]))
    assert isinstance(plan, Plan) and isinstance(plan.guardrails[0], Guardrail)
    with pytest.raises(Exception, match="frozen"):
        plan.alpha = 0.1  # type: ignore[misc]


def test_reading_a_plan_needs_no_statistics_libraries() -> None:
    program = (
        "import sys\n"
        "sys.modules['scipy'] = None\n"
        "sys.modules['statsmodels'] = None\n"
        "from aikpi_collector.plan import load_plan, total_cost_of_ownership\n"
        f"plan = load_plan({str(EXAMPLE)!r})\n"
        "print(total_cost_of_ownership(plan.costs, plan.pilot_period.days, 60).total_usd)\n"
        "try:\n"
        "    from aikpi_collector.plan import judge_plan\n"
        "except ModuleNotFoundError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "7528.57"
    assert "pip install 'aikpi[report]'" in lines[1]
