"""``configure()``: plug aikpi into the application's OpenTelemetry pipeline, or build one.

Until ``configure`` runs, aikpi uses the OTel API's global (proxy) tracer, which is a no-op
unless the application set a provider: instrumented code runs unchanged either way.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.context import Context, get_current
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider

from aikpi._context import STEP_KEY, dims_of, forget_received
from aikpi._state import (
    KEY_ENV,
    MAX_REVIEW_ENV,
    PROPAGATION_ENV,
    TRUST_ENV,
    State,
    check_max_review,
    key_from_env,
    state,
)
from aikpi._version import __version__
from aikpi.semconv import (
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_SYSTEM,
    GEN_AI_USAGE_PREFIX,
    OPENINFERENCE_AI_SPAN_KINDS,
    OPENINFERENCE_SPAN_KIND,
    SPAN_TYPE,
)

__all__ = (
    "KEY_ENV",
    "MAX_REVIEW_ENV",
    "PROPAGATION_ENV",
    "TRUST_ENV",
    "BaggageSpanProcessor",
    "State",
    "configure",
    "is_model_span",
    "reset",
    "state",
)

_LOG = logging.getLogger("aikpi")

_PENDING_LIMIT = 16_384
"""Open spans inside steps remembered until they end (more: the oldest are forgotten)."""


def _names_a_model_call(attributes: Mapping[str, object]) -> bool:
    """The cheap checks: what GenAI instrumentations set when the span starts."""
    if (
        GEN_AI_OPERATION_NAME in attributes
        or GEN_AI_PROVIDER_NAME in attributes
        or GEN_AI_SYSTEM in attributes
    ):
        return True
    kind = attributes.get(OPENINFERENCE_SPAN_KIND)
    return isinstance(kind, str) and kind.upper() in OPENINFERENCE_AI_SPAN_KINDS


def is_model_span(attributes: Mapping[str, object] | None) -> bool:
    """Whether a span's attributes say it produced model output (GenAI or OpenInference)."""
    if not attributes:
        return False
    return _names_a_model_call(attributes) or any(
        key.startswith(GEN_AI_USAGE_PREFIX) for key in attributes
    )


class BaggageSpanProcessor(SpanProcessor):
    """Stamps the aikpi dimensions of the current context onto every span that starts, and
    marks the enclosing step as AI-assisted when a model-call span inside it ends.

    Stamping is how spans of other libraries (made with a plain tracer inside a step) carry
    the correlation id, workflow, step, cohort and team. aikpi's own spans already carry
    them and are skipped. Received baggage counts only when it is trusted
    (:func:`aikpi._context.dims_from_baggage`).

    A GenAI span may get its usage attributes only when it ends, so a span started inside a
    step is remembered (span id -> step) until ``on_end``; the step object itself is found in
    the span's parent context, so this works whatever thread or task ends the span.
    """

    def __init__(self) -> None:
        self._pending: dict[int, object] = {}
        self._lock = threading.Lock()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            attributes = span.attributes
            if attributes is not None and SPAN_TYPE in attributes:
                return
            ctx = parent_context if parent_context is not None else get_current()
            dims = dims_of(ctx)
            if dims is not None:
                span.set_attributes(dims.attributes)
            step = ctx.get(STEP_KEY)
            if step is None or step._ai:  # type: ignore[attr-defined]
                return
            if attributes is not None and _names_a_model_call(attributes):
                step._ai = True  # type: ignore[attr-defined]
                return
            self._remember(span.get_span_context().span_id, step)
        except Exception:  # telemetry must never break the traced code
            _LOG.debug("aikpi: could not stamp dimensions onto a span", exc_info=True)

    def _remember(self, span_id: int, step: object) -> None:
        pending = self._pending
        pending[span_id] = step
        if len(pending) > _PENDING_LIMIT:  # spans that never end must not grow memory
            with self._lock:
                while len(pending) > _PENDING_LIMIT:
                    try:
                        del pending[next(iter(pending))]
                    except (StopIteration, KeyError, RuntimeError):
                        break

    def on_end(self, span: ReadableSpan) -> None:
        """Mark the step a model-call span ran in as assisted."""
        pending = self._pending
        if not pending:
            return
        try:
            context = span.context
            step = pending.pop(context.span_id, None) if context is not None else None
            if step is not None and is_model_span(span.attributes):
                step._ai = True  # type: ignore[attr-defined]
        except Exception:
            _LOG.debug("aikpi: could not check a span for model output", exc_info=True)

    def shutdown(self) -> None:
        """Forget the open spans."""
        self._pending.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here."""
        return True


_lock = threading.Lock()
_stamped: weakref.WeakSet[TracerProvider] = weakref.WeakSet()


def _add_stamping(provider: TracerProvider) -> None:
    if provider not in _stamped:
        provider.add_span_processor(BaggageSpanProcessor())
        _stamped.add(provider)


def _traces_url(endpoint: str) -> str:
    """An OTLP/HTTP base endpoint (``http://host:4318``) turned into the traces URL."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


def _build_pipeline(service_name: str | None, endpoint: str | None) -> TracerProvider:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Only explicit arguments are passed: everything else (OTEL_SERVICE_NAME,
    # OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_*) is the SDK's own handling.
    resource = Resource.create({SERVICE_NAME: service_name} if service_name else {})
    exporter = OTLPSpanExporter(endpoint=_traces_url(endpoint)) if endpoint else OTLPSpanExporter()
    provider = TracerProvider(resource=resource)
    _add_stamping(provider)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def configure(
    service_name: str | None = None,
    endpoint: str | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    propagate_baggage: bool | None = None,
    trust_inbound_baggage: bool | None = None,
    max_review_seconds: float | None = None,
    token_key: str | None = None,
) -> TracerProvider:
    """Make aikpi emit through an OpenTelemetry SDK provider and return that provider.

    - ``tracer_provider`` given: aikpi adds its baggage-stamping span processor to it and
      emits through it (the global provider is left alone).
    - else, if the global provider is already an SDK ``TracerProvider`` (the application
      set one), aikpi adds its processor to that one and never replaces it;
    - else aikpi builds a provider exporting OTLP/HTTP in a background batch, honouring the
      ``OTEL_*`` environment variables, and makes it the global provider.
      ``endpoint`` is the OTLP/HTTP base URL (``http://host:4318``); ``/v1/traces`` is added.

    ``propagate_baggage=False`` (or ``AIKPI_BAGGAGE_PROPAGATION=off``) keeps aikpi's
    dimensions in the process: outgoing ``baggage`` headers no longer carry them, and
    ``aikpi.inject`` is the explicit way to pass them on an internal hop.

    ``trust_inbound_baggage=True`` (or ``AIKPI_TRUST_INBOUND_BAGGAGE=true``) declares every
    inbound hop of this service internal: received aikpi baggage is used even unsigned.
    Leave it off for a service that any client can reach; there, only baggage signed with
    the shared key ``AIKPI_TOKEN_KEY`` (read again by each ``configure`` call) counts.

    ``max_review_seconds`` (or ``AIKPI_MAX_REVIEW_SECONDS``; default 30 days) bounds a review
    time derived from a token's step end time.

    ``token_key`` is the shared key that signs tokens and baggage; without it, this call
    reads ``AIKPI_TOKEN_KEY`` (prefer the environment: the key stays out of the code).

    Calling ``configure`` again is harmless: it returns the provider already in use (and
    applies the settings given).
    """
    if service_name is not None and (not isinstance(service_name, str) or not service_name):
        raise ValueError(f"service_name must be a non-empty string, got {service_name!r}")
    if endpoint is not None and (not isinstance(endpoint, str) or "://" not in endpoint):
        raise ValueError(f"endpoint must be a URL such as http://127.0.0.1:4318, got {endpoint!r}")
    if tracer_provider is not None and not isinstance(tracer_provider, TracerProvider):
        raise ValueError(
            "tracer_provider must be an opentelemetry.sdk.trace.TracerProvider, "
            f"got {type(tracer_provider).__name__}"
        )
    if trust_inbound_baggage is not None and not isinstance(trust_inbound_baggage, bool):
        raise ValueError(
            f"trust_inbound_baggage must be True or False, got {trust_inbound_baggage!r}"
        )
    if max_review_seconds is not None:
        max_review_seconds = check_max_review(max_review_seconds)
    if token_key is not None and (not isinstance(token_key, str) or not token_key):
        raise ValueError("token_key must be a non-empty string (or None: AIKPI_TOKEN_KEY)")
    with _lock:
        if propagate_baggage is not None:
            state.propagate_baggage = bool(propagate_baggage)
        if trust_inbound_baggage is not None:
            state.trust_inbound_baggage = trust_inbound_baggage
        if max_review_seconds is not None:
            state.max_review_seconds = max_review_seconds
        state.token_key = key_from_env() if token_key is None else token_key.encode("utf-8")
        if tracer_provider is None:
            if state.provider is not None:
                if service_name is not None or endpoint is not None:
                    _LOG.info("aikpi: already configured; service_name/endpoint ignored")
                return state.provider
            current = trace.get_tracer_provider()
            if isinstance(current, TracerProvider):
                provider = current
                _add_stamping(provider)
                if service_name is not None or endpoint is not None:
                    _LOG.warning(
                        "aikpi: using the application's tracer provider; "
                        "service_name/endpoint are ignored (configure them on that provider)"
                    )
            else:
                provider = _build_pipeline(service_name, endpoint)
                trace.set_tracer_provider(provider)
        else:
            provider = tracer_provider
            _add_stamping(provider)
        state.provider = provider
        state.tracer = provider.get_tracer("aikpi", __version__)
        return provider


def reset() -> None:
    """Forget any ``configure`` (for tests): back to the OTel global proxy tracer.

    The global OpenTelemetry provider itself cannot be unset (OTel allows setting it once
    per process); aikpi simply stops using a provider given to ``configure``.
    """
    with _lock:
        state.tracer = trace.get_tracer("aikpi", __version__)
        state.provider = None
        state.load_environment()
    forget_received()
