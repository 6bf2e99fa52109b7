"""Synthetic span workloads for the tests: the span mix the SDK produces, and a full store.

``pilot_spans`` builds workflow runs the way the SDK writes them (a workflow span, step
spans with inline outcomes, LLM call spans with token usage, some late outcome spans,
violations and reopen events), so throughput figures reflect real traffic rather than one
repeated span. ``fill_every_metric`` gives every KPI metric exactly ``label_sets`` label
sets; ``benchmark_render`` times a scrape of it, the fast writer against
``prometheus_client`` alone, in both formats (the figures in ``docs/metrics.md``).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aikpi import semconv
from aikpi_collector.engine import SpanEvent, SpanRecord

if TYPE_CHECKING:
    from aikpi_collector.engine import KpiEngine

__all__ = ("benchmark_render", "fill_every_metric", "pilot_spans")

_MODELS = ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5")
_PROVIDERS = {"gpt-4o": "openai", "gpt-4o-mini": "openai", "claude-sonnet-4-5": "anthropic"}
_OUTCOMES = tuple(semconv.Outcome)


def _ids(rng: random.Random) -> tuple[bytes, bytes]:
    return rng.randbytes(16), rng.randbytes(8)


def pilot_spans(
    count: int,
    *,
    workflows: int = 5,
    steps: int = 4,
    teams: int = 3,
    seed: int = 1,
) -> list[SpanRecord]:
    """``count`` spans of simulated workflow runs (about 40 % LLM call spans)."""
    rng = random.Random(seed)
    spans: list[SpanRecord] = []
    now = 1_700_000_000_000_000_000
    run = 0
    while len(spans) < count:
        run += 1
        trace_id, _ = _ids(rng)
        cohort = semconv.Cohort.AI_ASSISTED if run % 2 else semconv.Cohort.BASELINE
        base = {
            semconv.CORRELATION_ID: f"RUN-{run}",
            semconv.WORKFLOW_NAME: f"workflow-{run % workflows}",
            semconv.COHORT: cohort.value,
            semconv.TEAM: f"team-{run % teams}",
        }
        start = now + run * 1_000_000_000
        for index in range(steps):
            dims = {**base, semconv.STEP_NAME: f"step-{index}"}
            model = _MODELS[(run + index) % len(_MODELS)]
            chat = {
                **dims,
                semconv.GEN_AI_OPERATION_NAME: "chat",
                semconv.GEN_AI_REQUEST_MODEL: model,
                semconv.GEN_AI_PROVIDER_NAME: _PROVIDERS[model],
                semconv.GEN_AI_USAGE_INPUT_TOKENS: 1200 + rng.randrange(800),
                semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 200 + rng.randrange(300),
                semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 400,
            }
            spans.append(
                SpanRecord(
                    trace_id,
                    rng.randbytes(8),
                    f"chat {model}",
                    start,
                    start + 900_000_000,
                    False,
                    chat,
                )
            )
            step = {**dims, semconv.SPAN_TYPE: semconv.SpanType.STEP.value}
            events: list[SpanEvent] = []
            late = rng.random() < 0.3
            if not late:
                step[semconv.OUTCOME] = _OUTCOMES[rng.randrange(len(_OUTCOMES))].value
                step[semconv.REVIEW_SECONDS] = float(rng.randrange(5, 600))
                if step[semconv.OUTCOME] == semconv.Outcome.EDITED:
                    step[semconv.CORRECTION_SECONDS] = float(rng.randrange(10, 900))
            if rng.random() < 0.02:
                events.append(
                    SpanEvent(semconv.POLICY_VIOLATION_EVENT, {semconv.POLICY_NAME: "pii"})
                )
            spans.append(
                SpanRecord(
                    trace_id,
                    rng.randbytes(8),
                    f"step step-{index}",
                    start,
                    start + 2_000_000_000,
                    rng.random() < 0.03,
                    step,
                    events,
                )
            )
            if late:
                outcome = {
                    **dims,
                    semconv.SPAN_TYPE: semconv.SpanType.OUTCOME.value,
                    semconv.OUTCOME: _OUTCOMES[rng.randrange(len(_OUTCOMES))].value,
                    semconv.REVIEW_SECONDS: 3600.0,
                }
                spans.append(
                    SpanRecord(
                        rng.randbytes(16),
                        rng.randbytes(8),
                        f"outcome step-{index}",
                        start + 3_600_000_000_000,
                        start + 3_600_000_000_000,
                        False,
                        outcome,
                    )
                )
        workflow = {
            **base,
            semconv.SPAN_TYPE: semconv.SpanType.WORKFLOW.value,
            semconv.WORKFLOW_STATUS: semconv.WorkflowStatus.COMPLETED.value,
        }
        spans.append(
            SpanRecord(
                trace_id,
                rng.randbytes(8),
                "workflow",
                start,
                start + 9_000_000_000,
                False,
                workflow,
            )
        )
    return spans[:count]


def fill_every_metric(engine: KpiEngine, label_sets: int, *, seed: int = 2) -> None:
    """Give every KPI metric of ``engine`` exactly ``label_sets`` distinct label sets."""
    rng = random.Random(seed)
    spans: list[SpanRecord] = []
    for index in range(label_sets):
        dims = {
            semconv.CORRELATION_ID: f"FILL-{index}",
            semconv.WORKFLOW_NAME: f"workflow-{index}",
            semconv.STEP_NAME: "step",
            semconv.COHORT: semconv.Cohort.AI_ASSISTED.value,
        }
        step = {
            **dims,
            semconv.SPAN_TYPE: semconv.SpanType.STEP.value,
            semconv.OUTCOME: semconv.Outcome.EDITED.value,
            semconv.CORRECTION_SECONDS: 60.0,
            semconv.REVIEW_SECONDS: 30.0,
            # one token type and a priced model: one label set each in tokens and cost
            semconv.GEN_AI_REQUEST_MODEL: "gpt-4o",
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 100,
        }
        violation = SpanEvent(semconv.POLICY_VIOLATION_EVENT, {semconv.POLICY_NAME: "pii"})
        workflow = {
            **dims,
            semconv.SPAN_TYPE: semconv.SpanType.WORKFLOW.value,
            semconv.WORKFLOW_STATUS: semconv.WorkflowStatus.COMPLETED.value,
        }
        trace_id = rng.randbytes(16)
        spans.append(
            SpanRecord(trace_id, rng.randbytes(8), "step", 0, 10**9, False, step, [violation])
        )
        spans.append(SpanRecord(trace_id, rng.randbytes(8), "workflow", 0, 10**10, False, workflow))
    engine.process_batch(spans, "in_process")


def _median_ms(render: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        render()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def benchmark_render(n_label_sets: int = 2000, *, runs: int = 5) -> dict[str, Any]:
    """Median milliseconds to render ``/metrics`` with ``n_label_sets`` label sets in every
    KPI metric: ``render_metrics`` (fast writer) against ``render_metrics_reference``
    (``prometheus_client`` alone), Prometheus text and OpenMetrics.

    Keys: ``{text,openmetrics}_{fast,reference}_ms``, ``{text,openmetrics}_first_fast_ms``
    (one scrape with a cold cache: it also escapes and caches every series' label text),
    ``{text,openmetrics}_identical`` (the two bodies are byte for byte equal), ``samples``
    and ``text_bytes``, ``label_sets``, ``runs``.
    """
    from aikpi_collector.config import CollectorConfig
    from aikpi_collector.engine import KpiEngine
    from aikpi_collector.exposition import (
        OPENMETRICS_ACCEPT,
        render_metrics,
        render_metrics_reference,
    )
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    engine = KpiEngine(CollectorConfig(cardinality_limit=max(2000, n_label_sets)), registry)
    fill_every_metric(engine, n_label_sets)
    result: dict[str, Any] = {"label_sets": n_label_sets, "runs": runs}
    for fmt, accept in (("text", None), ("openmetrics", OPENMETRICS_ACCEPT)):
        for family in engine.metrics.families:
            family.label_text.clear()
        started = time.perf_counter()
        fast, _ = render_metrics(registry, accept)
        first = (time.perf_counter() - started) * 1000
        reference, _ = render_metrics_reference(registry, accept)
        result[f"{fmt}_first_fast_ms"] = first
        result[f"{fmt}_identical"] = fast == reference
        result[f"{fmt}_fast_ms"] = _median_ms(lambda a=accept: render_metrics(registry, a), runs)
        result[f"{fmt}_reference_ms"] = _median_ms(
            lambda a=accept: render_metrics_reference(registry, a), runs
        )
        if fmt == "text":
            result["samples"] = sum(
                1 for line in fast.splitlines() if line and not line.startswith(b"#")
            )
            result["text_bytes"] = len(fast)
    return result
