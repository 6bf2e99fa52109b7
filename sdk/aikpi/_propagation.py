"""Explicit W3C ``traceparent`` + ``baggage`` helpers for hops between your own services.

They work whatever ``AIKPI_BAGGAGE_PROPAGATION`` says: turning baggage propagation off keeps
aikpi's dimensions out of the headers that instrumented HTTP clients add on their own (to
third parties too), and these helpers are how an internal hop still carries them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from aikpi._context import DIMS_KEY, sync_baggage

__all__ = ("continue_from", "extract", "inject")

_TRACE_CONTEXT = TraceContextTextMapPropagator()
_BAGGAGE = W3CBaggagePropagator()


def inject(carrier: MutableMapping[str, str], context: Context | None = None) -> None:
    """Write ``traceparent`` and ``baggage`` (with aikpi's dimensions) into ``carrier``."""
    ctx = context if context is not None else otel_context.get_current()
    _TRACE_CONTEXT.inject(carrier, context=ctx)
    dims = ctx.get(DIMS_KEY)
    if dims is not None:  # always carried here, whatever the propagation switch says
        ctx = sync_baggage(ctx, dims, True)
    _BAGGAGE.inject(carrier, context=ctx)


def extract(carrier: Mapping[str, str]) -> Context:
    """The context that ``traceparent`` and ``baggage`` in ``carrier`` describe.

    Steps opened with this context attached continue the sender's workflow: same trace,
    correlation id, workflow name, cohort and team.
    """
    ctx = _TRACE_CONTEXT.extract(carrier, context=Context())
    return _BAGGAGE.extract(carrier, context=ctx)


@contextmanager
def continue_from(carrier: Mapping[str, str]) -> Iterator[Context]:
    """``with aikpi.continue_from(request.headers): ...`` runs the block in the sender's context."""
    ctx = extract(carrier)
    token = otel_context.attach(ctx)
    try:
        yield ctx
    finally:
        otel_context.detach(token)
