"""The demo's numbers: the report's KPIs against ground truth computed from the simulated events.

The pilot goes through the real SDK, the official OTLP/HTTP exporter and a real collector;
the report reads the collector's /metrics over HTTP. Ground truth is computed here, directly
from the planned events, with none of the report's code: counts and ratios must match
exactly, sums to float precision, quantiles must fall in the bucket of the true order
statistic.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest
from genai_prices import Usage, calc_price

from aikpi_collector.config import DEFAULT_TIME_BUCKETS_SECONDS
from aikpi_collector.report import build_scorecards
from aikpi_collector.report.kpis import AI, BASELINE, compare
from aikpi_collector.report.scorecard import AREAS
from aikpi_collector.report.sources import read_metrics_url

WORKFLOWS = ("support-reply", "code-review", "incident-triage")
LABOR_RATE = 60.0  # the collector config's default, exposed as aikpi_labor_cost_usd_per_hour


def _ns(seconds: float) -> int:
    return round(seconds * 1e9)


def _duration(item) -> float:
    # The spans carry nanosecond times, as the simulated clock sets them.
    return (_ns(item.end) - _ns(item.start)) / 1e9


class Truth:
    """Every KPI input for one workflow (or all, ``None``) and cohort, from the events."""

    def __init__(self, runs, workflow: str | None, cohort: str) -> None:
        self.runs = [
            r for r in runs if r.cohort == cohort and (workflow is None or r.workflow == workflow)
        ]
        self.steps = [s for r in self.runs for s in r.steps]
        decided = [s for s in self.steps if s.outcome is not None]
        self.outcomes = Counter(s.outcome for s in decided)
        self.errors = sum(1 for s in self.steps if s.error)
        self.statuses = Counter(r.status for r in self.runs)
        self.reopened = sum(1 for r in self.runs if r.reopened)
        self.violations = sum(len(s.violations) for s in self.steps)
        self.corrections = [s.correction_seconds for s in decided if s.correction_seconds is not None]
        self.reviews = [s.review_seconds for s in decided if s.review_seconds is not None]
        self.step_times = [_duration(s) for s in self.steps]
        self.run_times = [_duration(r) for r in self.runs]
        calls = [c for s in self.steps for c in s.llm_calls]
        self.tokens = Counter()
        self.cost = 0.0
        for c in calls:
            self.tokens["input"] += c.input_tokens - c.cache_read_tokens
            self.tokens["output"] += c.output_tokens
            self.tokens["cache_read"] += c.cache_read_tokens
            if c.cost_usd is not None:
                self.cost += c.cost_usd
            else:
                usage = Usage(
                    input_tokens=c.input_tokens,
                    output_tokens=c.output_tokens,
                    cache_read_tokens=c.cache_read_tokens,
                )
                self.cost += float(
                    calc_price(usage, model_ref=c.model, provider_id=c.provider).total_price
                )
        if cohort == BASELINE:
            self.human_seconds = sum(self.step_times)
        else:
            self.human_seconds = sum(self.reviews) + sum(self.corrections)

    def rate(self, *words: str) -> float:
        total = sum(self.outcomes.values())
        return sum(self.outcomes[w] for w in words) / total


def _assert_histogram(hist, values: list[float]) -> None:
    """Count, sum and every cumulative bucket exactly; p50/p90 inside the true bucket."""
    assert hist.count == len(values)
    assert hist.total == pytest.approx(sum(values), rel=1e-9, abs=1e-6)
    for bound, cumulative in zip(hist.bounds, hist.cumulative, strict=False):
        assert cumulative == sum(1 for x in values if x <= bound), bound
    ordered = sorted(values)
    for q in (0.5, 0.9):
        true_value = ordered[math.ceil(q * len(ordered)) - 1]
        low, high = hist.bucket_of(true_value)
        estimate = hist.quantile(q)
        assert low <= estimate <= high, (q, true_value, estimate)


@pytest.fixture(scope="module")
def samples(pilot):
    return read_metrics_url(pilot.metrics_url)


def test_pilot_has_both_cohorts_in_every_workflow(pilot) -> None:
    seen = Counter((r.workflow, r.cohort) for r in pilot.runs)
    assert set(seen) == {(w, c) for w in WORKFLOWS for c in (AI, BASELINE)}
    assert sum(seen.values()) == len(pilot.runs)
    # realistic mix: reopened runs, late outcomes, errors, violations all present
    steps = [s for r in pilot.runs for s in r.steps]
    assert any(r.reopened for r in pilot.runs)
    assert any(s.late for s in steps)
    assert any(s.error for s in steps)
    assert any(s.violations for s in steps)
    assert {r.status for r in pilot.runs} == {"completed", "abandoned", "failed"}


@pytest.mark.parametrize("workflow", [*WORKFLOWS, None])
@pytest.mark.parametrize("cohort", [AI, BASELINE])
def test_counts_ratios_and_sums_match_the_events(pilot, samples, workflow, cohort) -> None:
    truth = Truth(pilot.runs, workflow, cohort)
    comparison = compare(samples, workflow)
    kpis = comparison.ai if cohort == AI else comparison.baseline

    assert kpis.steps == len(truth.steps)
    assert kpis.step_errors == truth.errors
    assert kpis.outcomes == {w: float(n) for w, n in truth.outcomes.items()}
    assert kpis.workflows == {
        **{s: float(n) for s, n in truth.statuses.items()},
        **({"reopened": float(truth.reopened)} if truth.reopened else {}),
    }
    assert kpis.violations == truth.violations
    assert kpis.acceptance_rate == truth.rate("accepted", "edited")
    assert kpis.outcome_rate("accepted") == truth.rate("accepted")
    assert kpis.outcome_rate("overridden") == truth.rate("overridden")
    assert kpis.outcome_rate("edited") == truth.rate("edited")
    assert kpis.outcome_rate("escalated") == truth.rate("escalated")
    assert kpis.error_rate == truth.errors / len(truth.steps)
    assert kpis.completion_rate == truth.statuses["completed"] / len(truth.runs)
    assert kpis.reopen_rate == truth.reopened / truth.statuses["completed"]
    assert kpis.violations_per_1000 == 1000 * truth.violations / len(truth.steps)
    assert kpis.tokens == sum(truth.tokens.values())
    tokens_by_type = samples.by_label(
        "aikpi_tokens_total",
        "token_type",
        {"cohort": cohort, **({"workflow": workflow} if workflow else {})},
    )
    assert {k: v for k, v in tokens_by_type.items() if v} == {
        k: float(v) for k, v in truth.tokens.items() if v
    }
    assert kpis.token_cost_usd == pytest.approx(truth.cost, rel=1e-6, abs=1e-9)
    assert kpis.human_seconds == pytest.approx(truth.human_seconds, rel=1e-9)
    assert kpis.labor_cost_usd == pytest.approx(truth.human_seconds / 3600 * LABOR_RATE, rel=1e-9)
    completed = truth.statuses["completed"]
    expected_cost_per_run = (truth.cost + truth.human_seconds / 3600 * LABOR_RATE) / completed
    assert kpis.cost_per_completed == pytest.approx(expected_cost_per_run, rel=1e-6)
    bad = sum(truth.outcomes[w] for w in ("overridden", "escalated", "rejected"))
    bad += truth.errors + truth.violations
    eligible = sum(truth.outcomes.values()) + truth.errors
    assert kpis.sli_error_ratio == pytest.approx(min(1.0, bad / eligible), rel=1e-12)


@pytest.mark.parametrize("workflow", [*WORKFLOWS, None])
@pytest.mark.parametrize("cohort", [AI, BASELINE])
def test_histograms_and_quantiles_match_the_events(pilot, samples, workflow, cohort) -> None:
    truth = Truth(pilot.runs, workflow, cohort)
    comparison = compare(samples, workflow)
    kpis = comparison.ai if cohort == AI else comparison.baseline
    assert kpis.step_time.bounds == DEFAULT_TIME_BUCKETS_SECONDS
    _assert_histogram(kpis.step_time, truth.step_times)
    _assert_histogram(kpis.workflow_time, truth.run_times)
    _assert_histogram(kpis.correction, truth.corrections)
    if truth.reviews:
        _assert_histogram(kpis.review, truth.reviews)
    else:
        assert kpis.review.count == 0


@pytest.mark.parametrize("workflow", [*WORKFLOWS, None])
def test_value_and_adoption_match_the_design_formulas(pilot, samples, workflow) -> None:
    ai, base = Truth(pilot.runs, workflow, AI), Truth(pilot.runs, workflow, BASELINE)
    comparison = compare(samples, workflow)
    assert comparison.ai_share == len(ai.steps) / (len(ai.steps) + len(base.steps))
    per_step_saved = base.human_seconds / len(base.steps) - ai.human_seconds / len(ai.steps)
    expected_gain = per_step_saved * len(ai.steps) * LABOR_RATE / 3600 - ai.cost
    assert comparison.net_gain_usd == pytest.approx(expected_gain, rel=1e-6)
    assert comparison.acceptance_diff.estimate == pytest.approx(
        ai.rate("accepted", "edited") - base.rate("accepted", "edited"), rel=1e-12
    )
    mean_diff = sum(ai.run_times) / len(ai.run_times) - sum(base.run_times) / len(base.run_times)
    assert comparison.cycle_time_diff.estimate == pytest.approx(mean_diff, rel=1e-9)


def test_scorecard_has_a_verdict_per_area_for_every_workflow(samples) -> None:
    cards = build_scorecards(samples, "test")
    assert [c.workflow for c in cards] == [*sorted(WORKFLOWS), "all workflows"]
    for card in cards:
        assert list(card.verdicts()) == list(AREAS)
        assert card.evidence is not None
        assert all(v.text for v in card.verdicts().values())


def test_same_seed_same_plan() -> None:
    from aikpi_collector.demo.simulate import simulate

    first = simulate(150, 3, now=1_800_000_000.0)
    again = simulate(150, 3, now=1_800_000_000.0)
    other = simulate(150, 4, now=1_800_000_000.0)
    assert first == again
    assert first != other
    assert all(r.end <= 1_800_000_000.0 for r in first)
    assert all(s.start >= r.start and s.end <= r.end for r in first for s in r.steps)
