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
from aikpi_collector import catalogue
from aikpi_collector.config import DEFAULT_TIME_BUCKETS_SECONDS
from aikpi_collector.report import build_scorecards
from aikpi_collector.report.kpis import AI, BASELINE, compare, compare_all
from aikpi_collector.report.scorecard import AREAS, build_scorecard
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


def _cohort(samples, workflow, cohort):
    comparison = compare(samples, workflow) if workflow else compare_all(samples)[-1]
    return comparison, comparison.cohort(cohort)


@pytest.mark.parametrize("workflow", [*WORKFLOWS, None])
@pytest.mark.parametrize("cohort", [AI, BASELINE])
def test_counts_ratios_and_sums_match_the_events(pilot, samples, workflow, cohort) -> None:
    truth = Truth(pilot.runs, workflow, cohort)
    _, kpis = _cohort(samples, workflow, cohort)
    sel = {"cohort": cohort, **({"workflow": workflow} if workflow else {})}

    assert kpis.steps == len(truth.steps)
    assert samples.total("aikpi_steps_total", {**sel, "status": "error"}) == truth.errors
    outcomes = samples.by_label("aikpi_outcomes_total", "outcome", sel)
    assert outcomes == {w: float(n) for w, n in truth.outcomes.items()}
    assert samples.by_label("aikpi_workflows_total", "status", sel) == {
        **{s: float(n) for s, n in truth.statuses.items()},
        **({"reopened": float(truth.reopened)} if truth.reopened else {}),
    }
    assert samples.total("aikpi_policy_violations_total", sel) == truth.violations
    assert kpis.value("acceptance_rate") == truth.rate("accepted", "edited")
    assert kpis.value("clean_acceptance_rate") == truth.rate("accepted")
    assert kpis.value("repair_rate") == truth.rate("edited")
    assert kpis.value("escalation_rate") == truth.rate("escalated")
    # a baseline has no AI output to override: its override rate is not shown
    expected_override = truth.rate("overridden") if cohort == AI else None
    assert kpis.value("override_rate") == expected_override
    assert kpis.value("step_error_rate") == truth.errors / len(truth.steps)
    assert kpis.value("completion_rate") == truth.statuses["completed"] / len(truth.runs)
    assert kpis.value("reopen_rate") == truth.reopened / truth.statuses["completed"]
    assert kpis.value("policy_violations_per_1000") == pytest.approx(
        1000 * truth.violations / len(truth.steps), rel=1e-12
    )
    tokens_by_type = samples.by_label("aikpi_tokens_total", "token_type", sel)
    assert {k: v for k, v in tokens_by_type.items() if v} == {
        k: float(v) for k, v in truth.tokens.items() if v
    }
    assert kpis.value("token_cost") == pytest.approx(truth.cost, rel=1e-6, abs=1e-9)
    # human time: once per step, whoever did the work
    human = kpis.stats("human_time_per_step")
    assert human.n == len(truth.human_times)
    assert human.total == pytest.approx(truth.human_seconds, rel=1e-9)
    assert human.squares == pytest.approx(sum(x * x for x in truth.human_times), rel=1e-9)
    assert kpis.undecided_steps == len(truth.steps) - len(truth.human_times)
    expected_adoption = truth.assisted / len(truth.steps) if cohort == AI else None
    assert kpis.value("adoption_rate") == expected_adoption
    completed = truth.statuses["completed"]
    expected_cost_per_run = (truth.cost + truth.labor_cost) / completed
    assert kpis.value("cost_per_completed_run") == pytest.approx(expected_cost_per_run, rel=1e-6)
    if cohort == AI:
        bad = sum(truth.outcomes[w] for w in ("overridden", "escalated", "rejected"))
        bad += truth.errors + truth.violations
        eligible = sum(truth.outcomes.values()) + truth.errors
        comparison, _ = _cohort(samples, workflow, cohort)
        assert comparison.sli_error_ratio == pytest.approx(min(1.0, bad / eligible), rel=1e-12)


@pytest.mark.parametrize("workflow", [*WORKFLOWS, None])
@pytest.mark.parametrize("cohort", [AI, BASELINE])
def test_histograms_and_quantiles_match_the_events(pilot, samples, workflow, cohort) -> None:
    truth = Truth(pilot.runs, workflow, cohort)
    _, kpis = _cohort(samples, workflow, cohort)
    step_time = kpis.histogram(catalogue.STEP_DURATION)
    assert step_time.bounds == DEFAULT_TIME_BUCKETS_SECONDS
    assert_histogram(step_time, truth.step_times)
    assert_histogram(kpis.histogram(catalogue.WORKFLOW_DURATION), truth.run_times)
    assert_histogram(kpis.histogram(catalogue.CORRECTION), truth.corrections)
    assert_histogram(kpis.histogram(catalogue.HUMAN), truth.human_times)
    review = kpis.histogram(catalogue.REVIEW)
    if truth.reviews:
        assert_histogram(review, truth.reviews)
    else:
        assert review.count == 0


@pytest.mark.parametrize("workflow", [*WORKFLOWS, None])
def test_value_and_adoption_match_the_design_formulas(pilot, samples, workflow) -> None:
    comparison, _ = _cohort(samples, workflow, AI)
    workflows = [workflow] if workflow else list(WORKFLOWS)
    expected_gain = expected_hours = 0.0
    for name in workflows:  # all workflows: the sum of each workflow's own gain
        ai, base = Truth(pilot.runs, name, AI), Truth(pilot.runs, name, BASELINE)
        saved = base.human_seconds / len(base.human_times) - ai.human_seconds / len(ai.human_times)
        expected_gain += saved * ai.priced_steps - ai.cost
        expected_hours += saved * len(ai.steps) / 3600
    assert comparison.net_gain_usd == pytest.approx(expected_gain, rel=1e-6)
    assert comparison.hours_saved == pytest.approx(expected_hours, rel=1e-9)
    ai, base = Truth(pilot.runs, workflow, AI), Truth(pilot.runs, workflow, BASELINE)
    scorecard = build_scorecard(comparison, "test")
    evidence = scorecard.evidence
    assert evidence.acceptance_diff.estimate == pytest.approx(
        ai.rate("accepted", "edited") - base.rate("accepted", "edited"), rel=1e-12
    )
    mean_diff = sum(ai.run_times) / len(ai.run_times) - sum(base.run_times) / len(base.run_times)
    assert evidence.cycle_time_diff.estimate == pytest.approx(mean_diff, rel=1e-9)


def test_scorecard_has_a_verdict_per_area_for_every_workflow(samples) -> None:
    cards = build_scorecards(samples, "test")
    assert [c.workflow for c in cards] == [*sorted(WORKFLOWS), "all workflows"]
    for card in cards:
        assert list(card.verdicts()) == list(AREAS)
        assert any(row.kpi == "override rate" and row.verdict for row in card.rows)
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
    # support replies have two steps (an AI draft, a human send) and so per-step rows too
    assert [t.step for t in compare(samples, "support-reply").steps] == [
        "draft-reply",
        "send-reply",
    ]
