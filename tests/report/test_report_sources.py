"""Parsing a collector's exposition and Prometheus durations."""

from __future__ import annotations

import pytest
from aikpi_collector.report.sources import SourceError, parse_metrics_text, window_seconds
from support.samples import sample_names

EXPOSITION = """\
# HELP aikpi_steps_total Steps.
# TYPE aikpi_steps_total counter
aikpi_steps_total{workflow="w",step="s",cohort="ai_assisted",team="none",status="ok"} 3.0
aikpi_steps_total{workflow="w",step="s",cohort="baseline",team="none",status="error"} 1.0
# HELP aikpi_steps_created Created.
# TYPE aikpi_steps_created gauge
aikpi_steps_created{workflow="w",step="s",cohort="baseline",team="none",status="ok"} 1.7e9
# HELP aikpi_step_duration_seconds Durations.
# TYPE aikpi_step_duration_seconds histogram
aikpi_step_duration_seconds_bucket{workflow="w",step="s",cohort="baseline",le="60.0"} 1.0
aikpi_step_duration_seconds_bucket{workflow="w",step="s",cohort="baseline",le="+Inf"} 2.0
aikpi_step_duration_seconds_sum{workflow="w",step="s",cohort="baseline"} 130.0
aikpi_step_duration_seconds_count{workflow="w",step="s",cohort="baseline"} 2.0
# HELP aikpi_collector_spans_received_total Self.
# TYPE aikpi_collector_spans_received_total counter
aikpi_collector_spans_received_total{transport="http_protobuf"} 9.0
# HELP aikpi_labor_cost_usd_per_hour Rate.
# TYPE aikpi_labor_cost_usd_per_hour gauge
aikpi_labor_cost_usd_per_hour{team="default"} 75.0
"""


def test_parse_keeps_only_the_kpi_samples() -> None:
    samples = parse_metrics_text(EXPOSITION)
    assert sample_names(samples) == {
        "aikpi_steps_total",
        "aikpi_step_duration_seconds_bucket",
        "aikpi_step_duration_seconds_sum",
        "aikpi_step_duration_seconds_count",
        "aikpi_labor_cost_usd_per_hour",
    }
    assert samples.total("aikpi_steps_total") == 4.0
    assert samples.total("aikpi_steps_total", {"status": "error"}) == 1.0
    assert samples.by_label("aikpi_steps_total", "cohort") == {"ai_assisted": 3.0, "baseline": 1.0}
    hist = samples.histogram("aikpi_step_duration_seconds", {"cohort": "baseline"})
    assert (hist.bounds, hist.cumulative, hist.total, hist.count) == (
        (60.0,),
        (1.0, 2.0),
        130.0,
        2.0,
    )
    assert samples.histogram("aikpi_step_duration_seconds", {"cohort": "x"}).count == 0


def test_a_page_that_is_not_an_exposition_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="not a Prometheus text exposition"):
        parse_metrics_text("<html><body>hello</body></html>\n")


@pytest.mark.parametrize(
    ("window", "seconds"),
    [
        ("28d", 28 * 86400.0),
        ("6h", 21600.0),
        ("30m", 1800.0),
        ("90s", 90.0),
        ("2w", 1209600.0),
        ("1h30m", 5400.0),  # compound, as Prometheus accepts
    ],
)
def test_window_seconds(window: str, seconds: float) -> None:
    assert window_seconds(window) == seconds


@pytest.mark.parametrize("window", ["", "28", "30x", "d", "four weeks"])
def test_window_seconds_refuses_what_it_cannot_read(window: str) -> None:
    assert window_seconds(window) is None
