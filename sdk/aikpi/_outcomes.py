"""Human decisions: inline outcomes, late outcomes from tokens, and reopened workflows.

A late outcome span is a child of the step's span (a remote parent rebuilt from the token):
it lives in the step's trace, so trace-id routing sends it to the collector replica that saw
the step, and the collector counts one decision per (trace id, parent span id) however many
processes record the same token. This process also refuses a second decision at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, TraceFlags

from aikpi import _validate
from aikpi._context import Dims
from aikpi._state import state
from aikpi._tokens import TokenData, TokenError, decode_token
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
    "CLOCK_SKEW_SECONDS",
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

CLOCK_SKEW_SECONDS = 300.0
"""How far in the future a token's end time may lie (clocks of two hosts differ): 5 minutes,
the tolerance Kerberos and AWS request signing use. Within it the derived review time is 0;
beyond it the token is refused."""

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


def _remote(trace_id: int, span_id: int) -> SpanContext | None:
    """The span context a token names (sampled: a decision is always worth recording)."""
    if not (trace_id and span_id):
        return None  # the step ran with telemetry off
    sampled = TraceFlags(TraceFlags.SAMPLED)
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=sampled)


def _link(trace_id: int, span_id: int) -> list[Link]:
    target = _remote(trace_id, span_id)
    return [] if target is None else [Link(target)]


def _step_context(trace_id: int, span_id: int) -> Context:
    """A context whose parent is the step's span: the outcome joins the step's trace.

    Built on an empty context, so nothing of the decider's own context (its trace, its
    baggage) leaks into the outcome span.
    """
    target = _remote(trace_id, span_id)
    if target is None:
        return Context()
    return trace.set_span_in_context(NonRecordingSpan(target), Context())


def check_end_time(data: TokenData, now_ns: int) -> None:
    """Refuse a token whose end time lies in the future beyond the clock-skew allowance."""
    ahead = (data.end_ns - now_ns) / 1e9
    if ahead > CLOCK_SKEW_SECONDS:
        raise TokenError(
            f"aikpi token refused: its end time lies {ahead:.0f} s in the future (more than "
            f"the {CLOCK_SKEW_SECONDS:.0f} s clock-skew allowance): forged, or a host clock "
            "is wrong"
        )


def _derived_review(data: TokenData, now_ns: int) -> float:
    """Decision time minus step end, clamped to [0, max_review_seconds]."""
    review = max(0.0, (now_ns - data.end_ns) / 1e9)
    limit = state.max_review_seconds
    if review > limit:
        _LOG.warning(
            "aikpi: step %r ended %.0f s before its decision; review time clamped to "
            "max_review_seconds=%.0f (AIKPI_MAX_REVIEW_SECONDS)",
            data.step,
            review,
            limit,
        )
        return limit
    return review


def emit_late_outcome(
    data: TokenData, word: str, correction: float | None, review: float | None
) -> None:
    """Emit an ``outcome {step}`` span, child of the step span, with every dimension."""
    try:
        now = time.time_ns()
        if review is None:
            review = _derived_review(data, now)
        dims = Dims(data.correlation_id, data.workflow, data.step, data.cohort, data.team)
        attributes = dims.span_attributes(SpanType.OUTCOME.value)
        attributes.update(_outcome_attributes(word, correction, review))
        span = state.tracer.start_span(
            f"outcome {data.step}",
            context=_step_context(data.trace_id, data.span_id),
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

    Emits an ``outcome`` span in the step's trace (child of the step span, and linked to it)
    carrying all its dimensions. The review time is the decision time minus the step's end
    (at most ``max_review_seconds``, default 30 days) unless ``review_seconds`` is given.
    Raises ValueError for an unknown word or bad seconds, :class:`TokenError` (a ValueError)
    for a bad, unsigned-while-a-key-is-set or future-dated token, and ValueError for a step
    this process already decided. The collector counts one decision per step, also when the
    same token is recorded in several processes.
    """
    word = _validate.check_outcome(word)
    correction = _validate.check_seconds("correction_seconds", correction_seconds)
    review = _validate.check_seconds("review_seconds", review_seconds)
    data = decode_token(token)
    if data.kind != "s" or data.step is None:
        raise TokenError(
            "record_outcome needs a step token (from a step's .token()), not a workflow token"
        )
    check_end_time(data, time.time_ns())
    claim_decision(data.trace_id, data.span_id, data.step)
    emit_late_outcome(data, word, correction, review)


def reopen(workflow_token: str) -> None:
    """Record that a finished workflow run was reopened (a ``workflow_event`` span)."""
    data = decode_token(workflow_token)
    if data.kind != "w":
        raise TokenError(
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
