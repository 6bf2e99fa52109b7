"""Span builders and sample readers shared by the engine and exposition tests."""

from __future__ import annotations

import itertools
from typing import Any

from aikpi import semconv
from aikpi_collector.config import CollectorConfig
from aikpi_collector.engine import KpiEngine, SpanEvent, SpanRecord
from prometheus_client import CollectorRegistry

_ids = itertools.count(1)

START = 1_700_000_000_000_000_000
"""A fixed span start (unix nanoseconds)."""

WORKFLOW = "incident-triage"
STEP = "draft-reply"
TEAM = "sre"


def dims(
    *,
    workflow: str = WORKFLOW,
    step: str | None = STEP,
    cohort: str = "ai_assisted",
    team: str | None = TEAM,
    correlation_id: str = "INC-42",
) -> dict[str, Any]:
    """The baggage-stamped dimension attributes."""
    attrs: dict[str, Any] = {
        semconv.CORRELATION_ID: correlation_id,
        semconv.WORKFLOW_NAME: workflow,
        semconv.COHORT: cohort,
    }
    if step is not None:
        attrs[semconv.STEP_NAME] = step
    if team is not None:
        attrs[semconv.TEAM] = team
    return attrs


def span(
    attributes: dict[str, Any],
    *,
    seconds: float = 1.0,
    error: bool = False,
    events: list[SpanEvent] | None = None,
    name: str = "span",
    trace_id: bytes | None = None,
    span_id: bytes | None = None,
) -> SpanRecord:
    """A finished span with a unique (trace id, span id) unless given."""
    n = next(_ids)
    return SpanRecord(
        trace_id=trace_id if trace_id is not None else n.to_bytes(16, "big"),
        span_id=span_id if span_id is not None else n.to_bytes(8, "big"),
        name=name,
        start_unix_nano=START,
        end_unix_nano=START + round(seconds * 1e9),
        status_error=error,
        attributes=attributes,
        events=events or [],
    )


def step_span(*, seconds: float = 1.0, error: bool = False, **extra: Any) -> SpanRecord:
    """A step span (``extra`` are attributes, e.g. an inline outcome)."""
    attrs = {**dims(), semconv.SPAN_TYPE: "step"}
    attrs.update(extra.pop("attrs", {}))
    return span(attrs, seconds=seconds, error=error, name=f"step {STEP}", **extra)


def outcome_span(word: str, **attrs: Any) -> SpanRecord:
    """A late outcome span."""
    return span(
        {**dims(), semconv.SPAN_TYPE: "outcome", semconv.OUTCOME: word, **attrs},
        seconds=0.0,
        name=f"outcome {STEP}",
    )


def chat_span(model: str | None = "gpt-4o", **usage: Any) -> SpanRecord:
    """An LLM call span inside the step (no span type, dims from baggage)."""
    attrs = {**dims(), semconv.GEN_AI_OPERATION_NAME: "chat"}
    if model is not None:
        attrs[semconv.GEN_AI_REQUEST_MODEL] = model
    attrs.update(usage)
    return span(attrs, name=f"chat {model}")


def new_engine(**config: Any) -> tuple[KpiEngine, CollectorRegistry]:
    """A fresh registry and an engine on it."""
    registry = CollectorRegistry()
    return KpiEngine(CollectorConfig(**config), registry), registry


def step_labels(**extra: str) -> dict[str, str]:
    """Labels of a per-step metric for the default dims."""
    return {"workflow": WORKFLOW, "step": STEP, "cohort": "ai_assisted", "team": TEAM, **extra}


def workflow_labels(**extra: str) -> dict[str, str]:
    """Labels of a per-workflow metric for the default dims."""
    return {"workflow": WORKFLOW, "cohort": "ai_assisted", "team": TEAM, **extra}


def value(registry: CollectorRegistry, name: str, labels: dict[str, str]) -> float:
    """A sample's value; 0 when the series does not exist."""
    found = registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def kpi_samples(
    registry: CollectorRegistry,
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every ``aikpi_*`` KPI sample (not self-metrics), to assert that nothing changed."""
    out = {}
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name.startswith("aikpi_") and not sample.name.startswith("aikpi_collector"):
                if sample.name.startswith("aikpi_labor_cost"):
                    continue
                out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out
