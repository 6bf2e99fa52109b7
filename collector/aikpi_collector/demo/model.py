"""The pilot the demo simulates: three workflows, their steps and the behaviour of each cohort.

Times are log-normal (median, sigma): human work has a long right tail. The numbers are
made up but plausible, and chosen so that the three workflows tell three different stories:
support replies get faster with quality held (good signal), code reviews get faster but
need much more rework (warning sign), incident triage is a small sample (not enough
evidence).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ("LABOR_RATES", "PILOT", "Dist", "StepModel", "WorkflowModel", "human_step")

MIN = 60.0
HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Dist:
    """A log-normal distribution given by its median and the sigma of its logarithm."""

    median: float
    sigma: float = 0.5


@dataclass(frozen=True)
class StepModel:
    """One step: how long it takes and how its output is judged, per cohort."""

    name: str
    human_work: Dist
    """Baseline: a person does the step (this is also what an override costs)."""
    ai_latency: Dist
    """AI-assisted: the model calls producing the draft."""
    review: Dist
    """AI-assisted: time from the draft to the human decision."""
    correction: Dist
    """Repair time of an edited AI output."""
    ai_outcomes: dict[str, float]
    """Probabilities of each outcome word, plus ``error`` (the step raised)."""
    baseline_outcomes: dict[str, float]
    """Decisions on the human work (a reviewer, a customer), same words."""
    llm_calls: tuple[int, int] = (1, 2)
    input_tokens: Dist = Dist(3000, 0.6)
    output_tokens: Dist = Dist(500, 0.5)
    cache_read_share: float = 0.3
    """Share of calls whose prompt partly came from the provider cache."""
    late_share: float = 0.0
    """Share of AI outcomes decided later, in another process, via a step token."""
    baseline_correction: Dist | None = None
    """Repair time of edited human work (a reviewer's rework); defaults to ``correction``."""
    ai: bool = True
    """``False``: a person does this step in both cohorts (no model call, no decision to
    record), so an AI-assisted run also costs human-only time."""


def human_step(name: str, work: Dist) -> StepModel:
    """A step nobody automates: it takes ``work`` in both cohorts."""
    return StepModel(
        name=name,
        human_work=work,
        ai_latency=work,
        review=work,
        correction=work,
        ai_outcomes={},
        baseline_outcomes={},
        ai=False,
    )


@dataclass(frozen=True)
class WorkflowModel:
    """One workflow: its unit of work, team, model and steps."""

    name: str
    unit_prefix: str
    team: str
    model: str
    provider: str
    weight: float
    """Share of the pilot's units that go through this workflow."""
    steps: tuple[StepModel, ...]
    queue_wait: Dist = Dist(10 * MIN, 0.8)
    escalation_wait: Dist = Dist(45 * MIN, 0.6)
    reopen: dict[str, float] = field(
        default_factory=lambda: {"ai_assisted": 0.04, "baseline": 0.04}
    )
    violation: dict[str, float] = field(
        default_factory=lambda: {"ai_assisted": 0.01, "baseline": 0.005}
    )
    policies: tuple[str, ...] = ("pii-in-prompt", "unapproved-tool")
    explicit_cost_share: float = 0.0
    """Share of model calls whose cost the application states itself (``record_cost``)."""


_SUPPORT = WorkflowModel(
    name="support-reply",
    unit_prefix="SUP",
    team="support",
    model="gpt-4o-mini",
    provider="openai",
    weight=0.55,
    steps=(
        StepModel(
            name="draft-reply",
            human_work=Dist(14 * MIN, 0.5),
            ai_latency=Dist(8.0, 0.4),
            review=Dist(2.5 * MIN, 0.5),
            correction=Dist(3 * MIN, 0.6),
            ai_outcomes={
                "accepted": 0.76,
                "edited": 0.20,
                "overridden": 0.01,
                "escalated": 0.01,
                "rejected": 0.004,
                "error": 0.004,
            },
            baseline_outcomes={
                "accepted": 0.70,
                "edited": 0.20,
                "escalated": 0.07,
                "rejected": 0.03,
            },
            late_share=0.15,
            baseline_correction=Dist(6 * MIN, 0.6),
        ),
        human_step("send-reply", Dist(2 * MIN, 0.5)),
    ),
    violation={"ai_assisted": 0.004, "baseline": 0.004},
    explicit_cost_share=0.1,
)

_REVIEW = WorkflowModel(
    name="code-review",
    unit_prefix="PR",
    team="platform",
    model="claude-sonnet-4",
    provider="anthropic",
    weight=0.39,
    steps=(
        StepModel(
            name="review-diff",
            human_work=Dist(35 * MIN, 0.6),
            ai_latency=Dist(40.0, 0.5),
            review=Dist(8 * MIN, 0.5),
            correction=Dist(14 * MIN, 0.6),
            ai_outcomes={
                "accepted": 0.38,
                "edited": 0.42,
                "overridden": 0.09,
                "escalated": 0.04,
                "rejected": 0.02,
                "error": 0.05,
            },
            baseline_outcomes={
                "accepted": 0.70,
                "edited": 0.18,
                "escalated": 0.07,
                "rejected": 0.05,
            },
            input_tokens=Dist(12000, 0.7),
            output_tokens=Dist(900, 0.5),
            cache_read_share=0.6,
        ),
        human_step("approve-merge", Dist(10 * MIN, 0.6)),
    ),
    reopen={"ai_assisted": 0.09, "baseline": 0.04},
    violation={"ai_assisted": 0.02, "baseline": 0.004},
    policies=("secret-in-prompt", "unapproved-tool"),
)

_INCIDENT = WorkflowModel(
    name="incident-triage",
    unit_prefix="INC",
    team="sre",
    model="gpt-4o",
    provider="openai",
    weight=0.06,
    steps=(
        StepModel(
            name="classify",
            human_work=Dist(9 * MIN, 0.6),
            ai_latency=Dist(6.0, 0.4),
            review=Dist(2 * MIN, 0.5),
            correction=Dist(4 * MIN, 0.6),
            ai_outcomes={
                "accepted": 0.70,
                "edited": 0.15,
                "overridden": 0.06,
                "escalated": 0.05,
                "rejected": 0.02,
                "error": 0.02,
            },
            baseline_outcomes={
                "accepted": 0.75,
                "edited": 0.12,
                "escalated": 0.10,
                "rejected": 0.03,
            },
        ),
        StepModel(
            name="draft-remediation",
            human_work=Dist(40 * MIN, 0.7),
            ai_latency=Dist(25.0, 0.5),
            review=Dist(10 * MIN, 0.6),
            correction=Dist(15 * MIN, 0.7),
            ai_outcomes={
                "accepted": 0.45,
                "edited": 0.33,
                "overridden": 0.10,
                "escalated": 0.06,
                "rejected": 0.02,
                "error": 0.04,
            },
            baseline_outcomes={
                "accepted": 0.70,
                "edited": 0.15,
                "escalated": 0.12,
                "rejected": 0.03,
            },
            input_tokens=Dist(6000, 0.6),
            late_share=0.2,
        ),
    ),
    queue_wait=Dist(20 * MIN, 0.9),
    violation={"ai_assisted": 0.015, "baseline": 0.005},
)

PILOT: tuple[WorkflowModel, ...] = (_SUPPORT, _REVIEW, _INCIDENT)
"""The workflows of the demo pilot."""

LABOR_RATES: dict[str, float] = {"support": 45.0, "platform": 95.0, "sre": 110.0}
"""Loaded labour cost per team, USD per hour (the demo collector's ``labor_cost.teams``)."""
