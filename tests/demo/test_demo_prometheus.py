"""The report from a real Prometheus scraping the collector, against the pilot's ground truth.

``increase()`` extrapolates to the window's edges, so a Prometheus window never gives exact
counts. The test makes the factor measurable and common to every series: it replays the same
seeded pilot twice (so every label set already exists before the measured window starts and
doubles inside it), evaluates every query at one instant (``--at``), and then requires every
count to be the ground truth times that one factor, every ratio and mean to equal the ground
truth, and every quantile to fall in the bucket of the true order statistic.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time

import pytest
from aikpi_collector import catalogue
from aikpi_collector.report.kpis import AI, BASELINE, CohortData
from aikpi_collector.report.sources import read_prometheus
from pilot_truth import WORKFLOWS, Truth, bucket_of
from support.prometheus import running_prometheus

UNITS = 160
SEED = 23

pytestmark = pytest.mark.slow


def _steps_in_prometheus(prom) -> float:
    result = prom.query("sum(aikpi_steps_total)")
    return float(result[0]["value"][1]) if result else 0.0


def test_report_from_prometheus_matches_the_pilot(tmp_path) -> None:
    import aikpi.testing
    from aikpi_collector.config import CollectorConfig
    from aikpi_collector.demo.cli import run_pilot
    from aikpi_collector.server import CollectorServer

    config = CollectorConfig(
        otlp_http_port=0, otlp_grpc_port=0, metrics_port=0, log_level="WARNING"
    )
    server = CollectorServer(config)
    server.start()
    try:
        with running_prometheus(tmp_path, targets=[f"127.0.0.1:{server.metrics_port}"]) as prom:
            prom.wait_for(lambda: prom.query("up == 1"), timeout=30)
            first = run_pilot(server, units=UNITS, seed=SEED, days=28.0, show_progress=False)
            steps = sum(len(r.steps) for r in first)
            prom.wait_for(lambda: _steps_in_prometheus(prom) == steps, timeout=30)
            time.sleep(4.0)  # a plateau of scrapes before the measured window starts
            window_start = time.time() - 2.0
            second = run_pilot(server, units=UNITS, seed=SEED, days=28.0, show_progress=False)
            prom.wait_for(lambda: _steps_in_prometheus(prom) == 2 * steps, timeout=30)
            time.sleep(3.0)
            at = time.time()
            window = f"{math.ceil(at - window_start)}s"

            samples = read_prometheus(prom.url, window, at)
            cli = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "aikpi_collector",
                    "report",
                    "--prometheus",
                    prom.url,
                    "--window",
                    window,
                    "--at",
                    f"{at:.3f}",
                    "--format",
                    "json",
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
    finally:
        server.stop()
        aikpi.testing.reset()

    assert [len(r.steps) for r in second] == [len(r.steps) for r in first]
    overall = Truth(second, None, AI)
    factor = CohortData(samples, AI).steps / len(overall.steps)
    assert 1.0 <= factor <= 1.6, factor  # increase() extrapolation, the same for all series

    for workflow in (*WORKFLOWS, None):
        sel = {"workflow": workflow} if workflow else {}
        for cohort in (AI, BASELINE):
            truth = Truth(second, workflow, cohort)
            kpis = CohortData(samples, cohort, workflow)
            where = {**sel, "cohort": cohort}
            assert kpis.steps == pytest.approx(len(truth.steps) * factor, rel=1e-9)
            outcomes = samples.by_label("aikpi_outcomes_total", "outcome", where)
            assert outcomes == pytest.approx(
                {w: n * factor for w, n in truth.outcomes.items()}, rel=1e-9
            )
            violations = samples.total("aikpi_policy_violations_total", where)
            assert violations == pytest.approx(truth.violations * factor, rel=1e-9)
            assert kpis.value("acceptance_rate") == pytest.approx(
                truth.rate("accepted", "edited"), rel=1e-9
            )
            assert kpis.value("completion_rate") == pytest.approx(
                truth.statuses["completed"] / len(truth.runs), rel=1e-9
            )
            assert kpis.value("human_time_per_step") == pytest.approx(
                truth.human_seconds / len(truth.human_times), rel=1e-9
            )
            assert kpis.value("token_cost") == pytest.approx(truth.cost * factor, rel=1e-6)
            hist = kpis.histogram(catalogue.WORKFLOW_DURATION)
            assert hist.mean == pytest.approx(sum(truth.run_times) / len(truth.run_times), rel=1e-6)
            for bound, cumulative in zip(hist.bounds, hist.cumulative, strict=False):
                expected = sum(1 for x in truth.run_times if x <= bound) * factor
                assert cumulative == pytest.approx(expected, rel=1e-9, abs=1e-9)
            ordered = sorted(truth.run_times)
            for q in (0.5, 0.9):
                low, high = bucket_of(hist.bounds, ordered[math.ceil(q * len(ordered)) - 1])
                assert low <= hist.quantile(q) <= high

    assert cli.returncode == 0, cli.stderr
    cards = {c["workflow"]: c for c in json.loads(cli.stdout)["scorecards"]}
    assert set(cards) == {*WORKFLOWS, "all workflows"}
    assert cards["all workflows"]["window"] == f"last {window}"
    runs = cards["all workflows"]["evidence"]["runs"]
    assert runs["ai_assisted"] == pytest.approx(len(overall.runs) * factor, rel=1e-9)
