"""A pilot plan's live view in Prometheus: recording rules per criterion and a guardrail alert.

``aikpi-collector rules grafana/slo.yaml --plan PLAN.yaml`` writes ``<plan>.plan.rules.yml``.
Every series is generic (labels ``plan``, ``workflow``, ``kpi``, ``role``, ``unit``, and
``cohort`` where it is per cohort), so one board row serves every plan:

* ``plan:aikpi_steps:increase``: steps per workflow and cohort over the pilot window, the base
  that makes a term without events read 0 (and a workflow's presence in the pilot);
* ``plan:aikpi_criterion_value:ratio``: the criterion's KPI per cohort over the pilot window,
  the catalogue's formula (:func:`aikpi_collector.slo.kpi_rules.kpi_expr`), not PromQL
  written a second time;
* ``plan:aikpi_criterion_samples:increase``: the KPI's denominator per cohort (units, trials or
  exposure), the report's ``have_per_cohort``;
* ``plan:aikpi_criterion_estimate:ratio``: the effect AI vs baseline on the criterion's scale
  (``AI / baseline - 1``, or ``AI - baseline`` for ``pp``);
* ``plan:aikpi_criterion_limit:ratio``: the target or the signed margin (a constant);
* ``plan:aikpi_criterion_headroom:ratio``: how far the estimate is on the good side of its
  limit, in the KPI's better direction (< 0: short of the target, or beyond the margin), so
  one colour threshold at 0 serves every criterion of every plan;
* ``plan:aikpi_criterion_needed:count``: the pre-registered ``samples_per_cohort`` (never
  below the plan's minimum), else the minimum.

**Window.** A PromQL range cannot start at a date, but it can end at one: every total is
``increase(...[<days>d] @ <end>)``, the pilot period's length ending at the midnight (UTC)
after its last day. While the pilot runs that range starts at its first midnight and holds
everything up to now; once it is over, the pilot's final totals. Before it starts: no series.

``AikpiPilotGuardrailBreached`` (``ticket``) fires while the pilot runs when a guardrail's
estimate is worse than its margin with at least ``min_samples_per_cohort`` in both cohorts:
the report's guardrail **fail**, live. The report (``aikpi-collector report --plan``) stays
the verdict of record: it has the confidence intervals and the interim (always-valid) rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from datetime import time as midnight
from typing import Any

from aikpi_collector import catalogue as cat
from aikpi_collector.plan.spec import Criterion, Period, Plan, Role, ThresholdUnit
from aikpi_collector.slo.kpi_rules import Window, kpi_expr, term_sum
from aikpi_collector.slo.promql import dump_rules, regex_alternatives, selector

__all__ = (
    "ALERT_FOR",
    "ALERT_NAME",
    "ESTIMATE",
    "HEADROOM",
    "INTERVAL",
    "LIMIT",
    "NEEDED",
    "RECORDS",
    "SAMPLES",
    "STEPS",
    "VALUE",
    "needed_samples",
    "pilot_window",
    "plan_rules_file",
    "render_plan_rules",
    "rules_document",
)

STEPS = "plan:aikpi_steps:increase"
VALUE = "plan:aikpi_criterion_value:ratio"
SAMPLES = "plan:aikpi_criterion_samples:increase"
ESTIMATE = "plan:aikpi_criterion_estimate:ratio"
LIMIT = "plan:aikpi_criterion_limit:ratio"
HEADROOM = "plan:aikpi_criterion_headroom:ratio"
NEEDED = "plan:aikpi_criterion_needed:count"
RECORDS = (STEPS, VALUE, SAMPLES, ESTIMATE, LIMIT, HEADROOM, NEEDED)
"""Every series a plan's rule file records (the board reads only these)."""

ALERT_NAME = "AikpiPilotGuardrailBreached"
ALERT_FOR = "1h"
"""How long a breach must hold before the ticket: the estimate is cumulative since the pilot
started and moves slowly, so a real breach outlasts an hour easily, while a noisy estimate
crossing the margin right when the minimum samples are reached (or a scrape gap) does not;
a ticket loses nothing by waiting an hour."""
INTERVAL = "2m30s"
"""Evaluation interval of a plan's groups: each rule reads the whole pilot period (up to weeks
of raw samples), so not every 15 s; below the 5 m lookback, so a board never sees a gap."""
DEFAULT_RUNBOOK = "https://github.com/aikpi/aikpi/blob/main/grafana/runbook.md"

_AI = f'cohort="{cat.AI}"'
_BASELINE = f'cohort="{cat.BASELINE}"'


def plan_rules_file(plan: Plan) -> str:
    """``<plan name>.plan.rules.yml``."""
    return f"{plan.name}.plan.rules.yml"


def pilot_window(period: Period) -> tuple[str, int]:
    """The range (the period's days) and its end (unix seconds of the midnight, UTC, after the
    period's last day): ``[range] @ end`` starts at the period's first midnight."""
    end = datetime.combine(period.end + timedelta(days=1), midnight(), UTC)
    return f"{period.days}d", int(end.timestamp())


def needed_samples(plan: Plan, criterion: Criterion) -> int:
    """Samples per cohort the board shows as needed: the pre-registered size, never below the
    plan's minimum (as the report), else the minimum (the rules cannot size from variance:
    ``aikpi-collector plan`` does)."""
    return max(criterion.samples_per_cohort or 0, plan.min_samples_per_cohort)


def _plan(plan: Plan) -> str:
    return f'plan="{plan.name}"'


def _one_of(label: str, values: list[str]) -> str:
    if len(values) == 1:
        return f'{label}="{values[0]}"'
    return f'{label}=~"{regex_alternatives(values)}"'


def _window(plan: Plan) -> Window:
    span, end = pilot_window(plan.pilot_period)
    matchers = (_one_of("workflow", list(plan.workflows)),) if plan.workflows else ()
    return Window(
        range=span,
        function="increase",
        at=end,
        steps=STEPS,
        steps_matchers=(_plan(plan),),
        matchers=matchers,
    )


def _labels(plan: Plan, criterion: Criterion) -> dict[str, str]:
    return {
        "plan": plan.name,
        "kpi": criterion.kpi,
        "role": criterion.role.value,
        "unit": criterion.threshold.unit.value,
    }


def _constant(plan: Plan, criterion: Criterion, record: str, value: float) -> dict[str, Any]:
    """``value`` for every workflow with steps in the pilot window (the same labels as the
    estimate, so a board can join them)."""
    steps = f"max without (cohort) ({STEPS}{selector(_plan(plan))})"
    expr = f"{steps} * 0 + ({value!r})"
    return {"record": record, "expr": expr, "labels": _labels(plan, criterion)}


def _estimate(plan: Plan, unit: ThresholdUnit) -> dict[str, Any]:
    """One rule for every criterion on ``unit``'s scale: the label matchers pick them."""
    chosen = (_plan(plan), f'unit="{unit.value}"')
    ai = f"sum without (cohort) ({VALUE}{selector(*chosen, _AI)})"
    base = f"sum without (cohort) ({VALUE}{selector(*chosen, _BASELINE)})"
    # relative: a baseline of 0 leaves the change undefined (no sample, as the report's null)
    relative = unit is ThresholdUnit.RELATIVE
    expr = f"{ai}\n/ ({base} > 0)\n- 1" if relative else f"{ai}\n- {base}"
    # the label repeats the series' own: it tells the rules apart (promtool's duplicate check)
    return {"record": ESTIMATE, "expr": expr, "labels": {"unit": unit.value}}


def _headroom(plan: Plan, criterion: Criterion) -> dict[str, Any]:
    """Limit - estimate when lower is better, estimate - limit when higher is."""
    chosen = selector(_plan(plan), f'kpi="{criterion.kpi}"')
    estimate, limit = f"{ESTIMATE}{chosen}", f"{LIMIT}{chosen}"
    lower = criterion.catalogue_kpi.better is cat.Better.LOWER
    expr = f"{limit}\n- {estimate}" if lower else f"{estimate}\n- {limit}"
    return {"record": HEADROOM, "expr": expr, "labels": _labels(plan, criterion)}


def _recording_rules(plan: Plan) -> list[dict[str, Any]]:
    window = _window(plan)
    rules: list[dict[str, Any]] = [
        {
            "record": STEPS,
            "expr": kpi_expr(cat.kpi("steps"), window),
            "labels": {"plan": plan.name},
        }
    ]
    for criterion in plan.criteria:
        kpi = criterion.catalogue_kpi
        labels = _labels(plan, criterion)
        rules += [
            {"record": SAMPLES, "expr": term_sum(kpi.denominator, window), "labels": labels},
            {"record": VALUE, "expr": kpi_expr(kpi, window), "labels": dict(labels)},
            _constant(plan, criterion, LIMIT, criterion.limit),
            _constant(plan, criterion, NEEDED, needed_samples(plan, criterion)),
        ]
    units = [u for u in ThresholdUnit if any(c.threshold.unit is u for c in plan.criteria)]
    rules += [_estimate(plan, unit) for unit in units]
    rules += [_headroom(plan, criterion) for criterion in plan.criteria]
    return rules


def _shown(value: float, unit: ThresholdUnit) -> str:
    return f"{value * 100:+g} {'pp' if unit is ThresholdUnit.PP else '%'}"


def _alert(
    plan: Plan, criterion: Criterion, runbook_url: str, extra: Mapping[str, str]
) -> dict[str, Any]:
    """The guardrail's breach, as the report words a guardrail fail: the estimate is worse
    than the margin (direction from the KPI's better side) with enough samples in both
    cohorts; only while the pilot runs (afterwards the report is the record)."""
    kpi = criterion.catalogue_kpi
    chosen = selector(_plan(plan), f'kpi="{criterion.kpi}"')
    worse = ">" if kpi.better is cat.Better.LOWER else "<"
    _, end = pilot_window(plan.pilot_period)
    minimum = plan.min_samples_per_cohort
    expr = (
        f"{ESTIMATE}{chosen} {worse} {criterion.limit!r}\n"
        f"and on (plan, workflow, kpi)\n"
        f"  min without (cohort) ({SAMPLES}{chosen}) >= {minimum}\n"
        f"and on ()\n  vector(time()) < {end}"
    )
    unit = criterion.threshold.unit
    value = (
        '{{ reReplaceAll "%" " pp" (humanizePercentage $value) }}'
        if unit is ThresholdUnit.PP
        else "{{ humanizePercentage $value }}"
    )
    margin = criterion.threshold.text
    return {
        "alert": ALERT_NAME,
        "expr": expr,
        "for": ALERT_FOR,
        # plan and kpi repeat the series' own labels: they tell the rules apart
        "labels": {"severity": "ticket", "plan": plan.name, "kpi": criterion.kpi, **extra},
        "annotations": {
            "summary": (
                f"{{{{ $labels.workflow }}}}: {criterion.kpi} is worse than its {margin} margin "
                f"in pilot {plan.name}"
            ),
            "description": (
                f"Pilot {plan.name}, workflow {{{{ $labels.workflow }}}}: {kpi.title} changed "
                f"by {value} AI-assisted vs baseline over the pilot so far ({plan.pilot_period}),"
                f" worse than the guardrail's margin ({_shown(criterion.limit, unit)}; "
                f"{kpi.better.value} is better), with at least {minimum} samples in each cohort."
                " A point estimate, the report's guardrail fail: `aikpi-collector report "
                "--plan` gives its confidence interval and the plan's verdict."
            ),
            "runbook_url": f"{runbook_url}#{ALERT_NAME.lower()}",
        },
    }


def rules_document(
    plan: Plan,
    *,
    runbook_url: str = DEFAULT_RUNBOOK,
    labels: Mapping[str, str] | None = None,
    interval: str = INTERVAL,
) -> dict[str, Any]:
    """The rule file as data: the criteria's records, then the guardrails' alerts (if any).

    ``runbook_url`` and ``labels`` (extra alert labels, for routing) come from the SLO spec's
    ``alerting``, the one place alerting is configured; ``interval`` is for tests only."""
    groups: list[dict[str, Any]] = [
        {
            "name": f"aikpi-plan-{plan.name}-criteria",
            "interval": interval,
            "rules": _recording_rules(plan),
        }
    ]
    alerts = [
        _alert(plan, c, runbook_url, labels or {})
        for c in plan.criteria
        if c.role is Role.GUARDRAIL
    ]
    if alerts:
        groups.append(
            {"name": f"aikpi-plan-{plan.name}-alerts", "interval": interval, "rules": alerts}
        )
    return {"groups": groups}


def render_plan_rules(
    plan: Plan,
    source: str,
    *,
    runbook_url: str = DEFAULT_RUNBOOK,
    labels: Mapping[str, str] | None = None,
    interval: str = INTERVAL,
) -> str:
    """The rule file text of ``plan`` (read from ``source``), with its ``DO NOT EDIT`` header."""
    span, end = pilot_window(plan.pilot_period)
    period = plan.pilot_period
    header = (
        f"# DO NOT EDIT: generated from the pilot plan {source} by `make rules`\n"
        f"# (aikpi-collector rules grafana/slo.yaml --plan {source} --output-dir grafana/rules).\n"
        f'# Live view of pilot plan {plan.name!r} (docs/pilot-plans.md, "Live view"): per '
        "workflow and\n# criterion, the effect AI vs baseline, its target or margin and the "
        "samples per cohort.\n"
        f"# Window: the pilot period {period} ({period.days} days). A PromQL range cannot "
        "start at a\n# date, so every total is "
        f"increase(...[{span}] @ {end}), anchored at the period's end\n"
        f"# ({period.end + timedelta(days=1)}T00:00Z): from its first midnight to now while "
        "the pilot runs, its final\n# totals afterwards (Prometheus must retain the whole "
        "period). The verdict of record is\n# `aikpi-collector report --plan` (confidence "
        "intervals, interim looks); this is the live view.\n"
    )
    document = rules_document(plan, runbook_url=runbook_url, labels=labels, interval=interval)
    return header + dump_rules(document)
