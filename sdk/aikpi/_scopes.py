"""``workflow(...)`` and ``step(...)``: one object that is a decorator and a ``with`` block.

All checks and name building happen once, when the object is made; the call-time path only
starts a span, builds one context and attaches it. The wrapper kind (function, coroutine,
generator, async generator) is chosen when the decorator is applied, so durations cover
awaited and iterated work, and the context is attached only while the wrapped code runs
(never across a ``yield`` into the consumer's code).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncGenerator, Callable, Generator
from types import TracebackType
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.util.types import AttributeValue

from aikpi import _validate
from aikpi._context import NO_WORKFLOW, STEP_KEY, WORKFLOW_KEY, Dims, dims_of, sync_baggage
from aikpi._ids import new_correlation_id
from aikpi._runs import StepRun, WorkflowRun, start_span
from aikpi._state import state
from aikpi.semconv import STEP_ASSISTED, Cohort, SpanType

__all__ = ("NO_WORKFLOW", "StepScope", "WorkflowScope", "step", "workflow")

_LOG = logging.getLogger("aikpi")

F = TypeVar("F", bound=Callable[..., Any])
_DEFAULT_COHORT = Cohort.AI_ASSISTED.value
_STEP = SpanType.STEP.value
_WORKFLOW = SpanType.WORKFLOW.value


class _Scope:
    """Shared decorator / context-manager machinery; subclasses say how a run starts."""

    __slots__ = ("_key",)

    def _start(self) -> WorkflowRun | StepRun:
        raise NotImplementedError

    def _fallback(self) -> WorkflowRun | StepRun:
        raise NotImplementedError

    def _begin(self) -> WorkflowRun | StepRun:
        """Start a run; if telemetry itself fails, a run without a span (code runs on)."""
        try:
            return self._start()
        except Exception:
            _LOG.warning(
                "aikpi: could not start a run; continuing without telemetry", exc_info=True
            )
            return self._fallback()

    # --- context manager -------------------------------------------------------------------

    def __enter__(self) -> Any:
        run = self._begin()
        run._enter()
        return run

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # The run being left is the one this block attached (per thread / asyncio task), so
        # one scope object may be used by many tasks at once.
        run = otel_context.get_value(self._key)
        if run is None:
            _LOG.warning("aikpi: leaving a block that is not the current one; span not ended")
            return
        run._leave()
        run._finish(exc)

    async def __aenter__(self) -> Any:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    # --- decorator -----------------------------------------------------------------------

    def __call__(self, fn: F) -> F:
        if not callable(fn):
            raise ValueError(f"{type(self).__name__} decorates a callable, got {fn!r}")
        if inspect.isasyncgenfunction(fn):
            wrapper = self._wrap_async_generator(fn)
        elif inspect.iscoroutinefunction(fn):
            wrapper = self._wrap_coroutine(fn)
        elif inspect.isgeneratorfunction(fn):
            wrapper = self._wrap_generator(fn)
        else:
            wrapper = self._wrap_function(fn)
        return functools.wraps(fn)(wrapper)  # type: ignore[return-value]

    def _wrap_function(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        start = self._begin

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            run = start()
            token = otel_context.attach(run._context)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                otel_context.detach(token)
                run._finish(exc)
                raise
            otel_context.detach(token)
            run._finish(None)
            return result

        return wrapper

    def _wrap_coroutine(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        start = self._begin

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            run = start()
            token = otel_context.attach(run._context)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                otel_context.detach(token)
                run._finish(exc)
                raise
            otel_context.detach(token)
            run._finish(None)
            return result

        return wrapper

    def _wrap_generator(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        start = self._begin

        def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            run = start()
            ctx = run._context
            try:
                token = otel_context.attach(ctx)
                try:
                    inner = fn(*args, **kwargs)
                finally:
                    otel_context.detach(token)
                sent: Any = None
                thrown: BaseException | None = None
                while True:
                    token = otel_context.attach(ctx)
                    try:
                        if thrown is not None:
                            exc, thrown = thrown, None
                            item = inner.throw(exc)
                        else:
                            item = inner.send(sent)
                    except StopIteration as stop:
                        result = stop.value
                        break
                    finally:
                        otel_context.detach(token)
                    try:
                        sent = yield item
                    except GeneratorExit:
                        token = otel_context.attach(ctx)
                        try:
                            inner.close()
                        finally:
                            otel_context.detach(token)
                        raise
                    except BaseException as exc:  # thrown in by the consumer: pass it on
                        thrown = exc
                        sent = None
            except BaseException as exc:
                run._finish(exc)
                raise
            run._finish(None)
            return result

        return wrapper

    def _wrap_async_generator(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        start = self._begin

        async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
            run = start()
            ctx = run._context
            try:
                token = otel_context.attach(ctx)
                try:
                    inner = fn(*args, **kwargs)
                finally:
                    otel_context.detach(token)
                sent: Any = None
                thrown: BaseException | None = None
                while True:
                    token = otel_context.attach(ctx)
                    try:
                        if thrown is not None:
                            exc, thrown = thrown, None
                            item = await inner.athrow(exc)
                        else:
                            item = await inner.asend(sent)
                    except StopAsyncIteration:
                        break
                    finally:
                        otel_context.detach(token)
                    try:
                        sent = yield item
                    except GeneratorExit:
                        token = otel_context.attach(ctx)
                        try:
                            await inner.aclose()
                        finally:
                            otel_context.detach(token)
                        raise
                    except BaseException as exc:
                        thrown = exc
                        sent = None
            except BaseException as exc:
                run._finish(exc)
                raise
            run._finish(None)

        return wrapper


class WorkflowScope(_Scope):
    """What ``aikpi.workflow(...)`` returns: decorate a function or open a ``with`` block."""

    __slots__ = ("_cohort", "_correlation_id", "_name", "_span_name", "_team")

    def __init__(
        self,
        name: str,
        *,
        correlation_id: str | None = None,
        cohort: str = _DEFAULT_COHORT,
        team: str | None = None,
    ) -> None:
        self._key = WORKFLOW_KEY
        self._name = _validate.check_name("workflow name", name)
        self._correlation_id = _validate.check_optional_name("correlation_id", correlation_id)
        self._cohort = _validate.check_cohort(cohort)
        self._team = _validate.check_optional_name("team", team)
        self._span_name = f"workflow {self._name}"

    def _new_dims(self) -> Dims:
        """The run's dimensions: the given correlation id, else a new one."""
        return Dims(
            self._correlation_id or new_correlation_id(),
            self._name,
            None,
            self._cohort,
            self._team,
        )

    def _start(self) -> WorkflowRun:
        parent = otel_context.get_current()
        dims = self._new_dims()
        attributes = dims.span_attributes(_WORKFLOW)
        span = start_span(self._span_name, parent, attributes, "a workflow")
        return WorkflowRun(dims, span, _with_baggage(parent, dims))

    def _fallback(self) -> WorkflowRun:
        return WorkflowRun(self._new_dims(), trace.INVALID_SPAN, otel_context.get_current())

    def __enter__(self) -> WorkflowRun:
        return super().__enter__()  # type: ignore[no-any-return]

    async def __aenter__(self) -> WorkflowRun:
        return self.__enter__()


class StepScope(_Scope):
    """What ``aikpi.step(...)`` returns: decorate a function or open a ``with`` block."""

    __slots__ = ("_assisted", "_cohort", "_last", "_name", "_span_name", "_team")

    def __init__(
        self,
        name: str,
        *,
        cohort: str | None = None,
        team: str | None = None,
        assisted: bool | None = None,
    ) -> None:
        self._key = STEP_KEY
        self._name = _validate.check_name("step name", name)
        self._cohort = None if cohort is None else _validate.check_cohort(cohort)
        self._team = _validate.check_optional_name("team", team)
        if assisted is not None and not isinstance(assisted, bool):
            raise ValueError(
                "assisted must be True (AI output was produced in the step), False "
                f"(a human-only step) or None (detect it), got {assisted!r}"
            )
        self._assisted = assisted
        self._span_name = f"step {self._name}"
        # (inherited dims, own dims, span attributes) of the last call: a decorated step
        # called again and again inside one workflow reuses them instead of rebuilding.
        self._last: tuple[Dims, Dims, dict[str, AttributeValue]] | None = None

    def _attributes(self, dims: Dims) -> dict[str, AttributeValue]:
        """The step span's start attributes; ``aikpi.step.assisted`` turns True at its end
        if AI output was detected (never per call: built once per dims)."""
        attributes = dims.span_attributes(_STEP)
        attributes[STEP_ASSISTED] = bool(self._assisted)
        return attributes

    def _standalone_dims(self) -> Dims:
        """Dimensions of a step outside any workflow: its own correlation id."""
        return Dims(
            new_correlation_id(),
            NO_WORKFLOW,
            self._name,
            self._cohort or _DEFAULT_COHORT,
            self._team,
        )

    def _dims(self, parent: Context) -> tuple[Dims, dict[str, AttributeValue]]:
        inherited = dims_of(parent)
        if inherited is None:
            dims = self._standalone_dims()
            return dims, self._attributes(dims)
        last = self._last
        if last is not None and last[0] is inherited:
            return last[1], last[2]
        dims = Dims(
            inherited.correlation_id,
            inherited.workflow,
            self._name,
            self._cohort or inherited.cohort,
            self._team or inherited.team,
        )
        attributes = self._attributes(dims)
        self._last = (inherited, dims, attributes)
        return dims, attributes

    def _start(self) -> StepRun:
        parent = otel_context.get_current()
        dims, attributes = self._dims(parent)
        span = start_span(self._span_name, parent, attributes, "a step")
        return StepRun(dims, span, _with_baggage(parent, dims), self._assisted)

    def _fallback(self) -> StepRun:
        return StepRun(
            self._standalone_dims(), trace.INVALID_SPAN, otel_context.get_current(), self._assisted
        )

    def __enter__(self) -> StepRun:
        return super().__enter__()  # type: ignore[no-any-return]

    async def __aenter__(self) -> StepRun:
        return self.__enter__()


def _with_baggage(parent: Context, dims: Dims) -> Context:
    try:
        return sync_baggage(parent, dims, state.propagate_baggage, state.token_key)
    except Exception:
        _LOG.warning("aikpi: could not update baggage", exc_info=True)
        return parent


def workflow(
    name: str,
    *,
    correlation_id: str | None = None,
    cohort: str = _DEFAULT_COHORT,
    team: str | None = None,
) -> WorkflowScope:
    """A workflow run: ``@aikpi.workflow("triage")`` or ``with aikpi.workflow("triage") as run``.

    Each call of the decorated function (or each ``with`` block) is one run with its own
    correlation id (generated, sortable, unless ``correlation_id`` is given). The run ends
    ``completed`` unless ``run.abandon()`` was called; an exception makes it ``failed``.
    """
    return WorkflowScope(name, correlation_id=correlation_id, cohort=cohort, team=team)


def step(
    name: str,
    *,
    cohort: str | None = None,
    team: str | None = None,
    assisted: bool | None = None,
) -> StepScope:
    """A step: ``@aikpi.step("draft-reply")`` or ``with aikpi.step("draft-reply") as s``.

    The step inherits workflow, cohort, team and correlation id from the surrounding
    workflow, from a trusted received ``baggage`` header, or else gets its own correlation
    id and the workflow name ``none``.
    ``cohort``/``team`` given here override the inherited ones for this step.

    The step span's ``aikpi.step.assisted`` says whether AI output was produced in it: an
    ``llm_call``, a GenAI span of another instrumentation started inside it, an inline
    outcome or a ``token()``. ``assisted=True``/``False`` states it instead (it wins).
    """
    return StepScope(name, cohort=cohort, team=team, assisted=assisted)
