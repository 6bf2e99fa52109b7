"""Provider names of the GenAI semconv and OpenInference, mapped to the price table's providers.

Each mapping is checked against the table's own ``calc_price`` for the provider it should
reach (the ground truth), with a model that provider lists; a provider the table does not
have prices nothing rather than borrowing another provider's price.
"""

from __future__ import annotations

import logging

import pytest
from aikpi_collector.engine.pricing import PROVIDER_IDS, PriceBook, table_provider
from genai_prices import Usage, calc_price, data

# gen_ai.provider.name well-known values (open-telemetry/semantic-conventions-genai,
# model/gen-ai/registry.yaml), typed out: the test must not read the mapping it checks.
SEMCONV_PROVIDERS = (
    "openai",
    "gcp.gen_ai",
    "gcp.vertex_ai",
    "gcp.gemini",
    "anthropic",
    "cohere",
    "azure.ai.inference",
    "azure.ai.openai",
    "ibm.watsonx.ai",
    "aws.bedrock",
    "perplexity",
    "x_ai",
    "deepseek",
    "groq",
    "mistral_ai",
    "moonshot_ai",
)
# values only the deprecated gen_ai.system had
DEPRECATED_SYSTEMS = ("az.ai.inference", "az.ai.openai", "vertex_ai", "gemini", "xai")
# OpenInference llm.provider and llm.system well-known values (spec/semantic_conventions.md)
OPENINFERENCE_PROVIDERS = (
    "anthropic",
    "openai",
    "cohere",
    "mistralai",
    "azure",
    "google",
    "aws",
    "xai",
    "deepseek",
    "groq",
    "fireworks",
    "moonshot",
    "cerebras",
    "perplexity",
    "together",
    "ollama",
    "meta",
    "zai",
    "minimax",
)
OPENINFERENCE_SYSTEMS = (
    "anthropic",
    "openai",
    "vertexai",
    "cohere",
    "mistralai",
    "xai",
    "deepseek",
    "amazon",
    "meta",
    "ai21",
)

# (span provider name, the table's provider id it must price as, a model that provider lists)
PRICED = [
    ("openai", "openai", "gpt-4o"),
    ("azure.ai.openai", "azure", "davinci"),
    ("azure.ai.openai", "azure", "gpt-4o"),  # Azure lists no gpt-4o: the table falls back
    ("azure.ai.inference", "azure", "phi-4"),
    ("az.ai.openai", "azure", "davinci"),
    ("az.ai.inference", "azure", "phi-4"),
    ("aws.bedrock", "aws", "anthropic.claude-3-5-sonnet-20241022-v2:0"),
    ("gcp.gen_ai", "google", "gemini-2.5-pro"),
    ("gcp.vertex_ai", "google", "gemini-2.5-flash"),
    ("gcp.gemini", "google", "gemini-2.5-flash"),
    ("vertex_ai", "google", "gemini-2.5-flash"),
    ("gemini", "google", "gemini-2.5-flash"),
    ("anthropic", "anthropic", "claude-sonnet-4-5"),
    ("cohere", "cohere", "command-r"),
    ("perplexity", "perplexity", "sonar"),
    ("x_ai", "x-ai", "grok-3"),
    ("xai", "x-ai", "grok-3"),
    ("deepseek", "deepseek", "deepseek-chat"),
    ("groq", "groq", "llama-3.3-70b-versatile"),
    ("mistral_ai", "mistral", "mistral-large-latest"),
    ("moonshot_ai", "moonshotai", "kimi-k2"),
    # OpenInference
    ("azure", "azure", "davinci"),
    ("google", "google", "gemini-2.5-flash"),
    ("vertexai", "google", "gemini-2.5-flash"),
    ("aws", "aws", "anthropic.claude-3-5-sonnet-20241022-v2:0"),
    ("amazon", "aws", "anthropic.claude-3-5-sonnet-20241022-v2:0"),
    ("mistralai", "mistral", "mistral-large-latest"),
    ("moonshot", "moonshotai", "kimi-k2"),
    ("fireworks", "fireworks", "accounts/fireworks/models/deepseek-r1-0528"),
    ("cerebras", "cerebras", "llama-3.3-70b"),
    ("together", "together", "Gryphe/MythoMax-L2-13b"),
    ("meta", "meta", "muse-spark-1.1"),
    ("zai", "zai", "GLM-4.5"),
    ("minimax", "minimax", "MiniMax-M2"),
]

INPUT, CACHE_READ, OUTPUT = 20_000, 5_000, 1_500


def table_price(model: str, provider_id: str | None, **usage: int) -> float:
    return float(calc_price(Usage(**usage), model_ref=model, provider_id=provider_id).total_price)


@pytest.mark.parametrize(("name", "table_id", "model"), PRICED)
def test_provider_name_prices_as_its_table_provider(name: str, table_id: str, model: str) -> None:
    expected = table_price(
        model, table_id, input_tokens=INPUT, cache_read_tokens=CACHE_READ, output_tokens=OUTPUT
    )
    assert expected > 0
    cost = PriceBook().cost(model, name, INPUT, OUTPUT, CACHE_READ, 0)
    assert cost == pytest.approx(expected, rel=1e-9)


def test_every_well_known_name_is_mapped_to_a_table_provider_or_to_none() -> None:
    names = {*SEMCONV_PROVIDERS, *DEPRECATED_SYSTEMS, *OPENINFERENCE_PROVIDERS}
    names.update(OPENINFERENCE_SYSTEMS)
    assert names <= set(PROVIDER_IDS), sorted(names - set(PROVIDER_IDS))
    table_ids = {provider.id for provider in data.providers}
    assert {v for v in PROVIDER_IDS.values() if v is not None} <= table_ids
    # the providers the table does not have say so, rather than borrowing a neighbour's id
    assert {k for k, v in PROVIDER_IDS.items() if v is None} == {"ibm.watsonx.ai", "ollama", "ai21"}


def test_azure_openai_is_not_priced_as_openai() -> None:
    """The table's fuzzy provider match takes ``azure.ai.openai`` for OpenAI (it contains
    "openai"); Azure's own davinci price is 20 times lower."""
    fuzzy = calc_price(Usage(input_tokens=1), model_ref="davinci", provider_id="azure.ai.openai")
    assert fuzzy.provider.id == "openai"
    azure = table_price("davinci", "azure", input_tokens=1_000_000)
    assert azure != table_price("davinci", "openai", input_tokens=1_000_000)
    assert PriceBook().cost("davinci", "azure.ai.openai", 1_000_000, 0, 0, 0) == pytest.approx(
        azure, rel=1e-12
    )


def test_known_provider_without_the_model_is_unpriced_not_borrowed() -> None:
    """Azure AI Inference lists no mistral-large (nor do the providers the table falls back
    to for Azure); Mistral's own price must not be used."""
    assert table_price("mistral-large", None, input_tokens=1_000) > 0
    assert PriceBook().cost("mistral-large", "azure.ai.inference", 1_000, 0, 0, 0) is None


@pytest.mark.parametrize("name", ["ibm.watsonx.ai", "ollama", "my-llm-gateway", "openai-proxy"])
def test_provider_the_table_lacks_is_unpriced(name: str, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="aikpi_collector.engine.pricing")
    book = PriceBook()
    assert book.cost("gpt-4o", name, 1_000, 100, 0, 0) is None
    assert book.cost("gpt-4o", name, 1_000, 100, 0, 0) is None
    said = [r.getMessage() for r in caplog.records if name in r.getMessage()]
    assert len(said) == 1
    assert "price_overrides" in said[0]


def test_no_provider_looks_the_model_up_alone() -> None:
    expected = table_price("gpt-4o", None, input_tokens=1_000, output_tokens=100)
    assert expected == table_price("gpt-4o", "openai", input_tokens=1_000, output_tokens=100)
    assert PriceBook().cost("gpt-4o", None, 1_000, 100, 0, 0) == pytest.approx(expected, rel=1e-12)


def test_override_wins_whatever_the_provider() -> None:
    from aikpi_collector.config import ModelPrice

    book = PriceBook({"granite-3-8b": ModelPrice(input_per_mtok=0.2, output_per_mtok=0.6)})
    cost = book.cost("granite-3-8b", "ibm.watsonx.ai", 1_000_000, 1_000_000, 0, 0)
    assert cost == pytest.approx(0.8, rel=1e-12)


def test_table_provider_spelling() -> None:
    assert table_provider("Azure.AI.OpenAI") == "azure"
    assert table_provider(" x_ai ") == "x-ai"
    assert table_provider("openrouter") == "openrouter"  # a table id as such
    assert table_provider("ibm.watsonx.ai") is None
    assert table_provider("openai-proxy") is None  # no fuzzy match


def test_per_request_fee_is_charged_once_per_call_not_per_token() -> None:
    """Perplexity's sonar charges per 1,000 requests on top of its token prices."""
    fee = table_price("sonar", "perplexity")
    assert fee > 0
    book = PriceBook()
    for input_tokens, output in ((10, 0), (100_000, 2_000)):
        expected = table_price(
            "sonar", "perplexity", input_tokens=input_tokens, output_tokens=output
        )
        cost = book.cost("sonar", "perplexity", input_tokens, output, 0, 0)
        assert cost == pytest.approx(expected, rel=1e-9)
