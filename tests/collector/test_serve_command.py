"""The ``aikpi-collector serve`` command: config errors, flag precedence, endpoints, promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from support.binaries import require_binary
from support.cli import run_collector_cli
from support.collector import running_collector
from support.net import free_port
from support.otlp_workload import build_spans, make_runs

pytestmark = pytest.mark.slow


def run_command(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return run_collector_cli(*args, timeout=timeout)


@pytest.mark.parametrize(
    ("yaml_text", "words"),
    [
        ("otlp_http_prot: 4318\n", ["otlp_http_prot", "unknown key", "otlp_http_port"]),
        ("max_concurrent_requests: many\n", ["max_concurrent_requests", "integer"]),
        ("metrics_port: 70000\n", ["metrics_port", "65535"]),
        ("log_level: LOUD\n", ["log_level", "DEBUG"]),
        ("- just\n- a list\n", ["mapping"]),
    ],
)
def test_bad_config_exits_2_naming_the_key(
    tmp_path: Path, yaml_text: str, words: list[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    result = run_command("serve", "--config", str(path))
    assert result.returncode == 2, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    result = run_command("--config", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2
    assert "absent.yaml" in result.stderr


def test_busy_port_exits_1_with_a_message(tmp_path: Path) -> None:
    with running_collector(tmp_path) as collector:
        result = run_command(
            "--otlp-http-port",
            str(collector.http_port),
            "--otlp-grpc-port",
            str(free_port()),
            "--metrics-port",
            str(free_port()),
        )
    assert result.returncode == 1
    assert f"127.0.0.1:{collector.http_port}" in result.stderr


def test_command_line_flags_win_over_the_config_file(tmp_path: Path) -> None:
    file_port, flag_port = free_port(), free_port()
    with running_collector(
        tmp_path,
        {"otlp_http_port": file_port},
        extra_args=("--otlp-http-port", str(flag_port)),
    ) as collector:
        spans = build_spans(make_runs(2))
        exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{flag_port}/v1/traces", timeout=5)
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        exporter.shutdown()
        with pytest.raises(httpx.TransportError):
            httpx.post(f"http://127.0.0.1:{file_port}/v1/traces", content=b"", timeout=2)
        assert "listening: OTLP/HTTP http://127.0.0.1:" + str(flag_port) in collector.log()


def test_metrics_endpoints_and_promtool_accepts_the_exposition(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    with running_collector(tmp_path) as collector:
        base = collector.metrics_url.removesuffix("/metrics")
        assert httpx.get(base + "/healthz").status_code == 200
        assert httpx.get(base + "/readyz").status_code == 200
        exporter = OTLPSpanExporter(endpoint=collector.traces_url, timeout=5)
        assert exporter.export(build_spans(make_runs(20))) is SpanExportResult.SUCCESS
        exporter.shutdown()
        prometheus_text = httpx.get(collector.metrics_url)
        openmetrics = httpx.get(
            collector.metrics_url,
            headers={"Accept": "application/openmetrics-text; version=1.0.0"},
        )
    assert prometheus_text.headers["content-type"].startswith("text/plain")
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    # `promtool check metrics` reads the Prometheus text format (not OpenMetrics exemplars)
    check = subprocess.run(
        [promtool, "check", "metrics"],
        input=prometheus_text.text,
        capture_output=True,
        text=True,
        timeout=30,
    )
    output = check.stdout + check.stderr
    assert check.returncode == 0, output
    assert "error" not in output.lower(), output
    exemplars = [
        sample.exemplar
        for family in parse_om(openmetrics.text)
        for sample in family.samples
        if sample.exemplar is not None
    ]
    assert exemplars, "OpenMetrics scrape carries no exemplar"
    assert all(len(e.labels["trace_id"]) == 32 for e in exemplars)
    assert {e.labels["correlation_id"] for e in exemplars} <= {f"run-{i}" for i in range(20)}
