"""The scorecard's statistics, against brute force, an independent Welch and published values:
quantiles from histogram buckets; means, variances and intervals from exact moments (the
pilot plans' statistics, which the scorecard uses too)."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from aikpi_collector.config import DEFAULT_TIME_BUCKETS_SECONDS
from aikpi_collector.plan.stats import MeanStats, ProportionStats, Scale, fixed_interval
from aikpi_collector.report.stats import Histogram
from scipy import stats as scipy_stats
from statsmodels.stats.proportion import proportion_confint
from support.histograms import bucket_of


def moments(values: list[float]) -> MeanStats:
    return MeanStats(float(len(values)), sum(values), sum(v * v for v in values))


def diff_means_interval(a: MeanStats, b: MeanStats):
    return fixed_interval(a, b, Scale.ABSOLUTE, 0.05)


def diff_proportions_interval(s_a: float, n_a: float, s_b: float, n_b: float):
    return fixed_interval(
        ProportionStats(s_a, n_a), ProportionStats(s_b, n_b), Scale.ABSOLUTE, 0.05
    )


def wilson_interval(successes: float, n: float) -> tuple[float, float]:
    """The one-proportion interval of the override verdict."""
    return proportion_confint(successes, n, alpha=0.05, method="wilson")


def hist(values: list[float], bounds=DEFAULT_TIME_BUCKETS_SECONDS) -> Histogram:
    buckets = {b: float(sum(1 for v in values if v <= b)) for b in bounds}
    buckets[math.inf] = float(len(values))
    return Histogram.from_buckets(buckets, sum(values), float(len(values)))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("q", [0.1, 0.5, 0.9, 0.99])
def test_quantile_lies_in_the_bucket_of_the_true_order_statistic(seed: int, q: float) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(math.log(600), 1.2) for _ in range(rng.randint(1, 400))]
    h = hist(values)
    true_value = sorted(values)[math.ceil(q * len(values)) - 1]
    low, high = bucket_of(h.bounds, true_value)
    assert low <= h.quantile(q) <= (high if math.isfinite(high) else low)


def test_quantile_interpolates_linearly_like_histogram_quantile() -> None:
    # 10 observations in (60, 300]: the median sits halfway through that bucket's count
    h = Histogram.from_buckets({60.0: 0.0, 300.0: 10.0, math.inf: 10.0}, 1800.0, 10.0)
    assert h.quantile(0.5) == pytest.approx(60 + 240 * 0.5)
    assert h.quantile(0.9) == pytest.approx(60 + 240 * 0.9)
    # everything above the last finite bound: Prometheus answers that bound
    top = Histogram.from_buckets({60.0: 0.0, math.inf: 4.0}, 1000.0, 4.0)
    assert top.quantile(0.5) == 60.0


def test_empty_histogram_has_no_mean_or_quantile() -> None:
    h = Histogram.empty()
    assert (h.mean, h.quantile(0.5)) == (None, None)
    assert math.isnan(MeanStats(0, 0, 0).mean) and math.isnan(MeanStats(1, 5, 25).variance)


@pytest.mark.parametrize("seed", range(3))
def test_moments_give_the_exact_sample_variance(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(math.log(600), 1.5) for _ in range(500)]
    m = moments(values)
    assert m.mean == pytest.approx(statistics.fmean(values), rel=1e-12)
    assert m.variance == pytest.approx(statistics.variance(values), rel=1e-9)
    # additive: two windows (or replicas) summed give the moments of the union
    a, b = moments(values[:200]), moments(values[200:])
    both = MeanStats(a.n + b.n, a.total + b.total, a.squares + b.squares)
    assert both.variance == pytest.approx(m.variance, rel=1e-9)


def test_difference_of_means_interval_covers_and_excludes_as_expected() -> None:
    fast = moments([300.0 + i for i in range(50)])
    slow = moments([900.0 + i for i in range(50)])
    same = moments([905.0 + i for i in range(50)])
    faster = diff_means_interval(fast, slow)
    assert faster.defined and faster.high < 0 and faster.estimate == pytest.approx(-600.0)
    alike = diff_means_interval(same, slow)
    assert alike.defined and alike.low <= 0 <= alike.high
    assert not diff_means_interval(moments([5.0]), slow).defined  # one observation: no spread
    # the interval is Welch's, as scipy computes it from the raw values
    welch = scipy_stats.ttest_ind(
        [300.0 + i for i in range(50)], [900.0 + i for i in range(50)], equal_var=False
    ).confidence_interval(0.95)
    assert (faster.low, faster.high) == pytest.approx((welch.low, welch.high), rel=1e-9)


def test_wilson_interval_matches_published_values() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, table I: 81/263 -> 0.2553 to 0.3662
    low, high = wilson_interval(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    zero_low, zero_high = wilson_interval(0, 10)
    assert zero_low == 0.0 and round(zero_high, 4) == 0.2775


def test_newcombe_difference_interval_matches_published_values() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, table II, method 10:
    # 56/70 - 48/80 -> +0.0524 to +0.3339; 9/10 - 3/10 -> +0.1705 to +0.8090
    a = diff_proportions_interval(56, 70, 48, 80)
    assert (round(a.low, 4), round(a.high, 4)) == (0.0524, 0.3339)
    b = diff_proportions_interval(9, 10, 3, 10)
    assert (round(b.low, 4), round(b.high, 4)) == (0.1705, 0.809)
    assert not diff_proportions_interval(0, 0, 1, 2).defined
