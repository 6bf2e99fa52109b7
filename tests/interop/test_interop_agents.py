"""Agent frameworks inside an aikpi step, against the stand-in: their agent spans carry (or
may carry) the run's total usage above the model-call spans, and must not count it again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from interop_support import STEP, Kpis, in_step, table_cost
from openai_standin import MODEL, USAGE, RunningStandIn

PROMPT = "My invoice is wrong"


def check_once(kpis: Kpis, calls: int, *, cached: bool) -> None:
    """``calls`` model calls counted once each, at the price table's figure."""
    if cached:
        tokens = {
            (STEP, MODEL, "input"): calls * (USAGE.input - USAGE.cached),
            (STEP, MODEL, "cache_read"): calls * USAGE.cached,
            (STEP, MODEL, "output"): calls * USAGE.output,
        }
        one = table_cost(
            input_tokens=USAGE.input, cache_read_tokens=USAGE.cached, output_tokens=USAGE.output
        )
    else:
        tokens = {
            (STEP, MODEL, "input"): calls * USAGE.input,
            (STEP, MODEL, "output"): calls * USAGE.output,
        }
        one = table_cost(input_tokens=USAGE.input, output_tokens=USAGE.output)
    assert kpis.all_tokens() == tokens, kpis.describe()
    assert one > 0
    assert kpis.cost() == pytest.approx(calls * one, rel=1e-9), kpis.describe()
    assert kpis.unpriced() == 0
    assert kpis.rejected() == 0


@pytest.mark.parametrize("aggregated_names", [True, False])
@pytest.mark.parametrize("api", ["chat", "responses"])
def test_pydantic_ai(standin: RunningStandIn, kpis: Kpis, api: str, aggregated_names: bool) -> None:
    """Pydantic AI's agent span repeats the run's usage: as ``gen_ai.aggregated_usage.*`` by
    default, as plain ``gen_ai.usage.*`` with ``use_aggregated_usage_attribute_names=False``
    (the double count this guards against)."""
    from pydantic_ai import Agent
    from pydantic_ai.capabilities.instrumentation import Instrumentation
    from pydantic_ai.models.instrumented import InstrumentationSettings
    from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
    from pydantic_ai.providers.openai import OpenAIProvider

    provider = OpenAIProvider(base_url=standin.base_url, api_key="sk-interop-dummy")
    model_class = OpenAIChatModel if api == "chat" else OpenAIResponsesModel
    settings = InstrumentationSettings(
        tracer_provider=kpis.provider, use_aggregated_usage_attribute_names=aggregated_names
    )
    agent = Agent(
        model_class("gpt-4o-mini", provider=provider),
        instructions="Draft a short reply.",
        capabilities=[Instrumentation(settings=settings)],
    )
    with in_step():
        for _ in range(2):
            assert agent.run_sync(PROMPT).output
    assert standin.standin.calls == 2
    agent_spans = [
        s for s in kpis.exporter.get_finished_spans() if s.name.startswith("invoke_agent")
    ]
    assert len(agent_spans) == 2
    usage_key = "gen_ai.usage.input_tokens"
    if not aggregated_names:  # the agent span does repeat the call's usage
        assert all(s.attributes[usage_key] == USAGE.input for s in agent_spans)
    check_once(kpis, 2, cached=True)


@pytest.fixture
def agents_instrumented(kpis: Kpis) -> Iterator[None]:
    """The official OpenAI Agents instrumentation as the Agents SDK's only trace processor:
    its default processor would export to OpenAI's servers."""
    from agents import set_trace_processors
    from opentelemetry.instrumentation.openai_agents import OpenAIAgentsInstrumentor

    set_trace_processors([])
    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument(tracer_provider=kpis.provider)
    yield
    instrumentor.uninstrument()


@pytest.mark.parametrize("streamed", [False, True])
def test_openai_agents_sdk(
    standin: RunningStandIn,
    kpis: Kpis,
    agents_instrumented: None,
    streamed: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The Agents SDK calls the Responses API; the instrumentation writes an invoke_agent
    span and an Agent workflow span above each chat span. It reports no cached count."""
    import asyncio

    import openai
    from agents import Agent, Runner, set_default_openai_client
    from agents.tracing import get_trace_provider

    set_default_openai_client(openai.AsyncOpenAI(), use_for_tracing=False)
    agent = Agent(name="drafter", instructions="Draft a short reply.", model="gpt-4o-mini")

    async def run_streamed() -> None:  # both runs on one event loop: the client's pool is
        for _ in range(2):
            result = Runner.run_streamed(agent, PROMPT)
            async for _event in result.stream_events():
                pass
            assert result.final_output

    with in_step():
        if streamed:
            asyncio.run(run_streamed())
        else:
            for _ in range(2):
                assert Runner.run_sync(agent, PROMPT).final_output
    assert standin.standin.calls == 2
    operations = [
        (s.attributes or {}).get("gen_ai.operation.name")
        for s in kpis.exporter.get_finished_spans()
    ]
    assert operations.count("chat") == 2, kpis.describe()
    assert operations.count("invoke_agent") >= 2, kpis.describe()
    check_once(kpis, 2, cached=False)
    # nothing went to OpenAI's trace ingest: a flush would log the refused connection
    get_trace_provider().force_flush()
    assert not [r for r in caplog.records if "Tracing" in r.getMessage()]
