"""The "other process" of the cross-process tests: run as ``python child_program.py MODE ...``.

It uses only aikpi's public API (plus plain OpenTelemetry, as an application would) and
prints one JSON document on stdout for the parent test to check.
"""

from __future__ import annotations

import asyncio
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import aikpi
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def span_json(span: Any) -> dict[str, Any]:
    return {
        "name": span.name,
        "trace_id": f"{span.context.trace_id:032x}",
        "span_id": f"{span.context.span_id:016x}",
        "parent_span_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "attributes": dict(span.attributes),
        "links": [
            {"trace_id": f"{lk.context.trace_id:032x}", "span_id": f"{lk.context.span_id:016x}"}
            for lk in span.links
        ],
        "events": [{"name": e.name, "attributes": dict(e.attributes)} for e in span.events],
        "status": span.status.status_code.name,
        "resource": dict(span.resource.attributes),
    }


def in_memory() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # the application's provider, as libraries see it
    aikpi.configure(tracer_provider=provider)
    return exporter


def workload() -> dict[str, Any]:
    """Some wrapped code of every kind; returns what it computed."""

    @aikpi.step("double")
    def double(x: int) -> int:
        return 2 * x

    @aikpi.step("count")
    def count(n: int):
        yield from range(n)

    @aikpi.step("later")
    async def later(x: str) -> str:
        await asyncio.sleep(0)
        return x[::-1]

    @aikpi.step("explode")
    def explode() -> None:
        raise LookupError("as designed")

    @aikpi.workflow("child-work")
    def run() -> dict[str, Any]:
        with trace.get_tracer("some.library").start_as_current_span("library work"):
            pass
        try:
            explode()
            error = None
        except LookupError as exc:
            error = str(exc)
        with aikpi.step("decide") as s:
            s.outcome("accepted")
            token = s.token()
        return {
            "double": double(21),
            "count": list(count(4)),
            "later": asyncio.run(later("abc")),
            "error": error,
            "token_ok": token.startswith("ak1"),
        }

    return run()


class InstrumentedHandler(BaseHTTPRequestHandler):
    """An HTTP service as a web-framework OTel instrumentation runs it: the global propagator
    extracts ``traceparent`` and ``baggage`` from every request, a server span is current
    while the handler runs. The handler opens an aikpi step with a GenAI library span in it
    and answers with the spans that request made."""

    exporter: InMemorySpanExporter

    def do_GET(self) -> None:
        if self.path == "/quit":
            self.server.done = True  # type: ignore[attr-defined]
            self._answer([])
            return
        token = otel_context.attach(propagate.extract(self.headers))
        try:
            server = trace.get_tracer("http.server")
            llm = trace.get_tracer("genai.instrumentation")
            with (
                server.start_as_current_span("GET /draft", kind=trace.SpanKind.SERVER),
                aikpi.step("handle"),
                llm.start_as_current_span("chat m") as chat,
            ):
                chat.set_attribute("gen_ai.usage.input_tokens", 3)
        finally:
            otel_context.detach(token)
        spans = [span_json(s) for s in self.exporter.get_finished_spans()]
        self.exporter.clear()
        self._answer(spans)

    def _answer(self, body: object) -> None:
        raw = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: stderr is kept for aikpi's own log lines."""


def serve(exporter: InMemorySpanExporter) -> None:
    """Answer requests on a free loopback port (printed first) until ``GET /quit``."""
    InstrumentedHandler.exporter = exporter
    server = HTTPServer(("127.0.0.1", 0), InstrumentedHandler)
    server.done = False  # type: ignore[attr-defined]
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    while not server.done:  # type: ignore[attr-defined]
        server.handle_request()
    server.server_close()


def main(argv: list[str]) -> int:
    mode = argv[1]
    if mode == "outcome":
        exporter = in_memory()
        aikpi.record_outcome(argv[2], argv[3], correction_seconds=float(argv[4]))
        print(json.dumps([span_json(s) for s in exporter.get_finished_spans()]))
    elif mode == "reopen":
        exporter = in_memory()
        aikpi.reopen(argv[2])
        print(json.dumps([span_json(s) for s in exporter.get_finished_spans()]))
    elif mode == "continue":
        exporter = in_memory()
        headers = json.loads(argv[2])
        internal = argv[3:] == ["internal"]
        with aikpi.continue_from(headers, internal=internal), aikpi.step("downstream") as s:
            with trace.get_tracer("http.client").start_as_current_span("library call"):
                pass
            s.outcome("edited", correction_seconds=5)
        print(json.dumps([span_json(s) for s in exporter.get_finished_spans()]))
    elif mode == "serve":
        serve(in_memory())
    elif mode == "step-otlp":
        # OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT; the batch is flushed when the process exits
        aikpi.configure(service_name="drafting")
        refund = aikpi.workflow("refund", correlation_id="ORDER-5", team="billing")
        with refund, aikpi.step("draft-refund") as s, s.llm_call("gpt-4o") as call:
            call.record_usage(100, 20)
            token = s.token()
        print(json.dumps({"token": token}))
    elif mode == "outcome-otlp":
        aikpi.configure(service_name="review-ui")
        aikpi.record_outcome(argv[2], argv[3], correction_seconds=float(argv[4]))
        print(json.dumps({"recorded": True}))
    elif mode == "global":
        # configure() with no provider set: builds the OTLP/HTTP pipeline from OTEL_* env
        provider = aikpi.configure()
        assert aikpi.configure() is provider, "configure must be idempotent"
        assert trace.get_tracer_provider() is provider, "configure must set the global provider"
        result = workload()
        print(json.dumps({"result": result, "resource": dict(provider.resource.attributes)}))
    elif mode == "app-provider":
        exporter = InMemorySpanExporter()
        app_provider = TracerProvider()
        app_provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(app_provider)
        provider = aikpi.configure(service_name="would-replace", endpoint="http://127.0.0.1:9")
        result = workload()
        print(
            json.dumps(
                {
                    "same_provider": provider is app_provider,
                    "global_kept": trace.get_tracer_provider() is app_provider,
                    "result": result,
                    "spans": [span_json(s) for s in exporter.get_finished_spans()],
                }
            )
        )
    elif mode == "closed-port":
        aikpi.configure(service_name="closed", endpoint=argv[2])
        print(json.dumps({"result": workload()}))
    elif mode == "unconfigured":
        print(json.dumps({"result": workload()}))
    else:
        raise SystemExit(f"unknown mode {mode}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
