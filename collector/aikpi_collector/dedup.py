"""A bounded window of recently counted span ids, so a retried export is not counted twice.

OTLP exporters retry a whole batch when a response is lost; the spans of the retry carry
the same (trace id, span id). The window remembers the last ``capacity`` ids in arrival
order and forgets the oldest first (FIFO), so memory stays bounded whatever the traffic.
The caller serialises access (the engine holds its lock around a batch).
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

    def __contains__(self, key: bytes) -> bool:
        return key in self._seen

    def add(self, key: bytes) -> None:
        """Remember ``key``, forgetting the oldest key when the window is full."""
        if self._capacity == 0 or key in self._seen:
            return
        self.add_unseen(key)

    def batch_ops(self) -> tuple[set[bytes], deque[bytes], int]:
        """The window's set, its arrival order and ``room`` (keys that fit before the oldest
        must go), for a loop over many keys that cannot afford a Python call per key (the
        engine's batch loop). Per key, such a loop does what :meth:`add` does, in one hash
        probe::

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

    def add_unseen(self, key: bytes) -> None:
        """:meth:`add` for a key the caller just found absent (the hot path)."""
        if len(self._order) >= self._capacity:
            self._seen.discard(self._order.popleft())
        self._seen.add(key)
        self._order.append(key)
