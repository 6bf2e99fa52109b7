"""Token cost: per-model config overrides first, then the maintained ``genai-prices`` table.

The price table lookup is slow (hundreds of microseconds), so it runs once per
(model, provider): the result is reduced to US dollars per token for each token type, per
price tier (tiers switch on the request's total input tokens, as ``genai-prices`` does), and
every later span is a few multiplications.

Spans name their provider in the GenAI semconv's or OpenInference's words (``azure.ai.openai``,
``x_ai``, ``mistralai``); the table has its own ids (``azure``, ``x-ai``, ``mistral``) and
a fuzzy match that takes ``azure.ai.openai`` for OpenAI. :data:`PROVIDER_IDS` maps the
well-known names explicitly; a name it does not know and the table does not spell the same
way is unpriced (counted, logged), never priced as some other provider.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from aikpi_collector.config import ModelPrice

__all__ = ("PROVIDER_IDS", "PriceBook", "UnitPrices", "table_provider")

log = logging.getLogger(__name__)

PROVIDER_IDS: Mapping[str, str | None] = {
    # GenAI semconv gen_ai.provider.name well-known values
    "openai": "openai",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "aws.bedrock": "aws",
    "gcp.gen_ai": "google",
    "gcp.vertex_ai": "google",
    "gcp.gemini": "google",
    "anthropic": "anthropic",
    "cohere": "cohere",
    "ibm.watsonx.ai": None,
    "perplexity": "perplexity",
    "x_ai": "x-ai",
    "deepseek": "deepseek",
    "groq": "groq",
    "mistral_ai": "mistral",
    "moonshot_ai": "moonshotai",
    # values only the deprecated gen_ai.system had
    "az.ai.openai": "azure",
    "az.ai.inference": "azure",
    "vertex_ai": "google",
    "gemini": "google",
    "xai": "x-ai",
    # OpenInference llm.provider (the host that bills) and llm.system well-known values
    "azure": "azure",
    "google": "google",
    "vertexai": "google",
    "aws": "aws",
    "amazon": "aws",
    "mistralai": "mistral",
    "moonshot": "moonshotai",
    "fireworks": "fireworks",
    "cerebras": "cerebras",
    "together": "together",
    "meta": "meta",
    "zai": "zai",
    "minimax": "minimax",
    "ollama": None,
    "ai21": None,
}
"""Provider name on a span -> the price table's provider id; ``None``: the table has no
such provider (the call is unpriced unless ``price_overrides`` names its model)."""

_MTOK = 1_000_000.0
_PROBE = 1000
_TABLE_CACHE_SIZE = 1024
_MAX_LOGGED = 100


class UnitPrices(NamedTuple):
    """US dollars per token of each token type (input is the uncached part), plus the fee
    some providers charge per request whatever its tokens (Perplexity's search models).

    The book keeps them as plain tuples (:data:`_Rates`): the hot path unpacks an exact
    tuple in one specialised step, faster than five attribute reads.
    """

    input: float
    output: float
    cache_read: float
    cache_creation: float
    request: float = 0.0


_Rates = tuple[float, float, float, float, float]
"""The fields of :class:`UnitPrices` as an exact tuple, the form the hot path unpacks."""


@dataclass(frozen=True, slots=True)
class _Tiered:
    """Unit prices per tier; tier ``i`` applies when total input tokens > ``starts[i - 1]``."""

    starts: tuple[int, ...]
    bands: tuple[_Rates, ...]

    def unit_prices(self, total_input: int) -> _Rates:
        band = 0
        for start in self.starts:
            if total_input > start:
                band += 1
            else:
                break
        return self.bands[band]


def _from_override(price: ModelPrice) -> UnitPrices:
    cache_read = price.cache_read_per_mtok
    cache_creation = price.cache_creation_per_mtok
    return UnitPrices(
        input=price.input_per_mtok / _MTOK,
        output=price.output_per_mtok / _MTOK,
        cache_read=(price.input_per_mtok if cache_read is None else cache_read) / _MTOK,
        cache_creation=(price.input_per_mtok if cache_creation is None else cache_creation) / _MTOK,
    )


def _tier_starts(model_price: Any) -> tuple[int, ...]:
    from genai_prices.types import TieredPrices

    starts: set[int] = set()
    for value in vars(model_price).values():
        if isinstance(value, TieredPrices):
            starts.update(int(tier.start) for tier in value.tiers)
    return tuple(sorted(starts))


def _probe_band(model_price: Any, total_input: int) -> UnitPrices:
    """Unit prices when the request has ``total_input`` input tokens (selects the tier)."""
    from genai_prices import Usage

    def price(**usage: int) -> Decimal:
        return Decimal(model_price.calc_price(Usage(**usage))["total_price"])

    n = total_input
    request = price()  # the per-request fee alone: 0 for most models
    base = price(input_tokens=n)
    return UnitPrices(
        input=float((base - request) / n),
        output=float((price(input_tokens=n, output_tokens=_PROBE) - base) / _PROBE),
        cache_read=float((price(input_tokens=n, cache_read_tokens=n) - request) / n),
        cache_creation=float((price(input_tokens=n, cache_write_tokens=n) - request) / n),
        request=float(request),
    )


@functools.cache
def _table_ids() -> frozenset[str]:
    from genai_prices import data

    return frozenset(provider.id for provider in data.providers)


def table_provider(provider: str) -> str | None:
    """The price table's id for a span's provider name: mapped, or spelled as the table does;
    ``None`` when the table has no such provider (no fuzzy guess)."""
    name = provider.strip().lower()
    if name in PROVIDER_IDS:
        return PROVIDER_IDS[name]
    return name if name in _table_ids() else None


def _from_table(model: str, table_id: str | None) -> UnitPrices | _Tiered | None:
    """Look the model up in ``genai-prices``, at the table's provider ``table_id`` or, when
    the span names no provider, by the model alone; ``None`` when the table lacks it."""
    from genai_prices import Usage, calc_price

    try:
        found = calc_price(Usage(input_tokens=1), model_ref=model, provider_id=table_id)
    except LookupError:
        return None
    model_price = found.model_price
    starts = _tier_starts(model_price)
    first = max(1, min(_PROBE, starts[0])) if starts else _PROBE
    bands = [_probe_band(model_price, first)]
    bands.extend(_probe_band(model_price, start + 1) for start in starts)
    if not starts:
        return bands[0]
    return _Tiered(starts=starts, bands=tuple(_rates(band) for band in bands))


def _rates(prices: UnitPrices) -> _Rates:
    return (prices.input, prices.output, prices.cache_read, prices.cache_creation, prices.request)


@functools.lru_cache(maxsize=_TABLE_CACHE_SIZE)
def _table_prices(model: str, table_id: str | None) -> UnitPrices | _Tiered | None:
    """:func:`_from_table`, memoised for the process: the table is static, and a fresh
    engine (a test, an in-process processor) should not pay milliseconds per model again."""
    return _from_table(model, table_id)


class PriceBook:
    """Cost of a call from its token counts; thread-safe, looks each model up once."""

    def __init__(self, overrides: Mapping[str, ModelPrice] | None = None) -> None:
        self._overrides = {name: _from_override(p) for name, p in (overrides or {}).items()}
        self._resolved: dict[tuple[str, str | None], _Rates | _Tiered | None] = {}
        """Prices per (model, provider), override or table, misses (``None``) included."""
        self._lock = threading.Lock()
        self._unknown_providers: set[str] = set()
        """Provider names already logged as missing from the table."""

    def _resolve(self, key: tuple[str, str | None]) -> _Rates | _Tiered | None:
        """First sighting of (model, provider): the override, else the table (slow path)."""
        with self._lock:
            if key not in self._resolved:
                found = self._lookup(*key)
                self._resolved[key] = _rates(found) if type(found) is UnitPrices else found
            return self._resolved[key]

    def _lookup(self, model: str, provider: str | None) -> UnitPrices | _Tiered | None:
        found = self._overrides.get(model)
        if found is not None:
            return found
        if provider is None:
            return _table_prices(model, None)
        table_id = table_provider(provider)
        if table_id is not None:
            return _table_prices(model, table_id)
        if provider not in self._unknown_providers and len(self._unknown_providers) < _MAX_LOGGED:
            self._unknown_providers.add(provider)
            log.warning(
                "provider %r is not in the price table, so its calls are unpriced (never "
                "priced as another provider); add their models to price_overrides in the "
                "collector config",
                provider,
            )
        return None

    def cost(
        self,
        model: str,
        provider: str | None,
        input_total: int,
        output: int,
        cache_read: int,
        cache_creation: int,
    ) -> float | None:
        """US dollars for one call, or ``None`` when the model has no known price.

        ``input_total`` includes the cached tokens (GenAI semconv); the uncached part is
        priced at the input rate, the cached parts at their own rates. Overrides win over
        the table. One dict lookup per call once (model, provider) has been seen.
        """
        key = (model, provider)
        try:
            prices = self._resolved[key]
        except KeyError:
            prices = self._resolve(key)
        if prices is None:
            return None
        if type(prices) is _Tiered:
            prices = prices.unit_prices(input_total)
        per_input, per_output, per_read, per_creation, request = prices
        uncached = input_total - cache_read - cache_creation
        if uncached < 0:
            uncached = 0
        # each token type at its own per-token price, plus any per-request fee
        return (
            request
            + uncached * per_input
            + output * per_output
            + cache_read * per_read
            + cache_creation * per_creation
        )
