"""Tokens counted once whatever the instrumentation: GenAI semconv (current and deprecated
spellings), OpenInference, and only from inference operations (not agent or workflow totals).

Ground truth: the token counts each span was built with, and the price table's own
``calc_price`` for the expected provider.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aikpi import semconv
from genai_prices import Usage, calc_price
from support.engine_spans import dims, new_engine, span, step_labels, value

OP = semconv.GEN_AI_OPERATION_NAME
IN = semconv.GEN_AI_USAGE_INPUT_TOKENS
OUT = semconv.GEN_AI_USAGE_OUTPUT_TOKENS
CACHE_READ = semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
CACHE_CREATION = semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
PROVIDER = semconv.GEN_AI_PROVIDER_NAME
MODEL = semconv.GEN_AI_REQUEST_MODEL
RESPONSE_MODEL = semconv.GEN_AI_RESPONSE_MODEL

# OpenInference spellings (openinference-semantic-conventions), typed out on purpose: the
# test must not share the constants of the code it checks.
OI_KIND = "openinference.span.kind"
OI_PROMPT = "llm.token_count.prompt"
OI_COMPLETION = "llm.token_count.completion"
OI_TOTAL = "llm.token_count.total"
OI_CACHE_READ = "llm.token_count.prompt_details.cache_read"
OI_CACHE_WRITE = "llm.token_count.prompt_details.cache_write"
OI_REASONING = "llm.token_count.completion_details.reasoning"
OI_MODEL = "llm.model_name"
OI_EMBEDDING_MODEL = "embedding.model_name"
OI_PROVIDER = "llm.provider"
OI_SYSTEM = "llm.system"

TOKEN_TYPES = ("input", "output", "cache_read", "cache_creation")


def foreign(name: str = "span", **attributes: Any) -> Any:
    """A third-party span inside the step (dimensions stamped from baggage)."""
    return span({**dims(), **attributes}, name=name)


def tokens(registry, model: str, token_type: str) -> float:
    return value(registry, "aikpi_tokens_total", step_labels(model=model, token_type=token_type))


def all_tokens(registry) -> dict[tuple[str, str], float]:
    """Every non-zero ``aikpi_tokens_total`` sample, by (model, token type)."""
    out = {}
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name == "aikpi_tokens_total" and sample.value:
                out[(sample.labels["model"], sample.labels["token_type"])] = sample.value
    return out


def total_cost(registry) -> float:
    return sum(
        sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == "aikpi_cost_usd_total"
    )


def table_price(model: str, provider_id: str | None, **usage: int) -> float:
    """The price table's own figure for one call (independent of the engine's reduction)."""
    return float(calc_price(Usage(**usage), model_ref=model, provider_id=provider_id).total_price)


# --- only inference operations count ------------------------------------------------------


def test_agent_span_total_is_not_counted_again() -> None:
    """The known 2x workload: an invoke_agent span carries the sum of its chat spans."""
    engine, registry = new_engine()
    chat = {OP: "chat", MODEL: "gpt-4o", PROVIDER: "openai"}
    engine.process(foreign(**chat, **{IN: 1_000, OUT: 100, CACHE_READ: 400}))
    engine.process(foreign(**chat, **{IN: 2_000, OUT: 300}))
    for operation in ("invoke_agent", "invoke_workflow", "create_agent", "execute_tool"):
        engine.process(foreign(**{**chat, OP: operation}, **{IN: 3_000, OUT: 400, CACHE_READ: 400}))
    assert all_tokens(registry) == {
        ("gpt-4o", "input"): 600 + 2_000,
        ("gpt-4o", "cache_read"): 400,
        ("gpt-4o", "output"): 400,
    }
    expected = table_price(
        "gpt-4o", "openai", input_tokens=1_000, cache_read_tokens=400, output_tokens=100
    )
    expected += table_price("gpt-4o", "openai", input_tokens=2_000, output_tokens=300)
    assert total_cost(registry) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "operation", ["chat", "text_completion", "generate_content", "embeddings", None]
)
def test_inference_operations_count(operation: str | None) -> None:
    engine, registry = new_engine()
    attrs: dict[str, Any] = {MODEL: "gpt-4o", IN: 700, OUT: 70}
    if operation is not None:
        attrs[OP] = operation
    engine.process(foreign(**attrs))
    assert all_tokens(registry) == {("gpt-4o", "input"): 700, ("gpt-4o", "output"): 70}


def test_unknown_operation_is_not_counted_and_said_once(caplog) -> None:
    engine, registry = new_engine()
    caplog.set_level(logging.WARNING, logger="aikpi_collector.engine.usage")
    for _ in range(3):
        engine.process(foreign(**{OP: "my_agent_loop", MODEL: "gpt-4o", IN: 10, OUT: 1}))
    assert all_tokens(registry) == {}
    said = [r.getMessage() for r in caplog.records if "my_agent_loop" in r.getMessage()]
    assert len(said) == 1


def test_aggregated_usage_is_ignored() -> None:
    """Pydantic AI's run totals (``gen_ai.aggregated_usage.*``) on its invoke_agent span."""
    engine, registry = new_engine()
    engine.process(
        foreign(
            **{
                OP: "invoke_agent",
                "gen_ai.aggregated_usage.input_tokens": 1_200,
                "gen_ai.aggregated_usage.output_tokens": 150,
            }
        )
    )
    engine.process(
        foreign(
            **{
                "gen_ai.aggregated_usage.input_tokens": 1_200,
                "gen_ai.aggregated_usage.output_tokens": 150,
            }
        )
    )
    assert all_tokens(registry) == {}
    assert total_cost(registry) == 0.0


def test_explicit_cost_counts_on_any_span() -> None:
    """``aikpi.cost.usd`` is the user's own figure: it counts on an agent span too (its
    tokens still do not)."""
    engine, registry = new_engine()
    engine.process(
        foreign(**{OP: "invoke_agent", MODEL: "gpt-4o", IN: 5_000, semconv.COST_USD: 0.25})
    )
    assert all_tokens(registry) == {}
    assert value(registry, "aikpi_cost_usd_total", step_labels(model="gpt-4o")) == 0.25


def test_usage_skipped_on_agent_span_is_not_checked() -> None:
    """Values that do not count cannot reject the span."""
    engine, registry = new_engine()
    engine.process(foreign(**{OP: "invoke_agent", IN: -1, OUT: "many"}))
    assert all_tokens(registry) == {}


# --- deprecated spellings and reasoning ---------------------------------------------------


def test_reasoning_tokens_are_part_of_output_not_added() -> None:
    engine, registry = new_engine()
    engine.process(
        foreign(
            **{
                OP: "chat",
                MODEL: "o3-mini",
                PROVIDER: "openai",
                IN: 1_000,
                OUT: 500,
                "gen_ai.usage.reasoning.output_tokens": 400,
                "gen_ai.usage.reasoning_tokens": 400,  # OpenLLMetry's spelling
            }
        )
    )
    assert all_tokens(registry) == {("o3-mini", "input"): 1_000, ("o3-mini", "output"): 500}
    expected = table_price("o3-mini", "openai", input_tokens=1_000, output_tokens=500)
    assert total_cost(registry) == pytest.approx(expected, rel=1e-12)


def test_deprecated_gen_ai_system_names_the_provider() -> None:
    """``az.ai.openai`` (deprecated ``gen_ai.system``) is Azure, whose davinci price is not
    OpenAI's."""
    engine, registry = new_engine()
    usage = {IN: 10_000, OUT: 10_000}
    engine.process(
        foreign(
            **{OP: "text_completion", MODEL: "davinci", "gen_ai.system": "az.ai.openai"}, **usage
        )
    )
    azure = table_price("davinci", "azure", input_tokens=10_000, output_tokens=10_000)
    assert azure != table_price("davinci", "openai", input_tokens=10_000, output_tokens=10_000)
    assert total_cost(registry) == pytest.approx(azure, rel=1e-12)


def test_provider_name_wins_over_deprecated_system() -> None:
    engine, registry = new_engine()
    engine.process(
        foreign(
            **{
                OP: "text_completion",
                MODEL: "davinci",
                PROVIDER: "azure.ai.openai",
                "gen_ai.system": "openai",
                IN: 1_000,
                OUT: 1_000,
            }
        )
    )
    expected = table_price("davinci", "azure", input_tokens=1_000, output_tokens=1_000)
    assert total_cost(registry) == pytest.approx(expected, rel=1e-12)


# --- OpenInference --------------------------------------------------------------------------


def test_openinference_llm_span_counts_with_cache_split() -> None:
    """``llm.token_count.prompt`` includes both cache parts (OpenInference spec)."""
    engine, registry = new_engine()
    engine.process(
        foreign(
            "ChatCompletion",
            **{
                OI_KIND: "LLM",
                OI_MODEL: "claude-sonnet-4-5",
                OI_SYSTEM: "anthropic",
                OI_PROVIDER: "anthropic",
                OI_PROMPT: 1_500,
                OI_COMPLETION: 200,
                OI_TOTAL: 1_700,
                OI_CACHE_READ: 600,
                OI_CACHE_WRITE: 300,
                OI_REASONING: 50,
            },
        )
    )
    model = "claude-sonnet-4-5"
    assert all_tokens(registry) == {
        (model, "input"): 600,
        (model, "cache_read"): 600,
        (model, "cache_creation"): 300,
        (model, "output"): 200,
    }
    expected = table_price(
        model,
        "anthropic",
        input_tokens=1_500,
        cache_read_tokens=600,
        cache_write_tokens=300,
        output_tokens=200,
    )
    assert total_cost(registry) == pytest.approx(expected, rel=1e-12)


def test_openinference_embedding_span_counts() -> None:
    """Embedding spans name their model in ``embedding.model_name`` and no provider
    (OpenInference spec); the table cannot price this model by its name alone, so the
    tokens count and the span is reported unpriced, until an override prices it."""
    model = "text-embedding-3-small"
    embedding = {OI_KIND: "EMBEDDING", OI_EMBEDDING_MODEL: model, OI_PROMPT: 8_000}
    with pytest.raises(LookupError):
        table_price(model, None, input_tokens=8_000)
    engine, registry = new_engine()
    engine.process(foreign("CreateEmbeddings", **embedding, **{OI_TOTAL: 8_000}))
    assert all_tokens(registry) == {(model, "input"): 8_000}
    assert value(registry, "aikpi_collector_unpriced_spans_total", {"model": model}) == 1

    engine, registry = new_engine(
        price_overrides={model: {"input_per_mtok": 0.02, "output_per_mtok": 0.0}}
    )
    engine.process(foreign("CreateEmbeddings", **embedding))
    assert all_tokens(registry) == {(model, "input"): 8_000}
    assert total_cost(registry) == pytest.approx(8_000 * 0.02 / 1e6, rel=1e-12)


@pytest.mark.parametrize(
    "kind", ["AGENT", "CHAIN", "TOOL", "RETRIEVER", "RERANKER", "GUARDRAIL", "EVALUATOR", "PROMPT"]
)
def test_openinference_non_llm_kinds_are_not_counted(kind: str) -> None:
    """Frameworks (smolagents, CrewAI...) put run totals on AGENT and CHAIN spans."""
    engine, registry = new_engine()
    oi = {OI_MODEL: "gpt-4o", OI_PROMPT: 1_000, OI_COMPLETION: 100}
    engine.process(foreign(**{OI_KIND: "LLM", **oi}))
    engine.process(foreign(**{OI_KIND: kind, **oi}))
    engine.process(foreign(**{OI_KIND: kind, OP: "chat", IN: 1_000, OUT: 100, MODEL: "gpt-4o"}))
    assert all_tokens(registry) == {("gpt-4o", "input"): 1_000, ("gpt-4o", "output"): 100}


def test_openinference_hosting_provider_prices_the_call() -> None:
    """``llm.provider`` (who hosts and bills) wins over ``llm.system`` (the API's shape)."""
    engine, registry = new_engine()
    engine.process(
        foreign(
            **{
                OI_KIND: "LLM",
                OI_MODEL: "davinci",
                OI_SYSTEM: "openai",
                OI_PROVIDER: "azure",
                OI_PROMPT: 1_000,
                OI_COMPLETION: 1_000,
            }
        )
    )
    expected = table_price("davinci", "azure", input_tokens=1_000, output_tokens=1_000)
    assert total_cost(registry) == pytest.approx(expected, rel=1e-12)


def test_span_with_both_dialects_counts_once() -> None:
    """GenAI semconv keys win; the OpenInference copy of the same numbers is not added."""
    engine, registry = new_engine()
    engine.process(
        foreign(
            **{
                OI_KIND: "LLM",
                OP: "chat",
                MODEL: "gpt-4o",
                IN: 1_000,
                OUT: 100,
                OI_MODEL: "gpt-4o",
                OI_PROMPT: 1_000,
                OI_COMPLETION: 100,
            }
        )
    )
    assert all_tokens(registry) == {("gpt-4o", "input"): 1_000, ("gpt-4o", "output"): 100}


def test_openinference_bad_count_rejects_the_span() -> None:
    engine, registry = new_engine()
    result = engine.process_batch(
        [foreign(**{OI_KIND: "LLM", OI_MODEL: "gpt-4o", OI_PROMPT: -5})], "in_process"
    )
    assert result.rejected == 1
    assert OI_PROMPT in result.error_message
    assert all_tokens(registry) == {}


def test_odd_operation_and_kind_values() -> None:
    """A list where a name belongs is not an inference operation (and no crash); the span
    kind is read in any case."""
    engine, registry = new_engine()
    engine.process(foreign(**{OP: ["chat"], MODEL: "gpt-4o", IN: 10, OUT: 1}))
    engine.process(foreign(**{OI_KIND: ["LLM"], OI_MODEL: "gpt-4o", OI_PROMPT: 10}))
    assert all_tokens(registry) == {}
    engine.process(foreign(**{OI_KIND: "llm", OI_MODEL: "gpt-4o", OI_PROMPT: 10}))
    assert all_tokens(registry) == {("gpt-4o", "input"): 10}


def test_bad_openinference_model_is_named_in_the_rejection() -> None:
    engine, registry = new_engine()
    bad = "gpt-\udc80"  # a lone surrogate: not valid UTF-8 text
    result = engine.process_batch(
        [foreign(**{OI_KIND: "LLM", OI_MODEL: bad, OI_PROMPT: 10})], "in_process"
    )
    assert result.rejected == 1
    assert OI_MODEL in result.error_message
    assert all_tokens(registry) == {}
