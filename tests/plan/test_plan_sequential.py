"""Always-valid intervals: the boundary against a numeric mixture, and the A/A interim-look proof.

The Monte Carlo tests simulate whole pilots, vectorised: each cohort's sufficient statistics
are accumulated over 20 interim looks, and the production interval functions run on the
arrays. A look "passes" when the interval excludes 0 on the better side (the first condition
of a primary pass; the full pass also needs the estimate to reach the target, so this counts
at least every false pass). With no true effect, the always-valid interval must pass at most
alpha of the pilots (the issue's bound, with a tolerance of 3 Monte Carlo standard errors),
and in fact at most alpha/2 (one side of a two-sided sequence); the fixed interval, checked
the same way, passes far more often.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from aikpi_collector.plan.sequential import mixture_half_width, optimal_mixing_ratio
from aikpi_collector.plan.stats import (
    CohortStats,
    MeanStats,
    ProportionStats,
    RateStats,
    Scale,
    always_valid_interval,
    fixed_interval,
)
from scipy import integrate, optimize, stats

ALPHA = 0.05
PILOTS = 2000
LOOKS = 20
PER_LOOK = 50
PLANNED = LOOKS * PER_LOOK
"""The pilot is planned to end at the 20th look; every earlier look is interim."""


def se(rate: float) -> float:
    """Monte Carlo standard error of a rate over the simulated pilots."""
    return math.sqrt(rate * (1 - rate) / PILOTS)


def mixture_boundary_numerically(variance: float, tau2: float, alpha: float) -> float:
    """The |estimate| at which the mixture likelihood ratio reaches 1/alpha, by quadrature
    over theta ~ N(0, tau2) and root finding: independent of the closed form.

    log Lambda(x) = log of the integral over t of exp(g(t)) / sqrt(2 pi tau2), with
    g(t) = (x t - t^2 / 2) / V - t^2 / (2 tau2) (the Gaussian likelihood ratio of mean t
    against 0, times the mixing density); integrated around its peak for stability.
    """

    def log_ratio(x: float) -> float:
        peak = x * tau2 / (variance + tau2)
        spread = math.sqrt(variance * tau2 / (variance + tau2))

        def g(t: float) -> float:
            return (x * t - t * t / 2) / variance - t * t / (2 * tau2)

        top = g(peak)
        area, _ = integrate.quad(
            lambda t: math.exp(g(t) - top), peak - 15 * spread, peak + 15 * spread
        )
        return top + math.log(area) - 0.5 * math.log(2 * math.pi * tau2)

    sd = math.sqrt(variance)
    return optimize.brentq(lambda x: log_ratio(x) + math.log(alpha), 0.0, 50 * sd, xtol=1e-12)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1])
@pytest.mark.parametrize("looks_left", [0.05, 0.3, 1.0, 4.0])
def test_half_width_is_the_inverted_mixture_likelihood_ratio(
    alpha: float, looks_left: float
) -> None:
    planned_variance = 2.0
    variance = planned_variance / looks_left  # earlier looks have a larger variance
    tau2 = optimal_mixing_ratio(alpha) * planned_variance
    expected = mixture_boundary_numerically(variance, tau2, alpha)
    assert mixture_half_width(variance, planned_variance, alpha) == pytest.approx(
        expected, rel=1e-6
    )


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1, 0.2])
def test_mixing_variance_makes_the_sequence_nearly_tightest_at_the_planned_size(
    alpha: float,
) -> None:
    def half_width_at_plan(ratio: float) -> float:
        # tau^2 = ratio * V*, evaluated at V = V* = 1
        return math.sqrt((1 + 1 / ratio) * (math.log1p(ratio) - 2 * math.log(alpha)))

    best = optimize.minimize_scalar(half_width_at_plan, bounds=(0.01, 1000), method="bounded")
    ours = mixture_half_width(1.0, 1.0, alpha)
    assert ours == pytest.approx(half_width_at_plan(optimal_mixing_ratio(alpha)))
    assert ours <= best.fun * 1.01


def test_at_the_planned_size_the_sequence_costs_about_half_again_the_fixed_width() -> None:
    fixed = stats.norm.ppf(1 - ALPHA / 2)
    widening = mixture_half_width(1.0, 1.0, ALPHA) / fixed
    assert 1.4 < widening < 1.7
    # and it shrinks like a fixed interval as samples grow (asymptotically sqrt(log n / n))
    widths = [mixture_half_width(1.0 / n, 1.0 / 1000, ALPHA) for n in (250, 1000, 4000, 16000)]
    assert widths == sorted(widths, reverse=True)


def test_a_non_positive_variance_gives_no_interval() -> None:
    assert math.isnan(mixture_half_width(0.0, 1.0, ALPHA))
    values = mixture_half_width(np.array([1.0, -1.0]), np.array([1.0, 1.0]), ALPHA)
    assert np.isfinite(values[0]) and np.isnan(values[1])
    with pytest.raises(ValueError, match="alpha"):
        optimal_mixing_ratio(1.5)


# --- simulated pilots --------------------------------------------------------------------------


def _sizes() -> np.ndarray:
    return np.cumsum(np.full((PILOTS, LOOKS), PER_LOOK, dtype=float), axis=1)


def lognormal_cohort(rng: np.random.Generator, median: float, sigma: float = 0.8) -> MeanStats:
    """Human seconds per step (long right tail), accumulated look by look."""
    x = rng.lognormal(math.log(median), sigma, size=(PILOTS, LOOKS, PER_LOOK))
    return MeanStats(
        _sizes(), np.cumsum(x.sum(axis=2), axis=1), np.cumsum((x**2).sum(axis=2), axis=1)
    )


def binomial_cohort(rng: np.random.Generator, p: float) -> ProportionStats:
    x = rng.binomial(PER_LOOK, p, size=(PILOTS, LOOKS)).astype(float)
    return ProportionStats(np.cumsum(x, axis=1), _sizes())


def poisson_cohort(rng: np.random.Generator, rate: float, exposure: float = 500) -> RateStats:
    x = rng.poisson(rate * exposure, size=(PILOTS, LOOKS)).astype(float)
    return RateStats(np.cumsum(x, axis=1), _sizes() * exposure / PER_LOOK)


def pass_rates(
    ai: CohortStats, base: CohortStats, scale: Scale, planned: float, passes
) -> tuple[float, float, float]:
    """Share of pilots that pass at any look: always-valid, fixed, and the verdict's
    procedure (always-valid at the interim looks, fixed at the planned size)."""
    sequence = always_valid_interval(ai, base, scale, ALPHA, planned)
    fixed = fixed_interval(ai, base, scale, ALPHA)
    av = passes(sequence.low, sequence.high)
    fx = passes(fixed.low, fixed.high)
    procedure = np.any(av[:, :-1], axis=1) | fx[:, -1]
    return (
        float(np.mean(np.any(av, axis=1))),
        float(np.mean(np.any(fx, axis=1))),
        float(np.mean(procedure)),
    )


def lower_is_better(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return high < 0


A_A_PILOTS = {
    "human time, relative (the primary)": lambda rng: (
        lognormal_cohort(rng, 600.0),
        lognormal_cohort(rng, 600.0),
        Scale.RELATIVE,
        PLANNED,
    ),
    "step time, absolute seconds": lambda rng: (
        lognormal_cohort(rng, 1200.0, 0.5),
        lognormal_cohort(rng, 1200.0, 0.5),
        Scale.ABSOLUTE,
        PLANNED,
    ),
    "escalation rate, pp": lambda rng: (
        binomial_cohort(rng, 0.1),
        binomial_cohort(rng, 0.1),
        Scale.ABSOLUTE,
        PLANNED,
    ),
    "escalation rate, relative": lambda rng: (
        binomial_cohort(rng, 0.1),
        binomial_cohort(rng, 0.1),
        Scale.RELATIVE,
        PLANNED,
    ),
    "policy violations per step, relative": lambda rng: (
        poisson_cohort(rng, 0.01),
        poisson_cohort(rng, 0.01),
        Scale.RELATIVE,
        PLANNED * 10,
    ),
}


@pytest.mark.parametrize("case", A_A_PILOTS)
def test_a_a_pilot_checked_at_20_interim_looks_passes_at_most_alpha(case: str) -> None:
    rng = np.random.default_rng(20261001)
    ai, base, scale, planned = A_A_PILOTS[case](rng)
    always_valid, fixed, procedure = pass_rates(ai, base, scale, planned, lower_is_better)
    print(f"{case}: always-valid {always_valid:.4f}, fixed {fixed:.4f}, verdict {procedure:.4f}")
    # the bound: at most alpha, with 3 Monte Carlo standard errors of tolerance
    assert always_valid <= ALPHA + 3 * se(ALPHA)
    # one side of a two-sided (1 - alpha) sequence: at most alpha / 2
    assert always_valid <= ALPHA / 2 + 3 * se(ALPHA / 2)
    # the fixed interval, peeked at 20 times, passes clearly more often than alpha
    assert fixed > ALPHA + 4 * se(fixed)
    # the verdict's procedure (always-valid until the planned size, then fixed) keeps alpha
    assert procedure <= ALPHA + 3 * se(ALPHA)


def test_a_guardrail_exactly_at_its_margin_rarely_passes_under_interim_looks() -> None:
    # acceptance truly 2 points worse with a 2pp margin: a pass would be a false pass
    rng = np.random.default_rng(7)
    ai, base = binomial_cohort(rng, 0.78), binomial_cohort(rng, 0.80)

    def within_margin(low: np.ndarray, high: np.ndarray) -> np.ndarray:
        return low > -0.02

    always_valid, fixed, procedure = pass_rates(ai, base, Scale.ABSOLUTE, PLANNED, within_margin)
    print(f"guardrail at margin: always-valid {always_valid:.4f}, fixed {fixed:.4f}")
    assert always_valid <= ALPHA / 2 + 3 * se(ALPHA / 2)
    assert fixed > ALPHA + 4 * se(fixed)
    assert procedure <= ALPHA + 3 * se(ALPHA)


def test_a_real_effect_is_still_found_by_the_always_valid_interval() -> None:
    # 25 % less human time: the sequence must not be so wide that it never passes
    rng = np.random.default_rng(3)
    ai, base = lognormal_cohort(rng, 450.0), lognormal_cohort(rng, 600.0)
    always_valid, fixed, _ = pass_rates(ai, base, Scale.RELATIVE, PLANNED, lower_is_better)
    assert always_valid > 0.95 and fixed > 0.95
