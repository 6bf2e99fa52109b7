"""Render scorecards: a rich terminal table, JSON for scripts, Markdown for a review doc."""

from __future__ import annotations

import json
from typing import Any

from aikpi_collector.report.scorecard import Row, Scorecard, Unit, format_value
from aikpi_collector.report.stats import Interval
from aikpi_collector.report.verdicts import Level

__all__ = ("evidence_lines", "evidence_text", "render_table", "to_json", "to_markdown")

_STYLE = {
    Level.GOOD: "green",
    Level.WARNING: "bold red",
    Level.NEUTRAL: "yellow",
    Level.INSUFFICIENT: "dim",
}
_ICON = {
    Level.GOOD: "good",
    Level.WARNING: "WARNING",
    Level.NEUTRAL: "neutral",
    Level.INSUFFICIENT: "not enough evidence",
}


def _interval(i: Interval | None, unit: Unit) -> str:
    if i is None:
        return "n/a"
    if unit is Unit.RATIO:
        return f"{i.estimate * 100:+.1f} pp [{i.low * 100:+.1f}, {i.high * 100:+.1f}]"
    return f"{i.estimate / 60:+.1f} min [{i.low / 60:+.1f}, {i.high / 60:+.1f}]"


def evidence_lines(card: Scorecard) -> list[str]:
    """Sample sizes per cohort, then the two 95 % intervals of the differences."""
    e = card.evidence
    if e is None:
        return []
    lines = [
        f"evidence: runs {e.runs[0]:.0f} / {e.runs[1]:.0f}, steps {e.steps[0]:.0f} / "
        f"{e.steps[1]:.0f}, outcomes {e.outcomes[0]:.0f} / {e.outcomes[1]:.0f} "
        f"(AI-assisted / baseline; a verdict needs {e.min_samples} per cohort); "
        f"{e.undecided:.0f} assisted steps without human time (undecided, or failed)",
        f"95 % CI of AI - baseline: cycle time {_interval(e.cycle_time_diff, Unit.SECONDS)}, "
        f"acceptance {_interval(e.acceptance_diff, Unit.RATIO)}",
    ]
    if e.pooled:
        lines.append(
            "all workflows: ratios pool every run, step and outcome (volume-weighted); "
            "net gain and hours saved are the sums of the workflows' own values"
        )
    return lines


def _effect(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value * 100:+.1f} {'pp' if unit == 'pp' else '%'}"


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def plan_lines(card: Scorecard) -> list[str]:
    """The pilot plan's verdict, one line per criterion, then the pilot's costs."""
    verdict = card.extra.get("plan")
    if verdict is None:
        return []
    data = verdict.to_dict()
    interim = (
        " (interim: always-valid intervals until the planned samples)" if data["interim"] else ""
    )
    lines = [f"pilot plan {data['name']}: {data['verdict'].upper()}{interim}"]
    for item in data["criteria"]:
        limit = item.get("target", item.get("margin"))
        label = "target" if "target" in item else "margin"
        ci = item["ci"]
        ci_text = (
            ""
            if ci is None
            else f" [{_effect(ci[0], item['unit'])}, {_effect(ci[1], item['unit'])}]"
        )
        have = item["have_per_cohort"]
        needed = item["needed_per_cohort"]
        lines.append(
            f"  {item['status']:<12} {item['role']:<9} {item['kpi']}: "
            f"{_effect(item['estimate'], item['unit'])}{ci_text}, {label} "
            f"{_effect(limit, item['unit'])}; samples {have['ai_assisted']:.0f} / "
            f"{have['baseline']:.0f} of {needed if needed is not None else '?'} needed "
            f"per cohort"
        )
    costs = data.get("costs")
    if costs:
        ci = costs.get("net_gain_ci")
        ci_text = "" if not ci else f" [{_usd(ci[0])}, {_usd(ci[1])}]"
        payback = costs.get("payback_days")
        lines.append(
            f"  costs over {costs['days']} days: TCO {_usd(costs['tco_usd'])}, tokens "
            f"{_usd(costs['token_cost_usd'])}, gross gain {_usd(costs['gross_gain_usd'])}, "
            f"net gain {_usd(costs['net_gain_usd'])}{ci_text}; payback "
            + ("none at this pace" if payback is None else f"{payback} days")
        )
    return lines


def evidence_text(card: Scorecard) -> str:
    """The evidence as one line (Markdown)."""
    return "; ".join(evidence_lines(card))


def render_table(cards: list[Scorecard], console: Any = None, detail: bool = True) -> None:
    """Print one rich table per scorecard (``detail=False``: headline rows only)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:  # piped or in CI: do not wrap at 80 columns
            console = Console(width=180)
    for card in cards:
        table = Table(
            title=f"aikpi scorecard: {card.workflow} ({card.window})",
            title_justify="left",
            box=box.SIMPLE_HEAD if not detail else box.SQUARE,
            expand=False,
        )
        table.add_column("area", style="bold")
        table.add_column("KPI")
        table.add_column("AI-assisted", justify="right")
        table.add_column("baseline", justify="right")
        table.add_column("delta", justify="right")
        table.add_column("verdict")
        previous_area = ""
        for row in card.rows:
            if not detail and row.verdict is None:
                continue
            if detail and row.area != previous_area and previous_area:
                table.add_section()
            verdict = ""
            if row.verdict is not None:
                verdict = f"[{_STYLE[row.verdict.level]}]{row.verdict.text}[/]"
            table.add_row(
                row.area if row.area != previous_area else "",
                row.kpi,
                format_value(row.ai, row.unit),
                format_value(row.baseline, row.unit),
                row.delta_text,
                verdict,
            )
            previous_area = row.area
        console.print(table)
        for line in evidence_lines(card):
            console.print(f"[dim]{line}[/]", highlight=False)
        for line in plan_lines(card):
            console.print(line, highlight=False, markup=False)
        console.print()


def _interval_json(i: Interval | None) -> dict[str, float] | None:
    return None if i is None else {"estimate": i.estimate, "low": i.low, "high": i.high}


def _row_json(row: Row) -> dict[str, Any]:
    return {
        "area": row.area,
        "kpi": row.kpi,
        "name": row.name or None,
        "unit": row.unit.value,
        "ai_assisted": row.ai,
        "baseline": row.baseline,
        "delta": row.delta,
        "verdict": None
        if row.verdict is None
        else {"level": row.verdict.level.value, "text": row.verdict.text},
    }


def to_json(cards: list[Scorecard]) -> str:
    """Every scorecard with raw numbers (seconds, ratios 0..1, USD) and verdicts."""
    out = []
    for card in cards:
        e = card.evidence
        evidence = None
        if e is not None:
            evidence = {
                "runs": {"ai_assisted": e.runs[0], "baseline": e.runs[1]},
                "steps": {"ai_assisted": e.steps[0], "baseline": e.steps[1]},
                "outcomes": {"ai_assisted": e.outcomes[0], "baseline": e.outcomes[1]},
                "cycle_time_diff_seconds": _interval_json(e.cycle_time_diff),
                "acceptance_diff": _interval_json(e.acceptance_diff),
                "min_samples": e.min_samples,
                "undecided_steps": e.undecided,
                "pooled": e.pooled,
            }
        entry: dict[str, Any] = {
            "workflow": card.workflow,
            "window": card.window,
            "rows": [_row_json(r) for r in card.rows],
            "evidence": evidence,
        }
        if "plan" in card.extra:
            entry["plan"] = card.extra["plan"].to_dict()
        out.append(entry)
    return json.dumps({"scorecards": out}, indent=2)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(cards: list[Scorecard]) -> str:
    """A Markdown section per workflow, ready to paste into a pilot review document."""
    lines: list[str] = []
    for card in cards:
        lines += [
            f"### {card.workflow} ({card.window})",
            "",
            "| area | KPI | AI-assisted | baseline | delta | verdict |",
            "|---|---|--:|--:|--:|---|",
        ]
        for row in card.rows:
            verdict = ""
            if row.verdict is not None:
                label, text = _ICON[row.verdict.level], row.verdict.text
                if text.startswith(label):  # "not enough evidence: ..." says it already
                    verdict = f"**{label}**{text[len(label) :]}"
                else:
                    verdict = f"**{label}**: {text}"
            cells = [
                row.area,
                row.kpi,
                format_value(row.ai, row.unit),
                format_value(row.baseline, row.unit),
                row.delta_text,
                verdict,
            ]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
        lines += ["", f"_{evidence_text(card)}_", ""]
        plan = plan_lines(card)
        if plan:
            lines += [f"**{plan[0]}**", "", *(f"- {line.strip()}" for line in plan[1:]), ""]
    return "\n".join(lines)
