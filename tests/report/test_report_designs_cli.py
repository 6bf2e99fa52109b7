"""``report --baseline-window`` and the plan's ``baseline_period`` on the command line: what
goes together, and the one-line refusals of what cannot (a real subprocess each time)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from support.cli import run_collector_cli
from test_report_designs import PILOT

TIMEOUT = 60


def report(*args: str):
    return run_collector_cli("report", *args, timeout=TIMEOUT)


def exposition() -> bytes:
    """The constructed pilot window as a collector's /metrics page (totals)."""
    lines = []
    for name in sorted(PILOT.names()):
        for sample in PILOT.select(name):
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            lines.append(f"{name}{{{labels}}} {sample.value!r}")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def metrics_url() -> Iterator[str]:
    """A /metrics page holding workflow "both" (two cohorts) and "rollout" (AI only)."""
    body = exposition()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def write_plan(tmp_path: Path, **extra: object) -> Path:
    path = tmp_path / "plan.yaml"
    plan = {
        "version": 1,
        "name": "cli-q4",
        "primary": {"kpi": "human_time_per_step", "target": "-10%"},
        "pilot_period": "2026-10-01/2026-10-31",
        **extra,
    }
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    return path


def test_baseline_window_needs_prometheus(metrics_url: str) -> None:
    result = report("--metrics", metrics_url, "--baseline-window", "2026-08-01/2026-08-31")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "aikpi-collector report: error: --baseline-window needs --prometheus: a collector's "
        "/metrics holds totals since it started, with no history to read a pre-pilot window "
        "from\n"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-08-01", "'2026-08-01' is not a period START/END like 2026-10-01/2026-10-31"),
        ("2026-08-31/2026-08-01", "ends (2026-08-01) before it starts (2026-08-31)"),
        ("2026-02-30/2026-03-01", "holds an invalid date"),
    ],
)
def test_a_bad_baseline_window_is_a_usage_error(value: str, message: str) -> None:
    result = report("--prometheus", "http://127.0.0.1:1", "--baseline-window", value)
    assert result.returncode == 2
    assert "argument --baseline-window" in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr


def test_an_overlapping_window_is_refused_before_anything_is_read() -> None:
    # pilot window 2026-09-29 to 2026-10-06; port 1 answers nothing: the dates alone refuse it
    result = report(
        "--prometheus", "http://127.0.0.1:1", "--window", "7d", "--at", "1791244800",
        "--baseline-window", "2026-09-01/2026-09-30",
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == (
        "aikpi-collector report: error: the pre-period 2026-09-01/2026-09-30 "
        "(--baseline-window) must end before the pilot window starts (2026-09-29 00:00:00 UTC): "
        "a before/after comparison needs two separate windows\n"
    )


def test_with_metrics_the_plans_baseline_period_is_skipped_and_said(
    metrics_url: str, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, baseline_period="2026-08-01/2026-08-31")
    result = report("--metrics", metrics_url, "--plan", str(plan), "--workflow", "both")
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "aikpi-collector report: note: the plan's baseline_period 2026-08-01/2026-08-31 is not "
        "compared: a collector's /metrics has no history (use --prometheus)\n"
    )
    assert "design: concurrent (AI-assisted vs baseline cohort, both in the pilot window)" in (
        result.stdout
    )
    assert "designs (pre-period" not in result.stdout
    # without a pre-period, a workflow without baseline is refused as before
    result = report("--metrics", metrics_url, "--plan", str(plan), "--format", "json")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("aikpi-collector report: note: ")
    assert lines[1].startswith("aikpi-collector report: error: workflow(s) rollout lack")


def test_json_names_the_design_without_a_pre_period(metrics_url: str, tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    result = report(
        "--metrics", metrics_url, "--plan", str(plan), "--workflow", "both", "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    (card,) = json.loads(result.stdout)["scorecards"]
    assert card["design"] == "concurrent"
    assert list(card["plan"])[:3] == ["name", "verdict", "design"]
    assert card["plan"]["design"] == "concurrent"
    assert "designs" not in card
