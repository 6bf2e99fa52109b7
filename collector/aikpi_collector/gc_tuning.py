"""Garbage-collector settings of a long-running collector, in one place.

``aikpi-collector serve`` applies them once it is ready, and
``benchmarks/bench_collector.py`` applies the same ones around its engine measurement, so
the benchmark measures the path the server runs and the two cannot drift apart.
"""

from __future__ import annotations

import gc

__all__ = ("GEN0_THRESHOLD", "restore_gc", "tune_gc")

GEN0_THRESHOLD = 10_000
"""Allocations between young-generation collections (CPython default 700). A 512-span request
makes a few thousand short-lived objects, freed by reference counting when it is done; at the
default, collections run several times per request: ~3-5 % of decode + engine time
(``benchmarks/bench_collector.py`` path, in process)."""


def tune_gc() -> tuple[int, int, int]:
    """Cheaper garbage collection for a long-running process; returns the previous thresholds.

    The objects built at start-up (config, metrics, servers, price table) live until exit;
    ``gc.freeze`` moves them out of the collected generations, so later collections do not
    scan them again. A higher young-generation threshold (:data:`GEN0_THRESHOLD`) makes
    collections rarer; memory stays bounded, garbage cycles are still collected.
    """
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    _, middle, old = previous
    gc.set_threshold(GEN0_THRESHOLD, middle, old)
    return previous


def restore_gc(previous: tuple[int, int, int]) -> None:
    """Undo :func:`tune_gc` (thresholds as returned by it; frozen objects collected again)."""
    gc.unfreeze()
    gc.set_threshold(*previous)
