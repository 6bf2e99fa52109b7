"""End-to-end alerting: a burst of overridden outcomes pages through a real Alertmanager.

The SLO rules are generated from a spec with a compressed window set (page 14.4x over 30s &
6s); Prometheus evaluates them every second against a real collector fed through the SDK,
notifies a real Alertmanager configured with grafana/alertmanager.yml (webhook URLs pointed
at a local receiver), and the page must reach the ``pager`` receiver, not ``tickets``. With the
same configuration, a pilot's guardrail tickets are grouped per pilot and workflow and never
muted by an SLO page.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aikpi
import aikpi.testing
import pytest
import yaml
from aikpi_collector.slo import SLOSpec
from aikpi_collector.slo.generate import generated_files
from grafana_files import GRAFANA
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from support.collector import running_collector
from support.prometheus import running_alertmanager, running_prometheus

pytestmark = pytest.mark.slow

FAST_SPEC = {
    "name": "fast-test",
    "period": "10m",
    "low_traffic": {"min_events": 5},
    "alerting": {
        "window_set": "custom",
        "windows": [
            {"severity": "page", "burn_rate": 14.4, "long_window": "30s", "short_window": "6s"},
            {"severity": "ticket", "burn_rate": 1, "long_window": "5m", "short_window": "1m"},
        ],
    },
}
PAGE_LABELS = {
    "alertname": "AikpiErrorBudgetBurnPage",
    "severity": "page",
    "slo": "fast-test",
    "workflow": "checkout-assist",
    "objective": "95",
}


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[tuple[str, dict]]]]:
    """A local HTTP receiver standing in for the pager and ticket integrations."""
    received: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append((self.path, json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def _alertmanager_config(tmp_path: Path, base_url: str) -> Path:
    config = yaml.safe_load((GRAFANA / "alertmanager.yml").read_text(encoding="utf-8"))
    for receiver in config["receivers"]:
        for hook in receiver["webhook_configs"]:
            hook["url"] = f"{base_url}/{receiver['name']}"
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _decide(word: str, count: int) -> None:
    for _ in range(count):
        with aikpi.workflow("checkout-assist"), aikpi.step("suggest") as step:
            step.outcome(word, review_seconds=3.0)


def test_burst_of_overrides_pages_through_alertmanager(tmp_path: Path, webhook) -> None:
    base_url, received = webhook
    name = f"{FAST_SPEC['name']}.slo.rules.yml"
    rules = tmp_path / name
    rules.write_text(
        generated_files(SLOSpec.model_validate(FAST_SPEC), "fast.yaml")[name], encoding="utf-8"
    )
    with (
        running_collector(tmp_path / "collector") as collector,
        running_alertmanager(tmp_path, _alertmanager_config(tmp_path, base_url)) as am,
        running_prometheus(
            tmp_path,
            targets=[f"{collector.host}:{collector.metrics_port}"],
            rule_files=[rules],
            alertmanager=am.address,
        ) as prom,
    ):
        provider = TracerProvider()
        provider.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(endpoint=collector.traces_url), schedule_delay_millis=100
            )
        )
        aikpi.testing.reset()
        aikpi.configure(tracer_provider=provider)
        try:
            prom.wait_for(lambda: prom.query("up == 1"))
            start = time.monotonic()
            for _ in range(6):  # healthy traffic: series exist, nothing burns
                _decide("accepted", 3)
                time.sleep(0.5)
            assert prom.query('slo:sli_error:ratio_rate30s{slo="fast-test"} == 0')
            assert not prom.firing_alerts()

            # The burst: every AI output overridden, kept up until the pager is notified (the
            # page route waits 10s to group; a burn that stops resolves the alert first).
            deadline = time.monotonic() + 75
            while time.monotonic() < deadline and not any(p == "/pager" for p, _ in received):
                _decide("overridden", 10)
                time.sleep(0.5)
            provider.force_flush()
            elapsed = time.monotonic() - start
        finally:
            provider.shutdown()
            aikpi.testing.reset()

        firing = [a["labels"] for a in prom.firing_alerts()]
        assert PAGE_LABELS in firing
        (page,) = [a for a in am.alerts() if a["labels"] == PAGE_LABELS]
        assert page["status"]["state"] == "active"
        assert [r["name"] for r in page["receivers"]] == ["pager"]
        assert page["annotations"]["runbook_url"].endswith(
            "grafana/runbook.md#aikpierrorbudgetburnpage"
        )
        assert elapsed < 80, f"the page took {elapsed:.0f}s"
        payload = next(body for path, body in received if path == "/pager")
        assert payload["status"] == "firing"
        assert payload["alerts"][0]["labels"] == PAGE_LABELS
        # the ticket that fires too is inhibited by the page (same slo and workflow)
        assert not any(path == "/tickets" for path, _ in received)


def _post_alerts(am_url: str, alerts: list[dict[str, str]]) -> None:
    """Alerts as Prometheus sends them (``POST /api/v2/alerts``), each with a runbook."""
    body = [{"labels": labels, "annotations": {"runbook_url": "r"}} for labels in alerts]
    request = urllib.request.Request(
        f"{am_url}/api/v2/alerts",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def test_pilot_guardrail_tickets_group_per_pilot_and_are_not_muted_by_a_page(
    tmp_path: Path, webhook
) -> None:
    """With grafana/alertmanager.yml in a real Alertmanager: an SLO page for workflow w mutes
    the SLO ticket of w (same slo and workflow), not the pilot's guardrail tickets of w (they
    are for the pilot's owner, and carry no slo label); both guardrails of pilot p on w form
    one group, so one ticket lists them."""
    base_url, _ = webhook
    page = {**PAGE_LABELS, "workflow": "w"}
    slo_ticket = {**page, "alertname": "AikpiErrorBudgetBurnTicket", "severity": "ticket"}
    guardrail = {
        "alertname": "AikpiPilotGuardrailBreached",
        "severity": "ticket",
        "plan": "p",
        "workflow": "w",
        "role": "guardrail",
    }
    acceptance = {**guardrail, "kpi": "acceptance_rate", "unit": "pp"}
    reopen = {**guardrail, "kpi": "reopen_rate", "unit": "pp"}
    other_pilot = {**acceptance, "plan": "q"}
    with running_alertmanager(tmp_path, _alertmanager_config(tmp_path, base_url)) as am:
        _post_alerts(am.url, [page, slo_ticket, acceptance, reopen, other_pilot])

        def states() -> dict[str, tuple[str, list[str]]]:
            return {
                f"{a['labels']['alertname']} {a['labels'].get('plan', '')} "
                f"{a['labels'].get('kpi', '')}".strip(): (
                    a["status"]["state"],
                    [r["name"] for r in a["receivers"]],
                )
                for a in am.alerts()
            }

        deadline = time.monotonic() + 20
        while (
            time.monotonic() < deadline
            and states().get("AikpiErrorBudgetBurnTicket", ("",))[0] != "suppressed"
        ):
            time.sleep(0.2)
        assert states() == {
            "AikpiErrorBudgetBurnPage": ("active", ["pager"]),
            "AikpiErrorBudgetBurnTicket": ("suppressed", ["tickets"]),
            "AikpiPilotGuardrailBreached p acceptance_rate": ("active", ["tickets"]),
            "AikpiPilotGuardrailBreached p reopen_rate": ("active", ["tickets"]),
            "AikpiPilotGuardrailBreached q acceptance_rate": ("active", ["tickets"]),
        }
        with urllib.request.urlopen(f"{am.url}/api/v2/alerts/groups", timeout=10) as response:
            groups = json.loads(response.read())
        pilots = {
            frozenset(g["labels"].items()): sorted(a["labels"]["kpi"] for a in g["alerts"])
            for g in groups
            if g["labels"].get("alertname") == "AikpiPilotGuardrailBreached"
        }
        assert pilots == {
            frozenset(
                {"alertname": "AikpiPilotGuardrailBreached", "plan": "p", "workflow": "w"}.items()
            ): ["acceptance_rate", "reopen_rate"],
            frozenset(
                {"alertname": "AikpiPilotGuardrailBreached", "plan": "q", "workflow": "w"}.items()
            ): ["acceptance_rate"],
        }
