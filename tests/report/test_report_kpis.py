"""Which workflows the report compares, and when it refuses to."""

from __future__ import annotations

import pytest
from aikpi_collector.report.kpis import (
    ALL_WORKFLOWS,
    NoBaselineError,
    NoDataError,
    compare_all,
)
from aikpi_collector.report.samples import MetricSamples, Sample


def steps(*rows: tuple[str, str, float]) -> MetricSamples:
    return MetricSamples(
        Sample(
            "aikpi_steps_total",
            {"workflow": w, "step": "s", "cohort": c, "team": "none", "status": "ok"},
            n,
        )
        for w, c, n in rows
    )


def test_every_complete_workflow_then_all_together() -> None:
    data = steps(
        ("b", "ai_assisted", 3), ("b", "baseline", 2), ("a", "ai_assisted", 1), ("a", "baseline", 1)
    )
    assert [c.workflow for c in compare_all(data)] == ["a", "b", ALL_WORKFLOWS]
    assert [c.workflow for c in compare_all(data, "b")] == ["b"]
    assert compare_all(data)[-1].ai.steps == 4


def test_a_workflow_without_baseline_is_refused_by_name() -> None:
    data = steps(("a", "ai_assisted", 3), ("a", "baseline", 2), ("solo", "ai_assisted", 5))
    with pytest.raises(NoBaselineError, match=r"solo .*--workflow.*both cohorts: a"):
        compare_all(data)
    with pytest.raises(NoBaselineError, match="solo"):
        compare_all(data, "solo")
    # the demo leaves it out instead, and then has no honest "all workflows" total
    assert [c.workflow for c in compare_all(data, skip_incomplete=True)] == ["a"]
    with pytest.raises(NoBaselineError):
        compare_all(steps(("solo", "ai_assisted", 5)), skip_incomplete=True)


def test_no_data_and_unknown_workflow() -> None:
    with pytest.raises(NoDataError, match="empty window"):
        compare_all(MetricSamples([]))
    with pytest.raises(NoDataError, match="empty window"):
        compare_all(steps(("a", "ai_assisted", 0.0)))  # increase() of an idle counter
    with pytest.raises(NoDataError, match="no data for workflow 'x'; workflows with data: a"):
        compare_all(steps(("a", "ai_assisted", 1), ("a", "baseline", 1)), "x")
