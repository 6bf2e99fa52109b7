"""Helpers of the interop tests: the workflow and step the calls run in, the KPI samples
read back, and the price table's ground truth."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import aikpi
from genai_prices import Usage, calc_price
from openai_standin import MODEL
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

__all__ = ("STEP", "TEAM", "WORKFLOW", "Kpis", "in_step", "table_cost")

WORKFLOW = "ticket-triage"
STEP = "draft-reply"
TEAM = "tier1"


@dataclass
class Kpis:
    """The in-process KPI engine's registry, and every finished span (to explain failures)."""

    registry: CollectorRegistry
    provider: TracerProvider
    exporter: InMemorySpanExporter

    def tokens(self, token_type: str, model: str = MODEL) -> float:
        labels = {
            "workflow": WORKFLOW,
            "step": STEP,
            "cohort": "ai_assisted",
            "team": TEAM,
            "model": model,
            "token_type": token_type,
        }
        found = self.registry.get_sample_value("aikpi_tokens_total", labels)
        return 0.0 if found is None else found

    def all_tokens(self) -> dict[tuple[str, str, str], float]:
        """Every non-zero token sample, by (step, model, token type): nothing else counted."""
        return {
            (s.labels["step"], s.labels["model"], s.labels["token_type"]): s.value
            for metric in self.registry.collect()
            for s in metric.samples
            if s.name == "aikpi_tokens_total" and s.value
        }

    def cost(self) -> float:
        """All ``aikpi_cost_usd_total`` samples together."""
        return sum(
            s.value
            for metric in self.registry.collect()
            for s in metric.samples
            if s.name == "aikpi_cost_usd_total"
        )

    def unpriced(self) -> float:
        return sum(
            s.value
            for metric in self.registry.collect()
            for s in metric.samples
            if s.name == "aikpi_collector_unpriced_spans_total"
        )

    def rejected(self) -> float:
        return sum(
            s.value
            for metric in self.registry.collect()
            for s in metric.samples
            if s.name == "aikpi_collector_spans_rejected_total"
        )

    def describe(self) -> str:
        """The finished spans and their usage attributes, for an assertion message."""
        lines = []
        for span in self.exporter.get_finished_spans():
            usage = {
                k: v
                for k, v in (span.attributes or {}).items()
                if "token" in k or "usage" in k or k.endswith("operation.name") or "kind" in k
            }
            lines.append(f"{span.name!r}: {usage}")
        return "\n".join(lines)


@contextmanager
def in_step() -> Iterator[None]:
    """The workflow run and step every test's model calls are made in."""
    with aikpi.workflow(WORKFLOW, correlation_id="TICKET-1", team=TEAM), aikpi.step(STEP):
        yield


def table_cost(model: str = MODEL, **usage: int) -> float:
    """Ground truth: the price table's own figure for one call reported as ``usage``."""
    return float(calc_price(Usage(**usage), model_ref=model, provider_id="openai").total_price)
