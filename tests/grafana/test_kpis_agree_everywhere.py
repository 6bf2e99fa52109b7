"""One KPI definition everywhere: the report's JSON, a real Prometheus evaluating the generated
recording rules, and ground truth computed here from a known workload all agree.

The workload (issue "Numbers you can trust", proof): AI-assisted runs that contain human-only
steps, assisted steps decided late (an outcome span parented to its step), two workflows
with different cohort proportions and SLO objectives, two teams with their own labour rates,
explicit token costs, violations and reopened runs. Spans carry explicit times and are sent
by the official OTLP/HTTP exporter to the real collector, scraped every second.

A pilot plan's live view agrees too: its rules' estimates in Prometheus equal the report's
``--plan`` estimates and the truth (a pilot running now; its rules read the workflows' totals
since the pilot's first midnight).

``increase()`` / ``rate()`` extrapolate to the window's edges, so Prometheus never returns
exact counts. As in ``tests/demo/test_demo_prometheus.py``, the workload is sent twice, so
every series exists (with the same first value) before the measured increase: the factor is
then common to every series. Ratios and means must equal the truth exactly; window totals
must equal the truth times that one factor, which the test measures from the step count.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from aikpi import semconv
from grafana_files import RULES, live_plan, live_plan_rules
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    Status,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)
from support.collector import running_collector
from support.prometheus import PrometheusProcess, running_prometheus

pytestmark = pytest.mark.slow

SPEC = RULES.parent / "slo.yaml"
RATES = {"default": 60.0, "sre": 90.0}
OBJECTIVES = {"incident-triage": 0.97, "code-review": 0.95}  # grafana/slo.yaml
T0 = 1_780_000_000 * 10**9
"""Start of the simulated spans (unix nanoseconds)."""


# --- the known workload -------------------------------------------------------------------


@dataclass
class Step:
    name: str
    seconds: float
    assisted: bool
    outcome: str | None = None
    review: float | None = None
    correction: float | None = None
    late: bool = False
    cost: float = 0.0
    tokens: tuple[int, int] = (0, 0)
    violations: int = 0
    error: bool = False


@dataclass
class Run:
    workflow: str
    cohort: str
    team: str | None
    status: str
    steps: list[Step] = field(default_factory=list)
    reopened: bool = False


def _ai_run(workflow: str, team: str | None, i: int) -> Run:
    """An AI-assisted run: an assisted draft (decided inline or late) and a human-only check."""
    words = ("accepted", "edited", "overridden", "accepted", "escalated", "edited", "rejected")
    word = words[i % len(words)]
    draft = Step(
        "draft",
        seconds=30.0 + 7 * (i % 5),
        assisted=True,
        outcome=word,
        review=45.0 + 11 * (i % 4),
        correction=120.0 + 30 * (i % 3) if word == "edited" else None,
        late=i % 3 == 0,
        cost=0.0125 * (1 + i % 4),
        tokens=(900 + 50 * (i % 6), 150 + 10 * (i % 3)),
        violations=1 if i % 9 == 4 else 0,
        error=i % 11 == 10,
    )
    check = Step("check", seconds=240.0 + 20 * (i % 6), assisted=False)  # a person, no AI
    status = "abandoned" if i % 8 == 7 else "completed"
    return Run(workflow, "ai_assisted", team, status, [draft, check], reopened=i % 6 == 1)


def _baseline_run(workflow: str, team: str | None, i: int) -> Run:
    """A baseline run: both steps by people; one decision on the human draft."""
    draft = Step(
        "draft",
        seconds=900.0 + 60 * (i % 7),
        assisted=False,
        outcome="accepted" if i % 5 else "edited",
        review=30.0,
        violations=1 if i % 13 == 3 else 0,
    )
    check = Step("check", seconds=300.0 + 15 * (i % 4), assisted=False)
    status = "abandoned" if i % 10 == 9 else "completed"
    return Run(workflow, "baseline", team, status, [draft, check], reopened=i % 9 == 2)


def workload() -> list[Run]:
    """Two workflows in different cohort proportions (3:1 and 1:3), two teams."""
    runs = []
    for i in range(36):
        runs.append(_ai_run("incident-triage", "sre" if i % 2 else None, i))
    for i in range(12):
        runs.append(_baseline_run("incident-triage", "sre" if i % 2 else None, i))
    for i in range(12):
        runs.append(_ai_run("code-review", None, i + 100))
    for i in range(36):
        runs.append(_baseline_run("code-review", "sre" if i % 3 == 0 else None, i))
    return runs


def send(runs: list[Run], exporter_endpoint: str, seed: int) -> None:
    """Every run as OTel spans with explicit times, through the official OTLP/HTTP exporter."""
    provider = TracerProvider()
    # one export request for the whole wave: a scrape sees none of it or all of it, so every
    # series first appears with its whole value (what makes the window's factor common)
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=exporter_endpoint),
            max_queue_size=4096,
            max_export_batch_size=4096,
            schedule_delay_millis=600_000,
        )
    )
    tracer = provider.get_tracer("known-workload")
    for index, run in enumerate(runs):
        dims = {
            semconv.WORKFLOW_NAME: run.workflow,
            semconv.COHORT: run.cohort,
            semconv.CORRELATION_ID: f"RUN-{seed}-{index}",
        }
        if run.team:
            dims[semconv.TEAM] = run.team
        start = T0 + index * 10**12
        now = start
        root = tracer.start_span("workflow", start_time=start, attributes=dims)
        parent = set_span_in_context(root)
        for step in run.steps:
            attrs = {
                **dims,
                semconv.SPAN_TYPE: "step",
                semconv.STEP_NAME: step.name,
                semconv.STEP_ASSISTED: step.assisted,
            }
            if step.outcome and not step.late:
                attrs[semconv.OUTCOME] = step.outcome
                for key, value in (
                    (semconv.REVIEW_SECONDS, step.review),
                    (semconv.CORRECTION_SECONDS, step.correction),
                ):
                    if value is not None:
                        attrs[key] = value
            span = tracer.start_span(
                f"step {step.name}", context=parent, start_time=now, attributes=attrs
            )
            if step.tokens != (0, 0):
                call = tracer.start_span(
                    "chat",
                    context=set_span_in_context(span),
                    start_time=now,
                    attributes={
                        **dims,
                        semconv.STEP_NAME: step.name,
                        semconv.GEN_AI_OPERATION_NAME: "chat",
                        semconv.GEN_AI_REQUEST_MODEL: "gpt-4o",
                        semconv.GEN_AI_USAGE_INPUT_TOKENS: step.tokens[0],
                        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: step.tokens[1],
                        semconv.COST_USD: step.cost,
                    },
                )
                call.end(end_time=now + 10**9)
            for _ in range(step.violations):
                span.add_event(semconv.POLICY_VIOLATION_EVENT, {semconv.POLICY_NAME: "pii"})
            if step.error:
                span.set_status(Status(StatusCode.ERROR))
            now += round(step.seconds * 1e9)
            span.end(end_time=now)
            if step.outcome and step.late:  # decided later, parented to the step span
                step_context = span.get_span_context()
                remote = NonRecordingSpan(
                    SpanContext(
                        step_context.trace_id,
                        step_context.span_id,
                        is_remote=True,
                        trace_flags=TraceFlags(TraceFlags.SAMPLED),
                    )
                )
                late = {
                    **dims,
                    semconv.SPAN_TYPE: "outcome",
                    semconv.STEP_NAME: step.name,
                    semconv.OUTCOME: step.outcome,
                    semconv.REVIEW_SECONDS: step.review,
                }
                if step.correction is not None:
                    late[semconv.CORRECTION_SECONDS] = step.correction
                decided = tracer.start_span(
                    "outcome", context=set_span_in_context(remote), attributes=late
                )
                decided.end()
        root.set_attribute(semconv.SPAN_TYPE, "workflow")
        root.set_attribute(semconv.WORKFLOW_STATUS, run.status)
        root.end(end_time=now)
        if run.reopened:
            event = tracer.start_span(
                "reopened",
                attributes={
                    **dims,
                    semconv.SPAN_TYPE: "workflow_event",
                    semconv.WORKFLOW_EVENT: "reopened",
                },
            )
            event.end()
    provider.shutdown()


# --- ground truth, from the workload alone ------------------------------------------------


class Truth:
    """The KPIs of one workflow and cohort (the design's formulas, computed here)."""

    def __init__(self, runs: list[Run], workflow: str, cohort: str) -> None:
        self.runs = [r for r in runs if r.workflow == workflow and r.cohort == cohort]
        steps = [(r, s) for r in self.runs for s in r.steps]
        self.steps = len(steps)
        outcomes = [s.outcome for _, s in steps if s.outcome]
        self.outcomes = len(outcomes)
        self.acceptance = sum(w in ("accepted", "edited") for w in outcomes) / len(outcomes)
        self.override = outcomes.count("overridden") / len(outcomes)
        human = []
        labour = 0.0
        for run, step in steps:
            seconds = (
                (step.review or 0.0) + (step.correction or 0.0)
                if step.assisted and cohort == "ai_assisted"
                else step.seconds
            )
            human.append(seconds)
            labour += seconds / 3600 * RATES.get(run.team or "none", RATES["default"])
        self.human_per_step = sum(human) / len(human)
        self.cost = sum(s.cost for _, s in steps)
        used = sum(w in ("accepted", "edited") for w in outcomes)
        self.cost_per_accepted = self.cost / used
        completed = sum(r.status == "completed" for r in self.runs)
        self.cost_per_completed_run = (self.cost + labour) / completed
        self.priced_steps = sum(
            RATES.get(r.team or "none", RATES["default"]) / 3600 for r, _ in steps
        )
        bad = sum(w in ("overridden", "escalated", "rejected") for w in outcomes)
        errors = sum(s.error for _, s in steps)
        violations = sum(s.violations for _, s in steps)
        self.sli = 1 - min(1.0, (bad + errors + violations) / (len(outcomes) + errors))
        self.completed = completed
        self.reopen = sum(r.reopened for r in self.runs) / completed
        self.violations_per_1000 = 1000 * violations / len(steps)


def net_gain(ai: Truth, baseline: Truth) -> float:
    return (baseline.human_per_step - ai.human_per_step) * ai.priced_steps - ai.cost


# --- the test ------------------------------------------------------------------------------


def _value(prom: PrometheusProcess, expr: str, at: float) -> float:
    result = prom.query(expr, at=at)
    assert len(result) == 1, (expr, result)
    return float(result[0]["value"][1])


def _rule(prom: PrometheusProcess, at: float, record: str, **labels: str) -> float:
    """The value of ``record{labels}`` at ``at`` (exactly one series)."""
    matchers = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return _value(prom, f"{record}{{{matchers}}}", at)


def _report(prom: PrometheusProcess, at: float, *args: str) -> dict[str, dict]:
    """``aikpi-collector report`` (JSON, the alerts' SLO spec) at ``at``: card per workflow."""
    report = subprocess.run(
        [
            sys.executable,
            "-m",
            "aikpi_collector",
            "report",
            "--prometheus",
            prom.url,
            "--at",
            f"{at:.3f}",
            "--format",
            "json",
            "--slo-spec",
            str(SPEC),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert report.returncode == 0, report.stderr
    return {c["workflow"]: c for c in json.loads(report.stdout)["scorecards"]}


PLAN = live_plan(
    name="agree-pilot",
    workflows=list(OBJECTIVES),
    min_samples_per_cohort=2,
    primary={"kpi": "human_time_per_step", "target": "-10%"},
    guardrails=[
        {"kpi": "acceptance_rate", "margin": "3pp"},  # pp of a proportion
        {"kpi": "reopen_rate", "margin": "50%"},  # relative proportion
        {"kpi": "policy_violations_per_1000", "margin": "50%"},  # relative rate
    ],
)
"""A pilot running now over the known workload: one criterion of each estimate kind."""


def _plan_truth(ai: Truth, base: Truth) -> dict[str, tuple[float, float, float]]:
    """kpi -> (estimate, AI samples, baseline samples) from the workload alone."""
    return {
        "human_time_per_step": (ai.human_per_step / base.human_per_step - 1, ai.steps, base.steps),
        "acceptance_rate": (ai.acceptance - base.acceptance, ai.outcomes, base.outcomes),
        "reopen_rate": (ai.reopen / base.reopen - 1, ai.completed, base.completed),
        "policy_violations_per_1000": (
            ai.violations_per_1000 / base.violations_per_1000 - 1,
            ai.steps,
            base.steps,
        ),
    }


def _check_plan(prom: PrometheusProcess, runs: list[Run], at: float, tmp_path: Path) -> None:
    """The plan's rules, the report's ``--plan`` verdict and the truth: the same estimates;
    samples equal to the truth times the rules' window factor (steps record / true steps)."""
    plan_file = tmp_path / "agree-pilot.yaml"
    plan_file.write_text(yaml.safe_dump(PLAN), encoding="utf-8")
    cards = _report(prom, at, "--plan", str(plan_file))

    def rule(record: str, **labels: str) -> float:
        return _rule(prom, at, record, plan="agree-pilot", **labels)

    for workflow in OBJECTIVES:
        ai, base = Truth(runs, workflow, "ai_assisted"), Truth(runs, workflow, "baseline")
        criteria = {c["kpi"]: c for c in cards[workflow]["plan"]["criteria"]}
        factor = rule("plan:aikpi_steps:increase", workflow=workflow, cohort="ai_assisted")
        factor /= ai.steps
        base_steps = rule("plan:aikpi_steps:increase", workflow=workflow, cohort="baseline")
        assert base_steps == pytest.approx(base.steps * factor, rel=1e-9)
        for kpi, (estimate, have_ai, have_base) in _plan_truth(ai, base).items():
            live = rule("plan:aikpi_criterion_estimate:ratio", workflow=workflow, kpi=kpi)
            assert live == pytest.approx(estimate, rel=1e-9), (workflow, kpi)
            # the JSON rounds estimates to 6 decimals
            assert criteria[kpi]["estimate"] == pytest.approx(estimate, abs=5e-7), (workflow, kpi)
            for cohort, have in (("ai_assisted", have_ai), ("baseline", have_base)):
                samples = rule(
                    "plan:aikpi_criterion_samples:increase",
                    workflow=workflow,
                    kpi=kpi,
                    cohort=cohort,
                )
                assert samples == pytest.approx(have * factor, rel=1e-9), (workflow, kpi, cohort)


def _steps_total(prom: PrometheusProcess) -> float:
    result = prom.query("sum(aikpi_steps_total)")
    return float(result[0]["value"][1]) if result else 0.0


def test_report_rules_and_truth_agree(tmp_path: Path) -> None:
    runs = workload()
    config = {"labor_cost": {"default_usd_per_hour": 60.0, "teams": {"sre": 90.0}}}
    with running_collector(tmp_path / "c", config) as collector:
        target = f"{collector.host}:{collector.metrics_port}"
        rule_files = [*sorted(RULES.glob("*.yml")), live_plan_rules(tmp_path, PLAN)]
        with running_prometheus(tmp_path / "p", targets=[target], rule_files=rule_files) as prom:
            prom.wait_for(lambda: prom.query("up == 1"), timeout=30)  # first scrape first
            steps = sum(len(r.steps) for r in runs)
            send(runs, collector.traces_url, seed=1)
            prom.wait_for(lambda: _steps_total(prom) == steps, timeout=30)
            time.sleep(3.0)  # a plateau of scrapes: every series exists before the increase
            send(runs, collector.traces_url, seed=2)
            prom.wait_for(lambda: _steps_total(prom) == 2 * steps, timeout=30)
            time.sleep(4.0)  # scrapes of the final values, and rule evaluations after them
            at = time.time()
            # the report's window ends where the value rules were last evaluated (one group,
            # one timestamp): a window total and a rate over the same range then differ by
            # exactly the range, 1h, whatever the extrapolation
            gain_rule = "workflow:aikpi_net_productivity_gain_usd_per_hour:rate1h"
            evaluated = [float(r["value"][1]) for r in prom.query(f"timestamp({gain_rule})", at=at)]
            assert len(set(evaluated)) == 1, evaluated
            at_rules = evaluated[0]
            cards = _report(prom, at_rules, "--window", "1h")

            def rule(record: str, **labels: str) -> float:
                return _rule(prom, at, record, **labels)

            factors = []
            for workflow, objective in OBJECTIVES.items():
                ai = Truth(runs, workflow, "ai_assisted")
                base = Truth(runs, workflow, "baseline")
                card = cards[workflow]
                rows = {row["name"]: row for row in card["rows"] if row["name"]}
                # the window's extrapolation factor, common to every series
                factor = rows["steps"]["ai_assisted"] / ai.steps
                factors.append(factor)
                assert rows["steps"]["baseline"] == pytest.approx(base.steps * factor, rel=1e-9)
                checks = {
                    "human_time_per_step": (ai.human_per_step, base.human_per_step),
                    "acceptance_rate": (ai.acceptance, base.acceptance),
                    "override_rate": (ai.override, None),  # a baseline cannot override
                    "cost_per_accepted_outcome": (ai.cost_per_accepted, base.cost_per_accepted),
                    "cost_per_completed_run": (
                        ai.cost_per_completed_run,
                        base.cost_per_completed_run,
                    ),
                }
                for name, (want_ai, want_base) in checks.items():
                    record = f"workflow_cohort:aikpi_{name}:ratio_rate1h"
                    # the report equals the truth
                    assert rows[name]["ai_assisted"] == pytest.approx(want_ai, rel=1e-9), name
                    if want_base is None:
                        assert rows[name]["baseline"] is None, name
                    else:
                        assert rows[name]["baseline"] == pytest.approx(want_base, rel=1e-9), name
                    # Prometheus's recording rule equals the truth
                    got = rule(record, workflow=workflow, cohort="ai_assisted")
                    assert got == pytest.approx(want_ai, rel=1e-9), (name, workflow)
                    if want_base is not None:
                        got = rule(record, workflow=workflow, cohort="baseline")
                        assert got == pytest.approx(want_base, rel=1e-9), (name, workflow)
                    else:
                        assert not prom.query(
                            f'{record}{{workflow="{workflow}", cohort="baseline"}}', at=at
                        ), name
                # net gain: a window total in the report, a per-hour pace in the rules; both
                # are the truth times the window's factor (rules: per second of 1h)
                gain = net_gain(ai, base)
                assert rows["net_productivity_gain_usd"]["ai_assisted"] == pytest.approx(
                    gain * factor, rel=1e-9
                )
                per_hour = rule(gain_rule, workflow=workflow)
                assert per_hour == pytest.approx(
                    rows["net_productivity_gain_usd"]["ai_assisted"], rel=1e-9
                )
                # error budget: the same SLI and budget as the SLO rules, per workflow objective
                sli_row = next(r for r in card["rows"] if r["kpi"].startswith("AI outcome SLI"))
                assert sli_row["kpi"] == f"AI outcome SLI (SLO {objective * 100:g} %)"
                assert sli_row["ai_assisted"] == pytest.approx(ai.sli, rel=1e-9)
                error_ratio = rule(
                    "slo:sli_error:ratio_rate1h", slo="ai-outcome", workflow=workflow
                )
                assert 1 - error_ratio == pytest.approx(ai.sli, rel=1e-9)
                budget = next(r for r in card["rows"] if r["kpi"] == "error budget left")
                want_budget = 1 - (1 - ai.sli) / (1 - objective)
                assert budget["ai_assisted"] == pytest.approx(want_budget, rel=1e-9)
                burn = rule("slo:burn_rate:ratio", slo="ai-outcome", workflow=workflow, window="1h")
                assert 1 - burn == pytest.approx(want_budget, rel=1e-9)
            # all workflows: the net gain is the sum of the workflows' gains
            total = cards["all workflows"]
            total_rows = {row["name"]: row for row in total["rows"] if row["name"]}
            gains = [
                next(r for r in cards[w]["rows"] if r["name"] == "net_productivity_gain_usd")[
                    "ai_assisted"
                ]
                for w in OBJECTIVES
            ]
            assert total_rows["net_productivity_gain_usd"]["ai_assisted"] == pytest.approx(
                sum(gains), rel=1e-12
            )
            assert max(factors) == pytest.approx(min(factors), rel=1e-9)
            _check_plan(prom, runs, at, tmp_path)
