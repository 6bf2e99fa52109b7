"""Label-key selection and the cardinality guard shared by every KPI metric.

A label key the configuration drops is aggregated away: the engine always builds the full
label tuple of the catalogue, and a projection keeps only the configured keys. A metric
holds at most ``limit`` distinct label sets; an update for a new set past that limit goes
to the one series whose every label value is :data:`OVERFLOW`, and is counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ("OVERFLOW", "projection")

OVERFLOW = "__overflow__"
"""Label value of the series that absorbs label sets past the cardinality limit."""

Projection = Callable[[tuple[str, ...]], tuple[str, ...]]


def projection(
    label_names: Sequence[str], kept: Sequence[str]
) -> tuple[tuple[str, ...], Projection | None]:
    """Kept label names (catalogue order) and a function from a full tuple to the kept one.

    The function is ``None`` when every key is kept, so the hot path skips the call.
    """
    kept_set = set(kept)
    indexes = [i for i, name in enumerate(label_names) if name in kept_set]
    names = tuple(label_names[i] for i in indexes)
    if len(indexes) == len(label_names):
        return names, None
    if not indexes:
        return names, lambda key: ()
    if len(indexes) == 1:
        (only,) = indexes
        return names, lambda key: (key[only],)
    first = indexes[0]
    if indexes == list(range(first, first + len(indexes))):
        stop = first + len(indexes)
        return names, lambda key: key[first:stop]
    return names, lambda key: tuple([key[i] for i in indexes])
