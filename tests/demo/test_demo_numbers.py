"""The demo's numbers: the report's KPIs against ground truth computed from the simulated events.

The pilot goes through the real SDK, the official OTLP/HTTP exporter and a real collector;
the report reads the collector's /metrics over HTTP. Ground truth is computed here, directly
from the planned events, with none of the report's code: counts and ratios must match
exactly, sums to float precision, quantiles must fall in the bucket of the true order
statistic.
"""

from __future__ import annotations

from collections import Counter

import pytest
from aikpi_collector.config import DEFAULT_TIME_BUCKETS_SECONDS
from aikpi_collector.report import build_scorecards
from aikpi_collector.report.kpis import AI, BASELINE, compare
from aikpi_collector.report.scorecard import AREAS
from aikpi_collector.report.sources import read_metrics_url
from pilot_truth import WORKFLOWS, Truth, assert_histogram


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
    assert kpis.labor_cost_usd == pytest.approx(truth.labor_cost, rel=1e-9)
    assert kpis.labor_rate == pytest.approx(truth.labor_rate, rel=1e-12)
    completed = truth.statuses["completed"]
    expected_cost_per_run = (truth.cost + truth.labor_cost) / completed
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
    assert_histogram(kpis.step_time, truth.step_times)
    assert_histogram(kpis.workflow_time, truth.run_times)
    assert_histogram(kpis.correction, truth.corrections)
    if truth.reviews:
        assert_histogram(kpis.review, truth.reviews)
    else:
        assert kpis.review.count == 0


@pytest.mark.parametrize("workflow", [*WORKFLOWS, None])
def test_value_and_adoption_match_the_design_formulas(pilot, samples, workflow) -> None:
    ai, base = Truth(pilot.runs, workflow, AI), Truth(pilot.runs, workflow, BASELINE)
    comparison = compare(samples, workflow)
    assert comparison.ai_share == len(ai.steps) / (len(ai.steps) + len(base.steps))
    per_step_saved = base.human_seconds / len(base.steps) - ai.human_seconds / len(ai.steps)
    expected_gain = per_step_saved * len(ai.steps) * ai.labor_rate / 3600 - ai.cost
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


def test_net_gain_per_hour_divides_by_the_window(samples) -> None:
    cards = build_scorecards(samples, "28 d", window_seconds=28 * 86400.0)
    for card in cards:
        rows = {row.kpi: row for row in card.rows}
        total = rows["net productivity gain (28 d)"].ai
        assert rows["net productivity gain per hour"].ai == pytest.approx(total / (28 * 24))


def test_every_span_was_accepted_and_every_model_priced(pilot) -> None:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(pilot.metrics_url, timeout=10) as response:
        text = response.read().decode()
    totals: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] += sample.value
    expected_spans = sum(
        1  # workflow span
        + len(run.steps)
        + sum(len(step.llm_calls) for step in run.steps)
        + sum(1 for step in run.steps if step.late and step.outcome is not None)
        + int(run.reopened)
        for run in pilot.runs
    )
    assert totals["aikpi_collector_spans_received_total"] == expected_spans
    assert totals["aikpi_collector_spans_rejected_total"] == 0
    assert totals["aikpi_collector_requests_rejected_total"] == 0
    assert totals["aikpi_collector_unpriced_spans_total"] == 0


@pytest.mark.parametrize("cohort", [AI, BASELINE])
def test_per_step_times_of_a_multi_step_workflow(pilot, samples, cohort) -> None:
    comparison = compare(samples, "incident-triage")
    assert [t.step for t in comparison.steps] == ["classify", "draft-remediation"]
    runs = [r for r in pilot.runs if r.workflow == "incident-triage" and r.cohort == cohort]
    for times in comparison.steps:
        truth = [
            (round(s.end * 1e9) - round(s.start * 1e9)) / 1e9
            for r in runs
            for s in r.steps
            if s.name == times.step
        ]
        assert_histogram(times.ai if cohort == AI else times.baseline, truth)
    assert compare(samples, "support-reply").steps == ()  # one step: no per-step rows
