"""Plan the pilot: a seeded, reproducible list of workflow runs with every event in them.

The plan is pure data (no telemetry): the driver replays it through the real SDK, and tests
compute the ground truth KPIs from the same plan, independently of the collector and the
report. Cohorts come from ``aikpi.assign_cohort`` on the unit id, as a real pilot would.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

from aikpi_collector.demo.model import PILOT, Dist, StepModel, WorkflowModel

__all__ = ("LlmCallEvent", "RunEvent", "StepEvent", "simulate")

_DAY = 86400.0
_SALT = "aikpi-demo-pilot"


@dataclass(frozen=True, slots=True)
class LlmCallEvent:
    """One model call of an AI-assisted step."""

    model: str
    provider: str
    start: float
    end: float
    input_tokens: int
    """Includes the cached part (GenAI semconv)."""
    output_tokens: int
    cache_read_tokens: int
    cost_usd: float | None
    """Stated by the application, or ``None`` for the collector's price table."""


@dataclass(frozen=True, slots=True)
class StepEvent:
    """One step of one run, with the human decision on it."""

    name: str
    start: float
    end: float
    error: bool
    outcome: str | None
    correction_seconds: float | None
    review_seconds: float | None
    late: bool
    """Decided later from a step token (``record_outcome``) rather than inside the step."""
    llm_calls: tuple[LlmCallEvent, ...]
    violations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One workflow run (a ticket, a PR, an incident) and everything that happened in it."""

    unit: str
    workflow: str
    cohort: str
    team: str
    start: float
    end: float
    status: str
    """``completed``, ``abandoned`` (output rejected) or ``failed`` (a step raised)."""
    steps: tuple[StepEvent, ...]
    reopened: bool


def _draw(rng: random.Random, dist: Dist) -> float:
    return round(rng.lognormvariate(math.log(dist.median), dist.sigma), 3)


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    roll = rng.random() * sum(weights.values())
    for word, weight in weights.items():
        roll -= weight
        if roll < 0:
            return word
    return next(reversed(weights))


def _llm_calls(
    rng: random.Random, wf: WorkflowModel, step: StepModel, start: float, latency: float
) -> tuple[LlmCallEvent, ...]:
    count = rng.randint(*step.llm_calls)
    calls, at = [], start
    for _ in range(count):
        inputs = max(1, int(_draw(rng, step.input_tokens)))
        cached = int(inputs * rng.uniform(0.3, 0.8)) if rng.random() < step.cache_read_share else 0
        cost = None
        if rng.random() < wf.explicit_cost_share:
            cost = round(rng.uniform(0.0005, 0.004), 6)
        calls.append(
            LlmCallEvent(
                model=wf.model,
                provider=wf.provider,
                start=at,
                end=at + latency / count,
                input_tokens=inputs,
                output_tokens=max(1, int(_draw(rng, step.output_tokens))),
                cache_read_tokens=cached,
                cost_usd=cost,
            )
        )
        at += latency / count
    return tuple(calls)


def _step(
    rng: random.Random, wf: WorkflowModel, step: StepModel, cohort: str, start: float
) -> StepEvent:
    violations = ()
    if rng.random() < wf.violation[cohort]:
        violations = (rng.choice(wf.policies),)
    if not step.ai:  # a person does it in either cohort: no model call, no decision
        work = _draw(rng, step.human_work)
        return StepEvent(
            step.name, start, start + work, False, None, None, None, False, (), violations
        )
    if cohort == "baseline":
        work = _draw(rng, step.human_work)
        word = _pick(rng, step.baseline_outcomes)
        rework = step.baseline_correction or step.correction
        correction = _draw(rng, rework) if word == "edited" else None
        return StepEvent(
            step.name, start, start + work, False, word, correction, None, False, (), violations
        )
    latency = _draw(rng, step.ai_latency)
    calls = _llm_calls(rng, wf, step, start, latency)
    word = _pick(rng, step.ai_outcomes)
    if word == "error":
        return StepEvent(
            step.name, start, start + latency, True, None, None, None, False, calls, violations
        )
    review = _draw(rng, step.review)
    correction = None
    if word == "edited":
        correction = _draw(rng, step.correction)
    elif word == "overridden":
        correction = _draw(rng, step.human_work)
    late = rng.random() < step.late_share
    # Inline: the human decides inside the step, so the step covers review and repair.
    duration = latency if late else latency + review + (correction or 0.0)
    return StepEvent(
        step.name, start, start + duration, False, word, correction, review, late, calls, violations
    )


def _run(rng: random.Random, wf: WorkflowModel, unit: str, cohort: str, start: float) -> RunEvent:
    steps: list[StepEvent] = []
    at, status = start, "completed"
    for model in wf.steps:
        at += _draw(rng, wf.queue_wait)
        event = _step(rng, wf, model, cohort, at)
        steps.append(event)
        at = event.end
        if event.error:
            status = "failed"
            break
        if event.outcome == "escalated" and not event.late:
            at += _draw(rng, wf.escalation_wait)
        if event.outcome == "rejected" and not event.late:
            status = "abandoned"
            break
    reopened = status == "completed" and rng.random() < wf.reopen[cohort]
    return RunEvent(unit, wf.name, cohort, wf.team, start, at, status, tuple(steps), reopened)


def simulate(
    units: int, seed: int, *, now: float, days: float = 28.0, ai_share: float = 0.5
) -> list[RunEvent]:
    """``units`` workflow runs spread over the ``days`` before ``now`` (unix seconds).

    The same ``units``, ``seed`` and ``now`` give the same plan, event for event.
    """
    from aikpi import assign_cohort

    if units < 0:
        raise ValueError(f"units must be >= 0, got {units}")
    rng = random.Random(seed)
    total_weight = sum(wf.weight for wf in PILOT)
    counters = dict.fromkeys((wf.name for wf in PILOT), 0)
    runs: list[RunEvent] = []
    for _ in range(units):
        roll, chosen = rng.random() * total_weight, PILOT[-1]
        for wf in PILOT:
            roll -= wf.weight
            if roll < 0:
                chosen = wf
                break
        counters[chosen.name] += 1
        unit = f"{chosen.unit_prefix}-{seed}-{counters[chosen.name]:05d}"
        cohort = str(assign_cohort(unit, ai_share=ai_share, salt=_SALT))
        start = now - days * _DAY + rng.uniform(0.0, (days - 2.0) * _DAY)
        run = _run(rng, chosen, unit, cohort, start)
        if run.end > now:  # keep every span in the past; shift the whole run back
            run = _shift(run, now - run.end)
        runs.append(run)
    return runs


def _shift(run: RunEvent, delta: float) -> RunEvent:
    steps = tuple(
        replace(
            s,
            start=s.start + delta,
            end=s.end + delta,
            llm_calls=tuple(
                replace(c, start=c.start + delta, end=c.end + delta) for c in s.llm_calls
            ),
        )
        for s in run.steps
    )
    return replace(run, start=run.start + delta, end=run.end + delta, steps=steps)
