"""Total cost of ownership to the cent, its share per workflow, net gain and payback."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from aikpi_collector.plan import (
    Costs,
    Tco,
    allocate,
    cost_summary,
    parse_plan,
    share_tco,
    total_cost_of_ownership,
)

DESIGN_COSTS = Costs(
    per_month_usd=Decimal(4000),
    one_off_usd=Decimal(24000),
    amortise_months=12,
    supervision_hours_per_week=Decimal(5),
)


def test_the_designs_october_pilot_costs_exactly_this_much() -> None:
    plan = parse_plan(
        {
            "version": 1,
            "name": "pilot",
            "primary": {"kpi": "human_time_per_step", "target": "-10%"},
            "costs": {
                "per_month_usd": 4000,
                "one_off_usd": 24000,
                "amortise_months": 12,
                "supervision_hours_per_week": 5,
            },
            "pilot_period": "2026-10-01/2026-10-31",
        }
    )
    tco = total_cost_of_ownership(plan.costs, plan.pilot_period.days, 60)
    # 4000 * 31 / 30 = 4133.333..; 24000 * 31 / 360 = 2066.666..; 5 * 60 * 31 / 7 = 1328.571..
    assert tco.days == 31
    assert tco.licences_usd == Decimal("4133.33")
    assert tco.amortised_usd == Decimal("2066.67")
    assert tco.supervision_usd == Decimal("1328.57")
    assert tco.total_usd == Decimal("7528.57")
    assert tco.running_usd == Decimal("5461.90")
    assert tco.one_off_usd == Decimal("24000.00")


@pytest.mark.parametrize(
    ("days", "rate", "total"),
    [
        (30, 60, "7285.71"),  # 4000 + 2000 + 1285.714..
        (7, 45.5, "1627.50"),  # 933.333.. + 466.666.. + 227.5 -> 933.33 + 466.67 + 227.50
        (360, 60, "87428.57"),  # 48000 + 24000 + 15428.571..
        (1, "72.25", "251.61"),  # 133.333.. + 66.666.. + 51.607.. (rate given as text)
    ],
)
def test_tco_is_exact_for_other_periods_and_rates(days: int, rate: float | str, total: str) -> None:
    tco = total_cost_of_ownership(DESIGN_COSTS, days, rate)
    assert tco.total_usd == Decimal(total)
    assert tco.total_usd == tco.licences_usd + tco.amortised_usd + tco.supervision_usd


def test_no_costs_cost_nothing_and_bad_inputs_are_refused() -> None:
    assert total_cost_of_ownership(Costs(), 31, 60).total_usd == 0
    with pytest.raises(ValueError, match="days"):
        total_cost_of_ownership(DESIGN_COSTS, 0, 60)
    with pytest.raises(ValueError, match="labour rate"):
        total_cost_of_ownership(DESIGN_COSTS, 31, -1)
    with pytest.raises(ValueError, match="finite"):
        total_cost_of_ownership(DESIGN_COSTS, 31, math.nan)


def test_allocation_follows_the_weights_and_adds_up_to_the_cent() -> None:
    parts = allocate(Decimal("100.00"), {"a": 1, "b": 1, "c": 1})
    assert sorted(parts.values()) == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    assert sum(parts.values()) == Decimal("100.00")
    steps = {"support-reply": 5500.0, "code-review": 3900.0, "incident-triage": 600.0}
    shares = allocate(Decimal("7528.57"), steps)
    assert sum(shares.values()) == Decimal("7528.57")
    for name, weight in steps.items():
        assert abs(shares[name] - Decimal("7528.57") * Decimal(weight) / 10000) <= Decimal("0.01")
    assert allocate(Decimal("7528.57"), {"only": 3.0}) == {"only": Decimal("7528.57")}
    with pytest.raises(ValueError, match="nothing to share"):
        allocate(Decimal(1), {"a": 0.0})
    with pytest.raises(ValueError, match="weights"):
        allocate(Decimal(1), {"a": -1.0})


def test_each_workflow_gets_its_share_of_every_part() -> None:
    tco = total_cost_of_ownership(DESIGN_COSTS, 31, 60)
    shares = share_tco(tco, {"support-reply": 2.0, "code-review": 1.0})
    assert shares["support-reply"].days == 31
    for part in ("licences_usd", "amortised_usd", "supervision_usd", "one_off_usd"):
        assert sum(getattr(s, part) for s in shares.values()) == getattr(tco, part)
    assert sum(s.total_usd for s in shares.values()) == tco.total_usd
    assert shares["support-reply"].one_off_usd == Decimal("16000.00")


def test_net_gain_and_its_interval_are_linear_in_the_human_time_difference() -> None:
    tco = total_cost_of_ownership(DESIGN_COSTS, 31, 60)
    # AI steps take 180 s less human time (CI 150..210 s less), 10 000 AI steps at 60 USD/h
    summary = cost_summary(
        tco,
        token_cost_usd=812.345,
        ai_steps=10000,
        labour_rate_usd_per_hour=60,
        human_seconds=(-180.0, -210.0, -150.0),
    )
    assert summary.gross_gain_usd == Decimal("30000.00")  # 180 * 10000 * 60 / 3600
    assert summary.token_cost_usd == Decimal("812.35")
    assert summary.tco_usd == Decimal("7528.57")
    assert summary.net_gain_usd == Decimal("21659.08")  # 30000 - 812.35 - 7528.57
    assert summary.net_gain_ci == (Decimal("16659.08"), Decimal("26659.08"))  # 25000, 35000
    # payback: the one-off 24 000 over a daily gain of (30000 - 812.35 - 5461.90) / 31
    daily = (Decimal("30000.00") - Decimal("812.35") - Decimal("5461.90")) / 31
    assert summary.payback_days == math.ceil(Decimal(24000) / daily) == 32
    assert summary.payback_within_pilot is False
    data = summary.to_dict()
    assert data == {
        "days": 31,
        "tco_usd": 7528.57,
        "token_cost_usd": 812.35,
        "gross_gain_usd": 30000.0,
        "net_gain_usd": 21659.08,
        "net_gain_ci": [16659.08, 26659.08],
        "payback_days": 32,
        "payback_within_pilot": False,
    }


def test_a_pilot_that_loses_time_never_pays_back() -> None:
    tco = total_cost_of_ownership(DESIGN_COSTS, 31, 60)
    summary = cost_summary(
        tco,
        token_cost_usd=100,
        ai_steps=1000,
        labour_rate_usd_per_hour=60,
        human_seconds=(30.0, 10.0, 50.0),
    )
    assert summary.gross_gain_usd == Decimal("-500.00")
    assert summary.net_gain_usd == Decimal("-8128.57")
    assert summary.payback_days is None and not summary.payback_within_pilot


def test_a_quick_win_without_one_off_costs_pays_back_at_once() -> None:
    costs = Costs(per_month_usd=Decimal(300))
    tco = total_cost_of_ownership(costs, 10, 60)
    summary = cost_summary(
        tco,
        token_cost_usd=0,
        ai_steps=100,
        labour_rate_usd_per_hour=60,
        human_seconds=(-600.0, math.nan, math.nan),
    )
    assert summary.net_gain_usd == Decimal("900.00")  # 1000 - 100
    assert summary.net_gain_ci is None  # no interval for the human time: none for the gain
    assert summary.payback_days == 0 and summary.payback_within_pilot


def test_without_a_human_time_estimate_only_the_costs_are_known() -> None:
    tco = total_cost_of_ownership(DESIGN_COSTS, 31, 60)
    summary = cost_summary(
        tco, token_cost_usd=5, ai_steps=0, labour_rate_usd_per_hour=60, human_seconds=None
    )
    assert summary.tco_usd == Decimal("7528.57") and summary.token_cost_usd == Decimal("5.00")
    assert summary.gross_gain_usd is None and summary.net_gain_usd is None
    assert summary.to_dict()["net_gain_usd"] is None
    with pytest.raises(ValueError, match=">= 0"):
        cost_summary(
            tco, token_cost_usd=-1, ai_steps=0, labour_rate_usd_per_hour=60, human_seconds=None
        )


def test_tco_is_a_value_object() -> None:
    tco = Tco(1, Decimal("1.00"), Decimal("2.00"), Decimal("3.00"), Decimal("10.00"))
    assert tco.total_usd == Decimal("6.00") and tco.running_usd == Decimal("4.00")
