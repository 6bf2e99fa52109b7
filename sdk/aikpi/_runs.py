"""Handles of a running workflow, step and LLM call (what ``with`` and ``current_*`` give)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from types import TracebackType

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from aikpi import _validate
from aikpi._context import DIMS_KEY, STEP_KEY, WORKFLOW_KEY, Dims
from aikpi._outcomes import claim_decision, emit_late_outcome, write_inline_outcome
from aikpi._state import state
from aikpi._tokens import TokenData, encode_token
from aikpi.semconv import (
    COST_USD,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    POLICY_NAME,
    POLICY_VIOLATION_EVENT,
    STEP_ASSISTED,
    WORKFLOW_STATUS,
    WorkflowStatus,
)

__all__ = (
    "LlmCall",
    "StepRun",
    "WorkflowRun",
    "current_step",
    "current_workflow",
    "mark_error",
    "start_span",
)

_LOG = logging.getLogger("aikpi")


def start_span(
    name: str, parent: Context, attributes: Mapping[str, AttributeValue], what: str
) -> Span:
    """A new span of aikpi's tracer; if telemetry fails, a no-op span (the code runs on)."""
    try:
        return state.tracer.start_span(name, context=parent, attributes=attributes)
    except Exception:
        _LOG.warning("aikpi: could not start %s span", what, exc_info=True)
        return trace.INVALID_SPAN


def mark_error(span: Span, exc: BaseException) -> None:
    """Status ERROR plus the exception as a span event."""
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
    span.record_exception(exc)


def _is_failure(exc: BaseException | None) -> bool:
    # A generator closed early by its consumer did not fail.
    return exc is not None and not isinstance(exc, GeneratorExit)


class _Run:
    """What a workflow run and a step share: a span, dimensions, an attached context."""

    __slots__ = ("_context", "_end_ns", "_span", "_token", "dims")

    def __init__(self, dims: Dims, span: Span, parent: Context, key: str) -> None:
        self.dims = dims
        self._span = span
        self._end_ns: int | None = None
        self._token: object | None = None
        ctx = trace.set_span_in_context(span, parent)
        # STEP_KEY cleared first: inside a nested workflow there is no current step until
        # one opens (a step's own ``key`` entry then sets it)
        self._context = Context({**ctx, DIMS_KEY: dims, STEP_KEY: None, key: self})

    @property
    def correlation_id(self) -> str:
        """The business join key of the workflow run."""
        return self.dims.correlation_id

    @property
    def cohort(self) -> str:
        """``ai_assisted`` or ``baseline``."""
        return self.dims.cohort

    @property
    def team(self) -> str | None:
        """The team segment, if any."""
        return self.dims.team

    @property
    def span(self) -> Span:
        """The OpenTelemetry span of this run (for adding your own attributes)."""
        return self._span

    def _token_data(self, kind: str, step: str | None) -> TokenData:
        ctx = self._span.get_span_context()
        return TokenData(
            kind=kind,
            correlation_id=self.dims.correlation_id,
            workflow=self.dims.workflow,
            step=step,
            cohort=self.dims.cohort,
            team=self.dims.team,
            trace_id=ctx.trace_id,
            span_id=ctx.span_id,
            end_ns=self._end_ns if self._end_ns is not None else time.time_ns(),
        )

    def _enter(self) -> None:
        self._token = otel_context.attach(self._context)

    def _leave(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]


class WorkflowRun(_Run):
    """One run of a workflow: ``.correlation_id``, ``.complete()``, ``.abandon()``, ``.token()``."""

    __slots__ = ("_status",)

    def __init__(self, dims: Dims, span: Span, parent: Context) -> None:
        super().__init__(dims, span, parent, WORKFLOW_KEY)
        self._status: str | None = None

    @property
    def name(self) -> str:
        """The workflow name."""
        return self.dims.workflow

    @property
    def status(self) -> str | None:
        """``completed``/``abandoned``/``failed`` once known, else ``None``."""
        return self._status

    def complete(self) -> None:
        """Mark the run completed (the default for a run that ends without an exception)."""
        self._decide(WorkflowStatus.COMPLETED.value)

    def abandon(self) -> None:
        """Mark the run abandoned: it ends without its result being used."""
        self._decide(WorkflowStatus.ABANDONED.value)

    def _decide(self, status: str) -> None:
        if self._status is not None and self._status != status:
            raise ValueError(
                f"workflow run {self.correlation_id!r} is already {self._status}; "
                "a run is completed or abandoned once"
            )
        self._status = status

    def token(self) -> str:
        """A compact string naming this run, for ``aikpi.reopen`` later (any process)."""
        return encode_token(self._token_data("w", None))

    def _finish(self, exc: BaseException | None) -> None:
        try:
            failed = _is_failure(exc)
            if failed:  # raised: failed, even after complete() or abandon()
                self._status = WorkflowStatus.FAILED.value
            elif self._status is None:
                self._status = WorkflowStatus.COMPLETED.value
            span = self._span
            span.set_attribute(WORKFLOW_STATUS, self._status)
            if failed:
                mark_error(span, exc)  # type: ignore[arg-type]
            self._end_ns = end_ns = time.time_ns()
            span.end(end_time=end_ns)
        except Exception:
            _LOG.warning("aikpi: could not end a workflow span", exc_info=True)

    def __repr__(self) -> str:
        return f"<WorkflowRun {self.name!r} correlation_id={self.correlation_id!r}>"


_LATE_AI_WARNED: set[str] = set()
"""Step names already warned about (one log line per name; names are a bounded set)."""
_LATE_AI_WARN_LIMIT = 1024


class StepRun(_Run):
    """One execution of a step: ``.llm_call()``, ``.outcome()``, ``.policy_violation()``,
    ``.token()``."""

    __slots__ = ("_ai", "_assisted", "_decided")

    def __init__(
        self, dims: Dims, span: Span, parent: Context, assisted: bool | None = None
    ) -> None:
        super().__init__(dims, span, parent, STEP_KEY)
        self._decided = False
        self._assisted = assisted
        """What ``step(..., assisted=...)`` stated (wins), or None: detect it."""
        self._ai = False
        """AI output was seen in the step. A plain flag, set from any thread (the stamping
        processor sets it when a model-call span inside the step ends); the span attribute
        is written once, when the step ends."""

    @property
    def assisted(self) -> bool:
        """Whether the step counts as AI-assisted (``aikpi.step.assisted``) so far."""
        return self._assisted if self._assisted is not None else self._ai

    def _saw_ai_output(self, what: str) -> None:
        """Note AI output in this step; after the step ended, say that its span disagrees."""
        if self._end_ns is not None and self._assisted is None and not self._ai:
            name = self.name
            if name not in _LATE_AI_WARNED and len(_LATE_AI_WARNED) < _LATE_AI_WARN_LIMIT:
                _LATE_AI_WARNED.add(name)
                _LOG.warning(
                    "aikpi: step %r got %s after it ended, but its span already says "
                    "aikpi.step.assisted=false (no model call was seen in it): make the token "
                    "while the step runs, or declare aikpi.step(%r, assisted=True)",
                    name,
                    what,
                    name,
                )
        self._ai = True

    @property
    def name(self) -> str:
        """The step name."""
        return self.dims.step or ""

    @property
    def workflow_name(self) -> str | None:
        """The workflow this step belongs to (``None`` for a step outside any workflow)."""
        return self.dims.workflow

    def llm_call(self, model: str, *, provider: str | None = None) -> LlmCall:
        """A ``with`` block around one model call: a GenAI ``chat {model}`` child span."""
        model = _validate.check_name("model", model)
        provider = _validate.check_optional_name("provider", provider)
        self._ai = True
        return LlmCall(self, model, provider)

    def outcome(
        self,
        word: str,
        *,
        correction_seconds: float | None = None,
        review_seconds: float | None = None,
    ) -> None:
        """Record the human decision on this step's output (once per step).

        While the step runs it is written onto the step span; after the step ended it is a
        late ``outcome`` span, exactly as ``aikpi.record_outcome(step.token(), ...)`` makes.
        """
        word = _validate.check_outcome(word)
        correction = _validate.check_seconds("correction_seconds", correction_seconds)
        review = _validate.check_seconds("review_seconds", review_seconds)
        if self._decided:
            raise ValueError(f"step {self.name!r} already has an outcome; a step is decided once")
        ctx = self._span.get_span_context()
        claim_decision(ctx.trace_id, ctx.span_id, self.dims.step)
        self._decided = True
        self._saw_ai_output("an outcome")
        if self._end_ns is None:
            write_inline_outcome(self._span, word, correction, review)
        else:
            emit_late_outcome(self._token_data("s", self.dims.step), word, correction, review)

    def policy_violation(self, policy: str) -> None:
        """Record one governance violation (event ``aikpi.policy.violation``) on the step."""
        policy = _validate.check_name("policy", policy)
        try:
            self._span.add_event(POLICY_VIOLATION_EVENT, {POLICY_NAME: policy})
        except Exception:
            _LOG.warning("aikpi: could not record a policy violation", exc_info=True)

    def token(self) -> str:
        """A compact, integrity-checked string for ``aikpi.record_outcome`` (any process, later).

        It carries the step's end time; made while the step still runs, it carries the
        moment it was made (when the output was handed over for review). A token means AI
        output awaits a human decision, so the step counts as assisted: make it while the
        step runs (after the end, the step span is already written).
        """
        if self._assisted is False:
            # its human time is its duration: a late decision would count human time again
            raise ValueError(
                f"step {self.dims.step!r} was declared assisted=False (a human-only step): "
                "it has no AI output to decide later; decide it inline with outcome(), or "
                "declare assisted=True"
            )
        self._saw_ai_output("a token")
        return encode_token(self._token_data("s", self.dims.step))

    def _finish(self, exc: BaseException | None) -> None:
        try:
            span = self._span
            if _is_failure(exc):
                mark_error(span, exc)  # type: ignore[arg-type]
            if self._ai and self._assisted is None:  # the start attributes said False
                span.set_attribute(STEP_ASSISTED, True)
            self._end_ns = end_ns = time.time_ns()
            span.end(end_time=end_ns)
        except Exception:
            _LOG.warning("aikpi: could not end a step span", exc_info=True)

    def __repr__(self) -> str:
        return f"<StepRun {self.name!r} correlation_id={self.correlation_id!r}>"


class LlmCall:
    """One model call inside a step: ``.record_usage()`` and ``.record_cost()``."""

    __slots__ = ("_attributes", "_ended", "_model", "_span", "_step", "_token")

    def __init__(self, step: StepRun, model: str, provider: str | None) -> None:
        self._step = step
        self._model = model
        attributes: dict[str, str] = dict(step.dims.attributes)
        attributes[GEN_AI_OPERATION_NAME] = "chat"
        attributes[GEN_AI_REQUEST_MODEL] = model
        if provider is not None:
            attributes[GEN_AI_PROVIDER_NAME] = provider
        self._attributes = attributes
        self._span: Span = trace.INVALID_SPAN
        self._token: object | None = None
        self._ended = False

    @property
    def span(self) -> Span:
        """The OpenTelemetry span of this call (e.g. to set ``gen_ai.response.model``)."""
        return self._span

    def __enter__(self) -> LlmCall:
        parent = self._step._context
        self._span = start_span(f"chat {self._model}", parent, self._attributes, "an LLM call")
        try:
            self._token = otel_context.attach(trace.set_span_in_context(self._span, parent))
        except Exception:
            _LOG.warning("aikpi: could not enter an LLM call span", exc_info=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._token is not None:
                otel_context.detach(self._token)  # type: ignore[arg-type]
                self._token = None
            if _is_failure(exc):
                mark_error(self._span, exc)  # type: ignore[arg-type]
            self._span.end()
        except Exception:
            _LOG.warning("aikpi: could not end an LLM call span", exc_info=True)
        self._ended = True

    def _check_open(self, method: str) -> None:
        """Usage recorded on an ended call would be lost without a sign: refuse it."""
        if self._ended:
            raise ValueError(
                f"{method}() must be called inside the `with step.llm_call(...)` block; "
                "this call has ended"
            )

    def record_usage(
        self,
        input_tokens: int,
        output_tokens: int,
        *,
        cache_read_tokens: int = 0,
        cache_creation_tokens: int = 0,
    ) -> None:
        """Token counts of the call. ``input_tokens`` includes cached tokens (GenAI semconv)."""
        self._check_open("record_usage")
        input_tokens = _validate.check_count("input_tokens", input_tokens)
        output_tokens = _validate.check_count("output_tokens", output_tokens)
        cache_read_tokens = _validate.check_count("cache_read_tokens", cache_read_tokens)
        cache_creation_tokens = _validate.check_count(
            "cache_creation_tokens", cache_creation_tokens
        )
        if cache_read_tokens + cache_creation_tokens > input_tokens:
            raise ValueError(
                "cache_read_tokens + cache_creation_tokens must not exceed input_tokens: "
                "input_tokens includes the cached tokens (GenAI semantic conventions)"
            )
        usage = {
            GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
            GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
        }
        if cache_read_tokens:
            usage[GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cache_read_tokens
        if cache_creation_tokens:
            usage[GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = cache_creation_tokens
        try:
            self._span.set_attributes(usage)
        except Exception:
            _LOG.warning("aikpi: could not record token usage", exc_info=True)

    def record_cost(self, usd: float) -> None:
        """The explicit cost of the call in US dollars (wins over the collector's price table)."""
        self._check_open("record_cost")
        cost = _validate.check_usd(usd)
        try:
            self._span.set_attribute(COST_USD, cost)
        except Exception:
            _LOG.warning("aikpi: could not record a cost", exc_info=True)


def current_workflow() -> WorkflowRun | None:
    """The workflow run of the running code, or ``None`` outside any workflow."""
    return otel_context.get_value(WORKFLOW_KEY)  # type: ignore[return-value]


def current_step() -> StepRun | None:
    """The step of the running code, or ``None`` outside any step."""
    return otel_context.get_value(STEP_KEY)  # type: ignore[return-value]
