"""The demo: a seeded, simulated pilot replayed through the real SDK into a real collector."""

from __future__ import annotations

__all__ = ()
