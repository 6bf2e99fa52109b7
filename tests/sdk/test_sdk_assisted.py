"""``aikpi.step.assisted``: True when AI output was produced in the step, else False; an
explicit ``step(..., assisted=...)`` wins. Model-call spans of other instrumentations count
too, whichever thread or task they run in."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading

import aikpi
import pytest
from aikpi import semconv
from opentelemetry import context as otel_context

ASSISTED = semconv.STEP_ASSISTED


def assisted(aikpi_spans, name: str = "s") -> object:
    return aikpi_spans.one(f"step {name}").attributes[ASSISTED]


def test_human_only_step_is_not_assisted(aikpi_spans):
    library = aikpi_spans.tracer("http.client")
    with aikpi.workflow("w"), aikpi.step("s"), library.start_as_current_span("GET /ticket"):
        pass
    assert assisted(aikpi_spans) is False


def test_llm_call_makes_the_step_assisted(aikpi_spans):
    with aikpi.step("s") as s, s.llm_call("gpt-4o") as call:
        call.record_usage(10, 2)
    assert assisted(aikpi_spans) is True


@pytest.mark.parametrize(
    ("at_start", "at_end"),
    [
        ({"gen_ai.operation.name": "chat"}, {}),
        ({"gen_ai.provider.name": "openai"}, {}),
        ({"gen_ai.system": "anthropic"}, {}),
        ({}, {"gen_ai.usage.output_tokens": 7}),  # usage known only when the call ends
        ({}, {"gen_ai.usage.input_tokens": 7}),
        ({"openinference.span.kind": "LLM"}, {}),
        ({"openinference.span.kind": "EMBEDDING"}, {}),
        ({}, {"openinference.span.kind": "llm"}),
    ],
)
def test_genai_span_of_another_instrumentation_marks_its_step(aikpi_spans, at_start, at_end):
    library = aikpi_spans.tracer("genai.instrumentation")
    with aikpi.step("s"), library.start_as_current_span("call", attributes=at_start) as span:
        span.set_attributes(at_end)
    assert assisted(aikpi_spans) is True


@pytest.mark.parametrize("kind", ["CHAIN", "TOOL", "RETRIEVER", 3])
def test_other_openinference_kinds_do_not(aikpi_spans, kind):
    library = aikpi_spans.tracer("openinference")
    attributes = {"openinference.span.kind": kind}
    with aikpi.step("s"), library.start_as_current_span("chain", attributes=attributes):
        pass
    assert assisted(aikpi_spans) is False


def test_model_span_in_a_thread_or_task_marks_the_step(aikpi_spans):
    library = aikpi_spans.tracer("genai.instrumentation")

    def call_model() -> None:
        with library.start_as_current_span("chat", attributes={"gen_ai.system": "openai"}):
            pass

    with aikpi.step("threaded"):
        worker = threading.Thread(target=contextvars.copy_context().run, args=(call_model,))
        worker.start()
        worker.join()

    async def main() -> None:
        with aikpi.step("tasked"):
            await asyncio.create_task(asyncio.to_thread(call_model))

    asyncio.run(main())
    assert assisted(aikpi_spans, "threaded") is True
    assert assisted(aikpi_spans, "tasked") is True


def test_model_span_started_with_an_explicit_parent_context(aikpi_spans):
    # the step is not current where the model span starts and ends: its context is passed
    library = aikpi_spans.tracer("genai.instrumentation")
    with aikpi.step("s"):
        step_context = otel_context.get_current()
        done = threading.Event()

        def elsewhere() -> None:
            span = library.start_span("chat", context=step_context)
            span.set_attribute("gen_ai.usage.output_tokens", 5)
            span.end()
            done.set()

        threading.Thread(target=elsewhere).start()
        assert done.wait(10)
    assert assisted(aikpi_spans) is True


def test_inline_outcome_and_token_make_the_step_assisted(aikpi_spans):
    with aikpi.step("decided") as s:
        s.outcome("accepted")
    with aikpi.step("tokened") as t:
        t.token()
    assert assisted(aikpi_spans, "decided") is True
    assert assisted(aikpi_spans, "tokened") is True
    assert s.assisted is True


def test_token_after_the_step_ended_is_flagged_in_a_log_line(aikpi_spans, caplog):
    caplog.set_level(logging.WARNING, logger="aikpi")
    for _ in range(2):
        with aikpi.step("late-token") as s:
            pass
        s.token()
    # the spans were written before the tokens were made: they keep saying False
    assert [span.attributes[ASSISTED] for span in aikpi_spans.named("step late-token")] == [
        False,
        False,
    ]
    flagged = [r for r in caplog.records if "make the token while the step runs" in r.getMessage()]
    assert len(flagged) == 1  # once per step name


def test_explicit_assisted_wins(aikpi_spans):
    with aikpi.step("stated-human", assisted=False) as s, s.llm_call("gpt-4o"):
        pass
    with aikpi.step("stated-ai", assisted=True):
        pass
    assert assisted(aikpi_spans, "stated-human") is False
    assert assisted(aikpi_spans, "stated-ai") is True


@pytest.mark.parametrize("bad", ["yes", 1, 0])
def test_assisted_must_be_a_bool(bad):
    with pytest.raises(ValueError, match="assisted must be True"):
        aikpi.step("s", assisted=bad)


def test_flag_belongs_to_one_execution_not_to_the_decorated_step(aikpi_spans):
    library = aikpi_spans.tracer("genai.instrumentation")

    @aikpi.step("maybe")
    def maybe(use_model: bool) -> bool:
        if use_model:
            with library.start_as_current_span("chat", attributes={"gen_ai.system": "x"}):
                pass
        return use_model

    with aikpi.workflow("w"):
        assert [maybe(True), maybe(False), maybe(True)] == [True, False, True]
    assert [s.attributes[ASSISTED] for s in aikpi_spans.named("step maybe")] == [True, False, True]


def test_model_span_marks_the_innermost_step_only(aikpi_spans):
    library = aikpi_spans.tracer("genai.instrumentation")
    with aikpi.step("outer"), aikpi.step("inner"), library.start_as_current_span("chat") as span:
        span.set_attribute("gen_ai.usage.output_tokens", 1)
    assert assisted(aikpi_spans, "inner") is True
    assert assisted(aikpi_spans, "outer") is False


def test_spans_that_never_end_do_not_grow_memory(aikpi_spans, monkeypatch):
    from aikpi import _config

    monkeypatch.setattr(_config, "_PENDING_LIMIT", 50)
    (processor,) = [
        p
        for p in aikpi_spans.provider._active_span_processor._span_processors
        if isinstance(p, _config.BaggageSpanProcessor)
    ]
    library = aikpi_spans.tracer()
    with aikpi.step("leaky"):
        for _ in range(200):
            library.start_span("never ended")
    assert len(processor._pending) <= 50
