"""Token types and cost: cached tokens add up, price table, overrides, explicit cost, unpriced."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from aikpi import semconv
from genai_prices import Usage, calc_price
from support.engine_spans import chat_span, new_engine, step_labels, value

IN = semconv.GEN_AI_USAGE_INPUT_TOKENS
OUT = semconv.GEN_AI_USAGE_OUTPUT_TOKENS
CACHE_READ = semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
CACHE_CREATION = semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS


def tokens(registry, model: str, token_type: str) -> float:
    return value(registry, "aikpi_tokens_total", step_labels(model=model, token_type=token_type))


def cost(registry, model: str) -> float:
    return value(registry, "aikpi_cost_usd_total", step_labels(model=model))


def test_token_types_add_up_with_cached_tokens() -> None:
    engine, registry = new_engine()
    # input_tokens includes both cached parts (GenAI semconv)
    engine.process(
        chat_span("gpt-4o", **{IN: 1000, OUT: 150, CACHE_READ: 300, CACHE_CREATION: 200})
    )
    assert tokens(registry, "gpt-4o", "input") == 500
    assert tokens(registry, "gpt-4o", "cache_read") == 300
    assert tokens(registry, "gpt-4o", "cache_creation") == 200
    assert tokens(registry, "gpt-4o", "output") == 150
    input_side = sum(
        tokens(registry, "gpt-4o", t) for t in ("input", "cache_read", "cache_creation")
    )
    assert input_side == 1000


def test_legacy_spellings_are_read() -> None:
    engine, registry = new_engine()
    engine.process(
        chat_span(
            "gpt-4o",
            **{
                semconv.LEGACY_PROMPT_TOKENS: 900,
                semconv.LEGACY_COMPLETION_TOKENS: 80,
                semconv.LEGACY_CACHE_READ_INPUT_TOKENS: 100,
                semconv.LEGACY_CACHE_CREATION_INPUT_TOKENS: 50,
            },
        )
    )
    assert tokens(registry, "gpt-4o", "input") == 750
    assert tokens(registry, "gpt-4o", "output") == 80
    assert tokens(registry, "gpt-4o", "cache_read") == 100
    assert tokens(registry, "gpt-4o", "cache_creation") == 50


def test_current_spelling_wins_over_legacy() -> None:
    engine, registry = new_engine()
    engine.process(chat_span("gpt-4o", **{IN: 10, semconv.LEGACY_PROMPT_TOKENS: 999}))
    assert tokens(registry, "gpt-4o", "input") == 10


def test_input_never_below_zero() -> None:
    engine, registry = new_engine()
    # an instrumentation that reports input without the cached part
    engine.process(chat_span("gpt-4o", **{IN: 100, CACHE_READ: 400}))
    assert tokens(registry, "gpt-4o", "input") == 0
    assert tokens(registry, "gpt-4o", "cache_read") == 400


def test_model_is_response_then_request_then_unknown() -> None:
    engine, registry = new_engine()
    both = chat_span("gpt-4o", **{OUT: 1, semconv.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-08-06"})
    engine.process(both)
    engine.process(chat_span("gpt-4o", **{OUT: 2}))
    engine.process(chat_span(None, **{OUT: 4}))
    assert tokens(registry, "gpt-4o-2024-08-06", "output") == 1
    assert tokens(registry, "gpt-4o", "output") == 2
    assert tokens(registry, "unknown", "output") == 4


def test_cost_from_price_table_matches_documented_list_price() -> None:
    """gpt-4o list price (openai.com/api/pricing): $2.50 input, $1.25 cached input,
    $10.00 output per million tokens."""
    found = calc_price(Usage(input_tokens=1), model_ref="gpt-4o", provider_id="openai")
    assert found.model_price.input_mtok == Decimal("2.5")
    assert found.model_price.cache_read_mtok == Decimal("1.25")
    assert found.model_price.output_mtok == Decimal("10")

    engine, registry = new_engine()
    usage = {IN: 12_000, OUT: 800, CACHE_READ: 4_000, semconv.GEN_AI_PROVIDER_NAME: "openai"}
    engine.process(chat_span("gpt-4o", **usage))
    engine.process(chat_span("gpt-4o", **usage))
    one_call = (8_000 * 2.5 + 4_000 * 1.25 + 800 * 10.0) / 1e6
    assert cost(registry, "gpt-4o") == pytest.approx(2 * one_call, rel=1e-12)
    assert value(registry, "aikpi_collector_unpriced_spans_total", {"model": "gpt-4o"}) == 0


def test_cost_uses_the_price_tier_of_long_requests() -> None:
    """claude-sonnet-4-5 charges every token at the higher tier above 200k input tokens."""
    found = calc_price(
        Usage(input_tokens=1), model_ref="claude-sonnet-4-5", provider_id="anthropic"
    )
    price = found.model_price
    tier = {name: getattr(price, name) for name in ("input_mtok", "output_mtok", "cache_read_mtok")}
    assert all(len(t.tiers) == 1 and t.tiers[0].start == 200_000 for t in tier.values())

    engine, registry = new_engine()
    engine.process(
        chat_span(
            "claude-sonnet-4-5",
            **{
                IN: 250_000,
                OUT: 1_000,
                CACHE_READ: 50_000,
                semconv.GEN_AI_PROVIDER_NAME: "anthropic",
            },
        )
    )
    engine.process(chat_span("claude-sonnet-4-5", **{IN: 1_000, OUT: 100}))
    high = float(tier["input_mtok"].tiers[0].price) * 200_000
    high += float(tier["cache_read_mtok"].tiers[0].price) * 50_000
    high += float(tier["output_mtok"].tiers[0].price) * 1_000
    low = float(tier["input_mtok"].base) * 1_000 + float(tier["output_mtok"].base) * 100
    assert cost(registry, "claude-sonnet-4-5") == pytest.approx((high + low) / 1e6, rel=1e-12)


def test_override_wins_over_price_table() -> None:
    engine, registry = new_engine(
        price_overrides={
            "gpt-4o": {"input_per_mtok": 1.0, "output_per_mtok": 2.0, "cache_read_per_mtok": 0.5}
        }
    )
    engine.process(
        chat_span("gpt-4o", **{IN: 3_000, OUT: 1_000, CACHE_READ: 1_000, CACHE_CREATION: 1_000})
    )
    # cache creation defaults to the input price
    expected = (1_000 * 1.0 + 1_000 * 0.5 + 1_000 * 1.0 + 1_000 * 2.0) / 1e6
    assert cost(registry, "gpt-4o") == pytest.approx(expected, rel=1e-12)


def test_override_prices_a_self_hosted_model() -> None:
    engine, registry = new_engine(
        price_overrides={"llama-internal": {"input_per_mtok": 0.2, "output_per_mtok": 0.4}}
    )
    engine.process(chat_span("llama-internal", **{IN: 5_000_000, OUT: 1_000_000}))
    assert cost(registry, "llama-internal") == pytest.approx(1.4, rel=1e-12)
    assert value(registry, "aikpi_collector_unpriced_spans_total", {"model": "llama-internal"}) == 0


def test_explicit_cost_wins_over_override_and_table() -> None:
    engine, registry = new_engine(
        price_overrides={"gpt-4o": {"input_per_mtok": 100.0, "output_per_mtok": 100.0}}
    )
    engine.process(chat_span("gpt-4o", **{IN: 1_000, OUT: 1_000, semconv.COST_USD: 0.0123}))
    engine.process(chat_span("claude-sonnet-4-5", **{IN: 1_000, semconv.COST_USD: 0.5}))
    assert cost(registry, "gpt-4o") == 0.0123
    assert cost(registry, "claude-sonnet-4-5") == 0.5
    assert tokens(registry, "gpt-4o", "input") == 1_000


def test_explicit_cost_without_tokens_or_model() -> None:
    engine, registry = new_engine()
    engine.process(chat_span(None, **{semconv.COST_USD: 2}))
    assert cost(registry, "unknown") == 2.0


def test_unpriced_model_counts_tokens_zero_cost_and_logs_once(caplog) -> None:
    engine, registry = new_engine()
    caplog.set_level(logging.WARNING, logger="aikpi_collector.engine")
    for _ in range(3):
        engine.process(chat_span("my-private-model-v9", **{IN: 100, OUT: 10}))
    assert tokens(registry, "my-private-model-v9", "input") == 300
    assert tokens(registry, "my-private-model-v9", "output") == 30
    assert cost(registry, "my-private-model-v9") == 0.0
    assert (
        registry.get_sample_value("aikpi_cost_usd_total", step_labels(model="my-private-model-v9"))
        == 0.0
    )
    unpriced = {"model": "my-private-model-v9"}
    assert value(registry, "aikpi_collector_unpriced_spans_total", unpriced) == 3
    messages = [r.getMessage() for r in caplog.records if "my-private-model-v9" in r.getMessage()]
    assert len(messages) == 1
    assert "price_overrides" in messages[0]


def test_semconv_provider_name_prices_at_that_provider() -> None:
    """``azure.ai.openai`` is Azure in the price table (whose davinci is not OpenAI's price),
    not the provider the table's fuzzy match would pick."""
    engine, registry = new_engine()
    usage = {IN: 1_000_000, OUT: 0, semconv.GEN_AI_PROVIDER_NAME: "azure.ai.openai"}
    engine.process(chat_span("davinci", **usage))
    azure = calc_price(Usage(input_tokens=1_000_000), model_ref="davinci", provider_id="azure")
    openai = calc_price(Usage(input_tokens=1_000_000), model_ref="davinci", provider_id="openai")
    assert azure.total_price != openai.total_price
    assert cost(registry, "davinci") == pytest.approx(float(azure.total_price), rel=1e-12)


def test_provider_missing_from_the_table_is_unpriced_not_guessed() -> None:
    """IBM watsonx is not in the price table: Mistral's own price is not its price."""
    engine, registry = new_engine()
    usage = {IN: 1_000, OUT: 100, semconv.GEN_AI_PROVIDER_NAME: "ibm.watsonx.ai"}
    engine.process(chat_span("mistral-large", **usage))
    assert tokens(registry, "mistral-large", "input") == 1_000
    assert cost(registry, "mistral-large") == 0.0
    unpriced = {"model": "mistral-large"}
    assert value(registry, "aikpi_collector_unpriced_spans_total", unpriced) == 1
