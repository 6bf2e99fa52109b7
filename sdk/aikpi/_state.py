"""What ``configure`` decided and what the ``AIKPI_*`` environment says, read on every call.

It lives apart from ``_config`` so that the context helpers (baggage trust) can read it
without importing the provider plumbing. Each setting is read from the environment when
aikpi is imported and by ``testing.reset()``; a ``configure()`` argument wins over it. The
shared key is the exception: it has no argument, so ``configure()`` reads it again (an
application that loads its secret after ``import aikpi`` calls ``configure`` afterwards).
"""

from __future__ import annotations

import logging
import math
import os

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from aikpi._version import __version__

__all__ = (
    "DEFAULT_MAX_REVIEW_SECONDS",
    "KEY_ENV",
    "MAX_REVIEW_ENV",
    "PROPAGATION_ENV",
    "TRUST_ENV",
    "State",
    "check_max_review",
    "key_from_env",
    "state",
)

_LOG = logging.getLogger("aikpi")

PROPAGATION_ENV = "AIKPI_BAGGAGE_PROPAGATION"
"""Set to ``off`` to keep aikpi's dimensions out of outgoing ``baggage`` headers."""

KEY_ENV = "AIKPI_TOKEN_KEY"
"""The shared HMAC key: signs outcome tokens and outgoing aikpi baggage, verifies received ones."""

TRUST_ENV = "AIKPI_TRUST_INBOUND_BAGGAGE"
"""Set to ``true`` when every inbound hop of this service is internal: unsigned aikpi
baggage is then used as if it were signed."""

MAX_REVIEW_ENV = "AIKPI_MAX_REVIEW_SECONDS"
"""Upper bound of a review time derived from a token (seconds)."""

DEFAULT_MAX_REVIEW_SECONDS = 30 * 24 * 3600.0
"""30 days: longer than any review queue a pilot should tolerate, short enough that a forged
or ancient token cannot put years into the review-time histogram."""

_OFF_WORDS = frozenset({"off", "false", "0", "no", "context"})
_ON_WORDS = frozenset({"on", "true", "1", "yes"})


def _switch_from_env(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "")
    word = raw.strip().lower()
    if not word:
        return default
    if word in _ON_WORDS:
        return True
    if word in _OFF_WORDS:
        return False
    _LOG.warning(
        "aikpi: %s=%r not understood; expected on/true or off/false, using %s",
        name,
        raw,
        "on" if default else "off",
    )
    return default


def key_from_env() -> bytes | None:
    """The UTF-8 bytes of ``AIKPI_TOKEN_KEY``, or ``None`` when it is unset or empty."""
    key = os.environ.get(KEY_ENV)
    return key.encode("utf-8") if key else None


def check_max_review(value: object) -> float:
    """A maximum review time: a finite number of seconds > 0 (ValueError otherwise)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(
            f"max_review_seconds must be a finite number of seconds > 0 "
            f"(default {DEFAULT_MAX_REVIEW_SECONDS:.0f}, 30 days), got {value!r}"
        )
    return float(value)


def _max_review_from_env() -> float:
    raw = os.environ.get(MAX_REVIEW_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_REVIEW_SECONDS
    try:
        return check_max_review(float(raw))
    except ValueError:
        _LOG.warning(
            "aikpi: %s=%r is not a number of seconds > 0; using %.0f (30 days)",
            MAX_REVIEW_ENV,
            raw,
            DEFAULT_MAX_REVIEW_SECONDS,
        )
        return DEFAULT_MAX_REVIEW_SECONDS


class State:
    """What ``configure`` decided; read on every call, written under ``_config``'s lock."""

    __slots__ = (
        "max_review_seconds",
        "propagate_baggage",
        "provider",
        "token_key",
        "tracer",
        "trust_inbound_baggage",
    )

    def __init__(self) -> None:
        self.tracer: trace.Tracer = trace.get_tracer("aikpi", __version__)
        self.provider: TracerProvider | None = None
        self.load_environment()

    def load_environment(self) -> None:
        """(Re-)read every ``AIKPI_*`` setting from the environment."""
        self.propagate_baggage = _switch_from_env(PROPAGATION_ENV, True)
        self.trust_inbound_baggage = _switch_from_env(TRUST_ENV, False)
        self.max_review_seconds = _max_review_from_env()
        self.token_key = key_from_env()


state = State()
