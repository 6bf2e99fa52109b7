"""Render the catalogue's KPIs as Prometheus recording rules (``grafana/rules/kpi.rules.yml``).

Every formula comes from :mod:`aikpi_collector.catalogue`, the same objects the report
evaluates, so the boards and the report cannot drift apart. Names follow
``level:metric:operation``: ``workflow_cohort:aikpi_<kpi>:ratio_rate1h`` keeps the workflow
and cohort labels of a 1h ratio; ``workflow:aikpi_<value>_per_hour:rate1h`` is a
workflow-level value at the last hour's pace. Every rule sums over collector replicas
(``sum by`` drops instance and job), so N replicas read as one.

A term with no events yet reads 0 (``or on (...) 0 * <steps>``); a ratio whose denominator
is 0 yields no sample (not NaN), as the report shows "-".

The window is a parameter (:class:`Window`): the scorecard's rules total every term as a rate
over the last hour (:data:`HOURLY`); a pilot plan's rules (:mod:`aikpi_collector.plan.rules`)
total the same terms as increases over the pilot period, so a KPI's PromQL is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aikpi_collector import catalogue as cat
from aikpi_collector.slo.promql import dump_rules, selector, term_series

__all__ = (
    "COHORT_LEVEL",
    "HOURLY",
    "KPI_RULES_FILE",
    "Window",
    "kpi_expr",
    "render_kpi_rules",
    "rules_document",
    "term_sum",
)

KPI_RULES_FILE = "kpi.rules.yml"
COHORT_LEVEL = ("workflow", "cohort")
"""The labels every KPI rule keeps."""
_LABOR_RATE = f"team:{cat.LABOR_RATE.name}:max"
_STEPS = cat.kpi("steps")


@dataclass(frozen=True, slots=True)
class Window:
    """How rules total a catalogue term over time: ``function(series[range] @ at)``.

    ``steps`` is the recorded steps of the same window by (workflow, cohort), selected with
    ``steps_matchers``: every (workflow, cohort) with work in the window, the base that makes a
    term without events read 0. ``matchers`` restrict every raw series (a plan's workflows).
    """

    range: str = "1h"
    function: str = "rate"
    at: int | None = None
    """``@`` modifier: the range ends at these unix seconds instead of at evaluation time."""
    steps: str = _STEPS.record
    steps_matchers: tuple[str, ...] = ()
    matchers: tuple[str, ...] = ()

    def total(self, series: str) -> str:
        """``function(series[range] @ at)``."""
        at = "" if self.at is None else f" @ {self.at}"
        return f"{self.function}({series}[{self.range}]{at})"


HOURLY = Window()
"""The scorecard's window: rates per second over the last hour."""


def _by(labels: tuple[str, ...]) -> str:
    return ", ".join(labels)


def _rate(term: cat.Total, labels: tuple[str, ...], window: Window, *matchers: str) -> str:
    series = term_series(term, *window.matchers, *matchers)
    return f"sum by ({_by(labels)}) ({window.total(series)})"


def _steps_base(labels: tuple[str, ...], window: Window, *matchers: str) -> str:
    """The vector of every (workflow[, cohort]) with steps: the default-zero base."""
    selected = (*window.steps_matchers, *matchers)
    if labels == COHORT_LEVEL and not selected:
        return window.steps
    return f"sum by ({_by(labels)}) ({window.steps}{{{', '.join(selected)}}})"


def _term(term: cat.Term, labels: tuple[str, ...], window: Window, *matchers: str) -> str:
    """A term's total over ``window`` by ``labels``, reading 0 where it has no series yet."""
    if isinstance(term, cat.LabourCost):
        by_team = _rate(term.seconds, (*labels, "team"), window, *matchers)
        value = (
            f"sum by ({_by(labels)}) (\n"
            f"    {by_team} / 3600\n      * on (team) group_left {_LABOR_RATE}\n"
            f"    or {by_team} / 3600\n"
            f'      * scalar({_LABOR_RATE}{{team="default"}})\n  )'
        )
    else:
        value = _rate(term, labels, window, *matchers)
    base = _steps_base(labels, window, *matchers)
    return f"(\n  {value}\n  or on ({_by(labels)}) 0 * {base}\n)"


def term_sum(terms: tuple[cat.Term, ...], window: Window = HOURLY) -> str:
    """The sum of a KPI's numerator or denominator terms over ``window``, by workflow and
    cohort (a plan's samples per cohort are its KPI's denominator)."""
    return "\n+ ".join(_term(t, COHORT_LEVEL, window) for t in terms)


def kpi_expr(kpi: cat.Kpi, window: Window = HOURLY) -> str:
    """The PromQL of one KPI by workflow and cohort over ``window``."""
    if kpi is _STEPS:
        return _rate(cat.ALL_STEPS, COHORT_LEVEL, window)
    numerator = term_sum(kpi.numerator, window)
    if kpi.kind is cat.KpiKind.TOTAL:
        expr = numerator
    else:
        denominator = term_sum(kpi.denominator, window)
        expr = f"(\n{numerator}\n)\n/ (\n{denominator}\n> 0)"
    if kpi.scale != 1.0:
        expr = f"{kpi.scale:g} * {expr}"
    if kpi.ai_only:
        ai = selector(*window.steps_matchers, f'cohort="{cat.AI}"')
        expr = f"(\n{expr}\n)\nand on (workflow, cohort) {window.steps}{ai}"
    return expr


def value_expr(expr: cat.Expr) -> str:
    """The PromQL of a workflow-level expression, per second, by workflow."""
    if isinstance(expr, cat.Const):
        return repr(expr.value)
    if isinstance(expr, cat.CohortKpi):
        return f'sum by (workflow) ({cat.kpi(expr.name).record}{{cohort="{expr.cohort}"}})'
    if isinstance(expr, cat.CohortTerm):
        return _term(expr.term, ("workflow",), HOURLY, f'cohort="{expr.cohort}"')
    if isinstance(expr, cat.BinOp):
        left, right = value_expr(expr.left), value_expr(expr.right)
        if expr.op == "/" and isinstance(expr.right, cat.Const):
            return f"(\n{left}\n)\n/ {right}"
        if expr.op == "/":
            return f"(\n{left}\n)\n/ (\n{right}\n> 0)"
        return f"(\n{left}\n)\n{expr.op} (\n{right}\n)"
    raise TypeError(f"not a catalogue expression: {expr!r}")


def _quantile_rules() -> list[dict[str, Any]]:
    rules = []
    for metric, quantiles in cat.QUANTILES:
        for q in quantiles:
            rules.append(
                {
                    "record": f"workflow_cohort:{metric.name}:p{q * 100:.0f}_rate1h",
                    "expr": f"histogram_quantile({q}, sum by (workflow, cohort, le) "
                    f"(rate({metric.name}_bucket[{HOURLY.range}])))",
                }
            )
    return rules


def rules_document() -> dict[str, Any]:
    """The rule file as data: base series, one group per scorecard area, values, quantiles."""
    base = [
        {"record": _STEPS.record, "expr": kpi_expr(_STEPS)},
        # each replica exposes the same gauge: deduplicate with max
        {"record": _LABOR_RATE, "expr": f"max by (team) ({cat.LABOR_RATE.name})"},
    ]
    groups: list[dict[str, Any]] = [{"name": "aikpi-kpi-base", "rules": base}]
    by_area: dict[str, list[dict[str, Any]]] = {}
    for kpi in cat.KPIS:
        if kpi is _STEPS:
            continue
        by_area.setdefault(kpi.area, []).append({"record": kpi.record, "expr": kpi_expr(kpi)})
    for area, rules in by_area.items():
        groups.append({"name": f"aikpi-kpi-{area.lower().replace(' ', '-')}", "rules": rules})
    values = [
        {"record": value.record, "expr": f"3600 * (\n{value_expr(value.expr)}\n)"}
        for value in cat.VALUES
    ]
    groups.append({"name": "aikpi-kpi-values-per-hour", "rules": values})
    groups.append({"name": "aikpi-kpi-quantiles", "rules": _quantile_rules()})
    return {"groups": groups}


def render_kpi_rules(command: str) -> str:
    """The rule file text, starting with the ``DO NOT EDIT`` header naming ``command``."""
    header = (
        "# DO NOT EDIT: generated from collector/aikpi_collector/catalogue.py by `make rules`\n"
        f"# ({command}).\n"
        "# KPI recording rules of the AI pilot scorecard (formulas: docs/metrics.md):\n"
        "# workflow_cohort:aikpi_<kpi>:ratio_rate1h, workflow:aikpi_<value>_per_hour:rate1h,\n"
        "# and quantiles.\n"
    )
    return header + dump_rules(rules_document())
