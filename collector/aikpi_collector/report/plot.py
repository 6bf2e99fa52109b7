"""A chart of the cohorts side by side, one panel per headline KPI, for slides and reviews."""

from __future__ import annotations

from pathlib import Path

from aikpi_collector.report.scorecard import Scorecard

__all__ = ("PANELS", "plot_scorecards")

PANELS: tuple[tuple[str, str, float], ...] = (
    ("cycle time, mean (run)", "cycle time (min)", 1 / 60),
    ("acceptance rate", "acceptance (%)", 100.0),
    ("correction time per step", "correction per step (min)", 1 / 60),
    ("cost per completed run (AI + labour)", "cost per run (USD)", 1.0),
    ("human time per step", "human time per step (min)", 1 / 60),
    ("policy violations per 1,000 steps", "violations / 1,000 steps", 1.0),
)
"""(row KPI name, axis label, scale factor) of each panel."""


def _value(card: Scorecard, kpi: str, cohort: int) -> float:
    for row in card.rows:
        if row.kpi == kpi:
            value = row.ai if cohort == 0 else row.baseline
            return 0.0 if value is None else value
    return 0.0


def plot_scorecards(cards: list[Scorecard], path: str | Path) -> Path:
    """Write a PNG with AI-assisted and baseline bars per workflow; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    names = [card.workflow for card in cards]
    columns = 3
    rows = (len(PANELS) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.6 * rows), squeeze=False)
    width = 0.38
    positions = list(range(len(cards)))
    for index, (kpi, label, scale) in enumerate(PANELS):
        ax = axes[index // columns][index % columns]
        ai = [_value(card, kpi, 0) * scale for card in cards]
        base = [_value(card, kpi, 1) * scale for card in cards]
        ax.bar([p - width / 2 for p in positions], ai, width, label="AI-assisted", color="#3b7dd8")
        ax.bar([p + width / 2 for p in positions], base, width, label="baseline", color="#9aa5b1")
        ax.set_title(label, fontsize=10)
        ax.set_xticks(positions)
        ax.set_xticklabels(names, rotation=20, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        if index == 0:
            ax.legend(fontsize=8)
    for index in range(len(PANELS), rows * columns):
        axes[index // columns][index % columns].axis("off")
    window = cards[0].window if cards else ""
    fig.suptitle(f"aikpi pilot: AI-assisted vs baseline ({window})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
