"""Sample sizes per cohort against published values, a hand formula and statsmodels' own
two-proportion solver, and by simulation: at the planned size, the interval the verdict
reads detects a true effect the size of the target with the plan's power."""

from __future__ import annotations

import math

import numpy as np
import pytest
from aikpi_collector.plan.power import planning_variance, samples_per_cohort
from aikpi_collector.plan.stats import (
    MeanStats,
    ProportionStats,
    RateStats,
    Scale,
    fixed_interval,
)
from scipy import stats
from statsmodels.stats.power import tt_ind_solve_power
from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail


def by_hand(delta: float, v_ai: float, v_base: float, alpha: float, power: float) -> float:
    """n = (z_{1-alpha/2} + z_power)^2 (v_ai + v_base) / delta^2."""
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return z * z * (v_ai + v_base) / delta**2


@pytest.mark.parametrize(
    ("delta", "v_ai", "v_base", "alpha", "power"),
    [
        (0.5, 1.0, 1.0, 0.05, 0.8),
        (0.2, 1.0, 1.0, 0.05, 0.9),
        (-30.0, 900.0, 2500.0, 0.1, 0.8),
        (math.log(0.9), 0.45, 0.6, 0.05, 0.8),
        (0.02, 0.16, 0.16, 0.01, 0.95),
    ],
)
def test_the_statsmodels_solution_is_the_normal_approximation_formula(
    delta: float, v_ai: float, v_base: float, alpha: float, power: float
) -> None:
    ours = samples_per_cohort(delta, v_ai, v_base, alpha, power)
    assert ours == pytest.approx(by_hand(delta, v_ai, v_base, alpha, power), rel=1e-6)


def test_cohens_medium_effect_needs_64_per_group_within_a_few_percent() -> None:
    # Cohen (1988), Table 2.4.1 / G*Power: d = 0.5, two-sided 0.05, power 0.8 -> 64 per group
    ours = samples_per_cohort(0.5, 1.0, 1.0, 0.05, 0.8)
    assert math.ceil(ours) == 63  # the normal approximation; the t-test needs one more
    assert ours == pytest.approx(64, rel=0.03)
    assert ours == pytest.approx(tt_ind_solve_power(0.5, alpha=0.05, power=0.8), rel=0.03)


def test_two_proportions_textbook_example() -> None:
    # Chow, Shao & Wang, "Sample Size Calculations in Clinical Research", two-sample
    # proportions: p = 0.65 vs 0.85, alpha 0.05 two-sided, power 0.8 -> 70 per group
    plan = planning_variance(
        ProportionStats(0, 1), ProportionStats(65, 100), Scale.ABSOLUTE, 0.20, 0.20
    )
    assert plan is not None
    assert math.ceil(plan.samples_per_cohort(0.05, 0.8)) == 70


@pytest.mark.parametrize(
    ("p_base", "target"), [(0.65, 0.20), (0.80, 0.05), (0.10, -0.04), (0.04, 0.02)]
)
def test_primary_proportion_sizes_match_statsmodels_two_proportion_solver(
    p_base: float, target: float
) -> None:
    plan = planning_variance(
        ProportionStats(0, 1), ProportionStats(p_base * 1000, 1000), Scale.ABSOLUTE, target, target
    )
    assert plan is not None
    ours = plan.samples_per_cohort(0.05, 0.8)
    # statsmodels uses the pooled variance under the null for the alpha term: a few % apart
    theirs = samplesize_proportions_2indep_onetail(target, p_base, 0.8, alpha=0.05)
    assert ours == pytest.approx(theirs, rel=0.05)


def test_guardrail_non_inferiority_size_has_the_plans_power() -> None:
    # acceptance 80 %, margin 2 points, no true difference: one-sided at alpha / 2
    plan = planning_variance(
        ProportionStats(0, 1), ProportionStats(800, 1000), Scale.ABSOLUTE, 0.0, -0.02
    )
    assert plan is not None
    ours = plan.samples_per_cohort(0.05, 0.8)
    assert ours == pytest.approx(by_hand(0.02, 0.16, 0.16, 0.05, 0.8), rel=1e-6)
    # statsmodels' solver cannot take a non-zero null difference; simulate instead: with
    # that many samples, the worse end of the Newcombe interval stays within the margin
    # (the guardrail passes) with the plan's power
    n, pilots = math.ceil(ours), 2000
    rng = np.random.default_rng(8)
    ai = ProportionStats(rng.binomial(n, 0.8, pilots).astype(float), np.full(pilots, float(n)))
    base = ProportionStats(rng.binomial(n, 0.8, pilots).astype(float), np.full(pilots, float(n)))
    interval = fixed_interval(ai, base, Scale.ABSOLUTE, 0.05)
    passed = float(np.mean(interval.low > -0.02))
    assert passed == pytest.approx(0.8, abs=3 * math.sqrt(0.8 * 0.2 / pilots))


def test_relative_mean_sizes_use_the_coefficients_of_variation() -> None:
    ai = MeanStats(200, 200 * 300.0, 200 * (300.0**2 + 150.0**2))
    base = MeanStats(200, 200 * 400.0, 200 * (400.0**2 + 240.0**2))
    plan = planning_variance(ai, base, Scale.RELATIVE, -0.10, -0.10)
    assert plan is not None
    cv_ai = ai.variance / ai.mean**2
    cv_base = base.variance / base.mean**2
    assert plan.delta == pytest.approx(math.log(0.9))
    expected = by_hand(math.log(0.9), cv_ai, cv_base, 0.05, 0.8)
    assert plan.samples_per_cohort(0.05, 0.8) == pytest.approx(expected, rel=1e-6)
    # before the AI cohort has two samples, the baseline's spread stands in for it
    early = planning_variance(MeanStats(1, 300, 90000), base, Scale.RELATIVE, -0.1, -0.1)
    assert early is not None and early.unit_variance_ai == pytest.approx(cv_base)


def test_rate_sizes_are_per_unit_of_exposure() -> None:
    base = RateStats(40, 10000)  # 4 per 1000 steps
    plan = planning_variance(RateStats(0, 0), base, Scale.RELATIVE, -0.5, -0.5)
    assert plan is not None
    expected = by_hand(math.log(0.5), 1 / 0.002, 1 / 0.004, 0.05, 0.8)
    assert plan.samples_per_cohort(0.05, 0.8) == pytest.approx(expected, rel=1e-6)


def test_nothing_to_plan_from_gives_none() -> None:
    assert samples_per_cohort(0.0, 1.0, 1.0, 0.05, 0.8) is None
    assert samples_per_cohort(0.1, 0.0, 0.0, 0.05, 0.8) is None
    zero_mean = MeanStats(50, 0.0, 0.0)
    assert planning_variance(zero_mean, zero_mean, Scale.RELATIVE, -0.1, -0.1) is None
    none_yet = ProportionStats(0, 100)
    assert planning_variance(none_yet, none_yet, Scale.RELATIVE, 0.0, 0.2) is None
    # a target that takes the proportion out of [0, 1]
    high = ProportionStats(97, 100)
    assert planning_variance(high, high, Scale.ABSOLUTE, 0.05, 0.05) is None


def test_at_the_planned_size_the_fixed_interval_has_the_plans_power() -> None:
    # human time, lognormal with sigma 0.8; AI truly 10 % lower = the target
    sigma, alpha, power = 0.8, 0.05, 0.8
    cv2 = math.exp(sigma**2) - 1
    n = math.ceil(samples_per_cohort(math.log(0.9), cv2, cv2, alpha, power))
    rng = np.random.default_rng(42)
    pilots = 2000

    def cohort(median: float) -> MeanStats:
        x = rng.lognormal(math.log(median), sigma, size=(pilots, n))
        return MeanStats(np.full(pilots, float(n)), x.sum(axis=1), (x**2).sum(axis=1))

    effect = fixed_interval(cohort(540.0), cohort(600.0), Scale.RELATIVE, alpha)
    detected = float(np.mean(effect.high < 0))
    tolerance = 3 * math.sqrt(power * (1 - power) / pilots)
    assert detected == pytest.approx(power, abs=tolerance)
    # and with no true effect, the CI lies entirely short of the target just as often:
    # the design's "fail" has the same power as its "pass"
    null = fixed_interval(cohort(600.0), cohort(600.0), Scale.RELATIVE, alpha)
    fails = float(np.mean(null.low > -0.10))
    assert fails == pytest.approx(power, abs=tolerance)
