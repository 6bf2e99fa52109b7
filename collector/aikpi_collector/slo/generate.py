"""Render an :class:`SLOSpec` as Prometheus rule files (Sloth-compatible names).

Design (documented in ``docs/deploy.md`` and ``grafana/runbook.md``):

* ``slo:sli_error:ratio_rate<W>`` (labels ``slo``, ``workflow``, ``window``) is computed once
  for every workflow from the raw counters, for each alert window; the period ratio
  ``slo:sli_error:ratio_rate<period>`` averages the shortest-window ratio over the period, as
  Sloth does, so no rule reads 28 days of raw samples.
* Objectives live in the burn-rate rules, one rule set per *scope*: the default scope
  (every workflow without its own objective, selected with ``workflow!="x"``) and one per
  workflow listed under ``workflows:``. ``slo:burn_rate:ratio{window=W}`` is the error ratio
  divided by the scope's budget, so one alert rule per severity serves every workflow and
  every objective.
* A window with no eligible events yields no sample (not NaN), so idle periods do not poison
  the period average; the low-traffic guard adds ``slo:sli_eligible_events:increase<W>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aikpi_collector.slo.promql import dump_rules, regex_alternatives, selector, term_series
from aikpi_collector.slo.spec import AlertWindow, SLOSpec, parse_duration

if TYPE_CHECKING:
    from aikpi_collector.plan.spec import Plan

__all__ = ("GENERATE_COMMAND", "alert_name", "generated_files", "render_rules", "rules_document")

GENERATE_COMMAND = "aikpi-collector rules grafana/slo.yaml --output-dir grafana/rules"
"""The command (run by ``make rules``) that regenerates the checked-in rule files."""


def alert_name(severity: str) -> str:
    """Alert name for one severity, e.g. ``AikpiErrorBudgetBurnPage``."""
    return f"AikpiErrorBudgetBurn{severity.capitalize()}"


@dataclass(frozen=True)
class _Scope:
    """Workflows sharing one objective: the default scope or listed workflows."""

    matchers: tuple[str, ...]
    budget: float
    objective: float

    @property
    def label(self) -> str:
        """Value of the ``objective`` label, which keeps scopes' rules apart."""
        return f"{self.objective:g}"


def _scopes(spec: SLOSpec) -> list[_Scope]:
    """The default scope, then one scope per other objective (workflows grouped by objective)."""
    by_objective: dict[float, list[str]] = {}
    for name, override in sorted(spec.workflows.items()):
        if override.objective != spec.objective:
            by_objective.setdefault(override.objective, []).append(name)
    special = sorted(name for names in by_objective.values() for name in names)
    default_matchers = (f'workflow!~"{regex_alternatives(special)}"',) if special else ()
    scopes = [_Scope(default_matchers, spec.error_budget(), spec.objective)]
    for objective, names in sorted(by_objective.items()):
        scopes.append(
            _Scope(
                (f'workflow=~"{regex_alternatives(names)}"',),
                spec.error_budget(names[0]),
                objective,
            )
        )
    return scopes


def _union(function: str, series: Iterable[str], window: str) -> str:
    """``sum by (workflow)`` over the union of several counters' rates.

    ``or`` keeps every series because each metric has its own distinguishing label
    (``outcome``, ``status``, ``policy``), so the union adds missing parts as zero.
    """
    parts = [f"{function}({one}[{window}])" for one in series]
    body = "\n    or ".join(parts)
    return f"sum by (workflow) (\n    {body}\n  )"


def _base_matchers(spec: SLOSpec) -> tuple[str, ...]:
    """The cohort, and the workflows when the spec selects some."""
    matchers = (f'cohort="{spec.cohort}"',)
    if spec.select_workflows:
        matchers += (f'workflow=~"{regex_alternatives(sorted(spec.select_workflows))}"',)
    return matchers


def _eligible_series(spec: SLOSpec) -> list[str]:
    return [term_series(term, *_base_matchers(spec)) for term in spec.sli_terms()[1]]


def _bad_series(spec: SLOSpec) -> list[str]:
    return [term_series(term, *_base_matchers(spec)) for term in spec.sli_terms()[0]]


def _windows(spec: SLOSpec) -> list[str]:
    names = {w.long_window for w in spec.alerting.effective_windows}
    names |= {w.short_window for w in spec.alerting.effective_windows}
    return sorted(names, key=parse_duration)


def _sli_rules(spec: SLOSpec) -> list[dict[str, object]]:
    slo = f'slo="{spec.name}"'
    rules: list[dict[str, object]] = []
    windows = _windows(spec)
    for window in windows:
        bad = _union("rate", _bad_series(spec), window)
        eligible = _union("rate", _eligible_series(spec), window)
        rules.append(
            {
                "record": f"slo:sli_error:ratio_rate{window}",
                "expr": (
                    f"clamp_max(\n  (\n  {bad}\n  or 0 * {eligible}\n  )\n"
                    f"  /\n  ({eligible} > 0),\n  1\n)"
                ),
                "labels": {"slo": spec.name, "window": window},
            }
        )
    if spec.low_traffic.min_events > 0:
        for window in windows:
            rules.append(
                {
                    "record": f"slo:sli_eligible_events:increase{window}",
                    "expr": _union("increase", _eligible_series(spec), window),
                    "labels": {"slo": spec.name, "window": window},
                }
            )
    base = windows[0]
    base_ratio = f"slo:sli_error:ratio_rate{base}{selector(slo)}"
    rules.append(
        {
            "record": f"slo:sli_error:ratio_rate{spec.period}",
            "expr": (
                f"sum_over_time({base_ratio}[{spec.period}])\n"
                f"/\ncount_over_time({base_ratio}[{spec.period}])"
            ),
            "labels": {"slo": spec.name, "window": spec.period},
        }
    )
    days = parse_duration(spec.period) / 86400
    for scope in _scopes(spec):
        matchers = (slo, *scope.matchers)
        for window in windows:
            rules.append(
                {
                    "record": "slo:burn_rate:ratio",
                    "expr": f"slo:sli_error:ratio_rate{window}{selector(*matchers)}\n"
                    f"/ {scope.budget!r}",
                    "labels": {"objective": scope.label, "window": window},
                }
            )
        period_ratio = (
            f"sum without (window) (slo:sli_error:ratio_rate{spec.period}{selector(*matchers)})"
        )
        base_scope = f"sum without (window) (slo:sli_error:ratio_rate{base}{selector(*matchers)})"
        constants = (
            ("slo:objective:ratio", round(scope.objective / 100, 12)),
            ("slo:error_budget:ratio", scope.budget),
            ("slo:time_period:days", round(days, 12)),
        )
        scoped = [
            *(
                {"record": record, "expr": f"{period_ratio} * 0 + {value!r}"}
                for record, value in constants
            ),
            {"record": "slo:current_burn_rate:ratio", "expr": f"{base_scope}\n/ {scope.budget!r}"},
            {"record": "slo:period_burn_rate:ratio", "expr": f"{period_ratio}\n/ {scope.budget!r}"},
            {
                "record": "slo:period_error_budget_remaining:ratio",
                "expr": f"1 - slo:period_burn_rate:ratio{selector(*matchers)}",
            },
        ]
        for rule in scoped:
            rule["labels"] = {"objective": scope.label}
        rules += scoped
    return rules


def _condition(spec: SLOSpec, window: AlertWindow) -> str:
    slo = f'slo="{spec.name}"'
    burn = f"{window.burn_rate!r}".removesuffix(".0")
    lines = [
        "slo:burn_rate:ratio" + selector(slo, f'window="{window.long_window}"') + f" > {burn}",
        "and on (slo, workflow) slo:burn_rate:ratio"
        + selector(slo, f'window="{window.short_window}"')
        + f" > {burn}",
    ]
    if spec.low_traffic.min_events > 0:
        for name in (window.long_window, window.short_window):
            lines.append(
                f"and on (slo, workflow) slo:sli_eligible_events:increase{name}"
                f"{selector(slo)} >= {spec.low_traffic.min_events}"
            )
    return "(\n      " + "\n      ".join(lines) + "\n    )"


def _describe_windows(windows: list[AlertWindow]) -> str:
    return ", ".join(
        f"{w.long_window} & {w.short_window} above {f'{w.burn_rate!r}'.removesuffix('.0')}x"
        for w in windows
    )


def _alert_rules(spec: SLOSpec) -> list[dict[str, object]]:
    rules: list[dict[str, object]] = []
    by_severity: dict[str, list[AlertWindow]] = {}
    for window in spec.alerting.effective_windows:
        by_severity.setdefault(window.severity, []).append(window)
    bad = ", ".join(
        [o.value for o in spec.bad_outcomes]
        + (["failed steps"] if spec.step_errors_are_bad else [])
        + (["policy violations"] if spec.policy_violations_are_bad else [])
    )
    for severity in ("page", "ticket"):
        windows = by_severity.get(severity)
        if not windows:
            continue
        conditions = "\n  or\n    ".join(_condition(spec, w) for w in windows)
        name = alert_name(severity)
        rule: dict[str, object] = {
            "alert": name,
            "expr": f"max without (window) (\n    {conditions}\n)",
        }
        if severity in spec.alerting.for_:
            rule["for"] = spec.alerting.for_[severity]
        guard = (
            f" Windows with fewer than {spec.low_traffic.min_events} eligible events never alert."
            if spec.low_traffic.min_events > 0
            else ""
        )
        rule["labels"] = {"severity": severity, **spec.alerting.labels}
        rule["annotations"] = {
            "summary": (
                "{{ $labels.workflow }}: AI outcomes burn the {{ $labels.slo }} error budget "
                '{{ $value | printf "%.1f" }}x faster than sustainable'
            ),
            "description": (
                f"Bad AI-assisted outcomes ({bad}) of workflow {{{{ $labels.workflow }}}} "
                f"consume the {spec.period} error budget "
                f'{{{{ $value | printf "%.1f" }}}}x faster than the objective allows '
                f"(fires when both windows of a pair burn too fast: "
                f"{_describe_windows(windows)}).{guard}"
            ),
            "runbook_url": f"{spec.alerting.runbook_url}#{name.lower()}",
        }
        rules.append(rule)
    return rules


def rules_document(spec: SLOSpec) -> dict[str, object]:
    """The rule file as data: one group of recording rules, one group of alerts."""
    return {
        "groups": [
            {"name": f"aikpi-slo-{spec.name}-sli", "rules": _sli_rules(spec)},
            {"name": f"aikpi-slo-{spec.name}-alerts", "rules": _alert_rules(spec)},
        ]
    }


def render_rules(spec: SLOSpec, spec_name: str = "slo.yaml") -> str:
    """The rule file text, starting with the ``DO NOT EDIT`` header."""
    windows = _describe_windows(list(spec.alerting.effective_windows))
    header = (
        f"# DO NOT EDIT: generated from {spec_name} by `make rules`\n"
        f"# ({GENERATE_COMMAND}).\n"
        f"# SLO {spec.name!r}: {spec.objective:g}% of {spec.cohort} outcomes good over "
        f"{spec.period}; alert windows: {windows}.\n"
    )
    return header + dump_rules(rules_document(spec))


def generated_files(
    spec: SLOSpec, spec_name: str = "slo.yaml", plans: Sequence[tuple[Plan, str]] = ()
) -> dict[str, str]:
    """File name -> content of every file the generator writes: the SLO rules of ``spec``,
    the KPI recording rules of the catalogue, and the live view of each pilot plan (given with
    the path it was read from); plan alerts take the spec's runbook and routing labels."""
    from aikpi_collector.plan.rules import plan_rules_file, render_plan_rules
    from aikpi_collector.slo.kpi_rules import KPI_RULES_FILE, render_kpi_rules

    files = {
        f"{spec.name}.slo.rules.yml": render_rules(spec, spec_name),
        KPI_RULES_FILE: render_kpi_rules(GENERATE_COMMAND),
    }
    for plan, source in plans:
        name = plan_rules_file(plan)
        if name in files:
            raise ValueError(f"two pilot plans are named {plan.name!r}: one {name} for both")
        files[name] = render_plan_rules(
            plan, source, runbook_url=spec.alerting.runbook_url, labels=spec.alerting.labels
        )
    return files
