"""Telemetry faults never reach user code, and export never runs on the caller's thread."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence

import aikpi
import pytest
from aikpi import testing
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


class ExplodingProcessor(SpanProcessor):
    """A broken pipeline: every span start and end raises."""

    def on_start(self, span, parent_context=None) -> None:
        raise RuntimeError("processor on_start is broken")

    def on_end(self, span) -> None:
        raise RuntimeError("processor on_end is broken")


@pytest.fixture
def broken_pipeline():
    provider = TracerProvider()
    provider.add_span_processor(ExplodingProcessor())
    testing.reset()
    aikpi.configure(tracer_provider=provider)
    yield provider
    testing.reset()


def test_broken_pipeline_does_not_change_results(broken_pipeline, caplog):
    caplog.set_level(logging.WARNING, logger="aikpi")

    @aikpi.step("sync")
    def sync(x: int) -> int:
        return x + 1

    @aikpi.step("gen")
    def gen(n: int):
        yield from range(n)

    @aikpi.step("coro")
    async def coro() -> str:
        await asyncio.sleep(0)
        return "awaited"

    @aikpi.step("agen")
    async def agen():
        yield "a"
        yield "b"

    async def collect() -> list[str]:
        return [item async for item in agen()]

    boom = ValueError("user error")

    @aikpi.workflow("raises")
    def raises() -> None:
        raise boom

    with aikpi.workflow("broken") as run:
        assert sync(1) == 2
        assert list(gen(3)) == [0, 1, 2]
        assert asyncio.run(coro()) == "awaited"
        assert asyncio.run(collect()) == ["a", "b"]
        with aikpi.step("handle") as s:
            assert aikpi.current_step() is s
            with s.llm_call("gpt-4o") as call:
                call.record_usage(3, 4)
                call.record_cost(0.5)
            s.policy_violation("p")
            s.outcome("accepted")
            token = s.token()
        with aikpi.step("later") as later:
            pass
        aikpi.record_outcome(later.token(), "edited")
        assert token.startswith("ak1c.")
    aikpi.reopen(run.token())
    with pytest.raises(ValueError) as caught:
        raises()
    assert caught.value is boom
    assert any("could not" in record.getMessage() for record in caplog.records)


class BlockingExporter(SpanExporter):
    """An exporter stuck on a dead collector until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.entered.set()
        self.release.wait(timeout=60)
        self.exported += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()


def test_export_stays_in_the_background():
    exporter = BlockingExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=10))
    testing.reset()
    aikpi.configure(tracer_provider=provider)
    try:

        @aikpi.step("work")
        def work(i: int) -> int:
            return i * i

        with aikpi.workflow("first"):
            work(0)
        assert exporter.entered.wait(timeout=30)  # the exporter is now stuck
        results = []
        done = threading.Event()

        def caller() -> None:
            with aikpi.workflow("while-stuck"):
                results.extend(work(i) for i in range(200))
            done.set()

        threading.Thread(target=caller, daemon=True).start()
        # the calls finish although the exporter has not returned (deterministic: if export
        # ran on the caller's thread, `done` could not be set before `release`)
        assert done.wait(timeout=30)
        assert not exporter.release.is_set()
        assert results == [i * i for i in range(200)]
    finally:
        exporter.release.set()
        provider.shutdown()
        testing.reset()
    assert exporter.exported == 1 + 1 + 200 + 1
