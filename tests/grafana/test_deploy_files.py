"""The full-stack files: compose, Dockerfile, OpenTelemetry Collector, Prometheus, Alertmanager.

Docker is not available here, so the stack itself is not started; these tests prove what can
be proven without it: every file parses, every mounted file exists, the OTel Collector
pipeline references defined components and routes by trace id, Prometheus accepts its config,
and Alertmanager routes page and ticket to different receivers (``amtool``).
"""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_files import GRAFANA, REPO
from support.binaries import require_binary

DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_compose_parses_and_runs_the_whole_stack() -> None:
    services = _compose()["services"]
    assert {
        "aikpi-1",
        "aikpi-2",
        "otel-collector",
        "tempo",
        "prometheus",
        "alertmanager",
        "grafana",
    } <= set(services)


def test_every_mounted_file_exists() -> None:
    compose = _compose()
    named = set(compose.get("volumes", {}))
    mounts = 0
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith("."):
                assert source in named, f"{name}: {volume} is neither a repo file nor a volume"
                continue
            assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
            mounts += 1
        for secret in service.get("secrets", []):
            assert secret in compose["secrets"], f"{name} uses undeclared secret {secret}"
        build = service.get("build")
        if build:
            context = DEPLOY / build["context"]
            dockerfile = context / build["dockerfile"]
            assert dockerfile.is_file()
            for line in dockerfile.read_text().splitlines():
                if line.startswith("COPY "):
                    for source in line.split()[1:-1]:
                        assert (context / source).exists(), f"Dockerfile copies missing {source}"
    assert mounts >= 8


@pytest.mark.parametrize("path", [GRAFANA / "otelcol.yaml", DEPLOY / "otelcol.yaml"])
def test_otel_collector_config_fans_out_by_trace_id(path: Path) -> None:
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    pipeline = config["service"]["pipelines"]["traces"]
    for kind in ("receivers", "processors", "exporters"):
        for component in pipeline[kind]:
            assert component in config[kind], f"{kind} {component} is not defined"
    balancer = config["exporters"]["loadbalancing/aikpi"]
    assert balancer["routing_key"] == "traceID"
    hosts = balancer["resolver"]["static"]["hostnames"]
    services = _compose()["services"]
    for host in hosts:
        name, port = host.split(":")
        assert name in services and port == "4317"
    assert any(name.startswith("otlp/") for name in pipeline["exporters"]), "no trace store"
    assert set(config["service"]["extensions"]) <= set(config["extensions"])


@pytest.mark.parametrize("path", [GRAFANA / "prometheus.yml", DEPLOY / "prometheus.yml"])
def test_prometheus_config_is_valid_and_scrapes_every_replica(path: Path, tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    for job in config["scrape_configs"]:  # promtool reads the files a job names: point them here
        if "authorization" in job:
            token = tmp_path / "scrape.token"
            token.write_text("t0ken\n")
            job["authorization"]["credentials_file"] = str(token)
        if "tls_config" in job:
            job["tls_config"]["ca_file"] = str(REPO / "README.md")  # any existing file
    targets = config["scrape_configs"][0]["static_configs"][0]["targets"]
    assert sorted(targets) == ["aikpi-1:9464", "aikpi-2:9464"]
    demo = next(job for job in config["scrape_configs"] if job["job_name"] == "aikpi-demo")
    assert demo["static_configs"][0]["targets"] == ["demo:9464"]
    assert _compose()["services"]["demo"]["profiles"] == ["demo"]
    # promtool resolves rule_files; point them at the repo's rules for the check
    config["rule_files"] = [str(GRAFANA / "rules" / "*.yml")]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [promtool, "check", "config", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # the SLO rules, the KPI rules and the demo pilot plan's live view
    assert "SUCCESS: 3 rule files found" in result.stdout


def test_alertmanager_routes_page_and_ticket_to_different_receivers() -> None:
    amtool = require_binary("amtool")
    path = GRAFANA / "alertmanager.yml"
    check = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    def receiver(*labels: str) -> str:
        result = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={path}", *labels],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert receiver("alertname=AikpiErrorBudgetBurnPage", "severity=page", "workflow=w") == "pager"
    assert (
        receiver("alertname=AikpiErrorBudgetBurnTicket", "severity=ticket", "workflow=w")
        == "tickets"
    )
    assert receiver("alertname=Other") == "tickets"
    pilot = ("alertname=AikpiPilotGuardrailBreached", "severity=ticket", "plan=p", "workflow=w")
    assert receiver(*pilot) == "tickets"
    # its own route: one ticket per pilot and workflow, whatever guardrails it lists
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    (route,) = [
        r
        for r in config["route"]["routes"]
        if r["matchers"] == ['alertname="AikpiPilotGuardrailBreached"']
    ]
    assert route["receiver"] == "tickets"
    assert route["group_by"] == ["alertname", "plan", "workflow"]
    assert config["route"]["routes"][0] is route  # before the severity routes: it matches first


def test_docs_say_docker_was_not_run() -> None:
    deploy_doc = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert re.search(r"not (been )?run", deploy_doc, flags=re.I)
    assert "loadbalancing" in deploy_doc and "traceID" in deploy_doc


# --- authentication, TLS and evidence retention of the compose stack ---------------------


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _without(config: Any, paths: list[tuple[str, ...]]) -> Any:
    """``config`` with the keys at ``paths`` removed (a deep copy)."""
    config = copy.deepcopy(config)
    for path in paths:
        node = config
        for key in path[:-1]:
            node = node[key]
        node.pop(path[-1], None)
    return config


def test_deploy_otel_collector_is_the_grafana_one_plus_tokens_and_tls() -> None:
    deploy, grafana = _yaml(DEPLOY / "otelcol.yaml"), _yaml(GRAFANA / "otelcol.yaml")
    protocols = deploy["receivers"]["otlp"]["protocols"]
    for protocol in protocols.values():  # applications must send the token
        assert protocol["auth"] == {"authenticator": "bearertokenauth/otlp"}
    to_aikpi = deploy["exporters"]["loadbalancing/aikpi"]["protocol"]["otlp"]
    assert to_aikpi["auth"] == {"authenticator": "bearertokenauth/otlp"}
    assert to_aikpi["tls"] == {"ca_file": "/run/secrets/aikpi_ca"}  # a token only over TLS
    assert deploy["extensions"]["bearertokenauth/otlp"] == {"filename": "/run/secrets/otlp_token"}
    assert "bearertokenauth/otlp" in deploy["service"]["extensions"]
    added = [
        *(("receivers", "otlp", "protocols", name, "auth") for name in protocols),
        ("exporters", "loadbalancing/aikpi", "protocol", "otlp", "auth"),
        ("exporters", "loadbalancing/aikpi", "protocol", "otlp", "tls"),
        ("extensions", "bearertokenauth/otlp"),
    ]
    stripped = _without(deploy, added)
    stripped["service"]["extensions"].remove("bearertokenauth/otlp")
    tls = ("exporters", "loadbalancing/aikpi", "protocol", "otlp", "tls")
    grafana_stripped = _without(grafana, [tls])
    assert stripped == grafana_stripped, "deploy/otelcol.yaml drifted from grafana/otelcol.yaml"


def test_deploy_prometheus_is_the_grafana_one_plus_tls_and_the_scrape_token() -> None:
    deploy, grafana = _yaml(DEPLOY / "prometheus.yml"), _yaml(GRAFANA / "prometheus.yml")
    job = deploy["scrape_configs"][0]
    assert job["job_name"] == "aikpi"
    assert job["scheme"] == "https"
    assert job["tls_config"] == {"ca_file": "/run/secrets/aikpi_ca"}
    assert job["authorization"] == {"credentials_file": "/run/secrets/scrape_token"}
    added = [("scrape_configs", 0, key) for key in ("scheme", "tls_config", "authorization")]
    assert _without(deploy, added) == grafana, "deploy/prometheus.yml drifted from grafana's"


def test_compose_keeps_evidence_for_the_slo_period_and_a_whole_pilot() -> None:
    compose = _compose()
    prometheus = compose["services"]["prometheus"]
    flags = dict(flag.split("=", 1) for flag in prometheus["command"] if "=" in flag)
    retention = flags["--storage.tsdb.retention.time"]
    assert retention.endswith("d")
    # a 28-day SLO period, a pilot of up to 8 weeks and a baseline window of up to 8 weeks
    assert int(retention[:-1]) >= 28 and int(retention[:-1]) >= 8 * 7 + 8 * 7
    data = flags["--storage.tsdb.path"]
    assert f"prometheus-data:{data}" in prometheus["volumes"]
    assert "prometheus-data" in compose["volumes"]


def test_compose_publishes_only_authenticated_otlp_and_loopback_uis() -> None:
    services = _compose()["services"]
    for name in ("aikpi-1", "aikpi-2", "demo", "tempo"):
        assert "ports" not in services[name], f"{name} must stay inside the compose network"
    assert services["otel-collector"]["ports"] == ["4317:4317", "4318:4318"]
    for name in ("prometheus", "alertmanager", "grafana"):
        for port in services[name]["ports"]:
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    collector = _yaml(DEPLOY / "collector.yaml")
    secrets = set(services["aikpi-1"]["secrets"])
    for section in ("tls", "auth"):
        for path in collector[section].values():
            assert path.startswith("/run/secrets/") and path.split("/")[-1] in secrets, path


def _deployed_files(tmp_path: Path) -> dict[str, Path]:
    """Run ``make-secrets.sh`` into ``tmp_path``; map each compose secret to its file."""
    result = subprocess.run(
        ["sh", str(DEPLOY / "make-secrets.sh")],
        env={"PATH": "/usr/bin:/bin", "SECRETS_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    secrets = _compose()["secrets"]
    files = {name: tmp_path / Path(spec["file"]).name for name, spec in secrets.items()}
    for name, path in files.items():
        assert path.is_file(), f"make-secrets.sh did not make {name} ({path.name})"
    return files


def test_make_secrets_makes_every_compose_secret_and_keeps_existing_ones(tmp_path: Path) -> None:
    from cryptography import x509

    files = _deployed_files(tmp_path)
    for name in ("otlp_token", "scrape_token"):
        assert re.fullmatch(r"[0-9a-f]{64}\n", files[name].read_text()), name
    before = files["otlp_token"].read_text()
    files = _deployed_files(tmp_path)  # a second run rotates nothing
    assert files["otlp_token"].read_text() == before
    cert = x509.load_pem_x509_certificate(files["aikpi_server_cert"].read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"aikpi-1", "aikpi-2"} <= set(names.get_values_for_type(x509.DNSName))
    check = subprocess.run(
        ["openssl", "verify", "-CAfile", str(files["aikpi_ca"]), str(files["aikpi_server_cert"])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_deploy_collector_config_runs_and_a_real_prometheus_scrapes_it_as_deployed(
    tmp_path: Path,
) -> None:
    """deploy/collector.yaml and deploy/prometheus.yml's aikpi job, with the made secrets in
    place of /run/secrets: the collector serves TLS with the tokens, Prometheus scrapes it."""
    import ssl

    from support.collector import running_collector
    from support.net import free_port
    from support.prometheus import running_prometheus

    files = _deployed_files(tmp_path / "secrets")

    def local(path: str) -> str:
        return str(files[path.removeprefix("/run/secrets/")])

    collector = _yaml(DEPLOY / "collector.yaml")
    collector["host"] = "127.0.0.1"
    for key in ("otlp_http_port", "otlp_grpc_port", "metrics_port"):
        collector[key] = free_port()
    collector["tls"] = {key: local(value) for key, value in collector["tls"].items()}
    collector["auth"] = {key: local(value) for key, value in collector["auth"].items()}
    job = _yaml(DEPLOY / "prometheus.yml")["scrape_configs"][0]
    settings = {
        "scheme": job["scheme"],
        "tls_config": {"ca_file": local(job["tls_config"]["ca_file"])},
        "authorization": {"credentials_file": local(job["authorization"]["credentials_file"])},
    }
    context = ssl.create_default_context(cafile=str(files["aikpi_ca"]))
    scrape_token = files["scrape_token"].read_text().strip()
    with running_collector(
        tmp_path, collector, ssl_context=context, metrics_token=scrape_token
    ) as process:
        target = f"127.0.0.1:{process.metrics_port}"
        with running_prometheus(tmp_path, targets=[target], scrape_settings=settings) as prom:
            up = prom.wait_for(lambda: prom.values('up{job="aikpi"} == 1'))
    assert list(up.values()) == [1.0]


def test_deploy_doc_explains_auth_tls_retention_and_long_term_storage() -> None:
    doc = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    for words in (
        "make-secrets.sh",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "retention.time=120d",
        "remote_write",
        "Mimir",
        "Thanos",
        "prometheus-data",
    ):
        assert words in doc, words
