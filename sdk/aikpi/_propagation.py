"""Explicit W3C ``traceparent`` + ``baggage`` helpers for hops between your own services.

They work whatever ``AIKPI_BAGGAGE_PROPAGATION`` says: turning baggage propagation off keeps
aikpi's dimensions out of the headers that instrumented HTTP clients add on their own (to
third parties too), and these helpers are how an internal hop still carries them.

Received aikpi baggage is untrusted unless signed with the shared key (``inject`` signs it
when ``AIKPI_TOKEN_KEY`` is set) or the receiving call says the hop is internal
(``internal=True``); see ``aikpi._context.dims_from_baggage``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from aikpi._context import DIMS_KEY, mark_internal, sync_baggage
from aikpi._state import state

__all__ = ("continue_from", "extract", "inject")

_TRACE_CONTEXT = TraceContextTextMapPropagator()
_BAGGAGE = W3CBaggagePropagator()


def inject(carrier: MutableMapping[str, str], context: Context | None = None) -> None:
    """Write ``traceparent`` and ``baggage`` (with aikpi's dimensions) into ``carrier``.

    With ``AIKPI_TOKEN_KEY`` set, the aikpi entries carry their signature
    (``aikpi.signature``), so a receiver with the same key trusts them.
    """
    ctx = context if context is not None else otel_context.get_current()
    _TRACE_CONTEXT.inject(carrier, context=ctx)
    dims = ctx.get(DIMS_KEY)
    if dims is not None:  # always carried here, whatever the propagation switch says
        ctx = sync_baggage(ctx, dims, True, state.token_key)  # type: ignore[arg-type]
    _BAGGAGE.inject(carrier, context=ctx)


def _check_internal(internal: object) -> bool:
    if not isinstance(internal, bool):
        raise ValueError(f"internal must be True or False, got {internal!r}")
    return internal


def extract(carrier: Mapping[str, str], *, internal: bool = False) -> Context:
    """The context that ``traceparent`` and ``baggage`` in ``carrier`` describe.

    Steps opened with this context attached continue the sender's trace. They also continue
    its workflow (correlation id, workflow name, cohort, team) when the received aikpi
    baggage is signed with this service's ``AIKPI_TOKEN_KEY``, or when ``internal=True``
    says the carrier came from one of your own services over a hop no client can reach.
    Otherwise the received aikpi entries are ignored (logged once per distinct header).
    """
    internal = _check_internal(internal)
    ctx = _TRACE_CONTEXT.extract(carrier, context=Context())
    ctx = _BAGGAGE.extract(carrier, context=ctx)
    return mark_internal(ctx) if internal else ctx


@contextmanager
def continue_from(carrier: Mapping[str, str], *, internal: bool = False) -> Iterator[Context]:
    """``with aikpi.continue_from(request.headers): ...`` runs the block in the sender's context.

    ``internal=True`` trusts the received aikpi baggage even unsigned (see :func:`extract`).
    """
    ctx = extract(carrier, internal=internal)
    token = otel_context.attach(ctx)
    try:
        yield ctx
    finally:
        otel_context.detach(token)
