"""Fixed-horizon intervals from sufficient statistics, against independent implementations.

Each interval is computed from per-cohort totals only, then checked against a second
implementation that sees the raw samples (statsmodels, scipy) or a hand formula written here
from the textbooks (Welch, Fieller, Newcombe, Katz, the Poisson score interval).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from aikpi_collector.plan.stats import (
    Interval,
    IntervalKind,
    MeanStats,
    ProportionStats,
    RateStats,
    Scale,
    always_valid_interval,
    estimate,
    fixed_interval,
    normal_effect,
)
from scipy import stats
from scipy.stats.contingency import relative_risk
from statsmodels.stats.rates import confint_poisson_2indep
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW


def mean_stats(values: np.ndarray) -> MeanStats:
    return MeanStats(float(len(values)), float(values.sum()), float((values**2).sum()))


def samples(seed: int, ai_median: float = 300.0, base_median: float = 420.0):
    rng = np.random.default_rng(seed)
    ai = rng.lognormal(math.log(ai_median), 0.7, size=rng.integers(40, 400))
    base = rng.lognormal(math.log(base_median), 0.5, size=rng.integers(40, 400))
    return ai, base


def test_moments_from_totals_are_the_sample_mean_and_variance() -> None:
    values = np.random.default_rng(0).lognormal(6, 1, 1000)
    moments = mean_stats(values)
    assert moments.mean == pytest.approx(values.mean())
    assert moments.variance == pytest.approx(values.var(ddof=1), rel=1e-9)
    assert math.isnan(MeanStats(1, 5.0, 25.0).variance)
    # rounding of large sums never gives a negative variance
    assert MeanStats(3, 3e9, 3e18 * (1 - 1e-16)).variance == 0.0


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_welch_interval_matches_statsmodels_and_scipy_on_the_raw_samples(
    seed: int, alpha: float
) -> None:
    ai, base = samples(seed)
    ours = fixed_interval(mean_stats(ai), mean_stats(base), Scale.ABSOLUTE, alpha)
    compare = CompareMeans(DescrStatsW(ai), DescrStatsW(base))
    low, high = compare.tconfint_diff(alpha=alpha, usevar="unequal")
    scipy_ci = stats.ttest_ind(ai, base, equal_var=False).confidence_interval(1 - alpha)
    assert ours.method == "welch" and ours.kind is IntervalKind.FIXED
    assert ours.estimate == pytest.approx(ai.mean() - base.mean())
    assert (ours.low, ours.high) == pytest.approx((low, high), rel=1e-9)
    assert (ours.low, ours.high) == pytest.approx((scipy_ci.low, scipy_ci.high), rel=1e-9)


def fieller(ai: np.ndarray, base: np.ndarray, alpha: float) -> tuple[float, float]:
    """Fieller's interval for mean(ai) / mean(base) (independent samples), a different
    method from the delta method on the log ratio: the two agree for large samples."""
    z = stats.norm.ppf(1 - alpha / 2)
    a, b = ai.mean(), base.mean()
    va, vb = ai.var(ddof=1) / len(ai), base.var(ddof=1) / len(base)
    g = z * z * vb / b**2
    centre = a / b
    half = (z / b) * math.sqrt(va * (1 - g) + centre**2 * vb)
    return (centre - half) / (1 - g), (centre + half) / (1 - g)


@pytest.mark.parametrize("seed", range(4))
def test_relative_mean_interval_agrees_with_fieller_for_large_samples(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ai = rng.lognormal(math.log(300), 0.6, 3000)
    base = rng.lognormal(math.log(400), 0.6, 3000)
    ours = fixed_interval(mean_stats(ai), mean_stats(base), Scale.RELATIVE, 0.05)
    low, high = fieller(ai, base, 0.05)
    assert ours.method == "delta-log-ratio"
    assert ours.estimate == pytest.approx(ai.mean() / base.mean() - 1)
    assert ours.low + 1 == pytest.approx(low, rel=0.005)
    assert ours.high + 1 == pytest.approx(high, rel=0.005)
    # the log-scale interval is asymmetric around the estimate, as a ratio's should be
    assert (ours.high - ours.estimate) > (ours.estimate - ours.low)


def wilson(successes: float, n: float, z: float) -> tuple[float, float]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def newcombe(x1: float, n1: float, x0: float, n0: float, alpha: float) -> tuple[float, float]:
    """Newcombe (1998) method 10, by hand from two Wilson intervals."""
    z = stats.norm.ppf(1 - alpha / 2)
    p1, p0 = x1 / n1, x0 / n0
    l1, u1 = wilson(x1, n1, z)
    l0, u0 = wilson(x0, n0, z)
    d = p1 - p0
    return (
        d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2),
        d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2),
    )


@pytest.mark.parametrize(
    "counts",
    [(330, 412, 310, 398), (3, 100, 0, 100), (0, 50, 0, 50), (50, 50, 47, 50), (12, 30, 19, 31)],
)
def test_proportion_difference_is_newcombes_hybrid_score_interval(
    counts: tuple[int, int, int, int],
) -> None:
    x1, n1, x0, n0 = counts
    ours = fixed_interval(ProportionStats(x1, n1), ProportionStats(x0, n0), Scale.ABSOLUTE, 0.05)
    assert ours.method == "newcombe"
    assert ours.estimate == pytest.approx(x1 / n1 - x0 / n0)
    assert (ours.low, ours.high) == pytest.approx(newcombe(x1, n1, x0, n0, 0.05), abs=1e-9)


@pytest.mark.parametrize("counts", [(330, 412, 310, 398), (60, 500, 45, 480), (30, 100, 20, 100)])
def test_proportion_ratio_agrees_with_scipys_katz_interval(
    counts: tuple[int, int, int, int],
) -> None:
    x1, n1, x0, n0 = counts
    ours = fixed_interval(ProportionStats(x1, n1), ProportionStats(x0, n0), Scale.RELATIVE, 0.05)
    katz = relative_risk(x1, n1, x0, n0).confidence_interval(0.95)
    assert ours.method == "katz-log-adjusted"
    assert ours.estimate == pytest.approx((x1 / n1) / (x0 / n0) - 1)
    # ours adds 0.5 to every count (defined at zero counts); scipy's is the plain Katz
    assert ours.low + 1 == pytest.approx(katz.low, rel=0.02)
    assert ours.high + 1 == pytest.approx(katz.high, rel=0.02)


def test_proportion_ratio_with_zero_counts_stays_defined_or_says_it_is_not() -> None:
    one_sided = fixed_interval(
        ProportionStats(3, 100), ProportionStats(0, 100), Scale.RELATIVE, 0.05
    )
    assert math.isnan(one_sided.estimate)  # no baseline successes: no ratio estimate
    assert one_sided.low > -1 and one_sided.high > one_sided.low
    all_used = fixed_interval(
        ProportionStats(100, 100), ProportionStats(100, 100), Scale.RELATIVE, 0.05
    )
    assert all_used.estimate == 0.0
    assert not all_used.defined  # zero width is no evidence: refused, not reported


@pytest.mark.parametrize(
    "counts", [(50, 10000, 40, 10000), (12, 2000, 25, 2500), (200, 5e4, 260, 5e4)]
)
def test_rate_ratio_agrees_with_the_poisson_score_interval(
    counts: tuple[float, float, float, float],
) -> None:
    x1, e1, x0, e0 = counts
    ours = fixed_interval(RateStats(x1, e1), RateStats(x0, e0), Scale.RELATIVE, 0.05)
    low, high = confint_poisson_2indep(x1, e1, x0, e0, method="score", compare="ratio")
    assert ours.method == "conditional-wilson"
    assert ours.estimate == pytest.approx((x1 / e1) / (x0 / e0) - 1)
    assert ours.low + 1 == pytest.approx(low, rel=0.02)
    assert ours.high + 1 == pytest.approx(high, rel=0.02)


def test_rate_ratio_handles_a_cohort_without_events() -> None:
    none_in_baseline = fixed_interval(RateStats(5, 1000), RateStats(0, 1000), Scale.RELATIVE, 0.05)
    assert none_in_baseline.high == math.inf and none_in_baseline.low > 0
    none_in_ai = fixed_interval(RateStats(0, 1000), RateStats(5, 1000), Scale.RELATIVE, 0.05)
    assert none_in_ai.estimate == -1.0 and none_in_ai.low == -1.0 and none_in_ai.high < 0
    nothing = fixed_interval(RateStats(0, 1000), RateStats(0, 1000), Scale.RELATIVE, 0.05)
    assert not nothing.defined


def test_rate_difference_is_statsmodels_score_interval() -> None:
    ours = fixed_interval(RateStats(50, 10000), RateStats(40, 10000), Scale.ABSOLUTE, 0.1)
    low, high = confint_poisson_2indep(
        50, 10000, 40, 10000, method="score", compare="diff", alpha=0.1
    )
    assert ours.estimate == pytest.approx(0.001)
    assert (ours.low, ours.high) == pytest.approx((low, high))


def test_undefined_inputs_give_no_interval_rather_than_a_wrong_one() -> None:
    zero_spread = fixed_interval(MeanStats(5, 50, 500), MeanStats(5, 40, 320), Scale.ABSOLUTE, 0.05)
    assert zero_spread.estimate == 2.0 and not zero_spread.defined
    zero_baseline = fixed_interval(MeanStats(5, 50, 600), MeanStats(5, 0, 0), Scale.RELATIVE, 0.05)
    assert not zero_baseline.defined
    empty = fixed_interval(ProportionStats(0, 0), ProportionStats(3, 10), Scale.ABSOLUTE, 0.05)
    assert not empty.defined
    assert math.isnan(estimate(MeanStats(0, 0, 0), MeanStats(5, 50, 600), Scale.ABSOLUTE))


def test_statistics_are_validated() -> None:
    with pytest.raises(ValueError, match="exceed trials"):
        ProportionStats(11, 10)
    with pytest.raises(ValueError, match="n must be finite and >= 0"):
        MeanStats(-1, 0, 0)
    with pytest.raises(ValueError, match="events"):
        RateStats(math.nan, 10)
    with pytest.raises(ValueError, match="one kind"):
        estimate(MeanStats(5, 5, 5), ProportionStats(1, 5), Scale.ABSOLUTE)
    with pytest.raises(ValueError, match="alpha"):
        fixed_interval(MeanStats(5, 5, 6), MeanStats(5, 5, 6), Scale.ABSOLUTE, 1.0)


def test_arrays_give_the_same_intervals_as_one_comparison_at_a_time() -> None:
    rng = np.random.default_rng(11)
    values = [samples(int(s)) for s in rng.integers(0, 1000, 5)]
    ai = MeanStats(
        np.array([len(a) for a, _ in values], float),
        np.array([a.sum() for a, _ in values]),
        np.array([(a**2).sum() for a, _ in values]),
    )
    base = MeanStats(
        np.array([len(b) for _, b in values], float),
        np.array([b.sum() for _, b in values]),
        np.array([(b**2).sum() for _, b in values]),
    )
    for scale in Scale:
        together = fixed_interval(ai, base, scale, 0.05)
        sequences = always_valid_interval(ai, base, scale, 0.05, 500)
        for i, (a, b) in enumerate(values):
            one = fixed_interval(mean_stats(a), mean_stats(b), scale, 0.05)
            seq = always_valid_interval(mean_stats(a), mean_stats(b), scale, 0.05, 500)
            assert (together.low[i], together.high[i]) == pytest.approx((one.low, one.high))
            assert (sequences.low[i], sequences.high[i]) == pytest.approx((seq.low, seq.high))


def test_the_always_valid_interval_is_wider_and_holds_the_same_estimate() -> None:
    ai, base = samples(5)
    a, b = mean_stats(ai), mean_stats(base)
    for scale in Scale:
        fixed = fixed_interval(a, b, scale, 0.05)
        sequence = always_valid_interval(a, b, scale, 0.05, planned_per_cohort=1000)
        assert isinstance(sequence, Interval)
        assert sequence.kind is IntervalKind.ALWAYS_VALID and sequence.method == "normal-mixture"
        assert sequence.estimate == fixed.estimate
        assert sequence.low < fixed.low < fixed.estimate < fixed.high < sequence.high


def test_working_scale_variance_is_the_delta_method() -> None:
    a, b = (
        MeanStats(100, 100 * 300, 100 * (300**2 + 90**2)),
        MeanStats(80, 80 * 400, 80 * 400**2 * 1.25),
    )
    relative = normal_effect(a, b, Scale.RELATIVE)
    assert relative.working == pytest.approx(math.log(300 / 400))
    va, vb = a.variance / a.mean**2, b.variance / b.mean**2
    assert relative.variance == pytest.approx(va / 100 + vb / 80)
    assert relative.variance_at(400) == pytest.approx((va + vb) / 400)
    assert relative.to_effect(relative.working) == pytest.approx(-0.25)


def test_catalogue_terms_become_the_statistics_of_their_kind() -> None:
    from aikpi_collector.catalogue import KpiKind, kpi
    from aikpi_collector.plan import CRITERION_KPIS, cohort_stats

    kinds = {KpiKind.MEAN: MeanStats, KpiKind.PROPORTION: ProportionStats, KpiKind.RATE: RateStats}
    for name in CRITERION_KPIS:
        item = kpi(name)
        squares = 9000.0 if item.squares is not None else None
        made = cohort_stats(item.kind, 30.0, 10.0 if item.kind is KpiKind.MEAN else 40.0, squares)
        assert isinstance(made, kinds[item.kind]), name
        # a MEAN KPI in the catalogue always names its sum-of-squares counter
        assert (item.kind is KpiKind.MEAN) == (item.squares is not None), name
    correction = cohort_stats(KpiKind.MEAN, 600.0, 10.0, 90000.0)  # seconds over steps
    assert (correction.n, correction.mean) == (10.0, 60.0)
    assert cohort_stats(KpiKind.PROPORTION, 3, 10) == ProportionStats(3, 10)
    with pytest.raises(ValueError, match="sum of squares"):
        cohort_stats(KpiKind.MEAN, 1.0, 1.0)
    with pytest.raises(ValueError, match="no interval"):
        cohort_stats(KpiKind.RATIO, 1.0, 1.0)
