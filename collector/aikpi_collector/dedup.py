"""A bounded window of recently counted span ids, so a retried export is not counted twice.

OTLP exporters retry a whole batch when a response is lost; the spans of the retry carry
the same (trace id, span id). The window remembers the last ``capacity`` ids in arrival
order and forgets the oldest first (FIFO), so memory stays bounded whatever the traffic.
The per-key steps run inline in the engine's batch loop (:meth:`DedupWindow.batch_ops`
says them); the caller serialises access (the engine holds its lock around a batch).
"""

from __future__ import annotations

from collections import deque

__all__ = ("DedupWindow",)


class DedupWindow:
    """Set of the last ``capacity`` span keys; ``capacity == 0`` turns de-duplication off."""

    __slots__ = ("_capacity", "_order", "_seen")

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        self._capacity = capacity
        self._seen: set[bytes] = set()
        self._order: deque[bytes] = deque()

    @property
    def capacity(self) -> int:
        """Most span keys remembered at once."""
        return self._capacity

    def __len__(self) -> int:
        return len(self._seen)

    def batch_ops(self) -> tuple[set[bytes], deque[bytes], int]:
        """The window's set, its arrival order and ``room`` (keys that fit before the oldest
        must go), for the engine's batch loop, which cannot afford a Python call per key.
        Per key, in one hash probe::

            size = len(seen); seen.add(key)
            if len(seen) == size: ...          # a duplicate: nothing else to do
            elif not wanted: seen.discard(key)  # e.g. a rejected span
            else:
                if room: room -= 1
                else: seen.discard(order.popleft())
                order.append(key)

        Only while the caller holds the lock that serialises access to the window.
        """
        return self._seen, self._order, self._capacity - len(self._order)
