"""No stored value can break ``/metrics``; when the exposition itself fails, ``/readyz`` and a
self-metric say so (issue 9, defence in depth behind the engine's own checks).

Bad values are forced into the store directly, the way a bug upstream of the writer would
leave them: label values and correlation ids with lone surrogates (not encodable as UTF-8)
or a NUL character (valid UTF-8 that Prometheus's parser refuses: the whole scrape fails),
an exemplar timestamp too large for a float.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aikpi_collector.config import CollectorConfig, load_config
from aikpi_collector.engine import KpiEngine
from aikpi_collector.exposition import OPENMETRICS_ACCEPT, render_metrics
from aikpi_collector.server import CollectorServer
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text
from support.binaries import require_binary
from support.prometheus import running_prometheus

TRACE = bytes(range(16))
BAD_CONTEXT = (TRACE, "INC-\ud800", 10**400)
"""An exemplar context no float or UTF-8 encoder can take: lone surrogate, 10**400 ns."""
NUL_CONTEXT = (TRACE, "INC-\x00", 1_700_000_000_000_000_000)


def _poison(engine: KpiEngine) -> None:
    metrics = engine.metrics
    key = ("wf-\ud800", "step-\udfff", "ai_assisted", "none")
    metrics.steps.handle((*key, "ok")).inc(1.0, BAD_CONTEXT)
    metrics.step_duration.handle(key).observe(2.0, BAD_CONTEXT)
    metrics.steps.handle(("wf-\ud801", "step", "baseline", "none", "ok")).inc(1.0, None)
    metrics.steps.handle(("wf-\x00", "step", "baseline", "none", "ok")).inc(1.0, NUL_CONTEXT)
    engine.self_metrics.unpriced_spans.labels(model="model-\udbff").inc()
    engine.self_metrics.unpriced_spans.labels(model="model-\x00").inc()


def _promtool(body: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [require_binary("promtool"), "check", "metrics"],
        input=body,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_values_that_cannot_be_encoded_never_break_a_scrape() -> None:
    registry = CollectorRegistry()
    engine = KpiEngine(CollectorConfig(), registry)
    _poison(engine)
    text, _ = render_metrics(registry, None)
    openmetrics, _ = render_metrics(registry, OPENMETRICS_ACCEPT)

    checked = _promtool(text)
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in parse_text(text.decode("utf-8"))
        for s in family.samples
    }
    # the unencodable code point is written as its escape, so distinct values stay distinct
    steps = {
        dict(labels)["workflow"]: value
        for (name, labels), value in samples.items()
        if name == "aikpi_steps_total"
    }
    assert steps == {"wf-\\ud800": 1.0, "wf-\\ud801": 1.0, "wf-\\x00": 1.0}
    unpriced = "aikpi_collector_unpriced_spans_total"
    assert samples[(unpriced, (("model", "model-\\udbff"),))] == 1
    assert samples[(unpriced, (("model", "model-\\x00"),))] == 1
    assert b"\x00" not in text and b"\x00" not in openmetrics

    exemplars = [
        sample.exemplar
        for family in parse_om(openmetrics.decode("utf-8"))
        for sample in family.samples
        if sample.exemplar is not None
    ]
    assert exemplars, "the exemplars are kept"
    by_id = {exemplar.labels["correlation_id"]: exemplar for exemplar in exemplars}
    assert set(by_id) == {"INC-\\ud800", "INC-\\x00"}
    assert by_id["INC-\\ud800"].timestamp is None  # a timestamp no float can hold is left out


@pytest.mark.parametrize(
    "accept",
    [
        "text/plain; version=1.0.0; escaping=dots",
        "application/openmetrics-text; version=1.0.0; escaping=values",
    ],
)
def test_escapings_written_by_prometheus_client_alone_fall_back_to_the_text_format(
    accept: str,
) -> None:
    registry = CollectorRegistry()
    engine = KpiEngine(CollectorConfig(), registry)
    _poison(engine)
    body, content_type = render_metrics(registry, accept)
    assert content_type.startswith("text/plain; version=0.0.4")
    assert b"\x00" not in body
    checked = _promtool(body)
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()


class _Broken:
    """A collector whose ``collect`` fails, like any bug in the exposition path would."""

    def collect(self) -> Iterator[Metric]:
        raise RuntimeError("broken collector")


def test_a_failing_exposition_is_counted_and_drops_readiness_until_a_render_succeeds() -> None:
    server = CollectorServer(
        load_config(otlp_http_port=0, otlp_grpc_port=0, metrics_port=0, log_level="ERROR")
    )
    server.start()
    base = f"http://127.0.0.1:{server.metrics_port}"
    broken = _Broken()
    try:
        with httpx.Client(timeout=10) as client:
            assert client.get(base + "/readyz").status_code == 200
            server.registry.register(broken)
            failed = client.get(base + "/metrics")
            not_ready = client.get(base + "/readyz")
            alive = client.get(base + "/healthz")
            server.registry.unregister(broken)
            recovered = client.get(base + "/metrics")
            ready = client.get(base + "/readyz")
    finally:
        server.stop(grace=1)
    assert failed.status_code == 500
    assert not_ready.status_code == 503 and "exposition" in not_ready.text
    assert alive.status_code == 200
    assert recovered.status_code == 200 and ready.status_code == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in parse_text(recovered.text)
        for s in family.samples
    }
    assert samples[("aikpi_collector_exposition_errors_total", (("format", "text"),))] == 1


@pytest.mark.parametrize("accept", [None, OPENMETRICS_ACCEPT])
def test_poisoned_store_scrapes_over_http(accept: str | None) -> None:
    server = CollectorServer(
        load_config(otlp_http_port=0, otlp_grpc_port=0, metrics_port=0, log_level="ERROR")
    )
    server.start()
    try:
        _poison(server.engine)
        headers = {"Accept": accept} if accept else {}
        response = httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics", headers=headers)
        ready = httpx.get(f"http://127.0.0.1:{server.metrics_port}/readyz")
    finally:
        server.stop(grace=1)
    assert response.status_code == 200
    assert "wf-\\\\ud800" in response.text
    assert ready.status_code == 200


def test_a_real_prometheus_scrapes_the_poisoned_store(tmp_path: Path) -> None:
    """Prometheus's own parser (OpenMetrics, which it asks for) reads every line: a NUL in a
    label value used to make it refuse the whole scrape (``up == 0``)."""
    server = CollectorServer(
        load_config(otlp_http_port=0, otlp_grpc_port=0, metrics_port=0, log_level="ERROR")
    )
    server.start()
    try:
        _poison(server.engine)
        with running_prometheus(tmp_path, targets=[f"127.0.0.1:{server.metrics_port}"]) as prom:

            def scraped() -> dict | None:
                targets = prom.api("targets")["activeTargets"]
                return targets[0] if targets and targets[0]["health"] != "unknown" else None

            target = prom.wait_for(scraped)
            assert target["health"] == "up", target["lastError"]
            workflows = prom.wait_for(
                lambda: prom.values('count by (workflow) (aikpi_steps_total{job="aikpi"})')
            )
    finally:
        server.stop(grace=1)
    names = {dict(labels)["workflow"] for labels in workflows}
    assert names == {"wf-\\ud800", "wf-\\ud801", "wf-\\x00"}
