"""Replay a planned pilot through the real aikpi SDK, exactly as application code would.

Each run is a ``with aikpi.workflow(...)``, each step a ``with aikpi.step(...)`` with its
model calls, token usage, policy violations and the human decision (inline, or later from a
step token with ``aikpi.record_outcome``); finished runs may be reopened with
``aikpi.reopen``. A failing step raises out of its ``with``, as real code would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aikpi_collector.demo.clock import SimulatedClock
from aikpi_collector.demo.simulate import RunEvent, StepEvent

__all__ = ("SimulatedStepError", "replay")


class SimulatedStepError(RuntimeError):
    """What a failing AI step raises in the simulation (a model timeout, say)."""


def _do_step(step: StepEvent, clock: SimulatedClock, late: list[tuple[str, StepEvent]]) -> None:
    import aikpi

    with aikpi.step(step.name) as handle:
        clock.place_current(step.start, step.end)
        for call in step.llm_calls:
            with handle.llm_call(call.model, provider=call.provider) as llm:
                clock.place_current(call.start, call.end)
                llm.record_usage(
                    call.input_tokens, call.output_tokens, cache_read_tokens=call.cache_read_tokens
                )
                if call.cost_usd is not None:
                    llm.record_cost(call.cost_usd)
        for policy in step.violations:
            handle.policy_violation(policy)
        if step.error:
            raise SimulatedStepError(f"model call for step {step.name!r} timed out")
        if step.outcome is None:
            return
        if step.late:
            late.append((handle.token(), step))
        else:
            handle.outcome(
                step.outcome,
                correction_seconds=step.correction_seconds,
                review_seconds=step.review_seconds,
            )


def _do_run(run: RunEvent, clock: SimulatedClock) -> None:
    import aikpi

    late: list[tuple[str, StepEvent]] = []
    workflow_token = None
    try:
        with aikpi.workflow(
            run.workflow, correlation_id=run.unit, cohort=run.cohort, team=run.team
        ) as wf:
            clock.place_current(run.start, run.end)
            for step in run.steps:
                _do_step(step, clock, late)
            if run.status == "abandoned":
                wf.abandon()
            workflow_token = wf.token()
    except SimulatedStepError:
        pass  # the run is recorded as failed; the simulation goes on
    for token, step in late:
        aikpi.record_outcome(
            token,
            step.outcome or "",
            correction_seconds=step.correction_seconds,
            review_seconds=step.review_seconds,
        )
    if run.reopened and workflow_token is not None:
        aikpi.reopen(workflow_token)


def replay(
    runs: Iterable[RunEvent],
    clock: SimulatedClock,
    progress: Callable[[RunEvent], None] | None = None,
) -> None:
    """Replay every run through the configured SDK."""
    for run in runs:
        _do_run(run, clock)
        if progress is not None:
            progress(run)
