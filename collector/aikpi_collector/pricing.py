"""Token cost: per-model config overrides first, then the maintained ``genai-prices`` table.

The price table lookup is slow (hundreds of microseconds), so it runs once per
(model, provider): the result is reduced to US dollars per token for each token type, per
price tier (tiers switch on the request's total input tokens, as ``genai-prices`` does), and
every later span is a few multiplications.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aikpi_collector.config import ModelPrice

__all__ = ("PriceBook", "UnitPrices")

_MTOK = 1_000_000.0
_PROBE = 1000
_TABLE_CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class UnitPrices:
    """US dollars per token of each token type (input is the uncached part)."""

    input: float
    output: float
    cache_read: float
    cache_creation: float


@dataclass(frozen=True, slots=True)
class _Tiered:
    """Unit prices per tier; tier ``i`` applies when total input tokens > ``starts[i - 1]``."""

    starts: tuple[int, ...]
    bands: tuple[UnitPrices, ...]

    def unit_prices(self, total_input: int) -> UnitPrices:
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
    base = price(input_tokens=n)
    return UnitPrices(
        input=float(base / n),
        output=float((price(input_tokens=n, output_tokens=_PROBE) - base) / _PROBE),
        cache_read=float(price(input_tokens=n, cache_read_tokens=n) / n),
        cache_creation=float(price(input_tokens=n, cache_write_tokens=n) / n),
    )


def _from_table(model: str, provider: str | None) -> UnitPrices | _Tiered | None:
    """Look the model up in ``genai-prices``; ``None`` when it does not know the model."""
    from genai_prices import Usage, calc_price

    probe = Usage(input_tokens=1)
    try:
        found = calc_price(probe, model_ref=model, provider_id=provider)
    except LookupError:
        if provider is None:
            return None
        try:  # the provider spelling differs between GenAI semconv and the table
            found = calc_price(probe, model_ref=model)
        except LookupError:
            return None
    model_price = found.model_price
    starts = _tier_starts(model_price)
    first = max(1, min(_PROBE, starts[0])) if starts else _PROBE
    bands = [_probe_band(model_price, first)]
    bands.extend(_probe_band(model_price, start + 1) for start in starts)
    if not starts:
        return bands[0]
    return _Tiered(starts=starts, bands=tuple(bands))


@functools.lru_cache(maxsize=_TABLE_CACHE_SIZE)
def _table_prices(model: str, provider: str | None) -> UnitPrices | _Tiered | None:
    """:func:`_from_table`, memoised for the process: the table is static, and a fresh
    engine (a test, an in-process processor) should not pay milliseconds per model again."""
    return _from_table(model, provider)


class PriceBook:
    """Cost of a call from its token counts; thread-safe, looks each model up once."""

    def __init__(self, overrides: Mapping[str, ModelPrice] | None = None) -> None:
        self._overrides = {name: _from_override(p) for name, p in (overrides or {}).items()}
        self._resolved: dict[tuple[str, str | None], UnitPrices | _Tiered | None] = {}
        """Prices per (model, provider), override or table, misses (``None``) included."""
        self._lock = threading.Lock()

    def _resolve(self, key: tuple[str, str | None]) -> UnitPrices | _Tiered | None:
        """First sighting of (model, provider): the override, else the table (slow path)."""
        with self._lock:
            if key not in self._resolved:
                found = self._overrides.get(key[0])
                self._resolved[key] = found if found is not None else _table_prices(*key)
            return self._resolved[key]

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
        unit = prices.unit_prices(input_total) if isinstance(prices, _Tiered) else prices
        uncached = input_total - cache_read - cache_creation
        if uncached < 0:
            uncached = 0
        # each token type at its own per-token price
        return (
            uncached * unit.input
            + output * unit.output
            + cache_read * unit.cache_read
            + cache_creation * unit.cache_creation
        )
