"""A known workload for the receiver tests, and its ground truth computed independently.

Spans are made by the real OpenTelemetry SDK (``TracerProvider`` + in-memory exporter) with
the contract attributes from ``aikpi.semconv``; the expected metric samples are computed
here by plain arithmetic over the same run descriptions, never by the collector's engine.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aikpi import semconv
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

WORKFLOWS = ("incident-triage", "billing-dispute")
STEP = "draft-reply"
MODEL = "rx-test-model"
COST_PER_CALL = 0.25
"""An explicit ``aikpi.cost.usd`` (exact in binary) so no price table is involved."""
OUTCOME_CYCLE = tuple(semconv.Outcome)

Key = tuple[str, frozenset[tuple[str, str]]]


@dataclass(frozen=True)
class Run:
    """One workflow run: a workflow span, a step span, and an LLM call inside the step."""

    index: int
    workflow: str
    cohort: str
    team: str | None
    outcome: str
    step_error: bool
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int


def make_runs(count: int, start: int = 0) -> list[Run]:
    """``count`` deterministic runs (indices ``start``..); varied labels, outcomes, tokens."""
    runs = []
    for i in range(start, start + count):
        runs.append(
            Run(
                index=i,
                workflow=WORKFLOWS[i % 2],
                cohort=("ai_assisted", "baseline")[(i // 2) % 2],
                team=(None, "alpha", "beta")[i % 3],
                outcome=OUTCOME_CYCLE[i % len(OUTCOME_CYCLE)].value,
                step_error=i % 7 == 6,
                input_tokens=100 + i,
                output_tokens=10 + i % 13,
                cache_read_tokens=i % 5,
            )
        )
    return runs


def build_spans(
    runs: Sequence[Run], *, bad_outcome_index: int | None = None, service: str = "rx-test"
) -> list[ReadableSpan]:
    """Finished SDK spans for ``runs``; the run at ``bad_outcome_index`` gets outcome "bogus"."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("rx-workload")
    for run in runs:
        dims: dict[str, Any] = {
            semconv.CORRELATION_ID: f"run-{run.index}",
            semconv.WORKFLOW_NAME: run.workflow,
            semconv.COHORT: run.cohort,
        }
        if run.team is not None:
            dims[semconv.TEAM] = run.team
        with tracer.start_as_current_span(
            f"workflow {run.workflow}",
            attributes={
                **dims,
                semconv.SPAN_TYPE: semconv.SpanType.WORKFLOW.value,
                semconv.WORKFLOW_STATUS: semconv.WorkflowStatus.COMPLETED.value,
            },
        ):
            step_dims = {**dims, semconv.STEP_NAME: STEP}
            with tracer.start_as_current_span(
                f"step {STEP}",
                attributes={**step_dims, semconv.SPAN_TYPE: semconv.SpanType.STEP.value},
                record_exception=False,
                set_status_on_exception=False,
            ) as step_span:
                with tracer.start_as_current_span(
                    f"chat {MODEL}",
                    attributes={
                        **step_dims,
                        semconv.GEN_AI_OPERATION_NAME: "chat",
                        semconv.GEN_AI_REQUEST_MODEL: MODEL,
                        semconv.GEN_AI_PROVIDER_NAME: "rx-provider",
                        semconv.GEN_AI_USAGE_INPUT_TOKENS: run.input_tokens,
                        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: run.output_tokens,
                        semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: run.cache_read_tokens,
                        semconv.COST_USD: COST_PER_CALL,
                    },
                ):
                    pass
                if run.step_error:
                    step_span.set_status(Status(StatusCode.ERROR, "boom"))
                else:
                    word = "bogus" if run.index == bad_outcome_index else run.outcome
                    step_span.set_attribute(semconv.OUTCOME, word)
    return list(exporter.get_finished_spans())


def spans_per_run() -> int:
    """Spans each run makes (workflow, step, LLM call)."""
    return 3


def _key(name: str, **labels: str) -> Key:
    return (name, frozenset(labels.items()))


def expected_samples(runs: Sequence[Run], *, skip_outcome_of: int | None = None) -> Counter[Key]:
    """Exact KPI samples the collector must expose after counting ``runs`` once.

    ``skip_outcome_of``: the run whose step span was rejected (bad outcome word): its step
    counts nothing, its workflow and LLM call count normally.
    """
    expected: Counter[Key] = Counter()
    for run in runs:
        team = run.team or "none"
        wf = {"workflow": run.workflow, "cohort": run.cohort, "team": team}
        dims = {**wf, "step": STEP}
        expected[_key("aikpi_workflows_total", **wf, status="completed")] += 1
        expected[_key("aikpi_workflow_duration_seconds_count", **wf)] += 1
        expected[_key("aikpi_tokens_total", **dims, model=MODEL, token_type="input")] += (
            run.input_tokens - run.cache_read_tokens
        )
        expected[_key("aikpi_tokens_total", **dims, model=MODEL, token_type="output")] += (
            run.output_tokens
        )
        expected[_key("aikpi_tokens_total", **dims, model=MODEL, token_type="cache_read")] += (
            run.cache_read_tokens
        )
        expected[_key("aikpi_cost_usd_total", **dims, model=MODEL)] += COST_PER_CALL
        if run.index == skip_outcome_of:
            continue
        status = "error" if run.step_error else "ok"
        expected[_key("aikpi_steps_total", **dims, status=status)] += 1
        expected[_key("aikpi_step_duration_seconds_count", **dims)] += 1
        if not run.step_error:
            expected[_key("aikpi_outcomes_total", **dims, outcome=run.outcome)] += 1
    return expected


CHECKED_NAMES = frozenset(
    (
        "aikpi_workflows_total",
        "aikpi_workflow_duration_seconds_count",
        "aikpi_tokens_total",
        "aikpi_cost_usd_total",
        "aikpi_steps_total",
        "aikpi_step_duration_seconds_count",
        "aikpi_outcomes_total",
    )
)


def kpi_samples(samples: dict[Key, float]) -> dict[Key, float]:
    """The samples of the metric names the ground truth covers (non-zero only)."""
    return {key: value for key, value in samples.items() if key[0] in CHECKED_NAMES and value}


def assert_kpis_equal(samples: dict[Key, float], expected: Counter[Key]) -> None:
    """Every covered series present with its exact value, and no extra series."""
    actual = kpi_samples(samples)
    wanted = {key: float(value) for key, value in expected.items() if value}
    missing = {k: v for k, v in wanted.items() if actual.get(k) != v}
    extra = {k: v for k, v in actual.items() if k not in wanted}
    assert not missing and not extra, (
        f"mismatch: expected-but-different {missing} (actual: "
        f"{ {k: actual.get(k) for k in missing} }); unexpected {extra}"
    )


def self_metric(samples: dict[Key, float], name: str, **labels: str) -> float:
    """A self-metric sample, 0 when absent."""
    return samples.get(_key(name, **labels), 0.0)


def request_of(spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    """The protobuf request the official exporters send for ``spans``."""
    return encode_spans(spans)


def protobuf_body(spans: Sequence[ReadableSpan]) -> bytes:
    """Binary OTLP body for ``spans``."""
    return request_of(spans).SerializeToString()


def hex_ids(node: Any) -> None:
    """Rewrite json_format's base64 ids (in place) as the hex OTLP/JSON wants."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                hex_ids(value)
    elif isinstance(node, list):
        for item in node:
            hex_ids(item)


def json_body(spans: Sequence[ReadableSpan]) -> bytes:
    """OTLP/JSON body for ``spans``: camelCase keys, hex ids, enums as integers."""
    document = json_format.MessageToDict(request_of(spans), use_integers_for_enums=True)
    hex_ids(document)
    return json.dumps(document).encode()
