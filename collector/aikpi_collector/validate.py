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
    "REASONS",
    "SpanRejected",
    "check_count",
    "check_name",
    "check_nonneg",
    "check_word",
)

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


def check_name(key: str, value: Any) -> str:
    """A bounded-set name (workflow, step, team, model, policy): non-empty str, not too long."""
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
    return value


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


def check_nonneg(key: str, value: Any) -> float:
    """Seconds or US dollars: a finite number >= 0 (int or float, never bool or str)."""
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
    return float(value)


def check_count(key: str, value: Any) -> int:
    """A token count: an integer >= 0 (a float is accepted only when it is whole)."""
    kind = type(value)
    if kind is int:
        if value < 0:
            raise SpanRejected(
                "negative_value", f"attribute {key!r} = {value!r}; an integer >= 0 is required"
            )
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
        if value.is_integer():
            return int(value)
    raise SpanRejected(
        "invalid_type",
        f"attribute {key!r} = {_show(value)} is a {_type_name(value)}; an integer >= 0 is required",
    )
