"""``aikpi-collector report`` as a real subprocess: formats, chart, and every error path.

Errors (unreachable source, not a Prometheus, empty data, no baseline cohort, unknown
workflow) must exit non-zero with a one-line message on stderr and no traceback.
"""

from __future__ import annotations

import json
import struct
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aikpi_collector.report.scorecard import AREAS
from support.cli import run_collector_cli
from support.net import free_port

TIMEOUT = 60


def report(*args: str) -> subprocess.CompletedProcess[str]:
    return run_collector_cli("report", *args, timeout=TIMEOUT)


def assert_clean_failure(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("aikpi-collector report: error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    for needle in needles:
        assert needle in result.stderr
    assert result.stdout == ""


@pytest.fixture
def collector() -> Iterator[object]:
    """An empty in-process collector on free loopback ports."""
    import aikpi.testing
    from aikpi_collector.config import CollectorConfig
    from aikpi_collector.server import CollectorServer

    config = CollectorConfig(
        otlp_http_port=0, otlp_grpc_port=0, metrics_port=0, log_level="WARNING"
    )
    server = CollectorServer(config)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        aikpi.testing.reset()


def metrics_url(server) -> str:
    return f"http://127.0.0.1:{server.metrics_port}/metrics"


# --- error paths --------------------------------------------------------------------------


def test_unreachable_collector() -> None:
    port = free_port()
    result = report("--metrics", f"http://127.0.0.1:{port}/metrics")
    assert_clean_failure(result, f"cannot reach http://127.0.0.1:{port}/metrics")


def test_unreachable_prometheus() -> None:
    port = free_port()
    result = report("--prometheus", f"http://127.0.0.1:{port}", "--window", "7d")
    assert_clean_failure(result, "cannot reach", f"127.0.0.1:{port}")


def test_a_collector_is_not_a_prometheus(collector) -> None:
    result = report("--prometheus", f"http://127.0.0.1:{collector.metrics_port}")
    assert_clean_failure(result, "answered HTTP 404")


def test_bad_window() -> None:
    result = report("--prometheus", "http://127.0.0.1:1", "--window", "four weeks")
    assert_clean_failure(result, "not a Prometheus duration")


def test_empty_collector(collector) -> None:
    assert_clean_failure(report("--metrics", metrics_url(collector)), "no aikpi step data")


@pytest.mark.slow
def test_empty_prometheus_window(tmp_path) -> None:
    from support.prometheus import running_prometheus

    with running_prometheus(tmp_path) as prom:
        result = report("--prometheus", prom.url, "--window", "1h")
    assert_clean_failure(result, "no aikpi step data", "empty window")


def test_workflow_without_baseline(collector) -> None:
    import aikpi
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider()
    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{collector.http_port}/v1/traces")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    aikpi.configure(tracer_provider=provider)
    with aikpi.workflow("solo-pilot", cohort="ai_assisted"), aikpi.step("draft") as step:
        step.outcome("accepted")
    provider.shutdown()
    result = report("--metrics", metrics_url(collector))
    assert_clean_failure(result, "solo-pilot", "baseline")


def test_unknown_workflow(pilot) -> None:
    result = report("--metrics", pilot.metrics_url, "--workflow", "no-such-flow")
    assert_clean_failure(result, "no data for workflow 'no-such-flow'", "code-review")


def test_bad_options_are_usage_errors(pilot) -> None:
    result = report("--metrics", pilot.metrics_url, "--format", "pdf")
    assert result.returncode == 2 and "invalid choice" in result.stderr
    assert "Traceback" not in result.stderr
    missing = report("--metrics", pilot.metrics_url, "--slo-spec", "no-such-slo.yaml")
    assert_clean_failure(missing, "no-such-slo.yaml")


def test_an_invalid_slo_spec_names_the_key(pilot, tmp_path) -> None:
    spec = tmp_path / "slo.yaml"
    spec.write_text("version: 1\nobjective: 120\n")
    result = report("--metrics", pilot.metrics_url, "--slo-spec", str(spec))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "objective" in result.stderr and result.stdout == ""


def test_each_workflow_gets_the_objective_of_the_alerts_spec(pilot) -> None:
    spec = Path(__file__).resolve().parents[2] / "grafana" / "slo.yaml"
    result = report("--metrics", pilot.metrics_url, "--format", "json", "--slo-spec", str(spec))
    assert result.returncode == 0, result.stderr
    sli_rows = {
        card["workflow"]: next(r["kpi"] for r in card["rows"] if r["area"] == "Error budget")
        for card in json.loads(result.stdout)["scorecards"]
    }
    assert sli_rows == {
        "code-review": "AI outcome SLI (SLO 95 %)",
        "support-reply": "AI outcome SLI (SLO 95 %)",
        "incident-triage": "AI outcome SLI (SLO 97 %)",  # grafana/slo.yaml's own objective
        "all workflows": "AI outcome SLI (SLO per workflow)",
    }


# --- formats ------------------------------------------------------------------------------


def test_json_format_has_every_area_and_the_pilot_counts(pilot) -> None:
    result = report("--metrics", pilot.metrics_url, "--format", "json")
    assert result.returncode == 0, result.stderr
    cards = json.loads(result.stdout)["scorecards"]
    by_name = {c["workflow"]: c for c in cards}
    assert set(by_name) == {"support-reply", "code-review", "incident-triage", "all workflows"}
    runs = Counter((r.workflow, r.cohort) for r in pilot.runs)
    for name, card in by_name.items():
        areas = [row["area"] for row in card["rows"] if row["verdict"]]
        assert list(dict.fromkeys(areas)) == list(AREAS)
        headlines = [row["kpi"] for row in card["rows"] if row["verdict"]]
        assert "override rate" in headlines
        levels = {row["verdict"]["level"] for row in card["rows"] if row["verdict"]}
        assert levels <= {"good", "warning", "neutral", "not_enough_evidence"}
        evidence = card["evidence"]
        if name != "all workflows":
            assert evidence["runs"] == {
                "ai_assisted": runs[(name, "ai_assisted")],
                "baseline": runs[(name, "baseline")],
            }
        ci = evidence["cycle_time_diff_seconds"]
        assert ci["low"] <= ci["estimate"] <= ci["high"]


def test_markdown_format_is_a_table_per_workflow(pilot) -> None:
    result = report(
        "--metrics", pilot.metrics_url, "--format", "markdown", "--workflow", "code-review"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "### code-review (since collector start)"
    header = lines.index("| area | KPI | AI-assisted | baseline | delta | verdict |")
    assert lines[header + 1] == "|---|---|--:|--:|--:|---|"
    rows = [line for line in lines[header + 2 :] if line.startswith("| ")]
    assert all(line.count(" | ") == 5 for line in rows)
    verdict_rows = [line for line in rows if "**" in line]
    areas = [line.split(" | ")[0].lstrip("| ") for line in verdict_rows]
    assert list(dict.fromkeys(areas)) == list(AREAS)  # Quality has two headlines
    assert any(line.startswith("_evidence: runs ") and "95 % CI" in line for line in lines)


def test_table_format_and_plot(pilot, tmp_path) -> None:
    png = tmp_path / "charts" / "pilot.png"
    result = report("--metrics", pilot.metrics_url, "--plot", str(png))
    assert result.returncode == 0, result.stderr
    assert "aikpi scorecard: support-reply" in result.stdout
    assert "cycle time, mean (run)" in result.stdout
    assert f"chart written to {png}" in result.stderr
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1500, 720)
    assert len(data) > 20_000  # six panels of bars, not an empty canvas


def test_plot_to_an_unwritable_path_fails_cleanly(pilot, tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = report(
        "--metrics", pilot.metrics_url, "--format", "json", "--plot", f"{blocker}/x.png"
    )
    assert result.returncode == 1
    assert "cannot write the chart" in result.stderr and "Traceback" not in result.stderr
