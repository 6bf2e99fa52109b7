"""Render the catalogue's KPIs as Prometheus recording rules (``grafana/rules/kpi.rules.yml``).

Every formula comes from :mod:`aikpi_collector.catalogue`, the same objects the report
evaluates, so the boards and the report cannot drift apart. Names follow
``level:metric:operation``: ``workflow_cohort:aikpi_<kpi>:ratio_rate1h`` keeps the workflow
and cohort labels of a 1h ratio; ``workflow:aikpi_<value>_per_hour:rate1h`` is a
workflow-level value at the last hour's pace. Every rule sums over collector replicas
(``sum by`` drops instance and job), so N replicas read as one.

A term with no events yet reads 0 (``or on (...) 0 * <steps>``); a ratio whose denominator
is 0 yields no sample (not NaN), as the report shows "-".
"""

from __future__ import annotations

from typing import Any

from aikpi_collector import catalogue as cat
from aikpi_collector.slo.promql import dump_rules, term_series

__all__ = ("KPI_RULES_FILE", "render_kpi_rules", "rules_document")

KPI_RULES_FILE = "kpi.rules.yml"
WINDOW = "1h"
_COHORT_LEVEL = ("workflow", "cohort")
_LABOR_RATE = f"team:{cat.LABOR_RATE.name}:max"
_STEPS = cat.kpi("steps")


def _by(labels: tuple[str, ...]) -> str:
    return ", ".join(labels)


def _rate(term: cat.Total, labels: tuple[str, ...], *matchers: str) -> str:
    return f"sum by ({_by(labels)}) (rate({term_series(term, *matchers)}[{WINDOW}]))"


def _steps_base(labels: tuple[str, ...], *matchers: str) -> str:
    """The vector of every (workflow[, cohort]) with steps: the default-zero base."""
    if labels == _COHORT_LEVEL and not matchers:
        return _STEPS.record
    return f"sum by ({_by(labels)}) ({_STEPS.record}{{{', '.join(matchers)}}})"


def _term(term: cat.Term, labels: tuple[str, ...], *matchers: str) -> str:
    """A term's rate per second by ``labels``, reading 0 where it has no series yet."""
    if isinstance(term, cat.LabourCost):
        by_team = _rate(term.seconds, (*labels, "team"), *matchers)
        value = (
            f"sum by ({_by(labels)}) (\n"
            f"    {by_team} / 3600\n      * on (team) group_left {_LABOR_RATE}\n"
            f"    or {by_team} / 3600\n"
            f'      * scalar({_LABOR_RATE}{{team="default"}})\n  )'
        )
    else:
        value = _rate(term, labels, *matchers)
    return f"(\n  {value}\n  or on ({_by(labels)}) 0 * {_steps_base(labels, *matchers)}\n)"


def _sum(terms: tuple[cat.Term, ...], labels: tuple[str, ...], *matchers: str) -> str:
    return "\n+ ".join(_term(t, labels, *matchers) for t in terms)


def kpi_expr(kpi: cat.Kpi) -> str:
    """The PromQL of one KPI by workflow and cohort."""
    if kpi is _STEPS:
        return _rate(cat.ALL_STEPS, _COHORT_LEVEL)
    numerator = _sum(kpi.numerator, _COHORT_LEVEL)
    if kpi.kind is cat.KpiKind.TOTAL:
        expr = numerator
    else:
        denominator = _sum(kpi.denominator, _COHORT_LEVEL)
        expr = f"(\n{numerator}\n)\n/ (\n{denominator}\n> 0)"
    if kpi.scale != 1.0:
        expr = f"{kpi.scale:g} * {expr}"
    if kpi.ai_only:
        expr = f'(\n{expr}\n)\nand on (workflow, cohort) {_STEPS.record}{{cohort="{cat.AI}"}}'
    return expr


def value_expr(expr: cat.Expr) -> str:
    """The PromQL of a workflow-level expression, per second, by workflow."""
    if isinstance(expr, cat.Const):
        return repr(expr.value)
    if isinstance(expr, cat.CohortKpi):
        return f'sum by (workflow) ({cat.kpi(expr.name).record}{{cohort="{expr.cohort}"}})'
    if isinstance(expr, cat.CohortTerm):
        return _term(expr.term, ("workflow",), f'cohort="{expr.cohort}"')
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
                    f"(rate({metric.name}_bucket[{WINDOW}])))",
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
