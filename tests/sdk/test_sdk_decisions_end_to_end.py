"""One token recorded by three processes counts one outcome: real SDK processes exporting
with the official OTLP/HTTP exporter to the real collector.

The step runs in one process; three other processes (the review UI, a retry, a copied link)
record the same token. Each emits its own outcome span, all in the step's trace with the
step's span as parent, and the collector counts one decision for the step.
"""

from __future__ import annotations

import time

import pytest
from support.collector import running_collector
from test_sdk_processes import child_env, run_child

pytestmark = pytest.mark.slow

LABELS = {"workflow": "refund", "step": "draft-refund", "cohort": "ai_assisted", "team": "billing"}


def test_one_token_recorded_by_three_processes_counts_one_outcome(tmp_path):
    with running_collector(tmp_path) as collector:
        env = child_env(OTEL_EXPORTER_OTLP_ENDPOINT=collector.http_endpoint)
        token = run_child("step-otlp", env=env)["token"]
        for _ in range(3):
            assert run_child("outcome-otlp", token, "edited", "30", env=env) == {"recorded": True}
        # workflow, step and chat spans, then three outcome spans
        deadline = time.monotonic() + 20
        while (
            collector.sample("aikpi_collector_spans_received_total", {"transport": "http_protobuf"})
            != 6
        ):
            assert time.monotonic() < deadline, collector.metrics_text()
            time.sleep(0.1)
        samples = collector.samples()

    def value(name: str, **extra: str) -> float | None:
        return samples.get((name, frozenset({**LABELS, **extra}.items())))

    assert value("aikpi_steps_total", status="ok") == 1
    assert value("aikpi_outcomes_total", outcome="edited") == 1
    assert value("aikpi_correction_seconds_count") == 1
    # the step was assisted (a model call and a token): its human time is the decision's
    assert value("aikpi_human_seconds_count") == 1
    assert value("aikpi_human_seconds_sum") >= 30.0
    dup = ("aikpi_collector_duplicate_decisions_total", frozenset({("transport", "http_protobuf")}))
    assert samples[dup] == 2
