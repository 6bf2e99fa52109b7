"""Study designs on constructed samples: which comparison each workflow gets, and every
design's estimate and interval against a computation from the raw values.

Each group (a cohort label in a window) is a list of known per-step human times, run
durations, outcomes and violations; its samples are the totals the collector would expose.
The expectations are computed from the raw lists with the standard library and scipy's
Welch test, never from the totals the code reads.
"""

from __future__ import annotations

import json
import math
import random
import statistics
from dataclasses import dataclass, field
from statistics import NormalDist

import pytest
from aikpi_collector.plan import parse_plan
from aikpi_collector.report import build_scorecards
from aikpi_collector.report.designs import (
    HEADLINE_KPIS,
    Design,
    PrePeriod,
    compare_designs,
    difference_in_differences,
    groups,
    summarize,
)
from aikpi_collector.report.kpis import ALL_WORKFLOWS, NoBaselineError, NoDataError
from aikpi_collector.report.render import design_lines, to_json, to_markdown
from aikpi_collector.report.samples import MetricSamples, Sample
from scipy import stats as scipy_stats
from support.samples import all_samples

AI, BASE = "ai_assisted", "baseline"
ALPHA = 0.05
Z = NormalDist().inv_cdf(1 - ALPHA / 2)


@dataclass
class Group:
    """The raw values of one cohort label of one workflow in one window."""

    human: list[float]
    """Human seconds of each step (one step each)."""
    runs: list[float]
    """Durations of its runs, all completed."""
    accepted: int
    outcomes: int
    violations: int = 0
    correction: list[float] = field(default_factory=list)
    assisted: int = 0

    @property
    def steps(self) -> int:
        return len(self.human)


def group(seed: int, n: int, human: float, accept: float, violations: int = 0) -> Group:
    """A seeded group: human times around ``human`` s, acceptance near ``accept``."""
    rng = random.Random(seed)
    times = [float(round(rng.gauss(human, human / 8) + 0.5)) for _ in range(n)]
    runs = [float(round(rng.gauss(3 * human, human) + 0.5)) for _ in range(n // 2)]
    accepted = sum(rng.random() < accept for _ in range(n))
    correction = [float(rng.randint(0, 60)) for _ in range(n // 3)]
    return Group(times, runs, accepted, n, violations, correction)


def samples_of(workflow: str, cohort: str, g: Group) -> list[Sample]:
    step = {"workflow": workflow, "step": "s", "cohort": cohort, "team": "t"}
    run = {"workflow": workflow, "cohort": cohort, "team": "t"}

    def moments(name: str, labels: dict[str, str], values: list[float]) -> list[Sample]:
        return [
            Sample(f"{name}_sum", labels, sum(values)),
            Sample(f"{name}_count", labels, float(len(values))),
            Sample(f"{name}_squares_total", labels, sum(v * v for v in values)),
        ]

    return [
        Sample("aikpi_steps_total", {**step, "status": "ok"}, float(g.steps)),
        Sample("aikpi_assisted_steps_total", step, float(g.assisted)),
        *moments("aikpi_human_seconds", step, g.human),
        *moments("aikpi_step_duration_seconds", step, g.human),
        *moments("aikpi_correction_seconds", step, g.correction),
        Sample("aikpi_workflows_total", {**run, "status": "completed"}, float(len(g.runs))),
        *moments("aikpi_workflow_duration_seconds", run, g.runs),
        Sample("aikpi_outcomes_total", {**step, "outcome": "accepted"}, float(g.accepted)),
        Sample("aikpi_outcomes_total", {**step, "outcome": "overridden"}, g.outcomes - g.accepted),
        Sample("aikpi_policy_violations_total", {**step, "policy": "p"}, float(g.violations)),
    ]


def window(*parts: tuple[str, str, Group]) -> MetricSamples:
    rate = Sample("aikpi_labor_cost_usd_per_hour", {"team": "default"}, 60.0)
    return MetricSamples([rate, *(s for w, c, g in parts for s in samples_of(w, c, g))])


# The DiD workload of workflow "both": the AI arm drops by 150 s, the baseline arm drifts up
# by 20 s between the windows, and the arms differ by 50 s before the pilot: DiD -170 s.
A_PILOT = group(1, 80, 300.0, 0.85, violations=2)
B_PILOT = group(2, 70, 420.0, 0.80, violations=6)
A_PRE = group(3, 60, 450.0, 0.78, violations=5)
B_PRE = group(4, 90, 400.0, 0.79, violations=7)
# workflow "rollout": every unit moved to AI; its pre-period is baseline-labelled only
R_PILOT = group(5, 120, 200.0, 0.9)
R_PRE = group(6, 150, 400.0, 0.8)

PILOT = window(("both", AI, A_PILOT), ("both", BASE, B_PILOT), ("rollout", AI, R_PILOT))
PRE = PrePeriod(
    window(("both", AI, A_PRE), ("both", BASE, B_PRE), ("rollout", BASE, R_PRE)),
    "2026-08-01/2026-08-31",
)


def mean_var(values: list[float]) -> tuple[float, float]:
    """Mean and the variance of the mean (unbiased s^2 / n) of raw values."""
    return statistics.fmean(values), statistics.variance(values) / len(values)


def welch(a: list[float], b: list[float]) -> tuple[float, float, float]:
    result = scipy_stats.ttest_ind(a, b, equal_var=False)
    ci = result.confidence_interval(1 - ALPHA)
    return statistics.fmean(a) - statistics.fmean(b), float(ci.low), float(ci.high)


def find(summary, kpi: str, design: Design, scale: str):
    (item,) = [e for e in summary.estimates if (e.kpi, e.design, e.scale) == (kpi, design, scale)]
    return item


# --- which comparison each workflow gets -------------------------------------------------------


def test_a_workflow_without_baseline_is_compared_with_every_run_of_its_pre_period() -> None:
    both, rollout = compare_designs(PILOT, PRE)
    assert (both.workflow, both.design) == ("both", "concurrent")
    assert (rollout.workflow, rollout.design) == ("rollout", "before_after")
    # the comparator is the pre-period, whatever the cohort label
    assert rollout.baseline.value("human_time_per_step") == pytest.approx(
        statistics.fmean(R_PRE.human), rel=1e-12
    )
    assert rollout.ai.value("human_time_per_step") == pytest.approx(
        statistics.fmean(R_PILOT.human), rel=1e-12
    )
    assert rollout.baseline.steps == R_PRE.steps
    # a pre-period has no AI output: AI-only KPIs have no value there
    assert rollout.baseline.value("override_rate") is None
    # mixed designs: no pooled "all workflows" (it would mix two comparisons in one number)
    assert ALL_WORKFLOWS not in [c.workflow for c in compare_designs(PILOT, PRE)]


def test_the_pre_period_pools_both_labels_and_is_priced_at_the_pilot_rates() -> None:
    pre = PrePeriod(window(("rollout", AI, A_PRE), ("rollout", BASE, R_PRE)), "p")
    rate = Sample("aikpi_labor_cost_usd_per_hour", {"team": "default"}, 90.0)
    kept = [s for s in all_samples(window(("rollout", AI, R_PILOT))) if s.name != rate.name]
    pilot = MetricSamples([*kept, rate])
    (c,) = compare_designs(pilot, pre)
    assert c.design == "before_after"
    assert c.baseline.value("human_time_per_step") == pytest.approx(
        statistics.fmean(A_PRE.human + R_PRE.human), rel=1e-12
    )
    assert c.baseline.labor_rate("default") == 90.0  # the pre-period's own gauge says 60


def test_all_workflows_before_after_pools_the_pre_period_of_those_workflows_only() -> None:
    other = group(7, 40, 900.0, 0.5)
    pilot = window(("rollout", AI, R_PILOT), ("second", AI, A_PILOT))
    pre = PrePeriod(
        window(("rollout", BASE, R_PRE), ("second", BASE, B_PRE), ("retired", BASE, other)), "p"
    )
    comparisons = compare_designs(pilot, pre)
    assert [(c.workflow, c.design) for c in comparisons] == [
        ("rollout", "before_after"),
        ("second", "before_after"),
        (ALL_WORKFLOWS, "before_after"),
    ]
    pooled = comparisons[-1]
    assert pooled.baseline.steps == R_PRE.steps + B_PRE.steps  # not the retired workflow's
    assert pooled.baseline.value("human_time_per_step") == pytest.approx(
        statistics.fmean(R_PRE.human + B_PRE.human), rel=1e-12
    )
    # its net gain is the sum of the workflows' own (never a pooled mix)
    assert pooled.net_gain_usd == pytest.approx(
        sum(c.net_gain_usd for c in comparisons[:-1]), rel=1e-12
    )


def test_without_a_pre_period_nothing_changes() -> None:
    with pytest.raises(NoBaselineError, match=r"rollout .*--workflow.*both cohorts: both"):
        compare_designs(PILOT, None)
    assert [c.workflow for c in compare_designs(PILOT, None, "both")] == ["both"]


def test_refusals_say_what_is_missing() -> None:
    empty = PrePeriod(MetricSamples([]), "2026-08-01/2026-08-31")
    with pytest.raises(
        NoBaselineError,
        match=r"rollout have neither a baseline cohort in the pilot window nor runs in the "
        r"pre-period 2026-08-01/2026-08-31.*--workflow.*comparable: both",
    ):
        compare_designs(PILOT, empty)
    only_baseline = window(("both", AI, A_PILOT), ("both", BASE, B_PILOT), ("old", BASE, B_PRE))
    with pytest.raises(NoBaselineError, match="old have no AI-assisted cohort"):
        compare_designs(only_baseline, PRE)
    # the demo's leniency: leave them out
    assert [c.workflow for c in compare_designs(PILOT, empty, skip_incomplete=True)] == ["both"]
    with pytest.raises(NoDataError, match="empty window"):
        compare_designs(MetricSamples([]), PRE)


# --- estimates ----------------------------------------------------------------------------------


def test_difference_in_differences_of_a_mean_against_a_hand_computation() -> None:
    (a1, va1), (a0, va0) = mean_var(A_PILOT.human), mean_var(A_PRE.human)
    (b1, vb1), (b0, vb0) = mean_var(B_PILOT.human), mean_var(B_PRE.human)
    did = (a1 - a0) - (b1 - b0)
    half = Z * math.sqrt(va1 + va0 + vb1 + vb0)
    counterfactual = a0 + b1 - b0
    log_half = Z * math.sqrt(va1 / a1**2 + (va0 + vb1 + vb0) / counterfactual**2)

    summary = summarize(compare_designs(PILOT, PRE, "both")[0], PRE)
    absolute = find(summary, "human_time_per_step", Design.DIFFERENCE_IN_DIFFERENCES, "absolute")
    assert absolute.estimate == pytest.approx(did, rel=1e-12)
    assert absolute.ci == pytest.approx((did - half, did + half), rel=1e-12)
    assert absolute.unit == "seconds"
    assert absolute.samples == {
        "ai_assisted": 80,
        "baseline": 70,
        "ai_assisted_pre": 60,
        "baseline_pre": 90,
    }
    relative = find(summary, "human_time_per_step", Design.DIFFERENCE_IN_DIFFERENCES, "relative")
    assert relative.estimate == pytest.approx(a1 / counterfactual - 1, rel=1e-12)
    assert relative.estimate == pytest.approx(did / counterfactual, rel=1e-12)
    log_ratio = math.log(a1 / counterfactual)
    assert relative.ci == pytest.approx(
        (math.expm1(log_ratio - log_half), math.expm1(log_ratio + log_half)), rel=1e-12
    )
    # the workload: AI arm -100 s-ish, baseline arm +20 s-ish: DiD near -170 s, well resolved
    assert -200 < did < -130 and absolute.ci[1] < 0


def test_difference_in_differences_of_a_proportion_and_a_rate() -> None:
    def p_var(g: Group) -> tuple[float, float]:
        p = g.accepted / g.outcomes
        return p, p * (1 - p) / g.outcomes

    (a1, va1), (a0, va0), (b1, vb1), (b0, vb0) = map(p_var, (A_PILOT, A_PRE, B_PILOT, B_PRE))
    did = (a1 - a0) - (b1 - b0)
    half = Z * math.sqrt(va1 + va0 + vb1 + vb0)
    plan = parse_plan(
        {
            "version": 1,
            "name": "p",
            "primary": {"kpi": "acceptance_rate", "target": "+2pp"},
            "guardrails": [{"kpi": "policy_violations_per_1000", "margin": "50%"}],
            "pilot_period": "2026-10-01/2026-10-31",
        }
    )
    c = compare_designs(PILOT, PRE, "both")[0]
    summary = summarize(c, PRE, [x.kpi for x in plan.criteria], plan.alpha)
    item = find(summary, "acceptance_rate", Design.DIFFERENCE_IN_DIFFERENCES, "absolute")
    assert (item.estimate, item.unit) == (pytest.approx(did, rel=1e-12), "ratio")
    assert item.ci == pytest.approx((did - half, did + half), rel=1e-12)

    def r_var(g: Group) -> tuple[float, float]:
        rate = g.violations / g.steps
        return rate, rate / g.steps  # Poisson: var(events) = mean

    (a1, va1), (a0, va0), (b1, vb1), (b0, vb0) = map(r_var, (A_PILOT, A_PRE, B_PILOT, B_PRE))
    did = (a1 - a0) - (b1 - b0)
    half = Z * math.sqrt(va1 + va0 + vb1 + vb0)
    item = find(summary, "policy_violations_per_1000", Design.DIFFERENCE_IN_DIFFERENCES, "absolute")
    assert item.unit == "per_1000"  # shown per 1,000 steps, like the scorecard row
    assert item.estimate == pytest.approx(1000 * did, rel=1e-12)
    assert item.ci == pytest.approx((1000 * (did - half), 1000 * (did + half)), rel=1e-12)


def test_concurrent_and_before_after_are_welch_on_the_raw_values() -> None:
    c = compare_designs(PILOT, PRE, "both")[0]
    summary = summarize(c, PRE)
    for design, other in (
        (Design.CONCURRENT, B_PILOT.human),
        (Design.BEFORE_AFTER, A_PRE.human + B_PRE.human),  # every run of the pre-period
    ):
        estimate, low, high = welch(A_PILOT.human, other)
        item = find(summary, "human_time_per_step", design, "absolute")
        assert item.estimate == pytest.approx(estimate, rel=1e-12)
        assert item.ci == pytest.approx((low, high), rel=1e-9)
        assert item.method == "welch"
        # relative: the delta method on the log ratio of the means
        (m1, v1), (m0, v0) = mean_var(A_PILOT.human), mean_var(other)
        half = Z * math.sqrt(v1 / m1**2 + v0 / m0**2)
        item = find(summary, "human_time_per_step", design, "relative")
        assert item.estimate == pytest.approx(m1 / m0 - 1, rel=1e-12)
        assert item.ci == pytest.approx(
            (math.expm1(math.log(m1 / m0) - half), math.expm1(math.log(m1 / m0) + half)),
            rel=1e-12,
        )
    item = find(summary, "human_time_per_step", Design.BEFORE_AFTER, "absolute")
    assert item.samples == {"ai_assisted": 80, "pre_period": 150}
    # cycle time reads the runs, correction time per step the corrections over all steps
    estimate, low, high = welch(A_PILOT.runs, A_PRE.runs + B_PRE.runs)
    item = find(summary, "cycle_time", Design.BEFORE_AFTER, "absolute")
    assert (item.estimate, item.ci) == (
        pytest.approx(estimate, rel=1e-12),
        pytest.approx((low, high), rel=1e-9),
    )
    correction_ai = sum(A_PILOT.correction) / A_PILOT.steps
    correction_base = sum(B_PILOT.correction) / B_PILOT.steps
    item = find(summary, "correction_time_per_step", Design.CONCURRENT, "absolute")
    assert item.estimate == pytest.approx(correction_ai - correction_base, rel=1e-12)
    assert {e.kpi for e in summary.estimates} == set(HEADLINE_KPIS)
    assert len(summary.estimates) == len(HEADLINE_KPIS) * 3 * 2  # 3 designs, 2 scales


def test_what_is_unavailable_and_why() -> None:
    rollout = compare_designs(PILOT, PRE, "rollout")[0]
    summary = summarize(rollout, PRE)
    assert summary.used is Design.BEFORE_AFTER
    assert {e.design for e in summary.estimates} == {Design.BEFORE_AFTER}
    assert summary.unavailable == {
        Design.CONCURRENT: "no baseline cohort in the pilot window",
        Design.DIFFERENCE_IN_DIFFERENCES: "no baseline cohort in the pilot window",
    }
    # a concurrent pilot whose pre-period carries one label only: no DiD, but before/after
    pre = PrePeriod(window(("both", BASE, B_PRE)), "p")
    summary = summarize(compare_designs(PILOT, pre, "both")[0], pre)
    assert summary.unavailable == {
        Design.DIFFERENCE_IN_DIFFERENCES: "the pre-period has no runs labelled ai_assisted "
        "(each arm's own past is needed)"
    }
    assert any("trend, season" in n for n in summary.notes)


def test_a_pre_period_that_already_used_ai_is_flagged() -> None:
    used = group(3, 60, 450.0, 0.78)
    used.assisted = 12
    pre = PrePeriod(window(("both", AI, used), ("both", BASE, B_PRE)), "p")
    summary = summarize(compare_designs(PILOT, pre, "both")[0], pre)
    assert any("12 AI-assisted steps" in n and "not a clean before" in n for n in summary.notes)


def test_undefined_effects_give_no_number_rather_than_a_wrong_one() -> None:
    # one step per group: no variance; a relative effect with a counterfactual <= 0
    one = Group([10.0], [30.0], 1, 1)
    absolute, relative = difference_in_differences(
        *(x.stats(_human()) for x in _groups_of(one, one, one, Group([100.0], [], 0, 0))),
        ALPHA,
    )
    assert absolute.estimate == pytest.approx(90.0)  # (10 - 10) - (10 - 100)
    assert not absolute.defined  # one unit per group: no spread, no interval
    assert math.isnan(float(relative.estimate))  # counterfactual 10 + (10 - 100) < 0
    assert not relative.defined


def _human():
    from aikpi_collector import catalogue

    return catalogue.kpi("human_time_per_step")


def _groups_of(a1: Group, a0: Group, b1: Group, b0: Group):
    pilot = window(("w", AI, a1), ("w", BASE, b1))
    pre = window(("w", AI, a0), ("w", BASE, b0))
    g = groups(compare_designs(pilot, PrePeriod(pre, "p"), "w")[0], pre)
    return g.pilot_ai, g.pre_ai, g.pilot_baseline, g.pre_baseline


# --- scorecards, the plan's verdict and the outputs ---------------------------------------------

PLAN = parse_plan(
    {
        "version": 1,
        "name": "rollout-q4",
        "min_samples_per_cohort": 30,
        "primary": {"kpi": "human_time_per_step", "target": "-10%"},
        "guardrails": [{"kpi": "acceptance_rate", "margin": "2pp"}],
        "pilot_period": "2026-10-01/2026-10-31",
        "baseline_period": "2026-08-01/2026-08-31",
    }
)


def test_the_verdict_of_a_workflow_without_baseline_is_before_after() -> None:
    cards = build_scorecards(PILOT, "last 31d", plan=PLAN, pre=PRE)
    by_name = {card.workflow: card for card in cards}
    rollout = by_name["rollout"]
    assert rollout.extra["design"] == "before_after"
    verdict = rollout.extra["plan"]
    primary = verdict.criteria[0]
    assert primary.have_per_cohort == {AI: R_PILOT.steps, BASE: R_PRE.steps}
    assert primary.estimate == pytest.approx(
        statistics.fmean(R_PILOT.human) / statistics.fmean(R_PRE.human) - 1, rel=1e-12
    )
    assert primary.status.value == "pass"  # 200 s vs 400 s with 120 / 150 steps
    # the designs section lists the plan's criteria, not the headline KPIs
    assert {e.kpi for e in rollout.extra["designs"].estimates} == {
        "human_time_per_step",
        "acceptance_rate",
    }
    assert by_name["both"].extra["design"] == "concurrent"

    data = {c["workflow"]: c for c in json.loads(to_json(cards))["scorecards"]}
    block = data["rollout"]["plan"]
    assert list(block)[:3] == ["name", "verdict", "design"]
    assert block["design"] == "before_after"
    assert data["rollout"]["design"] == "before_after"
    assert data["both"]["plan"]["design"] == "concurrent"
    assert data["rollout"]["pre_period"] == {
        "period": "2026-08-01/2026-08-31",
        "alpha": 0.05,
        "unavailable": {
            "concurrent": "no baseline cohort in the pilot window",
            "difference_in_differences": "no baseline cohort in the pilot window",
        },
        "notes": [
            "before/after also measures whatever else changed since the pre-period "
            "(trend, season, staffing, mix of work)"
        ],
    }
    entries = data["both"]["designs"]
    assert {(e["kpi"], e["design"], e["scale"]) for e in entries} == {
        (k, d.value, s)
        for k in ("human_time_per_step", "acceptance_rate")
        for d in Design
        for s in ("absolute", "relative")
    }
    first = entries[0]
    assert set(first) == {
        "kpi",
        "design",
        "scale",
        "unit",
        "estimate",
        "ci",
        "interval",
        "method",
        "samples",
    }
    # the rows keep their shape; "baseline" holds the pre-period for a before/after card
    human = next(r for r in data["rollout"]["rows"] if r["name"] == "human_time_per_step")
    assert human["baseline"] == pytest.approx(statistics.fmean(R_PRE.human), rel=1e-9)


def test_text_outputs_name_the_design_of_every_number() -> None:
    cards = build_scorecards(PILOT, "last 31d", plan=PLAN, pre=PRE)
    by_name = {card.workflow: card for card in cards}
    lines = design_lines(by_name["both"])
    assert lines[0] == (
        "designs (pre-period 2026-08-01/2026-08-31; fixed 95 % intervals; the scorecard above "
        "is concurrent):"
    )
    did = next(line for line in lines if "human_time_per_step  difference-in-differences" in line)
    item = find(
        by_name["both"].extra["designs"],
        "human_time_per_step",
        Design.DIFFERENCE_IN_DIFFERENCES,
        "absolute",
    )
    low, high = item.ci
    assert f"{item.estimate / 60:+.1f} min [{low / 60:+.1f} min, {high / 60:+.1f} min]; " in did
    assert did.endswith(" %]")
    assert any(
        "difference-in-differences = (AI pilot - AI pre) - (baseline pilot - baseline pre)" in x
        for x in lines
    )
    markdown = to_markdown(cards)
    assert (
        "### rollout (last 31d; before/after: AI-assisted vs every run of the pre-period "
        "2026-08-01/2026-08-31)" in markdown
    )
    assert "| area | KPI | AI-assisted | pre-period | delta | verdict |" in markdown
    assert "| KPI | design | absolute [CI] | relative [CI] |" in markdown
    assert "design: before/after (AI-assisted (pilot window) vs every run of the pre-period)" in (
        markdown
    )
    assert "- concurrent: not available (no baseline cohort in the pilot window)" in markdown


def test_without_a_pre_period_the_json_only_gains_the_design_name() -> None:
    cards = build_scorecards(PILOT, "w", workflow="both", plan=PLAN)
    (card,) = json.loads(to_json(cards))["scorecards"]
    assert card["design"] == "concurrent" and card["plan"]["design"] == "concurrent"
    assert "designs" not in card and "pre_period" not in card
    assert design_lines(cards[0]) == []
