"""Deterministic cohort assignment, the same in every process and Python version."""

from __future__ import annotations

import hashlib
import math

from aikpi.semconv import Cohort

__all__ = ("assign_cohort",)

_SCALE = float(1 << 64)


def assign_cohort(unit_id: str | int, *, ai_share: float = 0.5, salt: str = "") -> Cohort:
    """The experiment arm of ``unit_id`` (a user, team, ticket queue...).

    ``sha256(salt + unit_id)`` (UTF-8) gives a number ``u`` in [0, 1) from its first 8 bytes
    (big-endian / 2**64); ``u < ai_share`` is ``ai_assisted``, else ``baseline``. Python's
    ``hash()`` is salted per process, so it is not used. Change ``salt`` to reshuffle units
    for a new experiment.
    """
    if isinstance(unit_id, bool) or not isinstance(unit_id, str | int):
        raise ValueError(f"unit_id must be a string or an integer, got {unit_id!r}")
    unit = str(unit_id)
    if not unit:
        raise ValueError("unit_id must not be empty")
    if not isinstance(salt, str):
        raise ValueError(f"salt must be a string, got {salt!r}")
    if (
        isinstance(ai_share, bool)
        or not isinstance(ai_share, int | float)
        or not math.isfinite(ai_share)
        or not 0.0 <= ai_share <= 1.0
    ):
        raise ValueError(f"ai_share must be a number from 0 to 1 inclusive, got {ai_share!r}")
    digest = hashlib.sha256((salt + unit).encode("utf-8")).digest()
    position = int.from_bytes(digest[:8], "big") / _SCALE
    return Cohort.AI_ASSISTED if position < ai_share else Cohort.BASELINE
