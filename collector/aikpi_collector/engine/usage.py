"""Token usage and cost of one span, whichever GenAI instrumentation wrote it, counted once.

:func:`read_usage` reads the token counts, the model, the provider and the cost of a span's
attributes and checks every value it counts; the engine calls it during a span's check
phase, so a bad count rejects the whole span. Two dialects are read:

- the OpenTelemetry GenAI semantic conventions (``gen_ai.usage.*``), current spellings
  first, then the older ones other instrumentations still emit;
- OpenInference (Arize Phoenix, LlamaIndex, CrewAI...: ``llm.token_count.*``), only when the
  span carries no GenAI semconv count, so a span written in both is not counted twice.

Tokens count only on inference spans: ``gen_ai.operation.name`` one of
:data:`INFERENCE_OPERATIONS` (or absent) and ``openinference.span.kind`` ``LLM`` or
``EMBEDDING`` (or absent). Agent, workflow and tool spans may repeat the usage of the model
calls under them (semconv allows it; Pydantic AI, smolagents and others do), so counting
them as well would count the same tokens twice. Reasoning tokens are part of the output
count in both dialects and are never added again. An explicit ``aikpi.cost.usd`` (the
user's own figure) counts on any span.
"""

from __future__ import annotations

import logging
from typing import Any

from aikpi import semconv
from aikpi.semconv import (
    COST_USD,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_SYSTEM,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    LEGACY_CACHE_CREATION_INPUT_TOKENS,
    LEGACY_CACHE_READ_INPUT_TOKENS,
    LEGACY_COMPLETION_TOKENS,
    LEGACY_PROMPT_TOKENS,
    MAX_NAME_LENGTH,
    OPENINFERENCE_SPAN_KIND,
)

from aikpi_collector.engine.pricing import PriceBook
from aikpi_collector.engine.validate import check_count, check_name, check_nonneg

__all__ = (
    "INFERENCE_OPERATIONS",
    "NON_INFERENCE_OPERATIONS",
    "OPENINFERENCE_INFERENCE_KINDS",
    "UNKNOWN_MODEL",
    "Usage",
    "has_usage",
    "read_usage",
)

log = logging.getLogger(__name__)

UNKNOWN_MODEL = "unknown"
"""Model label of usage or cost on a span that names no model."""

Usage = tuple[str, int, int, int, int, float, bool]
"""(model, uncached input, output, cache read, cache creation, cost USD, unpriced)."""

INFERENCE_OPERATIONS = frozenset(("chat", "text_completion", "generate_content", "embeddings"))
"""``gen_ai.operation.name`` values of one model call: the only spans whose tokens count."""

NON_INFERENCE_OPERATIONS = frozenset(
    (
        "invoke_agent",
        "invoke_workflow",
        "create_agent",
        "execute_tool",
        "retrieval",
        "plan",
        "search_memory",
        "create_memory",
        "update_memory",
        "upsert_memory",
        "delete_memory",
        "create_memory_store",
        "delete_memory_store",
    )
)
"""Other well-known operations: their usage, if any, repeats their model calls' (silently
skipped). Any operation name in neither set is skipped too, with one warning per name."""

OPENINFERENCE_INFERENCE_KINDS = semconv.OPENINFERENCE_AI_SPAN_KINDS
"""``openinference.span.kind`` values of one model call (AGENT, CHAIN, TOOL... are not)."""

_TOKEN_KEYS = (
    (GEN_AI_USAGE_INPUT_TOKENS, LEGACY_PROMPT_TOKENS),
    (GEN_AI_USAGE_OUTPUT_TOKENS, LEGACY_COMPLETION_TOKENS),
    (GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, LEGACY_CACHE_READ_INPUT_TOKENS),
    (GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, LEGACY_CACHE_CREATION_INPUT_TOKENS),
)
"""(current spelling, older spelling) of the input, output, cache read and cache creation
counts; the older one is read only when the current one is absent."""

# OpenInference (openinference-semantic-conventions). The prompt count includes both cache
# parts, as in GenAI semconv; completion includes reasoning.
_OI_PROMPT = "llm.token_count.prompt"
_OI_COMPLETION = "llm.token_count.completion"
_OI_CACHE_READ = "llm.token_count.prompt_details.cache_read"
_OI_CACHE_WRITE = "llm.token_count.prompt_details.cache_write"
_OI_MODEL_KEYS = (
    "llm.response.model_name",
    "llm.model_name",
    "llm.request.model_name",
    "embedding.model_name",
)
"""Model of an OpenInference span, first present wins (embedding spans use the last)."""
_OI_PROVIDER_KEYS = ("llm.provider", "llm.system")
"""Provider of an OpenInference span: the host that bills first, then the API's vendor."""

_USAGE_KEYS = frozenset(
    (
        *(key for keys in _TOKEN_KEYS for key in keys),
        _OI_PROMPT,
        _OI_COMPLETION,
        _OI_CACHE_READ,
        _OI_CACHE_WRITE,
        COST_USD,
    )
)
"""Every count or cost key :func:`read_usage` reads; a span with none of them has no usage."""

_MAX_LOGGED = 100
_skipped_logged: set[str] = set()
"""Unknown operation names already warned about (bounded: a name is client-chosen)."""


def read_usage(attributes: dict[str, Any], prices: PriceBook) -> Usage | None:
    """Token counts, model and cost of a span, or ``None`` when it reports neither."""
    get = attributes.get
    operation = get(GEN_AI_OPERATION_NAME)
    kind = get(OPENINFERENCE_SPAN_KIND)
    # a chat span of a GenAI semconv instrumentation passes with two lookups; any other
    # value (an agent span, a lower-case kind, an unhashable list) takes the slow check
    try:
        odd = (operation is not None and operation not in INFERENCE_OPERATIONS) or (
            kind is not None and kind not in OPENINFERENCE_INFERENCE_KINDS
        )
    except TypeError:  # an unhashable value
        odd = True
    if odd and not _is_inference(operation, kind, attributes):
        return _explicit_cost_only(attributes)
    # current spelling first, then the older one; check_count only off the fast path
    counts: list[int | None] = []
    for key, older in _TOKEN_KEYS:
        count = get(key)
        if count is None:
            count = get(older)
            if count is not None:
                count = check_count(older, count)
        elif type(count) is not int or count < 0:
            count = check_count(key, count)
        counts.append(count)
    input_total, output, cache_read, cache_creation = counts
    has_tokens = not (
        input_total is None and output is None and cache_read is None and cache_creation is None
    )
    if not has_tokens and kind is not None:
        # OpenInference, read only when no GenAI semconv count is there (never both)
        input_total, output, cache_read, cache_creation = _openinference_counts(attributes)
        has_tokens = not (
            input_total is None and output is None and cache_read is None and cache_creation is None
        )
    explicit = get(COST_USD)
    if not has_tokens and explicit is None:
        return None
    if explicit is not None:
        explicit = check_nonneg(COST_USD, explicit)
    model = get(GEN_AI_RESPONSE_MODEL)
    if model is None:
        model = get(GEN_AI_REQUEST_MODEL)
    if type(model) is not str or not 0 < len(model) <= MAX_NAME_LENGTH:
        model = _model(attributes)  # OpenInference's, unknown, or a rejection
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
        provider = get(GEN_AI_PROVIDER_NAME)
        if type(provider) is not str:
            provider = _provider(attributes)
        cost = prices.cost(model, provider, input_total, output, cache_read, cache_creation)
        if cost is None:
            unpriced = True
            cost = 0.0
    return (model, uncached, output, cache_read, cache_creation, cost, unpriced)


def has_usage(attributes: dict[str, Any]) -> bool:
    """Whether ``attributes`` hold any usage or cost key (one C-level scan)."""
    return not _USAGE_KEYS.isdisjoint(attributes)


def _is_inference(operation: Any, kind: Any, attributes: dict[str, Any]) -> bool:
    """Slow path of the inference check: a value in an unexpected type or spelling."""
    if operation is not None and (
        type(operation) is not str or operation not in INFERENCE_OPERATIONS
    ):
        if (
            type(operation) is str
            and operation not in NON_INFERENCE_OPERATIONS
            and operation not in _skipped_logged
            and len(_skipped_logged) < _MAX_LOGGED
            and has_usage(attributes)
        ):
            _skipped_logged.add(operation)
            log.warning(
                "gen_ai.operation.name %r is not an inference operation (%s): the usage on "
                "such spans is not counted",
                operation,
                ", ".join(sorted(INFERENCE_OPERATIONS)),
            )
        return False
    if kind is not None:
        # OpenInference writes kinds in upper case; accept any case
        return type(kind) is str and kind.upper() in OPENINFERENCE_INFERENCE_KINDS
    return True


def _explicit_cost_only(attributes: dict[str, Any]) -> Usage | None:
    """The explicit cost of a span whose tokens do not count (an agent or tool span)."""
    explicit = attributes.get(COST_USD)
    if explicit is None:
        return None
    return (_model(attributes), 0, 0, 0, 0, check_nonneg(COST_USD, explicit), False)


def _openinference_counts(
    attributes: dict[str, Any],
) -> tuple[int | None, int | None, int | None, int | None]:
    """(prompt incl. cache, completion, cache read, cache write) of an OpenInference span."""
    counts: list[int | None] = []
    for key in (_OI_PROMPT, _OI_COMPLETION, _OI_CACHE_READ, _OI_CACHE_WRITE):
        found = attributes.get(key)
        if found is not None and (type(found) is not int or found < 0):
            found = check_count(key, found)
        counts.append(found)
    prompt, completion, cache_read, cache_write = counts
    return prompt, completion, cache_read, cache_write


def _model(attributes: dict[str, Any]) -> str:
    """Response model, else request model, else OpenInference's, else ``unknown``; checked
    here in full under the key it came from (the engine names only the GenAI keys)."""
    get = attributes.get
    for key in (GEN_AI_RESPONSE_MODEL, GEN_AI_REQUEST_MODEL, *_OI_MODEL_KEYS):
        model = get(key)
        if model is not None:
            return check_name(key, model)  # raises: the value is not a valid name
    return UNKNOWN_MODEL


def _provider(attributes: dict[str, Any]) -> str | None:
    """Provider of a span without a string ``gen_ai.provider.name``: the deprecated
    ``gen_ai.system``, else OpenInference's host, else its vendor."""
    get = attributes.get
    for key in (GEN_AI_SYSTEM, *_OI_PROVIDER_KEYS):
        provider = get(key)
        if type(provider) is str:
            return provider
    return None
