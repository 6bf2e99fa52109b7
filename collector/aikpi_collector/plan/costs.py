"""Total cost of ownership of a pilot, its net gain with a confidence interval, and payback.

Token cost is what the model calls cost; a pilot costs more: licences, the integration and
training spread over their useful life, and the people who supervise the AI. The plan's
``costs`` are pro-rated per day over the pilot's days (both ends included):

    licences    = per_month_usd * days / 30
    amortised   = one_off_usd * days / (amortise_months * 30)
    supervision = supervision_hours_per_week * labour rate * days / 7
    TCO         = licences + amortised + supervision          (each rounded to the cent)

    gross gain  = (baseline - AI human seconds per step) * AI steps * labour rate / 3600
    net gain    = gross gain - token cost - TCO

Money is :class:`~decimal.Decimal` rounded half-up to the cent, so a period gives the same
figure on every machine. Net gain is linear in the human-time difference, so its interval is
that difference's interval mapped through the same line. Payback is the number of days the
pilot's daily operating gain (gross - token cost - licences - supervision, per day) takes to
recover the whole one-off cost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from aikpi_collector.plan.spec import Costs

__all__ = (
    "MONTH_DAYS",
    "WEEK_DAYS",
    "CostSummary",
    "Tco",
    "allocate",
    "cost_summary",
    "share_tco",
    "total_cost_of_ownership",
)

MONTH_DAYS = 30
"""A month of licences or amortisation is 30 days."""
WEEK_DAYS = 7
_CENT = Decimal("0.01")


def _decimal(value: Decimal | float | int | str) -> Decimal:
    """An exact Decimal: a float goes through its shortest repr (0.1 -> Decimal('0.1'))."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"amount must be finite, got {value}")
        result = Decimal(repr(value))
    else:
        result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"amount must be finite, got {value}")
    return result


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Tco:
    """The total cost of ownership of some days of a pilot, by part, in USD."""

    days: int
    licences_usd: Decimal
    amortised_usd: Decimal
    """The share of the one-off cost these days carry."""
    supervision_usd: Decimal
    one_off_usd: Decimal
    """The whole one-off cost, which payback must recover (not part of :attr:`total_usd`)."""

    @property
    def total_usd(self) -> Decimal:
        """Licences + amortised one-off + supervision."""
        return self.licences_usd + self.amortised_usd + self.supervision_usd

    @property
    def running_usd(self) -> Decimal:
        """The recurring part: licences + supervision."""
        return self.licences_usd + self.supervision_usd


def total_cost_of_ownership(
    costs: Costs, days: int, labour_rate_usd_per_hour: Decimal | float | str
) -> Tco:
    """Pro-rate the plan's ``costs`` over ``days`` (supervision at the default labour rate)."""
    if days <= 0:
        raise ValueError(f"days must be > 0, got {days}")
    rate = _decimal(labour_rate_usd_per_hour)
    if rate < 0:
        raise ValueError(f"labour rate must be >= 0, got {labour_rate_usd_per_hour}")
    span = Decimal(days)
    amortised = Decimal(0)
    if costs.one_off_usd > 0:
        assert costs.amortise_months is not None  # the plan refuses one without the other
        amortised = costs.one_off_usd * span / (costs.amortise_months * MONTH_DAYS)
    return Tco(
        days=days,
        licences_usd=_cents(costs.per_month_usd * span / MONTH_DAYS),
        amortised_usd=_cents(amortised),
        supervision_usd=_cents(costs.supervision_hours_per_week * rate * span / WEEK_DAYS),
        one_off_usd=_cents(costs.one_off_usd),
    )


def allocate(amount: Decimal, weights: Mapping[str, float]) -> dict[str, Decimal]:
    """Split ``amount`` in proportion to ``weights``, to the cent, the parts adding up exactly
    (largest remainder; ties go to the larger weight, then the name)."""
    if any(not math.isfinite(w) or w < 0 for w in weights.values()):
        raise ValueError(f"weights must be finite and >= 0, got {dict(weights)}")
    total_weight = sum(weights.values())
    if not weights or total_weight <= 0:
        raise ValueError("nothing to share by: every weight (AI-assisted steps) is 0")
    cents = int(_cents(amount) / _CENT)
    whole = _decimal(float(total_weight))
    exact = {k: Decimal(cents) * _decimal(float(w)) / whole for k, w in weights.items()}
    parts = {k: int(v) for k, v in exact.items()}  # int() truncates toward 0: cents >= 0
    left = cents - sum(parts.values())
    order = sorted(exact, key=lambda k: (-(exact[k] - parts[k]), -weights[k], k))
    for name in order[:left]:
        parts[name] += 1
    return {k: Decimal(v) * _CENT for k, v in parts.items()}


def share_tco(tco: Tco, weights: Mapping[str, float]) -> dict[str, Tco]:
    """Each scope's share of ``tco`` (e.g. per workflow by AI-assisted steps), every part
    allocated to the cent so the shares add up to the whole."""
    money = [f.name for f in fields(Tco) if f.name != "days"]
    split = {name: allocate(getattr(tco, name), weights) for name in money}
    return {key: replace(tco, **{name: split[name][key] for name in money}) for key in weights}


@dataclass(frozen=True, slots=True)
class CostSummary:
    """The design's ``costs`` block, plus the net gain's interval and payback."""

    days: int
    tco_usd: Decimal
    token_cost_usd: Decimal
    gross_gain_usd: Decimal | None
    """Human time saved, priced; ``None`` without a human-time estimate."""
    net_gain_usd: Decimal | None
    net_gain_ci: tuple[Decimal, Decimal] | None
    """The net gain over the human-time difference's interval."""
    payback_days: int | None
    """Days of the pilot's daily operating gain that recover the one-off cost (0 without one);
    ``None`` when that daily gain is not positive (it never pays back at this rate)."""
    payback_within_pilot: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON numbers (USD to the cent); ``payback_days`` may exceed ``days``."""

        def money(value: Decimal | None) -> float | None:
            return None if value is None else float(value)

        return {
            "days": self.days,
            "tco_usd": money(self.tco_usd),
            "token_cost_usd": money(self.token_cost_usd),
            "gross_gain_usd": money(self.gross_gain_usd),
            "net_gain_usd": money(self.net_gain_usd),
            "net_gain_ci": None
            if self.net_gain_ci is None
            else [money(self.net_gain_ci[0]), money(self.net_gain_ci[1])],
            "payback_days": self.payback_days,
            "payback_within_pilot": self.payback_within_pilot,
        }


def cost_summary(
    tco: Tco,
    *,
    token_cost_usd: Decimal | float,
    ai_steps: float,
    labour_rate_usd_per_hour: Decimal | float,
    human_seconds: tuple[float, float, float] | None,
) -> CostSummary:
    """Net gain of a pilot (or of one workflow, with its share of ``tco``).

    ``human_seconds`` is the human time per step, AI - baseline, in seconds, as
    ``(estimate, low, high)`` of its interval (``low``/``high`` may be ``nan`` when no
    interval exists); ``ai_steps`` are the AI cohort's steps and ``labour_rate_usd_per_hour``
    their (step-weighted) labour rate.
    """
    token = _cents(_decimal(token_cost_usd))
    rate = _decimal(labour_rate_usd_per_hour)
    steps = _decimal(float(ai_steps))
    if token < 0 or rate < 0 or steps < 0:
        raise ValueError("token cost, labour rate and AI steps must be >= 0")
    gross = net = None
    ci = None
    payback: int | None = None
    if human_seconds is not None and math.isfinite(human_seconds[0]):

        def gain(seconds_ai_minus_baseline: float) -> Decimal:
            return -_decimal(seconds_ai_minus_baseline) * steps * rate / 3600

        gross = _cents(gain(human_seconds[0]))
        net = gross - token - tco.total_usd
        low, high = human_seconds[1], human_seconds[2]
        if math.isfinite(low) and math.isfinite(high):
            # AI - baseline at its high end saves the least.
            ci = (
                _cents(gain(high)) - token - tco.total_usd,
                _cents(gain(low)) - token - tco.total_usd,
            )
        daily = (gross - token - tco.running_usd) / tco.days
        if daily > 0:
            payback = math.ceil(tco.one_off_usd / daily)
    return CostSummary(
        days=tco.days,
        tco_usd=tco.total_usd,
        token_cost_usd=token,
        gross_gain_usd=gross,
        net_gain_usd=net,
        net_gain_ci=ci,
        payback_days=payback,
        payback_within_pilot=payback is not None and payback <= tco.days,
    )
