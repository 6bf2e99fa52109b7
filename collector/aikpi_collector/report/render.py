"""Render scorecards: a rich terminal table, JSON for scripts, Markdown for a review doc."""

from __future__ import annotations

import json
from typing import Any

from aikpi_collector.report.designs import Design, DesignEstimate, DesignSummary
from aikpi_collector.report.scorecard import Row, Scorecard, Unit, format_value
from aikpi_collector.report.stats import Interval
from aikpi_collector.report.verdicts import Level

__all__ = (
    "design_lines",
    "evidence_lines",
    "evidence_text",
    "render_table",
    "to_json",
    "to_markdown",
)

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


def _design(card: Scorecard) -> Design:
    """The design of the card's rows: what its "baseline" column holds."""
    return Design(str(card.extra.get("design", Design.CONCURRENT.value)))


def _comparator(card: Scorecard) -> str:
    """The name of the card's comparison column."""
    return "pre-period" if _design(card) is Design.BEFORE_AFTER else "baseline"


def _title(card: Scorecard) -> str:
    """``workflow (window)``, and for a before/after card what its comparison column holds."""
    summary = card.extra.get("designs")
    if _design(card) is Design.BEFORE_AFTER and isinstance(summary, DesignSummary):
        return (
            f"{card.workflow} ({card.window}; before/after: AI-assisted vs every run of the "
            f"pre-period {summary.pre_period})"
        )
    return f"{card.workflow} ({card.window})"


def evidence_lines(card: Scorecard) -> list[str]:
    """Sample sizes per cohort, then the two 95 % intervals of the differences."""
    e = card.evidence
    if e is None:
        return []
    other = _comparator(card)
    lines = [
        f"evidence: runs {e.runs[0]:.0f} / {e.runs[1]:.0f}, steps {e.steps[0]:.0f} / "
        f"{e.steps[1]:.0f}, outcomes {e.outcomes[0]:.0f} / {e.outcomes[1]:.0f} "
        f"(AI-assisted / {other}; a verdict needs {e.min_samples} per cohort); "
        f"{e.undecided:.0f} assisted steps without human time (undecided, or failed)",
        f"95 % CI of AI - {other}: cycle time {_interval(e.cycle_time_diff, Unit.SECONDS)}, "
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
    design = _design(card)
    lines = [
        f"pilot plan {data['name']}: {data['verdict'].upper()}{interim}; design: "
        f"{design.title} ({design.compares})"
    ]
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
            f"per cohort (AI-assisted / {_comparator(card)})"
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


_TIME_UNITS = ((90.0, 1.0, "s"), (90.0 * 60, 60.0, "min"), (48.0 * 3600, 3600.0, "h"))


def _signed(value: float | None, unit: str, seconds_per: tuple[float, str] = (1.0, "s")) -> str:
    """An effect as a reader sees it: ``-30.0 s``, ``+2.1 pp``, ``-31.0 %``."""
    if value is None:
        return "-"
    if unit == "relative":
        return f"{value * 100:+.1f} %"
    if unit == Unit.RATIO.value:
        return f"{value * 100:+.1f} pp"
    if unit == Unit.PER_1000.value:
        return f"{value:+.2f} per 1,000"
    if unit == Unit.SECONDS.value:
        return f"{value / seconds_per[0]:+.1f} {seconds_per[1]}"
    return f"{value:+,.4g}"


def _with_ci(item: DesignEstimate) -> str:
    """Estimate and interval, times in one unit chosen by the largest of the three."""
    values = [item.estimate, *(item.ci or ())]
    largest = max((abs(v) for v in values if v is not None), default=0.0)
    per = next(((d, name) for bound, d, name in _TIME_UNITS if largest < bound), (86400.0, "d"))
    text = _signed(item.estimate, item.unit, per)
    if item.ci is not None:
        text += f" [{_signed(item.ci[0], item.unit, per)}, {_signed(item.ci[1], item.unit, per)}]"
    return text


def _design_rows(summary: DesignSummary) -> list[tuple[str, Design, str, str]]:
    """(KPI, design, absolute, relative) per KPI and design, in the summary's order."""
    rows: dict[tuple[str, Design], dict[str, str]] = {}
    for item in summary.estimates:
        rows.setdefault((item.kpi, item.design), {})[item.scale] = _with_ci(item)
    return [
        (kpi, design, texts.get("absolute", "-"), texts.get("relative", "-"))
        for (kpi, design), texts in rows.items()
    ]


def _design_heading(summary: DesignSummary) -> str:
    level = f"{(1 - summary.alpha) * 100:g} %"
    return (
        f"designs (pre-period {summary.pre_period}; fixed {level} intervals; the scorecard "
        f"above is {summary.used.title}):"
    )


def _design_footer(summary: DesignSummary) -> list[str]:
    lines = [
        f"{design.title}: not available ({why})" for design, why in summary.unavailable.items()
    ]
    shown = {item.design for item in summary.estimates}
    lines += [f"{design.title} = {design.compares}" for design in Design if design in shown]
    lines += [f"note: {note}" for note in summary.notes]
    return lines


def design_lines(card: Scorecard) -> list[str]:
    """The designs section: each KPI's effect (absolute and relative, with intervals) under
    every available design, then why a design is missing, what each compares, caveats."""
    summary = card.extra.get("designs")
    if not isinstance(summary, DesignSummary):
        return []
    rows = _design_rows(summary)
    kpi_width = max((len(r[0]) for r in rows), default=0)
    design_width = max((len(r[1].title) for r in rows), default=0)
    lines = [_design_heading(summary)]
    lines += [
        f"  {kpi:<{kpi_width}}  {design.title:<{design_width}}  {absolute}; {relative}"
        for kpi, design, absolute, relative in rows
    ]
    lines += [f"  {line}" for line in _design_footer(summary)]
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
            title=f"aikpi scorecard: {_title(card)}",
            title_justify="left",
            box=box.SIMPLE_HEAD if not detail else box.SQUARE,
            expand=False,
        )
        table.add_column("area", style="bold")
        table.add_column("KPI")
        table.add_column("AI-assisted", justify="right")
        table.add_column(_comparator(card), justify="right")
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
        for line in design_lines(card):
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
            "design": _design(card).value,
            "rows": [_row_json(r) for r in card.rows],
            "evidence": evidence,
        }
        if "plan" in card.extra:
            plan = card.extra["plan"].to_dict()
            entry["plan"] = {"name": plan.pop("name"), "verdict": plan.pop("verdict")}
            entry["plan"]["design"] = _design(card).value
            entry["plan"].update(plan)
        summary = card.extra.get("designs")
        if isinstance(summary, DesignSummary):
            entry["pre_period"] = summary.to_dict()
            entry["designs"] = [item.to_dict() for item in summary.estimates]
        out.append(entry)
    return json.dumps({"scorecards": out}, indent=2)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(cards: list[Scorecard]) -> str:
    """A Markdown section per workflow, ready to paste into a pilot review document."""
    lines: list[str] = []
    for card in cards:
        lines += [
            f"### {_title(card)}",
            "",
            f"| area | KPI | AI-assisted | {_comparator(card)} | delta | verdict |",
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
        summary = card.extra.get("designs")
        if isinstance(summary, DesignSummary):
            lines += [
                f"**{_design_heading(summary).rstrip(':')}**",
                "",
                "| KPI | design | absolute [CI] | relative [CI] |",
                "|---|---|--:|--:|",
                *(
                    "| " + " | ".join(_md_cell(x) for x in (k, d.title, a, r)) + " |"
                    for k, d, a, r in _design_rows(summary)
                ),
                "",
                *(f"- {line}" for line in _design_footer(summary)),
                "",
            ]
    return "\n".join(lines)
