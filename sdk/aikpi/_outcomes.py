"""Human decisions: inline outcomes, late outcomes from tokens, and reopened workflows."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict

from opentelemetry.trace import Link, Span, SpanContext, TraceFlags

from aikpi import _validate
from aikpi._config import state
from aikpi._context import Dims
from aikpi._tokens import TokenData, decode_token
from aikpi.semconv import (
    CORRECTION_SECONDS,
    EVALUATION_NAME_OUTCOME,
    GEN_AI_EVALUATION_NAME,
    GEN_AI_EVALUATION_RESULT,
    GEN_AI_EVALUATION_SCORE_LABEL,
    OUTCOME,
    REVIEW_SECONDS,
    WORKFLOW_EVENT,
    SpanType,
    WorkflowEvent,
)

__all__ = (
    "DECIDED_MEMORY",
    "claim_decision",
    "emit_late_outcome",
    "record_outcome",
    "reopen",
    "reset_decisions",
    "write_inline_outcome",
)

_LOG = logging.getLogger("aikpi")

DECIDED_MEMORY = 65_536
"""How many decided steps one process remembers to refuse a second decision."""

_decided: OrderedDict[tuple[int, int], None] = OrderedDict()
_decided_lock = threading.Lock()


def claim_decision(trace_id: int, span_id: int, step: str | None) -> None:
    """Mark a step as decided, or raise ValueError if this process already decided it."""
    if not span_id:
        return  # no real span (telemetry off): nothing to remember by
    key = (trace_id, span_id)
    with _decided_lock:
        if key in _decided:
            raise ValueError(
                f"step {step!r} (span {span_id:016x}) already has an outcome; "
                "a step is decided once"
            )
        _decided[key] = None
        if len(_decided) > DECIDED_MEMORY:
            _decided.popitem(last=False)


def reset_decisions() -> None:
    """Forget every decision (for tests)."""
    with _decided_lock:
        _decided.clear()


def _outcome_attributes(
    word: str, correction: float | None, review: float | None
) -> dict[str, str | float]:
    attributes: dict[str, str | float] = {OUTCOME: word}
    if correction is not None:
        attributes[CORRECTION_SECONDS] = correction
    if review is not None:
        attributes[REVIEW_SECONDS] = review
    return attributes


def _evaluation_event(word: str) -> dict[str, str]:
    return {GEN_AI_EVALUATION_NAME: EVALUATION_NAME_OUTCOME, GEN_AI_EVALUATION_SCORE_LABEL: word}


def write_inline_outcome(
    span: Span, word: str, correction: float | None, review: float | None
) -> None:
    """Put an outcome on a step span that is still open."""
    try:
        span.set_attributes(_outcome_attributes(word, correction, review))
        span.add_event(GEN_AI_EVALUATION_RESULT, _evaluation_event(word))
    except Exception:
        _LOG.warning("aikpi: could not write an outcome onto the step span", exc_info=True)


def _link(trace_id: int, span_id: int) -> list[Link]:
    if not (trace_id and span_id):
        return []
    target = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags.SAMPLED)
    return [Link(target)]


def emit_late_outcome(
    data: TokenData, word: str, correction: float | None, review: float | None
) -> None:
    """Emit an ``outcome {step}`` span linked to the step span, with every dimension."""
    try:
        now = time.time_ns()
        if review is None:
            review = max(0.0, (now - data.end_ns) / 1e9)
        dims = Dims(data.correlation_id, data.workflow, data.step, data.cohort, data.team)
        attributes: dict[str, str | float] = dict(dims.span_attributes(SpanType.OUTCOME.value))
        attributes.update(_outcome_attributes(word, correction, review))
        span = state.tracer.start_span(
            f"outcome {data.step}",
            links=_link(data.trace_id, data.span_id),
            attributes=attributes,
            start_time=now,
        )
        span.add_event(GEN_AI_EVALUATION_RESULT, _evaluation_event(word), timestamp=now)
        span.end(end_time=now)
    except Exception:
        _LOG.warning("aikpi: could not emit a late outcome span", exc_info=True)


def record_outcome(
    token: str,
    word: str,
    *,
    correction_seconds: float | None = None,
    review_seconds: float | None = None,
) -> None:
    """Record the human decision on a step later, in any process, from its ``token()``.

    Emits an ``outcome`` span linked to the step span and carrying all its dimensions; the
    review time is the decision time minus the step's end unless ``review_seconds`` is given.
    Raises ValueError for an unknown word, bad seconds, a bad token, or a step this process
    already decided.
    """
    word = _validate.check_outcome(word)
    correction = _validate.check_seconds("correction_seconds", correction_seconds)
    review = _validate.check_seconds("review_seconds", review_seconds)
    data = decode_token(token)
    if data.kind != "s" or data.step is None:
        raise ValueError(
            "record_outcome needs a step token (from a step's .token()), not a workflow token"
        )
    claim_decision(data.trace_id, data.span_id, data.step)
    emit_late_outcome(data, word, correction, review)


def reopen(workflow_token: str) -> None:
    """Record that a finished workflow run was reopened (a ``workflow_event`` span)."""
    data = decode_token(workflow_token)
    if data.kind != "w":
        raise ValueError(
            "reopen needs a workflow token (from a workflow's .token()), not a step token"
        )
    try:
        now = time.time_ns()
        dims = Dims(data.correlation_id, data.workflow, None, data.cohort, data.team)
        attributes = dims.span_attributes(SpanType.WORKFLOW_EVENT.value)
        attributes[WORKFLOW_EVENT] = WorkflowEvent.REOPENED.value
        span = state.tracer.start_span(
            f"reopen {data.workflow}",
            links=_link(data.trace_id, data.span_id),
            attributes=attributes,
            start_time=now,
        )
        span.end(end_time=now)
    except Exception:
        _LOG.warning("aikpi: could not emit a reopen span", exc_info=True)
