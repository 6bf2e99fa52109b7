"""Criterion and plan verdicts on constructed statistics, where the right answer is certain."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import pytest
from aikpi_collector.plan import (
    CohortPair,
    IntervalKind,
    MeanStats,
    ProportionStats,
    RateStats,
    Role,
    Scale,
    Status,
    always_valid_interval,
    cost_summary,
    fixed_interval,
    judge_criterion,
    judge_plan,
    parse_plan,
    total_cost_of_ownership,
)
from aikpi_collector.plan.verdict import needed_per_cohort, plan_status
from scipy import stats

PLAN = parse_plan(
    {
        "version": 1,
        "name": "support-copilot-q4",
        "primary": {"kpi": "human_time_per_step", "target": "-10%"},
        "guardrails": [
            {"kpi": "acceptance_rate", "margin": "2pp"},
            {"kpi": "reopen_rate", "margin": "1pp"},
            {"kpi": "correction_time_per_step", "margin": "20%"},
        ],
        "costs": {"per_month_usd": 4000, "one_off_usd": 24000, "amortise_months": 12},
        "pilot_period": "2026-10-01/2026-10-31",
    }
)
PRIMARY, ACCEPTANCE, REOPEN, CORRECTION = PLAN.criteria


def moments(n: float, mean: float, sd: float) -> MeanStats:
    """Statistics of n values with this mean and (unbiased) standard deviation."""
    return MeanStats(n, n * mean, sd * sd * (n - 1) + n * mean * mean)


def share(n: float, p: float) -> ProportionStats:
    return ProportionStats(round(n * p), n)


def judge(criterion: Any, pair: CohortPair | None, min_samples: int = 30):
    return judge_criterion(criterion, pair, alpha=0.05, power=0.8, min_samples=min_samples)


def observed(
    n: float,
    human: tuple[float, float],
    acceptance: tuple[float, float] = (0.80, 0.80),
    reopen: tuple[float, float] = (0.04, 0.04),
    correction: tuple[float, float] = (60.0, 60.0),
) -> dict[str, CohortPair]:
    """Per KPI, AI and baseline statistics of a pilot with n samples per cohort."""
    return {
        "human_time_per_step": CohortPair(moments(n, human[0], 300), moments(n, human[1], 300)),
        "acceptance_rate": CohortPair(share(n, acceptance[0]), share(n, acceptance[1])),
        "reopen_rate": CohortPair(share(n, reopen[0]), share(n, reopen[1])),
        "correction_time_per_step": CohortPair(
            moments(n, correction[0], 40), moments(n, correction[1], 40)
        ),
    }


# --- the four workloads of the issue --------------------------------------------------------


def test_a_large_true_effect_with_many_samples_passes() -> None:
    verdict = judge_plan(PLAN, observed(20000, human=(420.0, 600.0)))
    assert [c.status for c in verdict.criteria] == [Status.PASS] * 4
    assert verdict.verdict is Status.PASS
    assert not verdict.interim
    primary = verdict.criteria[0]
    assert primary.estimate == pytest.approx(-0.30)
    assert primary.ci is not None and primary.ci[1] < -0.10
    assert primary.interval is IntervalKind.FIXED


def test_no_effect_with_many_samples_fails_the_primary() -> None:
    verdict = judge_plan(PLAN, observed(20000, human=(600.0, 600.0)))
    primary = verdict.criteria[0]
    assert primary.status is Status.FAIL
    assert "short of the target" in primary.reason
    assert verdict.verdict is Status.FAIL


def test_few_samples_are_inconclusive_whatever_the_numbers() -> None:
    verdict = judge_plan(PLAN, observed(12, human=(100.0, 600.0), acceptance=(0.2, 0.9)))
    assert {c.status for c in verdict.criteria} == {Status.INCONCLUSIVE}
    assert verdict.verdict is Status.INCONCLUSIVE
    primary = verdict.criteria[0]
    assert primary.estimate is None and primary.ci is None
    assert "fewer than 30 samples per cohort" in primary.reason
    assert primary.interim  # far below the planned size


def test_a_large_primary_win_with_a_broken_guardrail_fails_the_plan() -> None:
    verdict = judge_plan(PLAN, observed(20000, human=(420.0, 600.0), reopen=(0.09, 0.04)))
    statuses = {c.kpi: c.status for c in verdict.criteria}
    assert statuses["human_time_per_step"] is Status.PASS
    assert statuses["reopen_rate"] is Status.FAIL
    assert verdict.verdict is Status.FAIL


# --- the rules one by one -------------------------------------------------------------------


def test_a_primary_short_of_its_target_is_inconclusive_even_when_significant() -> None:
    result = judge(PRIMARY, observed(600, human=(552.0, 600.0))["human_time_per_step"])
    assert result.status is Status.INCONCLUSIVE
    assert result.ci is not None and result.ci[0] < -0.10 < result.ci[1] < 0  # excludes 0 ...
    assert result.estimate == pytest.approx(-0.08)  # ... but -8 % does not reach -10 %
    assert "falls short of" in result.reason
    # with many more samples the same effect lies entirely short of the target: fail
    many = judge(PRIMARY, observed(20000, human=(552.0, 600.0))["human_time_per_step"])
    assert many.status is Status.FAIL and "short of the target" in many.reason


def test_a_primary_that_got_worse_fails() -> None:
    result = judge(PRIMARY, observed(20000, human=(660.0, 600.0))["human_time_per_step"])
    assert result.status is Status.FAIL and result.estimate == pytest.approx(0.10)


def test_a_higher_is_better_primary_in_points() -> None:
    plan = parse_plan(
        {
            "version": 1,
            "name": "completion",
            "primary": {"kpi": "completion_rate", "target": "+5pp"},
            "pilot_period": "2026-10-01/2026-10-31",
        }
    )
    win = judge(plan.primary, CohortPair(share(5000, 0.90), share(5000, 0.80)))
    assert win.status is Status.PASS and win.estimate == pytest.approx(0.10)
    flat = judge(plan.primary, CohortPair(share(5000, 0.80), share(5000, 0.80)))
    assert flat.status is Status.FAIL
    assert flat.ci is not None and flat.ci[1] < 0.05


@pytest.mark.parametrize(
    ("ai", "base", "status"),
    [
        ((0.80, 20000), (0.80, 20000), Status.PASS),  # CI within +-1 point: inside 2 points
        ((0.77, 20000), (0.80, 20000), Status.FAIL),  # 3 points worse: beyond the margin
        ((0.79, 400), (0.80, 400), Status.INCONCLUSIVE),  # within, but the CI reaches beyond
        ((0.90, 20000), (0.80, 20000), Status.PASS),  # better is always within the margin
    ],
)
def test_guardrail_rules_on_a_higher_is_better_kpi(
    ai: tuple[float, int], base: tuple[float, int], status: Status
) -> None:
    result = judge(ACCEPTANCE, CohortPair(share(ai[1], ai[0]), share(base[1], base[0])))
    assert result.status is status, result.reason
    assert result.role is Role.GUARDRAIL and result.limit == pytest.approx(-0.02)


def test_a_guardrail_fails_on_its_estimate_even_at_an_interim_look() -> None:
    # 60 runs per cohort: far below the planned size, yet the estimate is 10 points worse
    result = judge(REOPEN, CohortPair(share(60, 0.15), share(60, 0.05)))
    assert result.interim and result.interval is IntervalKind.ALWAYS_VALID
    assert result.status is Status.FAIL
    assert "worse than the margin" in result.reason


def test_a_relative_guardrail_on_a_rate() -> None:
    plan = parse_plan(
        {
            "version": 1,
            "name": "governance",
            "primary": {"kpi": "human_time_per_step", "target": "-10%"},
            "guardrails": [{"kpi": "policy_violations_per_1000", "margin": "50%"}],
            "pilot_period": "2026-10-01/2026-10-31",
        }
    )
    guardrail = plan.guardrails[0]
    same = judge(guardrail, CohortPair(RateStats(400, 100000), RateStats(400, 100000)))
    assert same.status is Status.PASS and same.method == "conditional-wilson"
    doubled = judge(guardrail, CohortPair(RateStats(800, 100000), RateStats(400, 100000)))
    assert doubled.status is Status.FAIL and doubled.estimate == pytest.approx(1.0)


def test_until_the_planned_size_the_interval_is_always_valid_and_says_interim() -> None:
    pair = observed(100, human=(480.0, 600.0))["human_time_per_step"]
    needed = needed_per_cohort(PRIMARY, pair, 0.05, 0.8, 30)
    assert needed is not None and needed > 100
    result = judge(PRIMARY, pair)
    assert result.interim and result.interval is IntervalKind.ALWAYS_VALID
    expected = always_valid_interval(pair.ai, pair.baseline, Scale.RELATIVE, 0.05, needed)
    assert result.ci == pytest.approx((expected.low, expected.high))
    assert result.needed_per_cohort == needed
    assert f"interim: always-valid CI until {needed} per cohort" in result.reason


def test_from_the_planned_size_on_the_interval_is_the_fixed_one() -> None:
    pair = observed(2000, human=(480.0, 600.0))["human_time_per_step"]
    result = judge(PRIMARY, pair)
    assert not result.interim and result.interval is IntervalKind.FIXED
    expected = fixed_interval(pair.ai, pair.baseline, Scale.RELATIVE, 0.05)
    assert result.ci == pytest.approx((expected.low, expected.high))
    assert "interim" not in result.reason


def test_needed_per_cohort_is_the_normal_approximation_from_the_observed_spread() -> None:
    pair = observed(500, human=(480.0, 600.0))["human_time_per_step"]
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    cv2 = (300 / 480) ** 2 + (300 / 600) ** 2
    assert needed_per_cohort(PRIMARY, pair, 0.05, 0.8, 30) == math.ceil(
        z * z * cv2 / math.log(0.9) ** 2
    )
    # a guardrail is planned for no true difference, one-sided at alpha / 2
    acceptance = CohortPair(share(500, 0.7), share(500, 0.8))
    assert needed_per_cohort(ACCEPTANCE, acceptance, 0.05, 0.8, 30) == math.ceil(
        z * z * 2 * 0.8 * 0.2 / 0.02**2
    )
    # never below the minimum the verdict needs anyway
    huge = observed(500, human=(100.0, 6000.0))["human_time_per_step"]
    assert needed_per_cohort(PRIMARY, huge, 0.05, 0.8, 30) >= 30


def test_a_pre_registered_sample_size_wins_over_the_observed_one() -> None:
    plan = parse_plan(
        {
            "version": 1,
            "name": "fixed-size",
            "primary": {
                "kpi": "human_time_per_step",
                "target": "-10%",
                "samples_per_cohort": 150,
            },
            "pilot_period": "2026-10-01/2026-10-31",
        }
    )
    pair = observed(200, human=(480.0, 600.0))["human_time_per_step"]
    result = judge(plan.primary, pair)
    assert result.needed_per_cohort == 150 and not result.interim


def test_missing_data_and_undefined_effects_are_inconclusive() -> None:
    nothing = judge(PRIMARY, None)
    assert nothing.status is Status.INCONCLUSIVE and "no data" in nothing.reason
    zero_baseline = judge(CORRECTION, CohortPair(moments(100, 50.0, 20.0), MeanStats(100, 0, 0)))
    assert zero_baseline.status is Status.INCONCLUSIVE
    assert "undefined" in zero_baseline.reason


def test_the_cohort_with_too_few_samples_is_named() -> None:
    result = judge(ACCEPTANCE, CohortPair(share(500, 0.8), share(20, 0.8)))
    assert result.status is Status.INCONCLUSIVE
    assert "baseline 20" in result.reason and "ai_assisted" not in result.reason


@pytest.mark.parametrize(
    ("statuses", "verdict"),
    [
        ([Status.PASS, Status.PASS], Status.PASS),
        ([Status.PASS, Status.INCONCLUSIVE], Status.INCONCLUSIVE),
        ([Status.INCONCLUSIVE, Status.FAIL], Status.FAIL),
        ([Status.PASS, Status.FAIL], Status.FAIL),
        ([], Status.INCONCLUSIVE),
    ],
)
def test_the_plan_fails_on_any_failure_and_passes_only_when_all_pass(
    statuses: list[Status], verdict: Status
) -> None:
    assert plan_status(statuses) is verdict


def test_json_has_the_designs_shape() -> None:
    data = observed(20000, human=(420.0, 600.0))
    tco = total_cost_of_ownership(PLAN.costs, PLAN.pilot_period.days, 60)
    primary = judge(PRIMARY, data["human_time_per_step"])
    seconds = fixed_interval(
        data["human_time_per_step"].ai, data["human_time_per_step"].baseline, Scale.ABSOLUTE, 0.05
    )
    costs = cost_summary(
        tco,
        token_cost_usd=812.5,
        ai_steps=20000,
        labour_rate_usd_per_hour=60,
        human_seconds=(seconds.estimate, seconds.low, seconds.high),
    )
    verdict = judge_plan(PLAN, data, costs)
    block = json.loads(json.dumps(verdict.to_dict()))
    assert block["name"] == "support-copilot-q4" and block["verdict"] == "pass"
    assert block["interim"] is False
    first = block["criteria"][0]
    assert set(first) == {
        "kpi",
        "role",
        "target",
        "unit",
        "estimate",
        "ci",
        "status",
        "have_per_cohort",
        "needed_per_cohort",
        "interim",
        "interval",
        "method",
        "reason",
    }
    assert first["kpi"] == "human_time_per_step" and first["role"] == "primary"
    assert first["target"] == -0.1 and first["unit"] == "relative"
    assert first["estimate"] == pytest.approx(-0.3)
    assert first["ci"] == pytest.approx(list(primary.ci), abs=1e-6)
    assert first["have_per_cohort"] == {"ai_assisted": 20000, "baseline": 20000}
    assert isinstance(first["needed_per_cohort"], int)
    assert first["interval"] == "fixed" and first["status"] == "pass"
    guardrail = block["criteria"][1]
    assert guardrail["margin"] == -0.02 and guardrail["unit"] == "pp" and "target" not in guardrail
    assert block["costs"]["days"] == 31
    assert Decimal(str(block["costs"]["tco_usd"])) == tco.total_usd
    assert set(block["costs"]) >= {
        "days",
        "tco_usd",
        "token_cost_usd",
        "gross_gain_usd",
        "net_gain_usd",
        "net_gain_ci",
        "payback_days",
    }
