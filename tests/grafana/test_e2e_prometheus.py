"""End to end on real processes: SDK -> OTLP -> collector replicas -> Prometheus with the rules.

One module-scoped stack: collector replicas A (OTLP/HTTP) and B (OTLP/gRPC) share the workload
round robin and are scraped every second by Prometheus P1, which loads grafana/rules; a single
collector S receives the same spans and is scraped by P2 (the ground truth of one collector).
Then: the replica sums equal the single collector and the workload's own counts exactly; human
time is observed once per step (a decision's review + correction for an assisted step, the
duration for any other); a second decision on a step is dropped and counted; every recording
rule and every dashboard query returns data; the default page alert fires for the workflow
whose AI outcomes are bad. P1 also loads the demo pilot plan's rules for a pilot running now
(the checked-in file's pilot is over): its guardrail alert is pending for that workflow.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aikpi
import aikpi.testing
import pytest
from aikpi.semconv import COHORT, CORRELATION_ID, OUTCOME, SPAN_TYPE, STEP_NAME, WORKFLOW_NAME
from grafana_files import (
    RULES,
    dashboards,
    live_plan,
    live_plan_rules,
    panel_queries,
    rule_expressions,
    substitute,
)
from grafana_workload import RoundRobinExporter, Truth, run_wave
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context
from support.collector import CollectorProcess, running_collector
from support.prometheus import PrometheusProcess, running_prometheus

pytestmark = pytest.mark.slow

COLLECTOR_CONFIG = {"cardinality_limit": 120, "labor_cost": {"default_usd_per_hour": 60.0}}
WAVES = 4
EXACT_METRICS = {
    "aikpi_steps_total": ("workflow", "step", "cohort", "team", "status"),
    "aikpi_assisted_steps_total": ("workflow", "step", "cohort", "team"),
    "aikpi_outcomes_total": ("workflow", "step", "cohort", "team", "outcome"),
    "aikpi_workflows_total": ("workflow", "cohort", "team", "status"),
    "aikpi_tokens_total": ("workflow", "step", "cohort", "team", "model", "token_type"),
    "aikpi_cost_usd_total": ("workflow", "step", "cohort", "team", "model"),
    "aikpi_policy_violations_total": ("workflow", "step", "cohort", "team", "policy"),
    "aikpi_step_duration_seconds_count": ("workflow", "step", "cohort", "team"),
    "aikpi_workflow_duration_seconds_count": ("workflow", "cohort", "team"),
    "aikpi_review_seconds_count": ("workflow", "step", "cohort", "team"),
    "aikpi_review_seconds_sum": ("workflow", "step", "cohort", "team"),
    "aikpi_correction_seconds_count": ("workflow", "step", "cohort", "team"),
    "aikpi_correction_seconds_sum": ("workflow", "step", "cohort", "team"),
}


@dataclass
class Stack:
    replicas: PrometheusProcess  # P1: scrapes A and B, rules loaded
    single: PrometheusProcess  # P2: scrapes S
    truth: Truth
    exact_at: float  # a moment when every sample reflects the whole workload (before probes)
    a: CollectorProcess
    rule_files: list[Path]  # what P1 loaded


def _host_port(collector: CollectorProcess) -> str:
    return f"{collector.host}:{collector.metrics_port}"


def _sums(prom: PrometheusProcess, metric: str, at: float | None = None) -> dict:
    labels = ", ".join(EXACT_METRICS[metric])
    return _samples(prom, f"sum by ({labels}) ({metric})", at)


def _samples(prom: PrometheusProcess, expr: str, at: float | None = None) -> dict:
    out = {}
    for item in prom.query(expr, at=at):
        out[frozenset(item["metric"].items())] = float(item["value"][1])
    return out


def _all_match(prom: PrometheusProcess, truth: Truth) -> bool:
    return all(_sums(prom, metric) == truth.by(metric) for metric in EXACT_METRICS)


def _differences(prom: PrometheusProcess, truth: Truth) -> str:
    lines = []
    for metric in EXACT_METRICS:
        got, want = _sums(prom, metric), truth.by(metric)
        for key in sorted(set(got) | set(want), key=sorted):
            if got.get(key) != want.get(key):
                lines.append(
                    f"{metric}{dict(sorted(key))}: got {got.get(key)} want {want.get(key)}"
                )
    return "\n".join(lines[:40])


def _wait_exact(prom: PrometheusProcess, truth: Truth) -> None:
    try:
        prom.wait_for(lambda: _all_match(prom, truth), timeout=30)
    except TimeoutError:
        pytest.fail("Prometheus never matched the workload:\n" + _differences(prom, truth))


def _post(url: str, body: bytes, content_type: str = "application/x-protobuf") -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _probe_collector_health(a: CollectorProcess, round_: int) -> None:
    """Traffic only replica A sees: a rejected span, a step decided twice, a malformed
    request, a retried batch, more label sets than the cardinality limit."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.add_span_processor(SimpleSpanProcessor(HttpExporter(endpoint=a.traces_url)))
    tracer = provider.get_tracer("probe")
    bad = tracer.start_span(
        "step probe",
        attributes={
            SPAN_TYPE: "step",
            CORRELATION_ID: f"probe-{round_}",
            WORKFLOW_NAME: "probe",
            STEP_NAME: "probe",
            COHORT: "ai_assisted",
            OUTCOME: "maybe",  # not an outcome word: rejected
        },
    )
    bad.end()
    # one step decided twice (a copied token recorded in two processes): counts once
    step = SpanContext(
        random.getrandbits(128), random.getrandbits(64), True, TraceFlags(TraceFlags.SAMPLED)
    )
    for word in ("accepted", "overridden"):
        tracer.start_span(
            "outcome decided",
            context=set_span_in_context(NonRecordingSpan(step)),
            attributes={
                SPAN_TYPE: "outcome",
                CORRELATION_ID: f"probe-{round_}",
                WORKFLOW_NAME: "probe",
                STEP_NAME: "decided",
                COHORT: "ai_assisted",
                OUTCOME: word,
            },
        ).end()
    assert _post(a.traces_url, b"\x0a\xff garbage") == 400
    aikpi.configure(tracer_provider=provider)
    with aikpi.workflow("probe", cohort="baseline"), aikpi.step("spam") as step:
        for index in range(150):
            step.policy_violation(f"policy-{round_}-{index}")
    provider.force_flush()
    retried = encode_spans(memory.get_finished_spans()[-2:]).SerializeToString()
    assert _post(a.traces_url, retried) == 200  # an exporter retry of a counted batch
    provider.shutdown()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("e2e-prometheus")
    rule_files = [p for p in sorted(RULES.glob("*.yml")) if not p.name.endswith(".plan.rules.yml")]
    # the workload's few baseline samples per workflow: a minimum of 2 lets a guardrail alert
    rule_files.append(live_plan_rules(tmp, live_plan(min_samples_per_cohort=2)))
    with (
        running_collector(tmp / "a", COLLECTOR_CONFIG) as a,
        running_collector(tmp / "b", COLLECTOR_CONFIG) as b,
        running_collector(tmp / "s", COLLECTOR_CONFIG) as s,
        running_prometheus(
            tmp / "p1", targets=[_host_port(a), _host_port(b)], rule_files=rule_files
        ) as p1,
        running_prometheus(tmp / "p2", targets=[_host_port(s)]) as p2,
    ):
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(HttpExporter(endpoint=s.traces_url)))
        round_robin = RoundRobinExporter(
            [
                HttpExporter(endpoint=a.traces_url),
                GrpcExporter(endpoint=b.grpc_endpoint, insecure=True),
            ]
        )
        provider.add_span_processor(BatchSpanProcessor(round_robin, max_export_batch_size=16))
        # Prometheus applies new targets after a few seconds: start once both scrape, so the
        # first wave creates the series and later waves show up as increases.
        for prom, count in ((p1, 2), (p2, 1)):
            prom.wait_for(lambda prom=prom, count=count: len(prom.query("up == 1")) == count)
        aikpi.testing.reset()
        # signed outcome tokens, as in production
        aikpi.configure(tracer_provider=provider, token_key=secrets.token_hex(32))
        truth = Truth()
        try:
            for wave in range(WAVES):  # spread over scrapes, so rates see increases
                run_wave(truth, seed=wave)
                provider.force_flush()
                time.sleep(1.2)
            provider.shutdown()
            _wait_exact(p2, truth)
            _wait_exact(p1, truth)
            exact_at = time.time()
            for round_ in range(2):
                _probe_collector_health(a, round_)
                time.sleep(1.5)
            p1.wait_for(
                lambda: (
                    p1.query("aikpi_collector_duplicate_spans_total > 1")
                    and p1.query("sum(aikpi_collector_duplicate_decisions_total) == 2")
                    and p1.query("rate(aikpi_collector_label_sets_overflowed_total[1m]) > 0")
                ),
                timeout=30,
            )
            yield Stack(p1, p2, truth, exact_at, a, rule_files)
        finally:
            aikpi.testing.reset()


def test_replica_sums_equal_single_collector_and_workload_exactly(stack: Stack) -> None:
    for metric in EXACT_METRICS:
        expected = stack.truth.by(metric)
        assert expected, f"the workload produced no {metric}"
        replicas = _sums(stack.replicas, metric, at=stack.exact_at)
        single = _sums(stack.single, metric, at=stack.exact_at)
        assert replicas == single == expected, metric
    # both replicas really shared the work
    per_instance = stack.replicas.values("sum by (instance) (aikpi_outcomes_total)")
    assert len(per_instance) == 2 and all(v > 0 for v in per_instance.values())


@pytest.mark.parametrize("cohort", ["ai_assisted", "baseline"])
def test_human_time_is_observed_once_per_step(stack: Stack, cohort: str) -> None:
    """aikpi_human_seconds: one observation per step; a step done without AI output (every
    baseline step, a human-only step in an AI run) costs its duration, an assisted step the
    review + correction of its decision; assisted steps awaiting a decision have none."""
    by = f'sum by (workflow, step, cohort, team) (%s{{cohort="{cohort}"}})'
    at = stack.exact_at
    counts = _samples(stack.replicas, by % "aikpi_human_seconds_count", at)
    sums = _samples(stack.replicas, by % "aikpi_human_seconds_sum", at)
    durations = _samples(stack.replicas, by % "aikpi_step_duration_seconds_sum", at)
    want = {
        k: v
        for k, v in stack.truth.by("aikpi_human_seconds_count").items()
        if ("cohort", cohort) in k
    }
    assert want and counts == want
    decided = stack.truth.by("aikpi_human_seconds_sum")
    for key in want:
        if key in stack.truth.duration_is_human_time:
            assert sums[key] == durations[key], dict(key)
        else:
            assert sums[key] == decided[key], dict(key)
    # the AI cohort has both kinds of step, and steps still awaiting their decision
    if cohort == "ai_assisted":
        by_duration = want.keys() & stack.truth.duration_is_human_time
        assert by_duration and by_duration != want.keys()
        steps = _samples(stack.replicas, f'sum(aikpi_steps_total{{cohort="{cohort}"}})', at)
        assert sum(steps.values()) > sum(want.values())


def test_a_second_decision_on_a_step_counts_once(stack: Stack) -> None:
    """The probe decided one step twice per round: one outcome each, one dropped each."""
    assert stack.replicas.values(
        'sum by (outcome) (aikpi_outcomes_total{workflow="probe", step="decided"})'
    ) == {frozenset({("outcome", "accepted")}): 2.0}
    dropped = stack.replicas.values("sum by (instance) (aikpi_collector_duplicate_decisions_total)")
    assert sorted(dropped.values()) == [0.0, 2.0]
    assert dropped[frozenset({("instance", _host_port(stack.a))})] == 2.0


def test_every_rule_is_healthy_and_every_recording_rule_returns_data(stack: Stack) -> None:
    groups = stack.replicas.api("rules")["groups"]
    loaded = [rule for group in groups for rule in group["rules"]]
    expected = rule_expressions(stack.rule_files)
    assert len(loaded) == len(expected)
    for rule in loaded:
        assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))
    records = {name for path, name, _ in expected if not name[0].isupper()}

    def missing() -> list[str]:
        return [name for name in sorted(records) if not stack.replicas.query(name)]

    try:  # rule groups evaluate every second; give them a few rounds
        stack.replicas.wait_for(lambda: not missing(), timeout=10)
    except TimeoutError:
        pytest.fail(f"recording rules without data: {missing()}")
    # per-workflow objectives: both scopes (default 95 and incident-triage 97) record; the
    # probe's AI decisions put it in the default scope too
    expected = {
        frozenset({("slo", "ai-outcome"), ("workflow", "code-review"), ("objective", "95")}): 0.95,
        frozenset({("slo", "ai-outcome"), ("workflow", "probe"), ("objective", "95")}): 0.95,
        frozenset(
            {("slo", "ai-outcome"), ("workflow", "incident-triage"), ("objective", "97")}
        ): 0.97,
    }
    # the probe's series appear a few rule evaluations after its spans (slower under load)
    try:
        stack.replicas.wait_for(
            lambda: stack.replicas.values("slo:objective:ratio") == expected, timeout=20
        )
    except TimeoutError:
        assert stack.replicas.values("slo:objective:ratio") == expected


def _variable_values(prom: PrometheusProcess, definition: str, chosen: dict[str, str]) -> str:
    match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", definition)
    assert match, definition
    selector = substitute(match.group(1), chosen)
    label = match.group(2)
    values = sorted(
        {item["metric"][label] for item in prom.query(f"group by ({label}) ({selector})")}
    )
    assert values, f"variable {definition} has no values"
    # as Grafana does: regex-escape each value, then escape the backslashes for PromQL
    return "(" + "|".join(re.escape(v).replace("\\", "\\\\") for v in values) + ")"


@pytest.mark.parametrize("board_name", sorted(dashboards()))
def test_every_dashboard_query_returns_data(stack: Stack, board_name: str) -> None:
    board = dashboards()[board_name]
    chosen: dict[str, str] = {}
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":  # in order: later variables use earlier ones
            chosen[variable["name"]] = _variable_values(
                stack.replicas, variable["definition"], chosen
            )
    empty = []
    for panel, target in panel_queries(board):
        expr = substitute(target["expr"], chosen, rate_interval="2m", range_="5m")
        result = stack.replicas.query(expr)
        if not result:
            empty.append(f"{panel['title']} [{target['refId']}]: {expr}")
        if target.get("exemplar"):
            raw = expr[expr.index("rate(") + 5 : expr.index("[")]
            now = time.time()
            exemplars = stack.replicas.api(
                "query_exemplars", query=raw, start=f"{now - 300:.0f}", end=f"{now:.0f}"
            )
            labels = [e["labels"] for series in exemplars for e in series["exemplars"]]
            assert labels, f"no exemplars for {panel['title']}"
            for lab in labels:  # what the data source's exemplar links need
                assert re.fullmatch(r"[0-9a-f]{32}", lab["trace_id"]), lab
                assert lab["correlation_id"], lab
    assert not empty, "queries without data:\n" + "\n".join(empty)


def test_default_page_alert_fires_for_the_burning_workflow(stack: Stack) -> None:
    alerts = stack.replicas.wait_for(lambda: stack.replicas.firing_alerts(), timeout=20)
    pages = [a["labels"] for a in alerts if a["labels"]["alertname"] == "AikpiErrorBudgetBurnPage"]
    # incident-triage's AI outcomes are ~70 % bad (budget 3 %): it pages; code-review's
    # ~15 % bad (budget 5 %, burn ~3x) may ticket but never pages.
    assert pages == [
        {
            "alertname": "AikpiErrorBudgetBurnPage",
            "severity": "page",
            "slo": "ai-outcome",
            "workflow": "incident-triage",
            "objective": "97",
        }
    ], json.dumps(alerts)


def test_pilot_guardrail_alert_is_pending_for_the_breaching_workflow(stack: Stack) -> None:
    """incident-triage's AI outcomes are ~70 % bad, its baseline's ~3 %: its acceptance falls by
    far more than the plan's 3 pp margin, with more than 2 samples per cohort. The alert holds
    for its ``for:`` of 1h, so it is pending, with exact labels."""

    def pending() -> list[dict[str, str]]:
        return [
            a["labels"]
            for a in stack.replicas.api("alerts")["alerts"]
            if a["labels"]["alertname"] == "AikpiPilotGuardrailBreached" and a["state"] == "pending"
        ]

    alerts = stack.replicas.wait_for(pending, timeout=20)
    assert {
        "alertname": "AikpiPilotGuardrailBreached",
        "severity": "ticket",
        "plan": "demo-pilot-q4",
        "workflow": "incident-triage",
        "kpi": "acceptance_rate",
        "role": "guardrail",
        "unit": "pp",
    } in alerts, json.dumps(alerts)
    estimate = stack.replicas.values(
        'plan:aikpi_criterion_estimate:ratio{workflow="incident-triage", kpi="acceptance_rate"}'
    )
    assert len(estimate) == 1 and next(iter(estimate.values())) < -0.03
