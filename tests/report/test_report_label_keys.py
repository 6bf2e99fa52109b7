"""Human time and labour cost stay right when the collector drops the ``team`` label."""

from __future__ import annotations

import itertools

import pytest
from aikpi import semconv
from aikpi_collector import catalogue
from aikpi_collector.config import CollectorConfig, LaborCost
from aikpi_collector.engine import KpiEngine, SpanRecord
from aikpi_collector.exposition import render_metrics
from aikpi_collector.report.kpis import CohortData
from aikpi_collector.report.sources import parse_metrics_text
from prometheus_client import CollectorRegistry

_ids = itertools.count(1)
START = 1_700_000_000_000_000_000


def step(cohort: str, team: str, seconds: float, **outcome: float) -> SpanRecord:
    attributes = {
        semconv.SPAN_TYPE: "step",
        semconv.CORRELATION_ID: "T-1",
        semconv.WORKFLOW_NAME: "triage",
        semconv.STEP_NAME: "draft",
        semconv.COHORT: cohort,
        semconv.TEAM: team,
    }
    if outcome:
        attributes[semconv.OUTCOME] = "edited"
        attributes[semconv.REVIEW_SECONDS] = outcome["review"]
        attributes[semconv.CORRECTION_SECONDS] = outcome["correction"]
    n = next(_ids)
    return SpanRecord(
        n.to_bytes(16, "big"),
        n.to_bytes(8, "big"),
        "step draft",
        START,
        START + int(seconds * 1e9),
        False,
        attributes,
    )


SPANS = [
    step("ai_assisted", "sre", 10, review=60.0, correction=120.0),
    step("ai_assisted", "support", 10, review=30.0, correction=0.0),
    step("baseline", "sre", 900),
    step("baseline", "support", 600),
]
RATES = LaborCost(default_usd_per_hour=60.0, teams={"sre": 90.0})


def report_from_engine(label_keys: tuple[str, ...]):
    engine = KpiEngine(
        CollectorConfig(label_keys=label_keys, labor_cost=RATES), CollectorRegistry()
    )
    assert engine.process_batch(SPANS, "in_process").accepted == len(SPANS)
    body, _ = render_metrics(engine.registry, None)
    return parse_metrics_text(body.decode())


@pytest.mark.parametrize(
    ("label_keys", "ai_labor", "baseline_labor"),
    [
        # per-team rates: sre 90/h, support at the default 60/h
        (
            ("workflow", "step", "cohort", "team", "outcome", "status"),
            180 / 3600 * 90 + 30 / 3600 * 60,
            900 / 3600 * 90 + 600 / 3600 * 60,
        ),
        # team dropped: every second at the default rate
        (
            ("workflow", "step", "cohort", "outcome", "status"),
            210 / 3600 * 60,
            1500 / 3600 * 60,
        ),
    ],
)
def test_human_time_and_labour_cost(
    label_keys: tuple[str, ...], ai_labor: float, baseline_labor: float
) -> None:
    samples = report_from_engine(label_keys)
    ai = CohortData(samples, "ai_assisted", "triage")
    baseline = CohortData(samples, "baseline", "triage")
    human = catalogue.HUMAN_SECONDS
    assert ai.total(human) == 60 + 120 + 30
    assert baseline.total(human) == 900 + 600
    assert ai.total(catalogue.LabourCost(human)) == pytest.approx(ai_labor, rel=1e-12)
    assert baseline.total(catalogue.LabourCost(human)) == pytest.approx(baseline_labor, rel=1e-12)
