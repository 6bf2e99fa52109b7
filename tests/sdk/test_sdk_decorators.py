"""@workflow/@step on every kind of callable, and as with / async with blocks."""

from __future__ import annotations

import asyncio
import inspect
import time

import aikpi
import pytest
from aikpi import semconv
from opentelemetry.trace import StatusCode

SLEEP = 0.05
LOWER_BOUND_NS = int(SLEEP * 0.9 * 1e9)  # clocks may differ slightly; never an upper bound


def duration_ns(span) -> int:
    return span.end_time - span.start_time


def test_function_return_value_and_span(aikpi_spans):
    @aikpi.step("add")
    def add(a: int, b: int = 1) -> int:
        time.sleep(SLEEP)
        return a + b

    assert add(2, b=3) == 5
    assert str(inspect.signature(add)) == str(inspect.signature(add.__wrapped__))
    span = aikpi_spans.one("step add")
    assert span.attributes[semconv.SPAN_TYPE] == "step"
    assert span.attributes[semconv.STEP_NAME] == "add"
    assert span.status.status_code is StatusCode.UNSET
    assert duration_ns(span) >= LOWER_BOUND_NS
    assert add.__name__ == "add"


def test_method_keeps_self(aikpi_spans):
    class Agent:
        def __init__(self) -> None:
            self.calls = 0

        @aikpi.step("act")
        def act(self, value: str) -> str:
            self.calls += 1
            return value.upper()

    agent = Agent()
    assert agent.act("x") == "X"
    assert agent.act("y") == "Y"
    assert agent.calls == 2
    assert len(aikpi_spans.named("step act")) == 2


def test_same_exception_object_and_error_status(aikpi_spans):
    boom = KeyError("missing")

    @aikpi.step("fails")
    def fails() -> None:
        raise boom

    with pytest.raises(KeyError) as caught:
        fails()
    assert caught.value is boom
    span = aikpi_spans.one("step fails")
    assert span.status.status_code is StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]
    assert span.events[0].attributes["exception.type"] == "KeyError"


def test_generator_duration_covers_iteration(aikpi_spans):
    @aikpi.step("stream")
    def stream(n: int):
        for i in range(n):
            time.sleep(SLEEP / 2)
            # the step is current while the generator body runs
            assert aikpi.current_step() is not None
            yield i
        return "done"

    assert inspect.isgeneratorfunction(stream)  # frameworks that inspect it see a generator
    gen = stream(3)
    assert aikpi_spans.spans == ()  # nothing ran yet
    assert aikpi.current_step() is None
    items = []
    for item in gen:
        items.append(item)
        # between items the consumer's context is not the step's
        assert aikpi.current_step() is None
    assert items == [0, 1, 2]
    span = aikpi_spans.one("step stream")
    assert duration_ns(span) >= int(3 * SLEEP / 2 * 0.9 * 1e9)
    assert span.status.status_code is StatusCode.UNSET


def test_generator_return_value_send_and_throw(aikpi_spans):
    @aikpi.step("echo")
    def echo():
        received = []
        try:
            while True:
                value = yield len(received)
                received.append(value)
        except ValueError as exc:
            yield f"caught {exc}"
        return received

    gen = echo()
    assert next(gen) == 0
    assert gen.send("a") == 1
    assert gen.send("b") == 2
    assert gen.throw(ValueError("stop")) == "caught stop"
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == ["a", "b"]
    assert aikpi_spans.one("step echo").status.status_code is StatusCode.UNSET


def test_generator_error_and_early_close(aikpi_spans):
    boom = RuntimeError("half way")

    @aikpi.step("broken")
    def broken():
        yield 1
        raise boom

    gen = broken()
    assert next(gen) == 1
    with pytest.raises(RuntimeError) as caught:
        next(gen)
    assert caught.value is boom
    assert aikpi_spans.one("step broken").status.status_code is StatusCode.ERROR

    closed = []

    @aikpi.step("endless")
    def endless():
        try:
            while True:
                yield 1
        finally:
            closed.append(True)

    gen2 = endless()
    next(gen2)
    gen2.close()
    assert closed == [True]
    span = aikpi_spans.one("step endless")
    assert span.status.status_code is StatusCode.UNSET  # a consumer stopping is no failure


def test_async_function_duration_covers_await(aikpi_spans):
    @aikpi.step("think")
    async def think(x: int) -> int:
        await asyncio.sleep(SLEEP)
        assert aikpi.current_step().name == "think"
        return x * 2

    assert inspect.iscoroutinefunction(think)
    assert asyncio.run(think(21)) == 42
    span = aikpi_spans.one("step think")
    assert duration_ns(span) >= LOWER_BOUND_NS


def test_async_exception_same_object(aikpi_spans):
    boom = ConnectionError("model down")

    @aikpi.step("call")
    async def call() -> None:
        await asyncio.sleep(0)
        raise boom

    async def main() -> BaseException:
        try:
            await call()
        except ConnectionError as exc:
            return exc
        raise AssertionError("no exception")

    assert asyncio.run(main()) is boom
    assert aikpi_spans.one("step call").status.status_code is StatusCode.ERROR


def test_async_generator_duration_and_values(aikpi_spans):
    @aikpi.step("tokens")
    async def tokens(n: int):
        for i in range(n):
            await asyncio.sleep(SLEEP / 2)
            assert aikpi.current_step().name == "tokens"
            yield i

    async def main() -> list[int]:
        out = []
        async for i in tokens(3):
            assert aikpi.current_step() is None
            out.append(i)
        return out

    assert inspect.isasyncgenfunction(tokens)
    assert asyncio.run(main()) == [0, 1, 2]
    span = aikpi_spans.one("step tokens")
    assert duration_ns(span) >= int(3 * SLEEP / 2 * 0.9 * 1e9)


def test_async_generator_error(aikpi_spans):
    boom = ValueError("bad chunk")

    @aikpi.step("chunks")
    async def chunks():
        yield 1
        raise boom

    async def main() -> BaseException:
        try:
            async for _ in chunks():
                pass
        except ValueError as exc:
            return exc
        raise AssertionError("no exception")

    assert asyncio.run(main()) is boom
    assert aikpi_spans.one("step chunks").status.status_code is StatusCode.ERROR


def test_with_and_async_with_blocks(aikpi_spans):
    with aikpi.workflow("triage") as run:
        assert aikpi.current_workflow() is run
        with aikpi.step("classify") as classify:
            assert aikpi.current_step() is classify
            time.sleep(SLEEP)
        assert aikpi.current_step() is None
    assert aikpi.current_workflow() is None

    async def main() -> None:
        async with aikpi.workflow("triage-async") as arun:
            async with aikpi.step("fetch") as fetch:
                await asyncio.sleep(SLEEP)
                assert aikpi.current_step() is fetch
            assert aikpi.current_workflow() is arun

    asyncio.run(main())
    assert duration_ns(aikpi_spans.one("step classify")) >= LOWER_BOUND_NS
    assert duration_ns(aikpi_spans.one("step fetch")) >= LOWER_BOUND_NS
    step_span = aikpi_spans.one("step classify")
    workflow_span = aikpi_spans.one("workflow triage")
    assert step_span.parent.span_id == workflow_span.context.span_id
    assert step_span.context.trace_id == workflow_span.context.trace_id


def test_one_scope_object_shared_by_concurrent_tasks(aikpi_spans):
    shared = aikpi.step("shared")

    async def worker(i: int) -> str:
        async with shared as s:
            await asyncio.sleep(SLEEP / 5 * (3 - i))
            assert aikpi.current_step() is s
            return s.name

    async def main() -> list[str]:
        with aikpi.workflow("fan-out"):
            return await asyncio.gather(*(worker(i) for i in range(3)))

    assert asyncio.run(main()) == ["shared"] * 3
    spans = aikpi_spans.named("step shared")
    assert len(spans) == 3
    assert len({span.context.span_id for span in spans}) == 3


def test_workflow_status_completed_abandoned_failed(aikpi_spans):
    @aikpi.workflow("ok")
    def ok() -> str:
        return "fine"

    @aikpi.workflow("given-up")
    def given_up() -> None:
        aikpi.current_workflow().abandon()

    boom = RuntimeError("crash")

    @aikpi.workflow("crashes")
    def crashes() -> None:
        raise boom

    assert ok() == "fine"
    given_up()
    with pytest.raises(RuntimeError) as caught:
        crashes()
    assert caught.value is boom

    status = semconv.WORKFLOW_STATUS
    assert aikpi_spans.one("workflow ok").attributes[status] == "completed"
    assert aikpi_spans.one("workflow ok").status.status_code is StatusCode.UNSET
    assert aikpi_spans.one("workflow given-up").attributes[status] == "abandoned"
    failed = aikpi_spans.one("workflow crashes")
    assert failed.attributes[status] == "failed"
    assert failed.status.status_code is StatusCode.ERROR

    with aikpi.workflow("explicit") as run:
        run.complete()
        run.complete()  # saying the same twice is harmless
        with pytest.raises(ValueError, match="already completed"):
            run.abandon()
    assert aikpi_spans.one("workflow explicit").attributes[status] == "completed"


def test_each_decorated_call_is_its_own_run(aikpi_spans):
    ids = []

    @aikpi.workflow("ticket")
    def handle() -> None:
        ids.append(aikpi.current_workflow().correlation_id)
        inner()

    @aikpi.step("inner")
    def inner() -> None:
        assert aikpi.current_step().correlation_id == ids[-1]

    handle()
    handle()
    assert len(set(ids)) == 2
    assert sorted(ids) == ids  # generated ids sort by creation time
    steps = aikpi_spans.named("step inner")
    assert [s.attributes[semconv.CORRELATION_ID] for s in steps] == ids


def test_step_inherits_and_overrides_dimensions(aikpi_spans):
    with aikpi.workflow("pilot", correlation_id="TICKET-7", cohort="baseline", team="sre"):
        with aikpi.step("a"):
            pass
        with aikpi.step("b", team="night-shift", cohort=aikpi.Cohort.AI_ASSISTED):
            pass
    a = aikpi_spans.one("step a").attributes
    b = aikpi_spans.one("step b").attributes
    wf = aikpi_spans.one("workflow pilot").attributes
    assert (a[semconv.CORRELATION_ID], a[semconv.WORKFLOW_NAME]) == ("TICKET-7", "pilot")
    assert (a[semconv.COHORT], a[semconv.TEAM]) == ("baseline", "sre")
    assert (b[semconv.COHORT], b[semconv.TEAM]) == ("ai_assisted", "night-shift")
    assert wf[semconv.CORRELATION_ID] == "TICKET-7"
    assert semconv.STEP_NAME not in wf


def test_step_outside_workflow_gets_own_correlation_id(aikpi_spans):
    with aikpi.step("lonely") as first:
        pass
    with aikpi.step("lonely") as second:
        pass
    assert first.correlation_id != second.correlation_id
    assert len(first.correlation_id) == 26
    span = aikpi_spans.named("step lonely")[0]
    assert span.attributes[semconv.CORRELATION_ID] == first.correlation_id
    assert span.attributes[semconv.COHORT] == "ai_assisted"
    assert span.attributes[semconv.WORKFLOW_NAME] == "none"  # the collector's "missing" value


def test_current_handles_are_none_outside():
    assert aikpi.current_workflow() is None
    assert aikpi.current_step() is None


def test_async_generator_closed_early(aikpi_spans):
    cleaned = []

    @aikpi.step("partial")
    async def partial():
        try:
            for i in range(10):
                yield i
        finally:
            cleaned.append(aikpi.current_step().name)  # cleanup still runs inside the step

    async def main() -> int:
        agen = partial()
        first = await agen.__anext__()
        await agen.aclose()
        return first

    assert asyncio.run(main()) == 0
    assert cleaned == ["partial"]
    assert aikpi_spans.one("step partial").status.status_code is StatusCode.UNSET
