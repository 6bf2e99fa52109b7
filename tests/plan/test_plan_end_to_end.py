"""Pilot plans end to end: known workloads through the aikpi SDK, OTLP/HTTP and the collector,
judged by ``aikpi-collector report --plan`` and sized by ``aikpi-collector plan``.

Each workflow is a workload whose verdict is certain (issue "Pilot plans", proof): a large true
effect with many samples passes; no effect with many samples fails the primary; few samples
are inconclusive; a large primary win with a broken guardrail fails. The pilot's total cost of
ownership is checked to the cent, and the samples a criterion needs against the
normal-approximation formula at the workload's true variance.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from aikpi_collector.demo.simulate import LlmCallEvent, RunEvent, StepEvent
from scipy.stats import norm
from support.cli import run_collector_cli

pytestmark = pytest.mark.slow

PLAN = {
    "version": 1,
    "name": "known-workloads",
    "alpha": 0.05,
    "power": 0.8,
    "min_samples_per_cohort": 30,
    "primary": {"kpi": "human_time_per_step", "target": "-10%", "samples_per_cohort": 100},
    "guardrails": [
        {"kpi": "acceptance_rate", "margin": "5pp", "samples_per_cohort": 100},
        {"kpi": "correction_time_per_step", "margin": "25%", "samples_per_cohort": 100},
    ],
    "costs": {
        "per_month_usd": 3000,
        "one_off_usd": 12000,
        "amortise_months": 12,
        "supervision_hours_per_week": 4,
    },
    "pilot_period": "2026-10-01/2026-10-31",
}
LABOUR_RATE = 60.0  # the collector's default rate: supervision is priced at it
# 31 days: licences 3000 x 31/30, one-off 12000 x 31/360, supervision 4 h x $60 x 31/7
TCO = Decimal("3100.00") + Decimal("1033.33") + Decimal("1062.86")


def _run(
    rng: random.Random,
    workflow: str,
    cohort: str,
    index: int,
    human: tuple[float, float],
    used: float,
    correction: tuple[float, float] = (0.0, 0.0),
) -> RunEvent:
    """One run of one step: ``human`` is the (mean, sd) of its human time in seconds.

    The output is used with probability ``used`` (a third of those after an edit costing
    ``correction`` seconds), else overridden. AI-assisted: a model call, then the decision's
    review (+ correction) is the human time. Baseline: the step's duration is the human time
    (the reviewer's decision costs nothing more, as on every baseline step).
    """
    start = 1_780_000_000.0 + index * 10_000.0
    seconds = max(1.0, rng.gauss(*human))
    roll = rng.random()
    word = "accepted" if roll < used * 2 / 3 else "edited" if roll < used else "overridden"
    fix = max(0.0, rng.gauss(*correction)) if word == "edited" and correction[0] else None
    if cohort == "ai_assisted":
        call = LlmCallEvent("gpt-4o", "openai", start, start + 5.0, 800, 120, 0, 0.002)
        review = max(0.0, seconds - (fix or 0.0))
        step = StepEvent("draft", start, start + 5.0, False, word, fix, review, False, (call,), ())
    else:
        step = StepEvent("draft", start, start + seconds, False, word, fix, None, False, (), ())
    return RunEvent(
        f"{workflow}-{cohort}-{index}",
        workflow,
        cohort,
        "support",
        start,
        step.end,
        "completed",
        (step,),
        False,
    )


def _workload(rng: random.Random, name: str, n: int, ai: dict, base: dict) -> list[RunEvent]:
    runs = [_run(rng, name, "ai_assisted", i, **ai) for i in range(n)]
    return runs + [_run(rng, name, "baseline", n + i, **base) for i in range(n)]


BASE = {"human": (600.0, 60.0), "used": 0.9, "correction": (60.0, 10.0)}


SIZING = {**BASE, "human": (600.0, 180.0)}
"""Human time with a true coefficient of variation of 0.3."""


def workloads() -> list[RunEvent]:
    rng = random.Random(2026)
    return [
        # -40 % human time, more outcomes used and less repair: certain pass
        *_workload(
            rng,
            "large-effect",
            300,
            {"human": (360.0, 40.0), "used": 0.95, "correction": (30.0, 5.0)},
            BASE,
        ),
        # the same human time in both cohorts: the interval lies short of -10 %, a fail
        *_workload(rng, "no-effect", 400, BASE, BASE),
        # far too few samples for any verdict
        *_workload(rng, "few-samples", 12, {**BASE, "human": (300.0, 30.0)}, BASE),
        # -50 % human time, but acceptance falls from 90 % to 60 %: the guardrail breaks
        *_workload(
            rng, "broken-guardrail", 300, {**BASE, "human": (300.0, 30.0), "used": 0.6}, BASE
        ),
        # many samples from known distributions, for the sample-size formula
        *_workload(rng, "sizing", 2000, SIZING, SIZING),
    ]


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, list]]:
    import aikpi.testing
    from aikpi_collector.config import CollectorConfig, LaborCost
    from aikpi_collector.demo.pipeline import PilotSender
    from aikpi_collector.server import CollectorServer

    config = CollectorConfig(
        otlp_http_port=0,
        otlp_grpc_port=0,
        metrics_port=0,
        labor_cost=LaborCost(default_usd_per_hour=LABOUR_RATE),
        log_level="WARNING",
    )
    server = CollectorServer(config)
    server.start()
    plan = tmp_path_factory.mktemp("plan") / "plan.yaml"
    plan.write_text(yaml.safe_dump(PLAN))
    runs = workloads()
    try:
        sender = PilotSender(server)
        try:
            sender.send(runs)
        finally:
            sender.close()
        yield f"http://127.0.0.1:{server.metrics_port}/metrics", plan, runs
    finally:
        server.stop()
        aikpi.testing.reset()


def _report(metrics: str, plan: Path) -> dict[str, dict]:
    result = run_collector_cli(
        "report", "--metrics", metrics, "--plan", str(plan), "--format", "json", timeout=120
    )
    assert result.returncode == 0, result.stderr
    return {c["workflow"]: c for c in json.loads(result.stdout)["scorecards"]}


def test_verdicts_of_known_workloads(collector) -> None:
    metrics, plan, _runs = collector
    cards = _report(metrics, plan)
    verdicts = {name: card["plan"] for name, card in cards.items()}
    status = {
        name: {c["kpi"]: c["status"] for c in verdict["criteria"]}
        for name, verdict in verdicts.items()
    }
    assert verdicts["large-effect"]["verdict"] == "pass", status["large-effect"]
    assert verdicts["no-effect"]["verdict"] == "fail"
    assert status["no-effect"]["human_time_per_step"] == "fail"
    assert verdicts["few-samples"]["verdict"] == "inconclusive"
    assert set(status["few-samples"].values()) == {"inconclusive"}
    assert verdicts["broken-guardrail"]["verdict"] == "fail"
    assert status["broken-guardrail"]["human_time_per_step"] == "pass"
    assert status["broken-guardrail"]["acceptance_rate"] == "fail"
    # the design's JSON shape, with the estimate of the known effect
    primary = verdicts["large-effect"]["criteria"][0]
    assert primary["role"] == "primary" and primary["target"] == -0.10
    assert primary["estimate"] == pytest.approx(-0.40, abs=0.02)
    assert primary["ci"][0] < primary["estimate"] < primary["ci"][1] < 0
    assert primary["have_per_cohort"] == {"ai_assisted": 300, "baseline": 300}
    assert primary["needed_per_cohort"] == 100 and primary["interim"] is False


def test_total_cost_of_ownership_to_the_cent(collector) -> None:
    metrics, plan, runs = collector
    cards = _report(metrics, plan)
    costs = {name: card["plan"]["costs"] for name, card in cards.items()}
    assert costs["all workflows"]["days"] == 31
    assert Decimal(str(costs["all workflows"]["tco_usd"])) == TCO
    shares = {n: Decimal(str(c["tco_usd"])) for n, c in costs.items() if n != "all workflows"}
    assert sum(shares.values()) == TCO  # the workflows' shares add up to the cent
    ai_steps = {
        n: sum(1 for r in runs if r.workflow == n and r.cohort == "ai_assisted") for n in shares
    }
    for name, share in shares.items():  # in proportion to their AI-assisted steps
        exact = TCO * ai_steps[name] / sum(ai_steps.values())
        assert abs(share - exact) <= Decimal("0.03"), name
    # net = gross - tokens - TCO, to the cent
    for name, cost in costs.items():
        net = Decimal(str(cost["gross_gain_usd"])) - Decimal(str(cost["token_cost_usd"]))
        assert net - Decimal(str(cost["tco_usd"])) == Decimal(str(cost["net_gain_usd"]))
        # before TCO, the plan's gain is the scorecard's net productivity gain (one formula)
        row = next(r for r in cards[name]["rows"] if r["name"] == "net_productivity_gain_usd")
        assert float(net) == pytest.approx(row["ai_assisted"], abs=0.011)


def _formula(cv_ai: float, cv_base: float, target: float, alpha: float, power: float) -> float:
    """Samples per cohort to detect a relative change ``target`` of a mean (log scale)."""
    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    return z * z * (cv_ai**2 + cv_base**2) / math.log1p(target) ** 2


def test_samples_needed_match_the_formula_at_the_true_variance(collector, tmp_path) -> None:
    metrics, _plan, runs = collector
    unplanned = {**PLAN, "workflows": ["sizing"]}
    unplanned["primary"] = {"kpi": "human_time_per_step", "target": "-10%"}
    unplanned["guardrails"] = [{"kpi": "acceptance_rate", "margin": "5pp"}]
    path = tmp_path / "unplanned.yaml"
    path.write_text(yaml.safe_dump(unplanned))
    result = run_collector_cli(
        "plan", str(path), "--metrics", metrics, "--days", "10", "--format", "json", timeout=120
    )
    assert result.returncode == 0, result.stderr
    sizes = {s["kpi"]: s for s in json.loads(result.stdout)["workflows"]["sizing"]}
    # both cohorts' human time ~ N(600, 180): a true CV of 0.3; 2,000 samples a cohort
    # estimate its square within about 3 %, so the size lands within a few percent
    expected = _formula(0.3, 0.3, -0.10, 0.05, 0.8)
    assert sizes["human_time_per_step"]["needed_per_cohort"] == pytest.approx(expected, rel=0.07)
    # acceptance guardrail: the textbook two-proportion size at the baseline's proportion
    # (no true change assumed for a guardrail), from the planned events
    base = [r for r in runs if r.workflow == "sizing" and r.cohort == "baseline"]
    p0 = sum(r.steps[0].outcome in ("accepted", "edited") for r in base) / len(base)
    z = norm.ppf(0.975) + norm.ppf(0.8)
    proportion = z * z * 2 * p0 * (1 - p0) / 0.05**2
    assert sizes["acceptance_rate"]["needed_per_cohort"] == math.ceil(proportion - 1e-9)
    # 2,000 per cohort over 10 days: 200 a day; days in all = needed / 200
    primary = sizes["human_time_per_step"]
    assert primary["per_day"] == {"ai_assisted": 200.0, "baseline": 200.0}
    assert primary["days_total"] == pytest.approx(primary["needed_per_cohort"] / 200.0, abs=0.05)
