"""The three OpenAI client instrumentations inside an aikpi step, against the stand-in.

Each call's tokens must count exactly once, with the cost the price table gives for what the
span reports. The expected numbers are written from the stand-in's fixed usage
(:data:`openai_standin.USAGE`) and from what each instrumentation is known to report of
it: ``opentelemetry-instrumentation-openai-v2`` reports no cached-token count (so the whole
prompt is priced as uncached input) and does not instrument the Responses API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from interop_support import STEP, Kpis, in_step, table_cost
from openai_standin import EMBEDDING_INPUT, EMBEDDING_MODEL, MODEL, USAGE, RunningStandIn

REQUEST_MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "My invoice is wrong"}]

CACHE_SPLIT = {
    (STEP, MODEL, "input"): USAGE.input - USAGE.cached,
    (STEP, MODEL, "cache_read"): USAGE.cached,
    (STEP, MODEL, "output"): USAGE.output,
}
"""One chat or Responses call, when the instrumentation reports the cached part."""
NO_CACHE_SPLIT = {(STEP, MODEL, "input"): USAGE.input, (STEP, MODEL, "output"): USAGE.output}
"""One call, when the instrumentation reports only the prompt total."""
CALL_WITH_CACHE = {
    "input_tokens": USAGE.input,
    "cache_read_tokens": USAGE.cached,
    "output_tokens": USAGE.output,
}
CALL_WITHOUT_CACHE = {"input_tokens": USAGE.input, "output_tokens": USAGE.output}


def times(calls: int, counts: dict[tuple[str, str, str], int]) -> dict[tuple[str, str, str], int]:
    return {key: calls * value for key, value in counts.items()}


def chat(client: openai.OpenAI) -> None:
    client.chat.completions.create(model=REQUEST_MODEL, messages=MESSAGES)


def chat_streamed(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=REQUEST_MODEL,
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    for _ in stream:
        pass


def responses(client: openai.OpenAI) -> None:
    client.responses.create(model=REQUEST_MODEL, input="My invoice is wrong")


def responses_streamed(client: openai.OpenAI) -> None:
    for _ in client.responses.create(model=REQUEST_MODEL, input="My invoice is wrong", stream=True):
        pass


def embeddings(client: openai.OpenAI) -> None:
    client.embeddings.create(model=EMBEDDING_MODEL, input=["invoice", "refund"])


def run_calls(
    standin: RunningStandIn, calls: list[Callable[[openai.OpenAI], None]]
) -> openai.OpenAI:
    client = openai.OpenAI()  # key and base URL from the environment (the stand-in)
    with in_step():
        for call in calls:
            call(client)
    assert standin.standin.calls == len(calls)
    return client


@pytest.fixture
def instrument(kpis: Kpis) -> Iterator[Callable[[Any], None]]:
    """Instrument with a given instrumentor on the test's provider; undone afterwards."""
    done: list[Any] = []

    def apply(instrumentor: Any) -> None:
        instrumentor.instrument(tracer_provider=kpis.provider)
        done.append(instrumentor)

    yield apply
    for instrumentor in done:
        instrumentor.uninstrument()


def check_counted(kpis: Kpis, tokens: dict[tuple[str, str, str], int], cost: float) -> None:
    assert kpis.all_tokens() == tokens, kpis.describe()
    assert cost > 0
    assert kpis.cost() == pytest.approx(cost, rel=1e-9), kpis.describe()
    assert kpis.rejected() == 0


def test_official_openai_v2(standin: RunningStandIn, kpis: Kpis, instrument) -> None:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    instrument(OpenAIInstrumentor())
    run_calls(standin, [chat, chat_streamed, embeddings, responses])
    # chat twice without a cache split, embeddings once; the Responses call made no span
    tokens = times(2, NO_CACHE_SPLIT)
    tokens[(STEP, EMBEDDING_MODEL, "input")] = EMBEDDING_INPUT
    cost = 2 * table_cost(**CALL_WITHOUT_CACHE)
    cost += table_cost(EMBEDDING_MODEL, input_tokens=EMBEDDING_INPUT)
    check_counted(kpis, tokens, cost)
    assert kpis.unpriced() == 0


def test_openllmetry_openai(standin: RunningStandIn, kpis: Kpis, instrument) -> None:
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    instrument(OpenAIInstrumentor())
    run_calls(standin, [chat, chat_streamed, responses, responses_streamed, embeddings])
    # it reports the cached part, and reasoning as gen_ai.usage.reasoning_tokens (in output)
    tokens = times(4, CACHE_SPLIT)
    tokens[(STEP, EMBEDDING_MODEL, "input")] = EMBEDDING_INPUT
    cost = 4 * table_cost(**CALL_WITH_CACHE)
    cost += table_cost(EMBEDDING_MODEL, input_tokens=EMBEDDING_INPUT)
    check_counted(kpis, tokens, cost)
    assert kpis.unpriced() == 0


def test_openinference_openai(standin: RunningStandIn, kpis: Kpis, instrument) -> None:
    from openinference.instrumentation.openai import OpenAIInstrumentor

    instrument(OpenAIInstrumentor())
    run_calls(standin, [chat, chat_streamed, responses, responses_streamed, embeddings])
    # llm.token_count.prompt includes the cached part; reasoning is inside completion
    tokens = times(4, CACHE_SPLIT)
    tokens[(STEP, EMBEDDING_MODEL, "input")] = EMBEDDING_INPUT
    cost = 4 * table_cost(**CALL_WITH_CACHE)
    cost += table_cost(EMBEDDING_MODEL, input_tokens=EMBEDDING_INPUT)
    check_counted(kpis, tokens, cost)
    assert kpis.unpriced() == 0
