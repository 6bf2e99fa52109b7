"""Argument checks: misuse fails at once with a ValueError that names what is allowed."""

from __future__ import annotations

import math

from aikpi.semconv import MAX_NAME_LENGTH, Cohort, Outcome

__all__ = (
    "ALLOWED_COHORTS",
    "ALLOWED_OUTCOMES",
    "check_cohort",
    "check_count",
    "check_name",
    "check_optional_name",
    "check_outcome",
    "check_seconds",
    "check_usd",
)

ALLOWED_OUTCOMES = tuple(word.value for word in Outcome)
ALLOWED_COHORTS = tuple(cohort.value for cohort in Cohort)
_OUTCOMES = frozenset(ALLOWED_OUTCOMES)
_COHORTS = frozenset(ALLOWED_COHORTS)


def check_name(kind: str, value: object) -> str:
    """A bounded, non-empty name (workflow, step, team, policy, model, correlation id)."""
    if not isinstance(value, str):
        raise ValueError(
            f"{kind} must be a string of 1 to {MAX_NAME_LENGTH} characters, "
            f"got {type(value).__name__} {value!r}"
        )
    if not value.strip():
        raise ValueError(f"{kind} must not be empty (1 to {MAX_NAME_LENGTH} characters)")
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(
            f"{kind} is {len(value)} characters long; at most {MAX_NAME_LENGTH} are allowed"
        )
    return value


def check_optional_name(kind: str, value: object) -> str | None:
    """Like :func:`check_name`, but ``None`` means "not given"."""
    return None if value is None else check_name(kind, value)


def check_outcome(word: object) -> str:
    """One of the five outcome words (an :class:`Outcome` or its plain string)."""
    if isinstance(word, str) and word in _OUTCOMES:
        return str(word.value if isinstance(word, Outcome) else word)
    raise ValueError(
        f"unknown outcome {word!r}; allowed outcome words: {', '.join(ALLOWED_OUTCOMES)}"
    )


def check_cohort(cohort: object) -> str:
    """``ai_assisted`` or ``baseline`` (a :class:`Cohort` or its plain string)."""
    if isinstance(cohort, str) and cohort in _COHORTS:
        return str(cohort.value if isinstance(cohort, Cohort) else cohort)
    raise ValueError(f"unknown cohort {cohort!r}; allowed cohorts: {', '.join(ALLOWED_COHORTS)}")


def _number(kind: str, value: object, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(
            f"{kind} must be a finite number >= 0 ({unit}), got {type(value).__name__} {value!r}"
        )
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{kind} must be a finite number >= 0 ({unit}), got {value!r}")
    if number < 0:
        raise ValueError(f"{kind} must be >= 0 ({unit}), got {value!r}")
    return number


def check_seconds(kind: str, value: object) -> float | None:
    """A duration in seconds: finite and >= 0; ``None`` means "not given"."""
    return None if value is None else _number(kind, value, "seconds")


def check_usd(value: object) -> float:
    """A cost in US dollars: finite and >= 0."""
    return _number("cost usd", value, "US dollars")


def check_count(kind: str, value: object) -> int:
    """A token count: a whole number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            f"{kind} must be a whole number >= 0, got {type(value).__name__} {value!r}"
        )
    if value < 0:
        raise ValueError(f"{kind} must be a whole number >= 0, got {value!r}")
    return value
