"""The ``plan`` command's core: samples each criterion needs and the days to reach them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from aikpi_collector.plan import (
    CohortPair,
    MeanStats,
    ProportionStats,
    Role,
    load_plan,
    size_plan,
)
from aikpi_collector.plan.sizing import size_criterion
from scipy import stats

PLAN = load_plan(Path(__file__).resolve().parent / "design_example_plan.yaml")


def moments(n: float, mean: float, sd: float) -> MeanStats:
    return MeanStats(n, n * mean, sd * sd * (n - 1) + n * mean * mean)


def test_every_criterion_is_sized_from_one_observed_window() -> None:
    # 14 days: 700 AI and 350 baseline steps, 560 and 280 outcomes, 140 and 70 completed runs
    observed = {
        "human_time_per_step": CohortPair(moments(700, 300, 180), moments(350, 600, 300)),
        "acceptance_rate": CohortPair(ProportionStats(448, 560), ProportionStats(224, 280)),
        "reopen_rate": CohortPair(ProportionStats(6, 140), ProportionStats(3, 70)),
        "correction_time_per_step": CohortPair(moments(700, 60, 50), moments(350, 70, 60)),
    }
    sizes = size_plan(PLAN, observed, window_days=14)
    assert [s.kpi for s in sizes] == [c.kpi for c in PLAN.criteria]
    assert sizes[0].role is Role.PRIMARY and sizes[1].role is Role.GUARDRAIL

    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    human = sizes[0]
    expected = math.ceil(z * z * ((180 / 300) ** 2 + (300 / 600) ** 2) / math.log(0.9) ** 2)
    assert human.needed_per_cohort == expected
    assert human.per_day == {"ai_assisted": 50.0, "baseline": 25.0}
    # the slower (baseline) cohort decides: needed / 25 per day
    assert human.days_total == pytest.approx(expected / 25)
    assert human.days_remaining == pytest.approx((expected - 350) / 25)

    acceptance = sizes[1]
    assert acceptance.needed_per_cohort == math.ceil(z * z * 2 * 0.8 * 0.2 / 0.02**2)
    assert acceptance.days_total == pytest.approx(acceptance.needed_per_cohort / 20)
    data = acceptance.to_dict()
    assert data["kpi"] == "acceptance_rate" and data["role"] == "guardrail"
    assert data["days_total"] == round(acceptance.days_total, 1)
    assert "per cohort; at the observed pace about" in data["reason"]


def test_a_criterion_with_enough_samples_has_no_days_remaining() -> None:
    pair = CohortPair(moments(5000, 300, 150), moments(5000, 600, 300))
    size = size_criterion(PLAN.primary, pair, alpha=0.05, power=0.8, min_samples=30, window_days=10)
    assert size.needed_per_cohort is not None and size.needed_per_cohort < 5000
    assert size.days_remaining == 0.0


def test_no_data_no_pace_or_no_spread_say_so() -> None:
    missing = size_criterion(
        PLAN.primary, None, alpha=0.05, power=0.8, min_samples=30, window_days=7
    )
    assert missing.needed_per_cohort is None and "no data" in missing.reason
    idle = size_criterion(
        PLAN.primary,
        CohortPair(MeanStats(0, 0, 0), moments(300, 600, 300)),
        alpha=0.05,
        power=0.8,
        min_samples=30,
        window_days=7,
    )
    assert idle.needed_per_cohort is not None  # planned from the baseline's spread
    assert idle.days_total is None and "ai_assisted had no samples" in idle.reason
    flat = size_criterion(
        PLAN.primary,
        CohortPair(MeanStats(50, 0, 0), MeanStats(50, 0, 0)),
        alpha=0.05,
        power=0.8,
        min_samples=30,
        window_days=7,
    )
    assert flat.needed_per_cohort is None and "no spread" in flat.reason
    with pytest.raises(ValueError, match="window_days"):
        size_plan(PLAN, {}, window_days=0)
