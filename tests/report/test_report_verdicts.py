"""Verdict logic on crafted cohorts: every good, warning, neutral and not-enough-evidence branch,
and every counter-metric the catalogue pairs with a headline KPI (issue "Numbers you can
trust", item 4: a cheaper run with quality down is a warning, naming what got worse)."""

from __future__ import annotations

import math

import pytest
from aikpi_collector.config import DEFAULT_TIME_BUCKETS_SECONDS
from aikpi_collector.report.kpis import AI, BASELINE, compare
from aikpi_collector.report.samples import MetricSamples, Sample
from aikpi_collector.report.verdicts import (
    Level,
    Thresholds,
    adoption_verdict,
    error_budget_verdict,
    kpi_verdict,
    override_verdict,
    value_verdict,
)
from aikpi_collector.slo.spec import SLOSpec, WorkflowObjective

T = Thresholds(min_samples=30)
MIN = 60.0
WF = "w"


def spread(center: float, n: int) -> list[float]:
    """``n`` values around ``center`` (+-40 %), deterministic."""
    return [center * (0.6 + 0.8 * i / max(1, n - 1)) for i in range(n)]


def _histogram(name: str, labels: dict[str, str], values: list[float]) -> list[Sample]:
    out = [
        Sample(f"{name}_bucket", {**labels, "le": str(b)}, float(sum(v <= b for v in values)))
        for b in DEFAULT_TIME_BUCKETS_SECONDS
    ]
    out.append(Sample(f"{name}_bucket", {**labels, "le": "+Inf"}, float(len(values))))
    out.append(Sample(f"{name}_count", labels, float(len(values))))
    out.append(Sample(f"{name}_sum", labels, sum(values)))
    out.append(Sample(f"{name}_squares_total", labels, sum(v * v for v in values)))
    return out


def cohort(
    name: str,
    *,
    n: int = 200,
    run_minutes: float = 30.0,
    accepted: int = 150,
    edited: int = 30,
    overridden: int = 10,
    escalated: int = 5,
    rejected: int = 5,
    corrections: int = 30,
    correction_minutes: float = 5.0,
    completed: int | None = None,
    abandoned: int = 5,
    reopened: int = 4,
    errors: int = 0,
    violations: int = 0,
    token_cost: float = 20.0,
    human_minutes_per_step: float = 10.0,
    assisted: int | None = None,
) -> list[Sample]:
    """The samples of one cohort of workflow ``w``: ``n`` runs of one step each."""
    step = {"workflow": WF, "step": "s", "cohort": name, "team": "none"}
    run = {"workflow": WF, "cohort": name, "team": "none"}
    completed = n - abandoned if completed is None else completed
    out = [
        Sample("aikpi_steps_total", {**step, "status": "ok"}, float(n - errors)),
        Sample("aikpi_steps_total", {**step, "status": "error"}, float(errors)),
        Sample("aikpi_assisted_steps_total", step, float(n if assisted is None else assisted)),
        Sample("aikpi_cost_usd_total", {**step, "model": "m"}, token_cost),
        Sample("aikpi_policy_violations_total", {**step, "policy": "p"}, float(violations)),
        Sample("aikpi_workflows_total", {**run, "status": "completed"}, float(completed)),
        Sample("aikpi_workflows_total", {**run, "status": "abandoned"}, float(abandoned)),
        Sample("aikpi_workflows_total", {**run, "status": "reopened"}, float(reopened)),
    ]
    for word, count in (
        ("accepted", accepted),
        ("edited", edited),
        ("overridden", overridden),
        ("escalated", escalated),
        ("rejected", rejected),
    ):
        out.append(Sample("aikpi_outcomes_total", {**step, "outcome": word}, float(count)))
    runs = spread(run_minutes * MIN, n)
    out += _histogram("aikpi_workflow_duration_seconds", run, runs)
    out += _histogram("aikpi_step_duration_seconds", step, runs)
    out += _histogram(
        "aikpi_correction_seconds", step, spread(correction_minutes * MIN, corrections)
    )
    out += _histogram("aikpi_human_seconds", step, spread(human_minutes_per_step * MIN, n))
    return out


LABOR = [Sample("aikpi_labor_cost_usd_per_hour", {"team": "default"}, 60.0)]


def good_ai(**changes) -> list[Sample]:
    """Faster, same rework, same quality, few bad outcomes: every verdict good by default."""
    values = dict(
        run_minutes=18.0,
        accepted=160,
        edited=30,
        overridden=4,
        escalated=3,
        rejected=3,
        human_minutes_per_step=4.0,
        token_cost=15.0,
    )
    values.update(changes)
    return cohort(AI, **values)


def base(**changes) -> list[Sample]:
    values = dict(token_cost=0.0, correction_minutes=5.0, corrections=30, assisted=0)
    values.update(changes)
    return cohort(BASELINE, **values)


def comparison(ai: list[Sample], baseline: list[Sample], spec: SLOSpec | None = None):
    return compare(MetricSamples([*ai, *baseline, *LABOR]), WF, spec)


def level(fn, ai, baseline, *args) -> tuple[Level, str]:
    verdict = fn(comparison(ai, baseline), *args, T) if args else fn(comparison(ai, baseline), T)
    return verdict.level, verdict.text


def kpi(name: str, ai, baseline) -> tuple[Level, str]:
    verdict = kpi_verdict(comparison(ai, baseline), name, T)
    return verdict.level, verdict.text


# --- speed: cycle time, read with correction time per step and reopen rate -----------------


def test_speed_good_when_faster_and_counters_held() -> None:
    lvl, text = kpi("cycle_time", good_ai(), base())
    assert lvl is Level.GOOD
    assert text == (
        "cycle time, mean (run) down 40 %, counter-metrics held: good signal "
        "(checked: correction time per step, reopen rate)"
    )


def test_speed_warning_when_faster_but_rework_up() -> None:
    lvl, text = kpi("cycle_time", good_ai(correction_minutes=9.0), base())
    assert lvl is Level.WARNING
    assert "but correction time per step up 80 %" in text
    assert text.endswith("(checked: correction time per step, reopen rate)")


def test_speed_warning_when_faster_but_reopened_more() -> None:
    lvl, text = kpi("cycle_time", good_ai(reopened=30), base())
    assert lvl is Level.WARNING
    assert "reopen rate +" in text


def test_speed_warning_when_slower() -> None:
    lvl, text = kpi("cycle_time", good_ai(run_minutes=45.0), base())
    assert (lvl, text) == (Level.WARNING, "cycle time, mean (run) up 50 %: warning sign")


def test_speed_not_enough_evidence_when_interval_includes_zero() -> None:
    lvl, text = kpi("cycle_time", good_ai(run_minutes=29.5), base())
    assert lvl is Level.INSUFFICIENT
    assert "includes 0" in text


def test_speed_not_enough_evidence_when_samples_too_small() -> None:
    lvl, text = kpi("cycle_time", good_ai(n=12), base())
    assert lvl is Level.INSUFFICIENT
    assert "12 AI-assisted vs 200 baseline for cycle time, mean (run) (need 30 each)" in text


# --- quality: acceptance, read with the quality KPIs; override against its limit ------------


def test_quality_good_when_acceptance_clearly_up() -> None:
    ai = good_ai(accepted=190, edited=8, overridden=1, escalated=1, rejected=0)
    lvl, text = kpi("acceptance_rate", ai, base())
    assert lvl is Level.GOOD and text.startswith("acceptance rate +")
    assert "checked: override rate, repair (edit) rate, escalation rate" in text


def test_quality_warning_when_acceptance_clearly_down() -> None:
    ai = good_ai(accepted=90, edited=30, overridden=60, escalated=10, rejected=10)
    lvl, text = kpi("acceptance_rate", ai, base())
    assert (lvl, text) == (Level.WARNING, "acceptance rate -30.0 pp: warning sign")


def test_quality_not_enough_evidence_when_interval_includes_zero() -> None:
    lvl, text = kpi("acceptance_rate", good_ai(accepted=150, edited=30), base())
    assert lvl is Level.INSUFFICIENT and "includes 0" in text


def test_quality_not_enough_evidence_with_few_outcomes() -> None:
    ai = good_ai(accepted=10, edited=5, overridden=1, escalated=0, rejected=0)
    assert kpi("acceptance_rate", ai, base())[0] is Level.INSUFFICIENT


def test_override_warning_above_its_limit_and_no_baseline_value() -> None:
    c = comparison(good_ai(accepted=150, edited=20, overridden=30), base())
    assert c.baseline.value("override_rate") is None  # a baseline cannot override itself
    verdict = override_verdict(c, T)
    assert verdict.level is Level.WARNING
    assert verdict.text.startswith("override rate 14.6 %, 95 % CI [10.4 %, 20.0 %] above")


def test_override_good_within_its_limit() -> None:
    ai = good_ai(accepted=199, edited=0, overridden=0, escalated=1, rejected=0)
    assert level(override_verdict, ai, base())[0] is Level.GOOD


def test_override_not_enough_evidence_when_its_interval_includes_the_limit() -> None:
    lvl, text = level(override_verdict, good_ai(), base())  # 4 of 200 = 2 %
    assert lvl is Level.INSUFFICIENT and "includes the 5.0 % limit" in text


# --- rework ----------------------------------------------------------------------------------


def test_rework_warning_when_up() -> None:
    lvl, text = kpi("correction_time_per_step", good_ai(correction_minutes=10.0), base())
    assert (lvl, text) == (Level.WARNING, "correction time per step up 100 %: warning sign")


def test_rework_good_when_down_and_cycle_time_held() -> None:
    ai = good_ai(correction_minutes=2.0, run_minutes=30.0)
    lvl, text = kpi("correction_time_per_step", ai, base())
    assert lvl is Level.GOOD and text.startswith("correction time per step down 60 %")


def test_rework_warning_when_down_but_steps_slower() -> None:
    ai = good_ai(correction_minutes=2.0, run_minutes=45.0)
    lvl, text = kpi("correction_time_per_step", ai, base())
    assert lvl is Level.WARNING and "but cycle time, mean (run) up 50 %" in text


def test_rework_not_enough_evidence_when_flat() -> None:
    lvl, _ = kpi("correction_time_per_step", good_ai(), base())
    assert lvl is Level.INSUFFICIENT


# --- cost: every quality counter-metric is checked and named --------------------------------


def test_cost_good_when_cheaper_and_quality_held() -> None:
    lvl, text = kpi("cost_per_completed_run", good_ai(), base())
    assert lvl is Level.GOOD
    assert text.endswith(
        "(checked: acceptance rate, clean acceptance, override rate, reopen rate, "
        "run completion rate)"
    )


def test_cost_warning_names_every_counter_metric_that_got_worse() -> None:
    # the code-review case of the issue: cheaper per run, but reopen rate up, clean
    # acceptance down and 8 % of the AI output overridden
    ai = good_ai(accepted=100, edited=80, overridden=16, escalated=2, rejected=2, reopened=16)
    lvl, text = kpi("cost_per_completed_run", ai, base())
    assert lvl is Level.WARNING
    assert "reopen rate +6.2 pp" in text  # 16 / 195 vs 4 / 195 completed runs
    assert "clean acceptance -25.0 pp" in text
    assert "override rate 8.0 % (limit 5.0 %)" in text
    assert "acceptance rate" in text.split("checked:")[1]


def test_cost_warning_when_cheaper_only_because_completion_is_down() -> None:
    lvl, text = kpi("cost_per_completed_run", good_ai(abandoned=40), base())
    assert lvl is Level.WARNING and "run completion rate -" in text


def test_cost_warning_when_more_expensive() -> None:
    ai = good_ai(human_minutes_per_step=10.0, token_cost=900.0)
    lvl, text = kpi("cost_per_completed_run", ai, base())
    assert lvl is Level.WARNING and text.startswith("cost per completed run (AI + labour) up")


def test_cost_neutral_when_flat() -> None:
    ai = good_ai(human_minutes_per_step=10.0, token_cost=0.0)
    assert kpi("cost_per_completed_run", ai, base())[0] is Level.NEUTRAL


def test_cost_not_enough_evidence_with_few_completed_runs() -> None:
    assert kpi("cost_per_completed_run", good_ai(completed=10), base())[0] is Level.INSUFFICIENT


# --- adoption: assisted share of AI-cohort steps, read with acceptance and completion -------


def test_adoption_good_when_used_as_intended() -> None:
    lvl, text = level(adoption_verdict, good_ai(assisted=150), base())
    assert lvl is Level.GOOD
    assert text.startswith("AI used on 75.0 % of AI-cohort steps")
    assert "used as intended" in text


def test_adoption_warning_when_output_mostly_discarded() -> None:
    ai = good_ai(accepted=40, edited=20, overridden=100, escalated=20, rejected=20)
    lvl, text = level(adoption_verdict, ai, base())
    assert lvl is Level.WARNING and "only 30.0 % of its output used" in text


def test_adoption_warning_when_completion_drops() -> None:
    lvl, text = level(adoption_verdict, good_ai(abandoned=40), base())
    assert lvl is Level.WARNING and "run completion rate -" in text


def test_adoption_not_enough_evidence_with_few_outcomes() -> None:
    ai = good_ai(accepted=10, edited=2, overridden=0, escalated=0, rejected=0)
    assert level(adoption_verdict, ai, base())[0] is Level.INSUFFICIENT


# --- governance ------------------------------------------------------------------------------


def test_governance_good_when_clearly_lower() -> None:
    lvl, text = kpi("policy_violations_per_1000", good_ai(violations=1), base(violations=30))
    assert lvl is Level.GOOD and "checked: run completion rate" in text


def test_governance_warning_when_clearly_higher() -> None:
    lvl, text = kpi("policy_violations_per_1000", good_ai(violations=30), base(violations=1))
    assert (lvl, text) == (
        Level.WARNING,
        "policy violations per 1,000 steps up 2900 %: warning sign",
    )


def test_governance_not_enough_evidence_within_noise() -> None:
    lvl, text = kpi("policy_violations_per_1000", good_ai(violations=2), base(violations=1))
    assert lvl is Level.INSUFFICIENT and "includes 0" in text


def test_governance_not_enough_evidence_with_few_steps() -> None:
    assert kpi("policy_violations_per_1000", good_ai(n=5), base())[0] is Level.INSUFFICIENT


# --- error budget (objective from the SLO spec) and value ----------------------------------


def test_error_budget_good_with_budget_left() -> None:
    ai = good_ai(accepted=196, edited=2, overridden=1, escalated=1, rejected=0)
    lvl, text = level(error_budget_verdict, ai, base())
    assert (lvl, text) == (Level.GOOD, "80 % of the error budget left: good signal")


def test_error_budget_reads_the_workflow_objective_of_the_spec() -> None:
    ai = good_ai(accepted=196, edited=2, overridden=1, escalated=1, rejected=0)
    strict = SLOSpec(workflows={WF: WorkflowObjective(objective=99.5)})
    c = comparison(ai, base(), strict)
    assert c.objective == pytest.approx(0.995)
    verdict = error_budget_verdict(c, T)
    assert verdict.level is Level.WARNING and "below the 99.5 % SLO" in verdict.text


def test_error_budget_warning_when_exhausted() -> None:
    lvl, text = level(error_budget_verdict, good_ai(overridden=14), base())
    assert lvl is Level.WARNING and "budget exhausted" in text


def test_error_budget_warning_when_nearly_spent() -> None:
    ai = good_ai(accepted=180, edited=11, overridden=4, escalated=4, rejected=1)
    lvl, text = level(error_budget_verdict, ai, base())
    assert (lvl, text) == (Level.WARNING, "only 10 % of the error budget left")


def test_error_budget_not_enough_evidence_with_few_events() -> None:
    ai = good_ai(accepted=10, edited=2, overridden=0, escalated=0, rejected=0)
    assert level(error_budget_verdict, ai, base())[0] is Level.INSUFFICIENT


def test_value_good_with_gain_and_budget() -> None:
    ai = good_ai(accepted=196, edited=2, overridden=1, escalated=1, rejected=0)
    lvl, text = level(value_verdict, ai, base())
    # saved (10 - 4) min x 200 steps x $60/h = $1,200, minus $15 tokens
    assert (lvl, text) == (
        Level.GOOD,
        "net gain $1,185 with error budget left: good signal (checked: error budget)",
    )


def test_value_warning_when_gain_but_budget_exhausted() -> None:
    lvl, text = level(value_verdict, good_ai(overridden=14), base())
    assert lvl is Level.WARNING and "error budget of w is exhausted" in text


def test_value_warning_without_net_gain() -> None:
    ai = good_ai(human_minutes_per_step=10.0, token_cost=50.0)
    lvl, text = level(value_verdict, ai, base())
    assert (lvl, text) == (Level.WARNING, "no net gain: AI cost exceeds the hours saved")


def test_value_not_enough_evidence_with_few_steps() -> None:
    assert level(value_verdict, good_ai(), base(n=3))[0] is Level.INSUFFICIENT


@pytest.mark.parametrize("min_samples", [1, 30, 500])
def test_min_samples_is_configurable(min_samples: int) -> None:
    verdict = kpi_verdict(
        comparison(good_ai(), base()), "cycle_time", Thresholds(min_samples=min_samples)
    )
    expected = Level.INSUFFICIENT if min_samples > 200 else Level.GOOD
    assert verdict.level is expected


def test_no_nan_reaches_a_verdict() -> None:
    c = comparison(good_ai(), base())
    assert all(math.isfinite(c.ai.value(k) or 0.0) for k in ("cycle_time", "acceptance_rate"))
