"""``configure()``: plug aikpi into the application's OpenTelemetry pipeline, or build one.

Until ``configure`` runs, aikpi uses the OTel API's global (proxy) tracer, which is a no-op
unless the application set a provider: instrumented code runs unchanged either way.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref

from opentelemetry import trace
from opentelemetry.context import Context, get_current
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider

from aikpi._context import dims_of
from aikpi._version import __version__
from aikpi.semconv import SPAN_TYPE

__all__ = (
    "PROPAGATION_ENV",
    "BaggageSpanProcessor",
    "State",
    "configure",
    "reset",
    "state",
)

_LOG = logging.getLogger("aikpi")

PROPAGATION_ENV = "AIKPI_BAGGAGE_PROPAGATION"
"""Set to ``off`` to keep aikpi's dimensions out of outgoing ``baggage`` headers."""

_OFF_WORDS = frozenset({"off", "false", "0", "no", "context"})
_ON_WORDS = frozenset({"on", "true", "1", "yes", ""})


class BaggageSpanProcessor(SpanProcessor):
    """Stamps the aikpi dimensions of the current context onto every span that starts.

    This is how spans of other libraries (made with a plain tracer inside a step) carry
    the correlation id, workflow, step, cohort and team. aikpi's own spans already carry
    them and are skipped.
    """

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            attributes = span.attributes
            if attributes is not None and SPAN_TYPE in attributes:
                return
            dims = dims_of(parent_context if parent_context is not None else get_current())
            if dims is not None:
                span.set_attributes(dims.attributes)
        except Exception:  # telemetry must never break the traced code
            _LOG.debug("aikpi: could not stamp dimensions onto a span", exc_info=True)

    def on_end(self, span: ReadableSpan) -> None:
        """Nothing to do at the end of a span."""

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here."""
        return True


def _propagation_from_env() -> bool:
    raw = os.environ.get(PROPAGATION_ENV, "").strip().lower()
    if raw in _OFF_WORDS:
        return False
    if raw not in _ON_WORDS:
        _LOG.warning(
            "aikpi: %s=%r not understood; expected on or off, using on", PROPAGATION_ENV, raw
        )
    return True


class State:
    """What ``configure`` decided; read on every call, written under a lock."""

    __slots__ = ("propagate_baggage", "provider", "tracer")

    def __init__(self) -> None:
        self.tracer: trace.Tracer = trace.get_tracer("aikpi", __version__)
        self.provider: TracerProvider | None = None
        self.propagate_baggage = _propagation_from_env()


state = State()
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
    Calling ``configure`` again is harmless: it returns the provider already in use.
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
    with _lock:
        if propagate_baggage is not None:
            state.propagate_baggage = bool(propagate_baggage)
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
        state.propagate_baggage = _propagation_from_env()
