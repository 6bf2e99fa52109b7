"""Correlation ids: unique, URL-safe and sortable by creation time, from the stdlib only."""

from __future__ import annotations

import base64
import os
import threading
import time

__all__ = ("new_correlation_id",)

_RANDOM_BITS = 80
_RANDOM_LIMIT = 1 << _RANDOM_BITS
_lock = threading.Lock()
_last_ms = 0
_last_random = 0


def new_correlation_id() -> str:
    """A 26-character id: 48-bit Unix milliseconds then 80 random bits, in base32hex.

    Base32hex (RFC 4648 section 7) keeps the alphabet in ASCII order, so ids sort by time
    as plain strings (like a ULID). Inside one millisecond the random part is incremented,
    so ids from one process also sort in the order they were made.
    """
    global _last_ms, _last_random
    now_ms = time.time_ns() // 1_000_000
    with _lock:
        if now_ms <= _last_ms:
            now_ms = _last_ms
            random_part = _last_random + 1
            if random_part >= _RANDOM_LIMIT:  # pragma: no cover - 2**80 ids in one ms
                now_ms += 1
                random_part = int.from_bytes(os.urandom(10), "big")
        else:
            random_part = int.from_bytes(os.urandom(10), "big")
        _last_ms, _last_random = now_ms, random_part
    raw = ((now_ms << _RANDOM_BITS) | random_part).to_bytes(16, "big")
    return base64.b32hexencode(raw)[:26].decode("ascii")
