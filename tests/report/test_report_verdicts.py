"""Verdict logic on crafted cohorts: every good, warning, neutral and not-enough-evidence branch."""

from __future__ import annotations

import dataclasses

import pytest
from aikpi_collector.config import DEFAULT_TIME_BUCKETS_SECONDS
from aikpi_collector.report.kpis import AI, BASELINE, CohortKpis, Comparison
from aikpi_collector.report.stats import Histogram
from aikpi_collector.report.verdicts import (
    Level,
    Thresholds,
    adoption_verdict,
    cost_verdict,
    error_budget_verdict,
    governance_verdict,
    quality_verdict,
    rework_verdict,
    speed_verdict,
    value_verdict,
)

T = Thresholds(min_samples=30)
MIN = 60.0


def hist(values: list[float]) -> Histogram:
    bounds = DEFAULT_TIME_BUCKETS_SECONDS
    buckets = {b: float(sum(1 for v in values if v <= b)) for b in bounds}
    buckets[float("inf")] = float(len(values))
    return Histogram.from_buckets(buckets, sum(values), float(len(values)))


def spread(center: float, n: int) -> list[float]:
    """``n`` values around ``center`` (+-40 %), deterministic."""
    return [center * (0.6 + 0.8 * i / max(1, n - 1)) for i in range(n)]


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
) -> CohortKpis:
    runs = spread(run_minutes * MIN, n)
    completed = n - abandoned if completed is None else completed
    human = human_minutes_per_step * MIN * n
    return CohortKpis(
        cohort=name,
        steps=float(n),
        step_errors=float(errors),
        outcomes={
            "accepted": float(accepted),
            "edited": float(edited),
            "overridden": float(overridden),
            "escalated": float(escalated),
            "rejected": float(rejected),
        },
        workflows={
            "completed": float(completed),
            "abandoned": float(abandoned),
            "reopened": reopened,
        },
        step_time=hist(runs),
        workflow_time=hist(runs),
        correction=hist(spread(correction_minutes * MIN, corrections)),
        review=Histogram.empty(),
        token_cost_usd=token_cost,
        tokens=1000.0,
        violations=float(violations),
        human_seconds=human,
        labor_cost_usd=human / 3600 * 60.0,
        labor_rate=60.0,
    )


def compare(ai: CohortKpis, base: CohortKpis) -> Comparison:
    return Comparison("w", ai, base)


def good_ai(**changes) -> CohortKpis:
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


def base(**changes) -> CohortKpis:
    values = dict(token_cost=0.0, correction_minutes=5.0, corrections=30)
    values.update(changes)
    return cohort(BASELINE, **values)


def level(fn, ai: CohortKpis, baseline: CohortKpis) -> tuple[Level, str]:
    verdict = fn(compare(ai, baseline), T)
    return verdict.level, verdict.text


# --- speed --------------------------------------------------------------------------------


def test_speed_good_when_faster_and_rework_flat() -> None:
    lvl, text = level(speed_verdict, good_ai(), base())
    assert lvl is Level.GOOD
    assert text == "cycle time down 40 % with correction time flat: good signal"


def test_speed_warning_when_faster_but_rework_up() -> None:
    lvl, text = level(speed_verdict, good_ai(correction_minutes=9.0), base())
    assert lvl is Level.WARNING
    assert text.startswith("cycle time down 40 % but rework up 80 %")


def test_speed_warning_when_faster_but_reopened_more() -> None:
    lvl, text = level(speed_verdict, good_ai(reopened=30), base())
    assert lvl is Level.WARNING
    assert "reopen rate +" in text


def test_speed_warning_when_slower() -> None:
    lvl, text = level(speed_verdict, good_ai(run_minutes=45.0), base())
    assert (lvl, text) == (Level.WARNING, "cycle time up 50 %: warning sign")


def test_speed_not_enough_evidence_when_interval_includes_zero() -> None:
    lvl, text = level(speed_verdict, good_ai(run_minutes=29.5), base())
    assert lvl is Level.INSUFFICIENT
    assert "includes 0" in text


def test_speed_not_enough_evidence_when_samples_too_small() -> None:
    lvl, text = level(speed_verdict, good_ai(n=12), base())
    assert lvl is Level.INSUFFICIENT
    assert "12 AI-assisted vs 200 baseline runs (need 30 each)" in text


# --- quality ------------------------------------------------------------------------------


def test_quality_good_when_acceptance_clearly_up() -> None:
    ai = good_ai(accepted=190, edited=8, overridden=1, escalated=1, rejected=0)
    lvl, text = level(quality_verdict, ai, base())
    assert lvl is Level.GOOD and text.startswith("acceptance up")


def test_quality_warning_when_acceptance_clearly_down() -> None:
    ai = good_ai(accepted=90, edited=30, overridden=60, escalated=10, rejected=10)
    lvl, text = level(quality_verdict, ai, base())
    assert lvl is Level.WARNING
    assert "override rate 30.0 %" in text


def test_quality_not_enough_evidence_when_interval_includes_zero() -> None:
    lvl, text = level(quality_verdict, good_ai(accepted=150, edited=30), base())
    assert lvl is Level.INSUFFICIENT and "includes 0" in text


def test_quality_not_enough_evidence_with_few_outcomes() -> None:
    ai = good_ai(accepted=10, edited=5, overridden=1, escalated=0, rejected=0)
    lvl, _ = level(quality_verdict, ai, base())
    assert lvl is Level.INSUFFICIENT


# --- rework -------------------------------------------------------------------------------


def test_rework_warning_when_speed_is_bought_with_rework() -> None:
    lvl, text = level(rework_verdict, good_ai(correction_minutes=10.0), base())
    assert lvl is Level.WARNING and "speed bought with rework" in text


def test_rework_warning_when_up_without_speed_gain() -> None:
    ai = good_ai(correction_minutes=10.0, run_minutes=30.0)
    assert level(rework_verdict, ai, base()) == (Level.WARNING, "rework up 100 %: warning sign")


def test_rework_good_when_down() -> None:
    ai = good_ai(correction_minutes=2.0, run_minutes=30.0)
    lvl, text = level(rework_verdict, ai, base())
    assert lvl is Level.GOOD and text.startswith("rework down 60 %")


def test_rework_good_when_flat_and_faster() -> None:
    lvl, text = level(rework_verdict, good_ai(), base())
    assert lvl is Level.GOOD and text.startswith("rework flat with cycle time down 40 %")


def test_rework_neutral_when_flat_and_not_faster() -> None:
    lvl, _ = level(rework_verdict, good_ai(run_minutes=30.0), base())
    assert lvl is Level.NEUTRAL


def test_rework_not_enough_evidence_with_few_steps() -> None:
    assert level(rework_verdict, good_ai(n=20), base())[0] is Level.INSUFFICIENT


# --- cost ---------------------------------------------------------------------------------


def test_cost_good_when_cheaper_and_quality_held() -> None:
    lvl, text = level(cost_verdict, good_ai(), base())
    assert lvl is Level.GOOD and "with completion and quality held" in text


def test_cost_warning_when_cheaper_only_because_completion_is_down() -> None:
    ai = good_ai(abandoned=40)
    lvl, text = level(cost_verdict, ai, base())
    assert lvl is Level.WARNING
    assert "only because completion is down" in text


def test_cost_warning_when_cheaper_but_quality_down() -> None:
    ai = good_ai(accepted=90, edited=30, overridden=60, escalated=10, rejected=10)
    lvl, text = level(cost_verdict, ai, base())
    assert lvl is Level.WARNING and "but acceptance down" in text


def test_cost_warning_when_more_expensive() -> None:
    ai = good_ai(human_minutes_per_step=10.0, token_cost=900.0)
    lvl, text = level(cost_verdict, ai, base())
    assert lvl is Level.WARNING and text.startswith("cost per run up")


def test_cost_neutral_when_flat() -> None:
    ai = good_ai(human_minutes_per_step=10.0, token_cost=0.0)
    assert level(cost_verdict, ai, base())[0] is Level.NEUTRAL


def test_cost_not_enough_evidence_without_baseline_cost() -> None:
    baseline = dataclasses.replace(base(), labor_cost_usd=0.0)
    lvl, text = level(cost_verdict, good_ai(), baseline)
    assert lvl is Level.INSUFFICIENT and "no cost data" in text


def test_cost_not_enough_evidence_with_few_completed_runs() -> None:
    assert level(cost_verdict, good_ai(completed=10), base())[0] is Level.INSUFFICIENT


# --- adoption -----------------------------------------------------------------------------


def test_adoption_good_when_used_as_intended() -> None:
    lvl, text = level(adoption_verdict, good_ai(), base())
    assert lvl is Level.GOOD and text.endswith("used as intended")


def test_adoption_warning_when_output_mostly_discarded() -> None:
    ai = good_ai(accepted=40, edited=20, overridden=100, escalated=20, rejected=20)
    lvl, text = level(adoption_verdict, ai, base())
    assert lvl is Level.WARNING and "only 30 % of its output used" in text


def test_adoption_warning_when_completion_drops() -> None:
    lvl, text = level(adoption_verdict, good_ai(abandoned=40), base())
    assert lvl is Level.WARNING and "completion down" in text


def test_adoption_not_enough_evidence_with_few_outcomes() -> None:
    ai = good_ai(accepted=10, edited=2, overridden=0, escalated=0, rejected=0)
    assert level(adoption_verdict, ai, base())[0] is Level.INSUFFICIENT


# --- governance ---------------------------------------------------------------------------


def test_governance_good_when_at_or_below_baseline() -> None:
    lvl, _ = level(governance_verdict, good_ai(violations=1), base(violations=2))
    assert lvl is Level.GOOD


def test_governance_warning_when_clearly_higher() -> None:
    lvl, text = level(governance_verdict, good_ai(violations=30), base(violations=1))
    assert lvl is Level.WARNING
    assert text == "150.0 vs 5.0 violations per 1,000 steps: warning sign"


def test_governance_not_enough_evidence_when_higher_within_noise() -> None:
    lvl, text = level(governance_verdict, good_ai(violations=2), base(violations=1))
    assert lvl is Level.INSUFFICIENT and "within noise" in text


def test_governance_not_enough_evidence_with_few_steps() -> None:
    assert level(governance_verdict, good_ai(n=5), base())[0] is Level.INSUFFICIENT


# --- error budget and value ---------------------------------------------------------------


def test_error_budget_good_with_budget_left() -> None:
    ai = good_ai(accepted=196, edited=2, overridden=1, escalated=1, rejected=0)
    lvl, text = level(error_budget_verdict, ai, base())
    assert (lvl, text) == (Level.GOOD, "80 % of the error budget left: good signal")


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
    assert (lvl, text) == (Level.GOOD, "net gain $1,185 with error budget left: good signal")


def test_value_warning_when_gain_but_budget_exhausted() -> None:
    lvl, text = level(value_verdict, good_ai(overridden=14), base())
    assert lvl is Level.WARNING and "error budget is exhausted" in text


def test_value_warning_without_net_gain() -> None:
    ai = good_ai(human_minutes_per_step=10.0, token_cost=50.0)
    lvl, text = level(value_verdict, ai, base())
    assert (lvl, text) == (Level.WARNING, "no net gain: AI cost exceeds the hours saved")


def test_value_not_enough_evidence_with_few_steps() -> None:
    assert level(value_verdict, good_ai(), base(n=3))[0] is Level.INSUFFICIENT


@pytest.mark.parametrize("min_samples", [1, 30, 500])
def test_min_samples_is_configurable(min_samples: int) -> None:
    verdict = speed_verdict(compare(good_ai(), base()), Thresholds(min_samples=min_samples))
    expected = Level.INSUFFICIENT if min_samples > 200 else Level.GOOD
    assert verdict.level is expected
