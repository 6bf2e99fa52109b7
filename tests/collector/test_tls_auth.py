"""TLS, mTLS and bearer tokens on all three ports, with real clients (issue 9, item 6).

The official OTLP exporters run in subprocesses configured only through the standard
``OTEL_EXPORTER_OTLP_*`` environment; a real Prometheus scrapes ``/metrics`` over TLS with
``authorization.credentials_file``. Certificates are made by the test (``support.certs``).
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import grpc
import httpx
import pytest
from google.rpc import code_pb2, status_pb2
from support.certs import Pki, make_pki
from support.collector import CollectorProcess, running_collector
from support.otlp_workload import (
    assert_kpis_equal,
    build_spans,
    expected_samples,
    make_runs,
    protobuf_body,
    self_metric,
    spans_per_run,
)
from support.prometheus import running_prometheus

pytestmark = pytest.mark.slow

CHILD = Path(__file__).with_name("export_child.py")
TOKEN = "3f6c1b0e9a7d4c2e8b5a1f0d6c3e9b7a"
SCRAPE_TOKEN = "scrape-5d2a9c7e1b3f4a6d"
REJECTED = "aikpi_collector_requests_rejected_total"
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _write(path: Path, text: str) -> Path:
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _client_context(pki: Pki, *, client_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    if client_cert:
        context.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    return context


def _config(tmp_path: Path, pki: Pki, *, mtls: bool) -> dict[str, object]:
    tls: dict[str, str] = {"cert_file": str(pki.server_cert), "key_file": str(pki.server_key)}
    if mtls:
        tls["client_ca_file"] = str(pki.ca_cert)
    return {
        "tls": tls,
        "auth": {
            "bearer_token_file": str(_write(tmp_path / "otlp.token", TOKEN)),
            "metrics_bearer_token_file": str(_write(tmp_path / "scrape.token", SCRAPE_TOKEN)),
        },
    }


def _export(
    collector: CollectorProcess,
    protocol: str,
    runs: tuple[int, int],
    pki: Pki,
    *,
    header: str | None,
    client_cert: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``export_child.py`` with nothing but the standard environment variables."""
    port = collector.grpc_port if protocol == "grpc" else collector.http_port
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (set on some machines) win over the
    # CA the HTTP exporter configures on its session (psf/requests#3829): keep them out
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OTEL_") and k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
    }
    env.update(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"https://{collector.host}:{port}",
            "OTEL_EXPORTER_OTLP_CERTIFICATE": str(pki.ca_cert),
            "OTEL_EXPORTER_OTLP_TIMEOUT": "5",
        }
    )
    if header is not None:
        env["OTEL_EXPORTER_OTLP_HEADERS"] = header
    if client_cert:
        env["OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"] = str(pki.client_cert)
        env["OTEL_EXPORTER_OTLP_CLIENT_KEY"] = str(pki.client_key)
    return subprocess.run(
        [sys.executable, str(CHILD), protocol, str(runs[0]), str(runs[1])],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def _bearer_header(token: str) -> str:
    """``OTEL_EXPORTER_OTLP_HEADERS`` value: W3C-baggage style, values percent-encoded."""
    return f"Authorization={quote('Bearer ' + token)}"


def test_official_exporters_configured_by_environment_export_over_mtls_with_a_token(
    tmp_path: Path,
) -> None:
    pki = make_pki(tmp_path)
    assert _bearer_header(TOKEN) == f"Authorization=Bearer%20{TOKEN}"
    with running_collector(
        tmp_path,
        _config(tmp_path, pki, mtls=True),
        ssl_context=_client_context(pki, client_cert=True),
        metrics_token=SCRAPE_TOKEN,
    ) as collector:
        results = {
            protocol: _export(collector, protocol, runs, pki, header=_bearer_header(TOKEN))
            for protocol, runs in (("http", (0, 8)), ("grpc", (8, 7)))
        }
        samples = collector.samples()
    for protocol, result in results.items():
        assert result.returncode == 0, f"{protocol}: {result.stdout}{result.stderr}"
    assert_kpis_equal(samples, expected_samples(make_runs(15)))
    assert self_metric(samples, "aikpi_collector_spans_received_total", transport="grpc") == (
        7 * spans_per_run()
    )


def test_wrong_or_missing_token_gets_401_or_unauthenticated_and_counts_nothing(
    tmp_path: Path,
) -> None:
    pki = make_pki(tmp_path)
    context = _client_context(pki, client_cert=False)
    body = protobuf_body(build_spans(make_runs(2)))
    with running_collector(
        tmp_path,
        _config(tmp_path, pki, mtls=False),
        ssl_context=context,
        metrics_token=SCRAPE_TOKEN,
    ) as collector:
        exports = [
            _export(collector, protocol, (0, 3), pki, header=header, client_cert=False)
            for protocol in ("http", "grpc")
            for header in (_bearer_header("not-the-token"), None)
        ]
        with httpx.Client(verify=context) as client:
            plain = client.post(
                collector.traces_url,
                content=body,
                headers={"Content-Type": "application/x-protobuf", "Authorization": "Basic eDp5"},
            )
        credentials = grpc.ssl_channel_credentials(root_certificates=pki.ca_cert.read_bytes())
        with grpc.secure_channel(collector.grpc_endpoint, credentials) as channel:
            raw = channel.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)
            with pytest.raises(grpc.RpcError) as caught:
                raw(body, timeout=10, metadata=(("authorization", "Bearer nope"),))
        samples = collector.samples()
    for result in exports:
        assert result.returncode == 1 and "FAILURE" in result.stdout, result.stderr
    assert all("401" in r.stderr for r in exports[:2]), [r.stderr for r in exports[:2]]
    assert all("UNAUTHENTICATED" in r.stderr for r in exports[2:]), [r.stderr for r in exports[2:]]
    assert plain.status_code == 401
    assert plain.headers["www-authenticate"].startswith("Bearer")
    assert status_pb2.Status.FromString(plain.content).code == code_pb2.UNAUTHENTICATED
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert_kpis_equal(samples, expected_samples([]))
    received = "aikpi_collector_spans_received_total"
    for transport in ("http_protobuf", "grpc"):
        assert self_metric(samples, received, transport=transport) == 0
    assert self_metric(samples, REJECTED, transport="http_protobuf", reason="unauthenticated") == 3
    assert self_metric(samples, REJECTED, transport="grpc", reason="unauthenticated") == 3


def test_mtls_refuses_clients_without_a_certificate_from_the_ca(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    with running_collector(
        tmp_path,
        _config(tmp_path, pki, mtls=True),
        ssl_context=_client_context(pki, client_cert=True),
        metrics_token=SCRAPE_TOKEN,
    ) as collector:
        stranger = ssl.create_default_context(cafile=str(pki.ca_cert))
        stranger.load_cert_chain(str(pki.stranger_cert), str(pki.stranger_key))
        healthz = collector.metrics_url.replace("/metrics", "/healthz")
        for context in (_client_context(pki, client_cert=False), stranger):
            for url in (collector.traces_url, healthz):
                with (
                    pytest.raises((httpx.TransportError, ssl.SSLError)),
                    httpx.Client(verify=context) as client,
                ):
                    client.post(url, content=b"", headers={"Authorization": f"Bearer {TOKEN}"})
        header = _bearer_header(TOKEN)
        refused = _export(collector, "grpc", (0, 2), pki, header=header, client_cert=False)
        samples = collector.samples()
    assert refused.returncode == 1
    assert_kpis_equal(samples, expected_samples([]))


def test_metrics_token_guards_metrics_but_not_health_probes(tmp_path: Path) -> None:
    token_file = _write(tmp_path / "scrape.token", SCRAPE_TOKEN)
    config = {"auth": {"metrics_bearer_token_file": str(token_file)}}
    with running_collector(tmp_path, config, metrics_token=SCRAPE_TOKEN) as collector:
        base = collector.metrics_url.removesuffix("/metrics")
        missing = httpx.get(collector.metrics_url)
        wrong = httpx.get(collector.metrics_url, headers={"Authorization": "Bearer x"})
        health = [httpx.get(base + path).status_code for path in ("/healthz", "/readyz")]
        samples = collector.samples()  # with the token
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert health == [200, 200]
    assert self_metric(samples, REJECTED, transport="metrics", reason="unauthenticated") == 2


def _both_jobs_scraped(up: dict[frozenset[tuple[str, str]], float]) -> dict | None:
    return up if len(up) == 2 else None


def test_prometheus_scrapes_metrics_over_tls_with_a_bearer_token(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    config = _config(tmp_path, pki, mtls=False)
    scrape_file = _write(tmp_path / "prometheus-scrape.token", SCRAPE_TOKEN)
    tls = {"ca_file": str(pki.ca_cert)}
    with running_collector(
        tmp_path,
        config,
        ssl_context=_client_context(pki, client_cert=False),
        metrics_token=SCRAPE_TOKEN,
    ) as collector:
        target = f"127.0.0.1:{collector.metrics_port}"
        wrong_job = {
            "job_name": "aikpi-wrong-token",
            "scheme": "https",
            "tls_config": tls,
            "authorization": {"credentials": "not-the-token"},
            "static_configs": [{"targets": [target]}],
        }
        with running_prometheus(
            tmp_path,
            targets=[target],
            scrape_settings={
                "scheme": "https",
                "tls_config": tls,
                "authorization": {"type": "Bearer", "credentials_file": str(scrape_file)},
            },
            extra_jobs=[wrong_job],
        ) as prometheus:
            scraped = prometheus.wait_for(
                lambda: prometheus.values('aikpi_labor_cost_usd_per_hour{job="aikpi"}')
            )
            up = prometheus.wait_for(lambda: _both_jobs_scraped(prometheus.values("up")))
        samples = collector.samples()
    assert list(scraped.values()) == [60.0]
    by_job = {dict(labels)["job"]: value for labels, value in up.items()}
    assert by_job == {"aikpi": 1.0, "aikpi-wrong-token": 0.0}
    assert self_metric(samples, REJECTED, transport="metrics", reason="unauthenticated") >= 1
