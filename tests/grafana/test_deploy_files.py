"""The full-stack files: compose, Dockerfile, OpenTelemetry Collector, Prometheus, Alertmanager.

Docker is not available here, so the stack itself is not started; these tests prove what can
be proven without it: every file parses, every mounted file exists, the OTel Collector
pipeline references defined components and routes by trace id, Prometheus accepts its config,
and Alertmanager routes page and ticket to different receivers (``amtool``).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

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
    mounts = 0
    for name, service in _compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith("."), f"{name}: {volume} is not a repo file"
            assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
            mounts += 1
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


def test_otel_collector_config_fans_out_by_trace_id() -> None:
    config = yaml.safe_load((GRAFANA / "otelcol.yaml").read_text(encoding="utf-8"))
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


def test_prometheus_config_is_valid_and_scrapes_every_replica(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    config = yaml.safe_load((GRAFANA / "prometheus.yml").read_text(encoding="utf-8"))
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
