"""Attribute checks for the KPI engine: a bad value rejects the whole span, readably.

Every check either returns the clean value or raises :class:`SpanRejected` with a bounded
``reason`` word (a metric label) and a message naming the attribute, the value and what is
allowed; the receivers pass that message on in OTLP ``partial_success.error_message``.
"""

from __future__ import annotations

import math
from typing import Any

from aikpi import semconv

__all__ = (
    "MAX_SECONDS",
    "MAX_TOKENS",
    "MAX_USD",
    "REASONS",
    "SpanRejected",
    "check_count",
    "check_name",
    "check_nonneg",
    "check_text",
    "check_word",
)

MAX_TOKENS = 10**12
"""Most tokens one span may report of one type: more is a corrupt value, not usage (a sum
near ``2**53`` would stop counting exactly, one above ``1.8e308`` becomes ``+Inf``)."""
MAX_SECONDS = 1e9
"""Longest duration, review or correction time accepted, seconds (about 31 years)."""
MAX_USD = 1e9
"""Largest explicit cost of one span, US dollars."""

REASONS = (
    "invalid_outcome",
    "invalid_cohort",
    "invalid_status",
    "invalid_event",
    "invalid_span_type",
    "negative_value",
    "not_finite",
    "invalid_type",
    "invalid_name",
    "invalid_text",
    "out_of_range",
    "missing_attribute",
    "internal_error",
)
"""Every ``reason`` a :class:`SpanRejected` can carry (bounded: it is a metric label)."""

_MAX_SHOWN = 80


class SpanRejected(ValueError):
    """A span carries an invalid aikpi or gen_ai value; nothing of it was counted."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason, self.message))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _type_name(value: Any) -> str:
    return type(value).__name__


def check_text(key: str, value: str) -> str:
    """A string a scrape can carry: valid UTF-8 (no lone surrogate, which OTLP/JSON's
    ``\\ud800`` decodes to) and no NUL (Prometheus refuses a whole scrape holding one), so a
    label or exemplar value can never make a scrape fail."""
    if "\x00" in value:
        raise SpanRejected(
            "invalid_text", f"attribute {key!r} = {_show(value)} holds a NUL character"
        )
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise SpanRejected(
                "invalid_text",
                f"attribute {key!r} = {_show(value)} is not valid UTF-8 (a lone surrogate)",
            ) from None
    return value


def check_name(key: str, value: Any) -> str:
    """A bounded-set name (workflow, step, team, model, policy): a non-empty, valid UTF-8
    string, not too long."""
    if type(value) is not str:
        raise SpanRejected(
            "invalid_type",
            f"attribute {key!r} = {_show(value)} is a {_type_name(value)}; a string is required",
        )
    if not value or len(value) > semconv.MAX_NAME_LENGTH:
        raise SpanRejected(
            "invalid_name",
            f"attribute {key!r} = {_show(value)} has {len(value)} characters; "
            f"allowed: 1 to {semconv.MAX_NAME_LENGTH}",
        )
    return check_text(key, value)


def check_word(key: str, value: Any, allowed: frozenset[str], reason: str) -> str:
    """A word from a closed set (outcome, cohort, status, event, span type)."""
    if type(value) is str and value in allowed:
        return value
    # StrEnum members and other str subclasses are accepted by value.
    if isinstance(value, str) and str(value) in allowed:
        return str(value)
    raise SpanRejected(
        reason,
        f"attribute {key!r} = {_show(value)} is not allowed; allowed: {', '.join(sorted(allowed))}",
    )


def check_nonneg(key: str, value: Any, maximum: float = MAX_SECONDS) -> float:
    """Seconds or US dollars: a finite number from 0 to ``maximum`` (int or float, never bool
    or str)."""
    kind = type(value)
    if kind is not float and kind is not int:
        raise SpanRejected(
            "invalid_type",
            f"attribute {key!r} = {_show(value)} is a {_type_name(value)}; "
            "a number >= 0 is required",
        )
    if kind is float and not math.isfinite(value):
        raise SpanRejected(
            "not_finite", f"attribute {key!r} = {value!r}; a finite number >= 0 is required"
        )
    if value < 0:
        raise SpanRejected(
            "negative_value", f"attribute {key!r} = {value!r}; a number >= 0 is required"
        )
    if value > maximum:
        raise SpanRejected(
            "out_of_range", f"attribute {key!r} = {_show(value)}; allowed: 0 to {maximum:g}"
        )
    return float(value)


def _too_many(key: str, value: float) -> SpanRejected:
    return SpanRejected(
        "out_of_range", f"attribute {key!r} = {_show(value)}; allowed: 0 to {MAX_TOKENS:,}"
    )


def check_count(key: str, value: Any) -> int:
    """A token count: an integer from 0 to :data:`MAX_TOKENS` (a float only when whole)."""
    kind = type(value)
    if kind is int:
        if value < 0:
            raise SpanRejected(
                "negative_value", f"attribute {key!r} = {value!r}; an integer >= 0 is required"
            )
        if value > MAX_TOKENS:
            raise _too_many(key, value)
        return value
    if kind is float:
        if not math.isfinite(value):
            raise SpanRejected(
                "not_finite", f"attribute {key!r} = {value!r}; a finite integer >= 0 is required"
            )
        if value < 0:
            raise SpanRejected(
                "negative_value", f"attribute {key!r} = {value!r}; an integer >= 0 is required"
            )
        if value > MAX_TOKENS:
            raise _too_many(key, value)
        if value.is_integer():
            return int(value)
    raise SpanRejected(
        "invalid_type",
        f"attribute {key!r} = {_show(value)} is a {_type_name(value)}; an integer >= 0 is required",
    )
