"""Token usage and cost of one span, whichever GenAI instrumentation wrote it.

:func:`read_usage` reads the token counts, the model and the cost of a span's attributes
(current GenAI semantic-convention spellings first, then older ones) and checks every value;
the engine calls it during a span's check phase, so a bad count rejects the whole span.
"""

from __future__ import annotations

from typing import Any

from aikpi import semconv

from aikpi_collector.pricing import PriceBook
from aikpi_collector.validate import check_count, check_name, check_nonneg

__all__ = ("UNKNOWN_MODEL", "Usage", "has_usage", "read_usage")

UNKNOWN_MODEL = "unknown"
"""Model label of usage or cost on a span that names no model."""

Usage = tuple[str, int, int, int, int, float, bool]
"""(model, uncached input, output, cache read, cache creation, cost USD, unpriced)."""

_COST = semconv.COST_USD
_RESPONSE_MODEL = semconv.GEN_AI_RESPONSE_MODEL
_REQUEST_MODEL = semconv.GEN_AI_REQUEST_MODEL
_PROVIDER = semconv.GEN_AI_PROVIDER_NAME
_MAX_NAME_LENGTH = semconv.MAX_NAME_LENGTH

# (current spelling, older spelling) per token count, as separate names: the hot path reads
# module constants, not tuple items.
_INPUT_KEY = semconv.GEN_AI_USAGE_INPUT_TOKENS
_INPUT_OLD = semconv.LEGACY_PROMPT_TOKENS
_OUTPUT_KEY = semconv.GEN_AI_USAGE_OUTPUT_TOKENS
_OUTPUT_OLD = semconv.LEGACY_COMPLETION_TOKENS
_CACHE_READ_KEY = semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
_CACHE_READ_OLD = semconv.LEGACY_CACHE_READ_INPUT_TOKENS
_CACHE_CREATION_KEY = semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
_CACHE_CREATION_OLD = semconv.LEGACY_CACHE_CREATION_INPUT_TOKENS

_USAGE_KEYS = frozenset(
    (
        _INPUT_KEY,
        _INPUT_OLD,
        _OUTPUT_KEY,
        _OUTPUT_OLD,
        _CACHE_READ_KEY,
        _CACHE_READ_OLD,
        _CACHE_CREATION_KEY,
        _CACHE_CREATION_OLD,
        semconv.COST_USD,
    )
)
"""Every attribute :func:`read_usage` reads first; a span with none of them has no usage."""


def read_usage(attributes: dict[str, Any], prices: PriceBook) -> Usage | None:
    """Token counts, model and cost of a span, or ``None`` when it reports neither."""
    get = attributes.get
    # Current spelling first, then the older one; check_count only off the fast path.
    input_total = get(_INPUT_KEY)
    if input_total is None:
        input_total = get(_INPUT_OLD)
        if input_total is not None:
            input_total = check_count(_INPUT_OLD, input_total)
    elif type(input_total) is not int or input_total < 0:
        input_total = check_count(_INPUT_KEY, input_total)
    output = get(_OUTPUT_KEY)
    if output is None:
        output = get(_OUTPUT_OLD)
        if output is not None:
            output = check_count(_OUTPUT_OLD, output)
    elif type(output) is not int or output < 0:
        output = check_count(_OUTPUT_KEY, output)
    cache_read = get(_CACHE_READ_KEY)
    if cache_read is None:
        cache_read = get(_CACHE_READ_OLD)
        if cache_read is not None:
            cache_read = check_count(_CACHE_READ_OLD, cache_read)
    elif type(cache_read) is not int or cache_read < 0:
        cache_read = check_count(_CACHE_READ_KEY, cache_read)
    cache_creation = get(_CACHE_CREATION_KEY)
    if cache_creation is None:
        cache_creation = get(_CACHE_CREATION_OLD)
        if cache_creation is not None:
            cache_creation = check_count(_CACHE_CREATION_OLD, cache_creation)
    elif type(cache_creation) is not int or cache_creation < 0:
        cache_creation = check_count(_CACHE_CREATION_KEY, cache_creation)
    explicit = get(_COST)
    has_tokens = not (
        input_total is None and output is None and cache_read is None and cache_creation is None
    )
    if not has_tokens and explicit is None:
        return None
    if explicit is not None:
        explicit = check_nonneg(_COST, explicit)
    model_key = _RESPONSE_MODEL
    model = attributes.get(_RESPONSE_MODEL)
    if model is None:
        model_key = _REQUEST_MODEL
        model = attributes.get(_REQUEST_MODEL)
    if model is None:
        model = UNKNOWN_MODEL
    elif type(model) is not str or not 0 < len(model) <= _MAX_NAME_LENGTH:
        model = check_name(model_key, model)  # raises: the value is not a valid name
    if not has_tokens:
        return (model, 0, 0, 0, 0, explicit, False)
    input_total = input_total or 0
    output = output or 0
    cache_read = cache_read or 0
    cache_creation = cache_creation or 0
    uncached = input_total - cache_read - cache_creation
    if uncached < 0:
        uncached = 0
    unpriced = False
    cost = explicit
    if cost is None:
        provider = attributes.get(_PROVIDER)
        if provider is not None and type(provider) is not str:
            provider = None
        cost = prices.cost(model, provider, input_total, output, cache_read, cache_creation)
        if cost is None:
            unpriced = True
            cost = 0.0
    return (model, uncached, output, cache_read, cache_creation, cost, unpriced)


def has_usage(attributes: dict[str, Any]) -> bool:
    """Whether ``attributes`` hold any usage or cost key (one C-level scan)."""
    return not _USAGE_KEYS.isdisjoint(attributes)
