"""The generated SLO alerts, unit-tested with ``promtool test rules`` on synthetic counters.

Each multiwindow pair is driven at just above its burn rate after three days of good traffic:
the alert must fire exactly when the long window has filled (not one scrape earlier), with
exact labels and annotations; 0.5x burn never alerts; low traffic never pages; a per-workflow
objective changes which workflow pages. The expected annotations are written out here, not
taken from the generator.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.binaries import require_binary

REPO = Path(__file__).resolve().parents[2]
SLO_RULES = REPO / "grafana" / "rules" / "ai-outcome.slo.rules.yml"
RUNBOOK = "https://github.com/aikpi/aikpi/blob/main/grafana/runbook.md"
DEFAULT_BUDGET = 0.05  # objective 95 in grafana/slo.yaml
TRIAGE_BUDGET = 0.03  # incident-triage: objective 97
PRE_PHASE_SECONDS = 3 * 86400  # good traffic before the burn: the longest alert window
EVENTS_PER_INTERVAL = 1000.0

MINUTE = 60
HOUR = 3600
DAY = 86400

PAGE_WINDOWS = "1h & 5m above 14.4x, 6h & 30m above 6x"
TICKET_WINDOWS = "1d & 2h above 3x, 3d & 6h above 1x"


def _duration(seconds: int) -> str:
    return f"{seconds}s"


def _series(workflow: str, outcome: str) -> str:
    return (
        f'aikpi_outcomes_total{{workflow="{workflow}", step="draft", cohort="ai_assisted", '
        f'team="none", outcome="{outcome}"}}'
    )


def _counter(first: list[float], then_per_interval: float, then_count: int) -> str:
    """Expanding notation: explicit increments ``first`` summed, then a constant increment."""
    values = []
    total = 0.0
    values.append("0")
    for step in first:
        total += step
        values.append(repr(total))
    if then_count:
        start = total + then_per_interval
        values.append(f"{start!r}+{then_per_interval!r}x{then_count - 1}")
    return " ".join(values)


def _burn_phase(workflow: str, interval: int, ratio: float, bad_intervals: int) -> list[dict]:
    """Good traffic for the pre-phase, then ``ratio`` of each interval's events bad."""
    pre = PRE_PHASE_SECONDS // interval
    bad = EVENTS_PER_INTERVAL * ratio
    good = EVENTS_PER_INTERVAL - bad
    return [
        {
            "series": _series(workflow, "accepted"),
            "values": f"0+{EVENTS_PER_INTERVAL!r}x{pre} "
            f"{pre * EVENTS_PER_INTERVAL + good!r}+{good!r}x{bad_intervals - 1}",
        },
        {
            "series": _series(workflow, "overridden"),
            "values": f"0+0x{pre} {bad!r}+{bad!r}x{bad_intervals - 1}",
        },
    ]


def _alert(severity: str, workflow: str, objective: str, burn: float, windows: str) -> dict:
    value = f"{burn:.1f}"
    return {
        "exp_labels": {
            "severity": severity,
            "slo": "ai-outcome",
            "workflow": workflow,
            "objective": objective,
        },
        "exp_annotations": {
            "summary": (
                f"{workflow}: AI outcomes burn the ai-outcome error budget {value}x "
                "faster than sustainable"
            ),
            "description": (
                "Bad AI-assisted outcomes (overridden, escalated, rejected, failed steps, "
                f"policy violations) of workflow {workflow} consume the 28d error budget "
                f"{value}x faster than the objective allows (fires when both windows of a pair "
                f"burn too fast: {windows}). Windows with fewer than 10 eligible events never "
                "alert."
            ),
            "runbook_url": f"{RUNBOOK}#aikpierrorbudgetburn{severity}",
        },
    }


def _checks(at: int, page: list[dict] | None, ticket: list[dict] | None) -> list[dict]:
    """Alert tests at ``at`` seconds; ``None`` skips that severity."""
    cases = []
    for name, expected in (
        ("AikpiErrorBudgetBurnPage", page),
        ("AikpiErrorBudgetBurnTicket", ticket),
    ):
        if expected is not None:
            cases.append({"eval_time": _duration(at), "alertname": name, "exp_alerts": expected})
    return cases


@dataclass(frozen=True)
class Pair:
    severity: str
    burn_rate: float
    long_window: int
    short_window: int
    windows_text: str


PAIRS = (
    Pair("page", 14.4, HOUR, 5 * MINUTE, PAGE_WINDOWS),
    Pair("page", 6.0, 6 * HOUR, 30 * MINUTE, PAGE_WINDOWS),
    Pair("ticket", 3.0, DAY, 2 * HOUR, TICKET_WINDOWS),
    Pair("ticket", 1.0, 3 * DAY, 6 * HOUR, TICKET_WINDOWS),
)


def _pair_test(pair: Pair, interval: int) -> dict[str, Any]:
    """Burn just above ``pair.burn_rate``: below threshold one interval before the long window
    has filled, above it once filled. A second workflow burns at half the pair's rate over the
    same time and never alerts (no other pair can reach its threshold by then either)."""
    # ratio * (1 - interval / W) < threshold < ratio
    ratio = pair.burn_rate * DEFAULT_BUDGET / (1 - interval / (2 * pair.long_window))
    t0 = PRE_PHASE_SECONDS
    workflow = "code-review"
    burn = ratio / DEFAULT_BUDGET
    expected = [_alert(pair.severity, workflow, "95", burn, pair.windows_text)]
    before = t0 + pair.long_window - interval
    after = t0 + pair.long_window
    other = []  # the other severity stays quiet at both instants
    page, ticket = (expected, other) if pair.severity == "page" else (other, expected)
    return {
        "name": f"{pair.severity} {pair.burn_rate}x over {pair.long_window}s",
        "interval": _duration(interval),
        "input_series": [
            *_burn_phase(workflow, interval, ratio, pair.long_window // interval + 2),
            *_burn_phase(
                "code-review-half",
                interval,
                0.5 * pair.burn_rate * DEFAULT_BUDGET,
                pair.long_window // interval + 2,
            ),
        ],
        "alert_rule_test": [
            *_checks(before, [], []),
            *_checks(after, page, ticket),
        ],
    }


def _per_workflow_objective_test(interval: int) -> dict[str, Any]:
    """Same traffic in two workflows: only the one with the stricter objective (97) pages."""
    pair = PAIRS[0]
    ratio = pair.burn_rate * TRIAGE_BUDGET / (1 - interval / (2 * pair.long_window))
    bad_intervals = pair.long_window // interval + 2
    series = _burn_phase("incident-triage", interval, ratio, bad_intervals)
    series += _burn_phase("code-review", interval, ratio, bad_intervals)
    after = PRE_PHASE_SECONDS + pair.long_window
    expected = [_alert("page", "incident-triage", "97", ratio / TRIAGE_BUDGET, PAGE_WINDOWS)]
    return {
        "name": "per-workflow objective",
        "interval": _duration(interval),
        "input_series": series,
        "alert_rule_test": [
            *_checks(after - interval, [], []),
            *_checks(after, expected, []),
        ],
    }


def _low_traffic_test(interval: int) -> dict[str, Any]:
    """Every event bad, but 1 event per 5 minutes: below the guard of 10 in both page pairs'
    short windows, so nothing pages; 10x the traffic pages (the guard, not the rate, held)."""
    per_interval_low = interval / (5 * MINUTE)
    intervals = 7 * HOUR // interval
    return {
        "name": "low-traffic guard",
        "interval": _duration(interval),
        "input_series": [
            {
                "series": _series("quiet", "overridden"),
                "values": f"0+{per_interval_low!r}x{intervals}",
            },
            {
                "series": _series("busy", "overridden"),
                "values": f"0+{10 * per_interval_low!r}x{intervals}",
            },
        ],
        "alert_rule_test": [
            {
                "eval_time": _duration(at),
                "alertname": "AikpiErrorBudgetBurnPage",
                "exp_alerts": [_alert("page", "busy", "95", 1 / DEFAULT_BUDGET, PAGE_WINDOWS)],
            }
            for at in (HOUR, 6 * HOUR, 7 * HOUR)
        ],
    }


def _half_burn_test(interval: int) -> dict[str, Any]:
    """0.5x the slowest burn rate for more than the longest window: no alert ever."""
    ratio = 0.5 * DEFAULT_BUDGET
    intervals = (3 * DAY + 2 * HOUR) // interval
    bad = EVENTS_PER_INTERVAL * ratio
    good = EVENTS_PER_INTERVAL - bad
    series = [
        {"series": _series("code-review", "accepted"), "values": f"0+{good!r}x{intervals}"},
        {"series": _series("code-review", "overridden"), "values": f"0+{bad!r}x{intervals}"},
    ]
    checks = []
    for at in (5 * MINUTE, HOUR, 6 * HOUR, DAY, 3 * DAY, 3 * DAY + 2 * HOUR):
        checks += _checks(at, [], [])
    return {
        "name": "0.5x burn",
        "interval": _duration(interval),
        "input_series": series,
        "alert_rule_test": checks,
    }


def _run_promtool(tmp_path: Path, name: str, evaluation_interval: int, tests: list[dict]) -> None:
    promtool = require_binary("promtool")
    document = {
        "rule_files": [str(SLO_RULES)],
        "evaluation_interval": _duration(evaluation_interval),
        # Recording rules first at each instant, as the alert group reads their results.
        "group_eval_order": ["aikpi-slo-ai-outcome-sli", "aikpi-slo-ai-outcome-alerts"],
        "tests": tests,
    }
    path = tmp_path / f"{name}.test.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=1000), encoding="utf-8")
    result = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, (
        f"promtool test rules {path} failed:\n{result.stdout}\n{result.stderr}"
    )
    assert "SUCCESS" in result.stdout


INTERVAL = 5 * MINUTE  # scrape and evaluation interval of the unit tests


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{p.severity}-{p.burn_rate:g}x")
def test_each_pair_fires_just_after_its_long_window_not_before(tmp_path: Path, pair: Pair) -> None:
    _run_promtool(tmp_path, "pair", INTERVAL, [_pair_test(pair, INTERVAL)])


def test_half_the_slowest_burn_rate_never_alerts(tmp_path: Path) -> None:
    _run_promtool(tmp_path, "half", INTERVAL, [_half_burn_test(INTERVAL)])


def test_low_traffic_never_pages(tmp_path: Path) -> None:
    _run_promtool(tmp_path, "low", INTERVAL, [_low_traffic_test(INTERVAL)])


def test_per_workflow_objective_pages_only_that_workflow(tmp_path: Path) -> None:
    _run_promtool(tmp_path, "objective", INTERVAL, [_per_workflow_objective_test(INTERVAL)])


def test_promtool_rejects_a_wrong_expectation(tmp_path: Path) -> None:
    """The harness can fail: claiming a page under the low-traffic guard is reported."""
    test = _low_traffic_test(INTERVAL)
    test["alert_rule_test"] = [
        {
            "eval_time": "1h",
            "alertname": "AikpiErrorBudgetBurnPage",
            "exp_alerts": [_alert("page", "quiet", "95", 20.0, PAGE_WINDOWS)],
        }
    ]
    with pytest.raises(AssertionError, match="FAILED"):
        _run_promtool(tmp_path, "wrong", INTERVAL, [test])
