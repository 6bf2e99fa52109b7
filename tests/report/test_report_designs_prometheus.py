"""Before/after and difference-in-differences from real history: a known workload's metrics
backfilled into Prometheus with ``promtool tsdb create-blocks-from openmetrics``, then
``aikpi-collector report`` as a subprocess, every design's numbers against ground truth.

The workload goes through the collector's own KPI engine (spans in, the registry's samples
out), whose totals are written as OpenMetrics with timestamps at five instants:

    T0 2026-08-01  nothing yet                     pre-period 2026-08-01/2026-08-31 = [T0, T1]
    mid-August     half of the pre-period's runs
    T1 2026-09-01  all of them
    T2 2026-10-01  plus September's runs           pilot window --window 31d --at T3 = [T2, T3]
    mid-October    half of the pilot's runs
    T3 2026-11-01  all of them

Every series has a sample at every instant (0 before it exists), so each window has samples
exactly on both of its boundaries. Prometheus 2's range selector includes both ends, so
``increase()`` then sees no gap to the window's edges and does not extrapolate: it is
exactly the last sample minus the first. Counts are therefore compared with the truth to
1e-9, not up to a factor. September's runs (wildly different values) lie between the two
windows: a window read even one day off would show them.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import statistics
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import NormalDist

import pytest
import yaml
from aikpi import semconv
from scipy import stats as scipy_stats
from statsmodels.stats.proportion import confint_proportions_2indep
from support.binaries import require_binary
from support.cli import run_collector_cli
from support.prometheus import running_prometheus

pytestmark = pytest.mark.slow

AI, BASE = "ai_assisted", "baseline"
USED = ("accepted", "edited")
ALPHA = 0.05
Z = NormalDist().inv_cdf(1 - ALPHA / 2)
TOL = 1e-6
"""The JSON rounds to 6 decimal places."""


def at(day: str) -> int:
    """Unix seconds of a UTC midnight."""
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


T0, T1, T2, T3 = at("2026-08-01"), at("2026-09-01"), at("2026-10-01"), at("2026-11-01")
PRE_PERIOD = "2026-08-01/2026-08-31"


# --- the workload and its ground truth ----------------------------------------------------------


@dataclass
class Step:
    """One run of one step, with what the engine will see and what it costs a human."""

    duration: float
    run_duration: float
    outcome: str
    correction: float
    review: float
    assisted: bool

    @property
    def human(self) -> float:
        """Human seconds by the design's definition: review + correction when assisted."""
        return self.review + self.correction if self.assisted else self.duration


@dataclass
class Group:
    """One cohort label of one workflow in one window."""

    workflow: str
    cohort: str
    steps: list[Step] = field(default_factory=list)

    def values(self, kpi: str) -> list[float]:
        """Per-unit values of a mean KPI (one run per step here)."""
        if kpi == "human_time_per_step":
            return [s.human for s in self.steps]
        if kpi == "cycle_time":
            return [s.run_duration for s in self.steps]
        assert kpi == "correction_time_per_step"
        return [s.correction for s in self.steps]

    def used(self) -> tuple[int, int]:
        """(accepted + edited, outcomes)."""
        return sum(s.outcome in USED for s in self.steps), len(self.steps)


def make_group(
    seed: int, workflow: str, cohort: str, n: int, *, human: float, assisted: bool, accept: float
) -> Group:
    """``n`` one-step runs; integer seconds, so the engine's sums are exact."""
    rng = random.Random(seed)
    group = Group(workflow, cohort)
    for _ in range(n):
        correction = float(rng.randint(0, 40))
        if assisted:
            review = float(max(1, round(rng.gauss(human, human / 6))))
            duration = float(rng.randint(20, 60))
        else:
            review = float(rng.randint(5, 30))
            duration = float(max(1, round(rng.gauss(human, human / 6))))
        r = rng.random()
        outcome = "accepted" if r < accept * 0.7 else "edited" if r < accept else "overridden"
        run_duration = duration + float(rng.randint(30, 300))
        group.steps.append(Step(duration, run_duration, outcome, correction, review, assisted))
    return group


def workload() -> dict[str, list[Group]]:
    """Per phase: "triage" has both cohorts in both windows (DiD), "rollout" moved wholly to
    AI (its pre-period is baseline only: before/after). "gap" is September, read by neither."""
    g = make_group
    return {
        "pre_first_half": [
            g(11, "triage", AI, 20, human=500, assisted=False, accept=0.75),
            g(12, "triage", BASE, 25, human=430, assisted=False, accept=0.78),
            g(13, "rollout", BASE, 40, human=600, assisted=False, accept=0.8),
        ],
        "pre_second_half": [
            g(21, "triage", AI, 25, human=500, assisted=False, accept=0.75),
            g(22, "triage", BASE, 25, human=430, assisted=False, accept=0.78),
            g(23, "rollout", BASE, 45, human=600, assisted=False, accept=0.8),
        ],
        "gap": [
            g(31, "triage", AI, 15, human=5000, assisted=True, accept=0.1),
            g(32, "triage", BASE, 15, human=5000, assisted=False, accept=0.1),
            g(33, "rollout", AI, 15, human=5000, assisted=True, accept=0.1),
        ],
        "pilot_first_half": [
            g(41, "triage", AI, 35, human=300, assisted=True, accept=0.85),
            g(42, "triage", BASE, 30, human=460, assisted=False, accept=0.8),
            g(43, "rollout", AI, 40, human=250, assisted=True, accept=0.9),
        ],
        "pilot_second_half": [
            g(51, "triage", AI, 30, human=300, assisted=True, accept=0.85),
            g(52, "triage", BASE, 30, human=460, assisted=False, accept=0.8),
            g(53, "rollout", AI, 35, human=250, assisted=True, accept=0.9),
        ],
    }


def pooled(phases: dict[str, list[Group]], names: tuple[str, ...], workflow: str, cohort=None):
    """One group of every step of ``workflow`` (and ``cohort``, None: any) over phases."""
    group = Group(workflow, cohort or "any")
    for name in names:
        for part in phases[name]:
            if part.workflow == workflow and (cohort is None or part.cohort == cohort):
                group.steps += part.steps
    return group


# --- spans -> engine -> OpenMetrics with timestamps -> promtool -> Prometheus --------------------


def feed(engine, groups: list[Group], start_ns: int, ids: Iterator[int]) -> None:
    """Each step as the SDK would send it: a workflow span and a step span with its outcome."""
    from aikpi_collector.spanrecord import SpanRecord

    for group in groups:
        for step in group.steps:
            dims = {
                semconv.CORRELATION_ID: f"run-{next(ids)}",
                semconv.WORKFLOW_NAME: group.workflow,
                semconv.COHORT: group.cohort,
                semconv.TEAM: "t",
            }
            attrs = {
                **dims,
                semconv.SPAN_TYPE: "step",
                semconv.STEP_NAME: "draft",
                semconv.STEP_ASSISTED: step.assisted,
                semconv.OUTCOME: step.outcome,
                semconv.CORRECTION_SECONDS: step.correction,
                semconv.REVIEW_SECONDS: step.review,
            }
            run = {**dims, semconv.SPAN_TYPE: "workflow", semconv.WORKFLOW_STATUS: "completed"}
            for attributes, seconds in ((attrs, step.duration), (run, step.run_duration)):
                n = next(ids)
                engine.process(
                    SpanRecord(
                        trace_id=n.to_bytes(16, "big"),
                        span_id=n.to_bytes(8, "big"),
                        name="span",
                        start_unix_nano=start_ns,
                        end_unix_nano=start_ns + int(seconds) * 1_000_000_000,
                        status_error=False,
                        attributes=attributes,
                    )
                )


Snapshot = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def snapshot(registry, families: dict[str, tuple[str, str]]) -> Snapshot:
    """The KPI samples now (no self-metrics, no ``_created``); records each family's type."""
    out: Snapshot = {}
    for metric in registry.collect():
        if not metric.name.startswith("aikpi_") or metric.name.startswith("aikpi_collector"):
            continue
        families[metric.name] = (metric.type, metric.documentation)
        for sample in metric.samples:
            if sample.name.endswith("_created"):
                continue
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _family_of(sample_name: str, families: dict[str, tuple[str, str]]) -> str:
    for suffix in ("_total", "_bucket", "_count", "_sum", ""):
        base = sample_name.removesuffix(suffix) if suffix else sample_name
        if base in families and (suffix or families[base][0] == "gauge"):
            return base
    raise KeyError(sample_name)


def openmetrics(snapshots: list[tuple[int, Snapshot]], families: dict[str, tuple[str, str]]) -> str:
    """OpenMetrics text: per family, per series, one point per instant (0 before it existed)."""
    keys = sorted({key for _, snap in snapshots for key in snap})
    by_family: dict[str, dict[tuple[tuple[str, str], ...], list]] = {}
    for name, labels in keys:
        series = tuple(kv for kv in labels if kv[0] != "le")
        by_family.setdefault(_family_of(name, families), {}).setdefault(series, []).append(
            (name, labels)
        )
    lines = []
    for family in sorted(by_family):
        kind, doc = families[family]
        lines += [f"# TYPE {family} {kind}", f"# HELP {family} {doc}"]
        for members in by_family[family].values():
            order = {"_bucket": 0, "_count": 1, "_sum": 2}
            members.sort(
                key=lambda m: (
                    next((v for s, v in order.items() if m[0].endswith(s)), 0),
                    float(dict(m[1]).get("le", "0").replace("+Inf", "inf")),
                )
            )
            for stamp, snap in snapshots:
                for name, labels in members:
                    text = ",".join(f'{k}="{v}"' for k, v in labels)
                    lines.append(f"{name}{{{text}}} {snap.get((name, labels), 0.0)!r} {stamp}")
    return "\n".join([*lines, "# EOF", ""])


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Iterator[tuple[str, dict[str, list[Group]]]]:
    """Prometheus serving the workload's backfilled history, and the workload."""
    from aikpi_collector.config import CollectorConfig
    from aikpi_collector.engine import KpiEngine
    from prometheus_client import CollectorRegistry

    tmp = tmp_path_factory.mktemp("history")
    phases = workload()
    registry = CollectorRegistry()
    engine = KpiEngine(CollectorConfig(log_level="WARNING"), registry)
    families: dict[str, tuple[str, str]] = {}
    ids = itertools.count(1)
    instants = [
        (T0, ()),
        (T0 + 15 * 86400, ("pre_first_half",)),
        (T1, ("pre_second_half",)),
        (T2, ("gap",)),
        (T2 + 15 * 86400, ("pilot_first_half",)),
        (T3, ("pilot_second_half",)),
    ]
    snapshots = []
    for stamp, names in instants:
        for name in names:
            feed(engine, phases[name], (stamp - 86400) * 1_000_000_000, ids)
        snapshots.append((stamp, snapshot(registry, families)))
    source = tmp / "history.om"
    source.write_text(openmetrics(snapshots, families), encoding="utf-8")
    data = tmp / "data"
    promtool = require_binary("promtool")
    created = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr + created.stdout
    retention = ["--storage.tsdb.retention.time=100y"]  # keep the backfilled months
    with running_prometheus(tmp, data_dir=data, extra_args=retention) as prom:
        prom.wait_for(lambda: prom.query("sum(aikpi_steps_total)", at=T3), timeout=60)
        yield prom.url, phases


def report(url: str, *args: str) -> dict:
    result = run_collector_cli("report", "--prometheus", url, "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return {card["workflow"]: card for card in json.loads(result.stdout)["scorecards"]}


# --- ground truth of each design ------------------------------------------------------------------


def mean_var(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.variance(values) / len(values)


def two_group_truth(kpi: str, a: Group, b: Group) -> dict[str, tuple[float, float, float]]:
    """Absolute and relative effect of ``a`` vs ``b`` with their intervals, from raw values:
    Welch (scipy) and the delta method on the log ratio for means; Newcombe and the adjusted
    Katz log interval for proportions (statsmodels, on the true counts)."""
    if kpi == "acceptance_rate":
        (x1, n1), (x0, n0) = a.used(), b.used()
        diff = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff")
        ratio = confint_proportions_2indep(x1, n1, x0, n0, method="log-adjusted", compare="ratio")
        return {
            "absolute": (x1 / n1 - x0 / n0, float(diff[0]), float(diff[1])),
            "relative": ((x1 / n1) / (x0 / n0) - 1, float(ratio[0]) - 1, float(ratio[1]) - 1),
        }
    va, vb = a.values(kpi), b.values(kpi)
    welch = scipy_stats.ttest_ind(va, vb, equal_var=False).confidence_interval(1 - ALPHA)
    (m1, s1), (m0, s0) = mean_var(va), mean_var(vb)
    half = Z * math.sqrt(s1 / m1**2 + s0 / m0**2)
    log_ratio = math.log(m1 / m0)
    return {
        "absolute": (m1 - m0, float(welch.low), float(welch.high)),
        "relative": (m1 / m0 - 1, math.expm1(log_ratio - half), math.expm1(log_ratio + half)),
    }


def did_truth(kpi: str, a1: Group, a0: Group, b1: Group, b0: Group):
    """(A1 - A0) - (B1 - B0) with z * sqrt(sum of the four variances), and relative to the
    counterfactual A0 + (B1 - B0) with the delta method on the log ratio."""

    def level(g: Group) -> tuple[float, float]:
        if kpi == "acceptance_rate":
            x, n = g.used()
            return x / n, (x / n) * (1 - x / n) / n
        return mean_var(g.values(kpi))

    (l1, v1), (l0, v0), (k1, w1), (k0, w0) = map(level, (a1, a0, b1, b0))
    did = (l1 - l0) - (k1 - k0)
    half = Z * math.sqrt(v1 + v0 + w1 + w0)
    cf = l0 + (k1 - k0)
    log_half = Z * math.sqrt(v1 / l1**2 + (v0 + w1 + w0) / cf**2)
    log_ratio = math.log(l1 / cf)
    low, high = math.expm1(log_ratio - log_half), math.expm1(log_ratio + log_half)
    return {"absolute": (did, did - half, did + half), "relative": (l1 / cf - 1, low, high)}


def check(entries: list[dict], kpi: str, design: str, truth: dict, samples: dict) -> None:
    for scale, (estimate, low, high) in truth.items():
        (entry,) = [
            e for e in entries if (e["kpi"], e["design"], e["scale"]) == (kpi, design, scale)
        ]
        assert entry["estimate"] == pytest.approx(estimate, abs=TOL), (kpi, design, scale)
        assert entry["ci"] == pytest.approx([low, high], abs=TOL), (kpi, design, scale)
        assert entry["samples"] == samples, (kpi, design, scale)
        assert entry["interval"] == "fixed"


HEADLINES = ("human_time_per_step", "cycle_time", "correction_time_per_step", "acceptance_rate")
PRE = ("pre_first_half", "pre_second_half")
PILOT = ("pilot_first_half", "pilot_second_half")


def test_every_design_from_backfilled_history_matches_the_ground_truth(history) -> None:
    url, phases = history
    cards = report(url, "--window", "31d", "--at", str(T3), "--baseline-window", PRE_PERIOD)
    # mixed designs: no pooled card
    assert set(cards) == {"triage", "rollout"}

    a1, b1 = pooled(phases, PILOT, "triage", AI), pooled(phases, PILOT, "triage", BASE)
    a0, b0 = pooled(phases, PRE, "triage", AI), pooled(phases, PRE, "triage", BASE)
    every_pre = pooled(phases, PRE, "triage")
    triage = cards["triage"]
    assert triage["design"] == "concurrent"
    assert triage["pre_period"]["period"] == PRE_PERIOD
    assert triage["pre_period"]["unavailable"] == {}
    # the windows are exact: the step counts are the truth's, not extrapolated
    steps = triage["evidence"]["steps"]
    assert steps == {"ai_assisted": len(a1.steps), "baseline": len(b1.steps)}
    entries = triage["designs"]
    assert {e["kpi"] for e in entries} == set(HEADLINES)
    n = {"ai_assisted": len(a1.steps)}
    four = n | {
        "baseline": len(b1.steps),
        "ai_assisted_pre": len(a0.steps),
        "baseline_pre": len(b0.steps),
    }
    for kpi in HEADLINES:
        check(entries, kpi, "concurrent", two_group_truth(kpi, a1, b1), n | {"baseline": 60})
        check(
            entries,
            kpi,
            "before_after",
            two_group_truth(kpi, a1, every_pre),
            n | {"pre_period": len(every_pre.steps)},
        )
        check(
            entries,
            kpi,
            "difference_in_differences",
            did_truth(kpi, a1, a0, b1, b0),
            four,
        )

    rollout = cards["rollout"]
    r1, r0 = pooled(phases, PILOT, "rollout", AI), pooled(phases, PRE, "rollout")
    assert rollout["design"] == "before_after"
    assert rollout["pre_period"]["unavailable"] == {
        "concurrent": "no baseline cohort in the pilot window",
        "difference_in_differences": "no baseline cohort in the pilot window",
    }
    human = next(r for r in rollout["rows"] if r["name"] == "human_time_per_step")
    assert human["ai_assisted"] == pytest.approx(statistics.fmean(r1.values(human["name"])))
    assert human["baseline"] == pytest.approx(statistics.fmean(r0.values(human["name"])))
    assert rollout["evidence"]["runs"] == {"ai_assisted": len(r1.steps), "baseline": len(r0.steps)}
    assert (len(r1.steps), len(r0.steps), *four.values()) == (75, 85, 65, 60, 45, 50)
    for kpi in HEADLINES:
        n = {"ai_assisted": len(r1.steps), "pre_period": len(r0.steps)}
        check(rollout["designs"], kpi, "before_after", two_group_truth(kpi, r1, r0), n)


def test_the_plan_judges_a_rollout_before_after_and_a_concurrent_pilot_concurrently(
    history, tmp_path: Path
) -> None:
    url, phases = history
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "name": "history-q4",
                "primary": {"kpi": "human_time_per_step", "target": "-10%"},
                "guardrails": [{"kpi": "acceptance_rate", "margin": "2pp"}],
                "pilot_period": "2026-10-01/2026-10-31",
                "baseline_period": PRE_PERIOD,
            }
        ),
        encoding="utf-8",
    )
    cards = report(url, "--plan", str(plan))  # both windows from the plan
    r1, r0 = pooled(phases, PILOT, "rollout", AI), pooled(phases, PRE, "rollout")
    block = cards["rollout"]["plan"]
    assert (block["name"], block["design"]) == ("history-q4", "before_after")
    primary = block["criteria"][0]
    assert primary["have_per_cohort"] == {"ai_assisted": 75, "baseline": 85}
    truth = two_group_truth("human_time_per_step", r1, r0)["relative"][0]
    assert primary["estimate"] == pytest.approx(truth, abs=TOL)
    assert primary["status"] == "pass"  # 250 s vs 600 s of human time per step
    assert cards["triage"]["plan"]["design"] == "concurrent"
    a1, b1 = pooled(phases, PILOT, "triage", AI), pooled(phases, PILOT, "triage", BASE)
    truth = two_group_truth("human_time_per_step", a1, b1)["relative"][0]
    assert cards["triage"]["plan"]["criteria"][0]["estimate"] == pytest.approx(truth, abs=TOL)
    # the designs section lists the plan's criteria
    assert {e["kpi"] for e in cards["triage"]["designs"]} == {
        "human_time_per_step",
        "acceptance_rate",
    }


def test_a_pre_period_overlapping_the_pilot_or_without_data(history) -> None:
    url, _ = history
    result = run_collector_cli(
        "report", "--prometheus", url, "--window", "31d", "--at", str(T3),
        "--baseline-window", "2026-09-15/2026-10-05",
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "aikpi-collector report: error: the pre-period 2026-09-15/2026-10-05 "
        "(--baseline-window) must end before the pilot window starts (2026-10-01 00:00:00 UTC): "
        "a before/after comparison needs two separate windows"
    )
    # an empty pre-period is said on stderr; the concurrent workflow still has its scorecard
    result = run_collector_cli(
        "report", "--prometheus", url, "--window", "31d", "--at", str(T3),
        "--baseline-window", "2026-06-01/2026-06-30", "--workflow", "triage", "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "note: no aikpi step data in the pre-period 2026-06-01/2026-06-30" in result.stderr
    (card,) = json.loads(result.stdout)["scorecards"]
    assert {e["design"] for e in card["designs"]} == {"concurrent"}
    assert card["pre_period"]["unavailable"]["before_after"] == (
        "no runs of this workflow in the pre-period"
    )
    # and the workflow that needed it is refused by name
    result = run_collector_cli(
        "report", "--prometheus", url, "--window", "31d", "--at", str(T3),
        "--baseline-window", "2026-06-01/2026-06-30",
    )  # fmt: skip
    assert result.returncode == 1
    assert "rollout have neither a baseline cohort in the pilot window nor runs in the " in (
        result.stderr
    )
