"""Cost per call of ``@aikpi.step`` beside a bare OpenTelemetry span and two peer SDKs.

Every case wraps the same trivial function and ends its span in a pipeline that does no I/O
on the caller's thread, so the figures are the instrumentation's own cost:

- ``plain call``: the function without any tracing (the floor);
- ``bare otel span``: ``tracer.start_as_current_span`` with the same six attributes a step
  carries, on the same provider aikpi uses;
- ``aikpi @step``: ``@aikpi.step(...)`` inside a workflow (dimensions inherited, baggage set,
  handle made, baggage-stamping processor on the provider);
- ``traceloop @task`` / ``langfuse @observe``: the peers with their default settings
  (both record the function's input and output), configured offline.

Cases run in interleaved rounds (shuffled order per round) so that machine noise hits all
alike; each figure is the median over the rounds. Run it with ``make bench-sdk``; the peers
live only in ``.venv-bench`` (``benchmarks/requirements-peers.txt``). Nothing leaves the
machine: exporters discard spans, and langfuse's exporter targets a closed port on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import socket
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence

# Offline before any SDK is imported: no exporter or telemetry may reach the internet.
_CLOSED = "http://127.0.0.1:{port}"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_DEAD_ENDPOINT = _CLOSED.format(port=_closed_port())
os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = _DEAD_ENDPOINT
os.environ["TRACELOOP_TELEMETRY"] = "false"
os.environ["TRACELOOP_BASE_URL"] = _DEAD_ENDPOINT
os.environ["LANGFUSE_HOST"] = _DEAD_ENDPOINT
os.environ["LANGFUSE_BASE_URL"] = _DEAD_ENDPOINT

import aikpi  # noqa: E402
from aikpi import semconv  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import (  # noqa: E402
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)


class NullExporter(SpanExporter):
    """Drops every span (a real export's cost is not ours to measure), counting them by
    instrumentation scope to prove each SDK really made its spans."""

    counts: Counter[str] = Counter()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            scope = span.instrumentation_scope
            self.counts[scope.name if scope else "?"] += 1
        return SpanExportResult.SUCCESS


def work(x: int = 1) -> int:
    return x + 1


Case = tuple[str, Callable[[], object]]


def aikpi_cases() -> list[Case]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(NullExporter()))
    aikpi.configure(tracer_provider=provider)
    tracer = provider.get_tracer("bench.bare")
    attributes = {
        semconv.SPAN_TYPE: "step",
        semconv.CORRELATION_ID: "BENCH-1",
        semconv.WORKFLOW_NAME: "bench",
        semconv.STEP_NAME: "bench-step",
        semconv.COHORT: "ai_assisted",
        semconv.TEAM: "bench",
    }

    def bare() -> int:
        with tracer.start_as_current_span("step bench-step", attributes=attributes):
            return work()

    @aikpi.step("bench-step")
    def ours() -> int:
        return work()

    return [("plain call", work), ("bare otel span", bare), ("aikpi @step", ours)]


def traceloop_cases() -> list[Case]:
    try:
        from traceloop.sdk import Traceloop
        from traceloop.sdk.decorators import task
        from traceloop.sdk.instruments import Instruments
    except ImportError as exc:
        print(f"traceloop-sdk not installed ({exc}); skipped", file=sys.stderr)
        return []
    Traceloop.init(
        app_name="bench",
        api_endpoint=_DEAD_ENDPOINT,
        exporter=NullExporter(),
        disable_batch=True,
        telemetry_enabled=False,
        block_instruments=set(Instruments),
    )

    @task(name="bench-step")
    def peer() -> int:
        return work()

    return [("traceloop @task", peer)]


def langfuse_cases() -> list[Case]:
    try:
        from langfuse import Langfuse, observe
    except ImportError as exc:
        print(f"langfuse not installed ({exc}); skipped", file=sys.stderr)
        return []
    # Its own provider, so it does not stack on traceloop's global one; its batch exporter
    # targets a closed loopback port (refused at once, in its background thread).
    # A counting processor like the other cases have, to show spans are really made.
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(NullExporter()))
    Langfuse(
        public_key="pk-lf-bench",
        secret_key="sk-lf-bench",
        host=_DEAD_ENDPOINT,
        timeout=1,
        tracer_provider=provider,
    )

    @observe(name="bench-step")
    def peer() -> int:
        return work()

    return [("langfuse @observe", peer)]


def measure(cases: list[Case], calls: int, rounds: int) -> dict[str, list[float]]:
    """Microseconds per call for each case, one figure per round."""
    results: dict[str, list[float]] = {name: [] for name, _ in cases}
    order = list(cases)
    shuffle = random.Random(2024)
    for _, fn in cases:  # warm up caches and lazy imports
        for _ in range(200):
            fn()
    for _ in range(rounds):
        shuffle.shuffle(order)
        for name, fn in order:
            start = time.perf_counter_ns()
            for _ in range(calls):
                fn()
            results[name].append((time.perf_counter_ns() - start) / calls / 1000)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per case per round")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds")
    args = parser.parse_args(argv)

    # The refused exports of langfuse's background thread would log on every retry.
    for noisy in ("opentelemetry", "langfuse", "traceloop", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    cases = aikpi_cases() + traceloop_cases() + langfuse_cases()
    with aikpi.workflow("bench", correlation_id="BENCH-1", team="bench"):
        results = measure(cases, args.calls, args.rounds)

    medians = {name: statistics.median(values) for name, values in results.items()}
    floor = medians["plain call"]
    bare = medians["bare otel span"] - floor
    print(f"{args.rounds} interleaved rounds x {args.calls} calls; median per call")
    print(f"{'case':<20} {'us/call':>9} {'overhead us':>12} {'x bare span':>12}")
    for name, _ in cases:
        median = medians[name]
        overhead = median - floor
        ratio = "" if name == "plain call" else f"{overhead / bare:.2f}"
        print(f"{name:<20} {median:>9.2f} {overhead:>12.2f} {ratio:>12}")
    print("overhead = median minus the plain call; ratio = overhead / bare span overhead")
    made = ", ".join(f"{scope}: {n}" for scope, n in sorted(NullExporter.counts.items()))
    print(f"spans made, by instrumentation scope: {made}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
