"""A bounded window of recently seen keys, so that something is counted at most once.

The engine keeps two: span ids it counted (an OTLP exporter retries a whole batch when a
response is lost; the retry carries the same (trace id, span id)) and step ids already
decided (a copied outcome token or a retry from another process decides the same step
again). The window remembers the last ``capacity`` keys in arrival order and forgets the
oldest first (FIFO), so memory stays bounded whatever the traffic. The caller serialises
access (the engine holds its lock around a batch).
"""

from __future__ import annotations

from collections import deque

__all__ = ("DedupWindow",)


class DedupWindow(set[bytes]):
    """The last ``capacity`` keys; ``capacity == 0`` turns the window off (all keys new).

    A set itself, so the per-span question ``key in window`` costs one C-level hash probe.
    """

    __slots__ = ("_capacity", "_order")

    def __init__(self, capacity: int) -> None:
        super().__init__()
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        self._capacity = capacity
        self._order: deque[bytes] = deque()

    @property
    def capacity(self) -> int:
        """Most keys remembered at once."""
        return self._capacity

    def admit(self, key: bytes) -> bool:
        """Whether ``key`` is new (not in the window); remembers nothing."""
        return key not in self

    def commit(self, key: bytes) -> None:
        """Remember ``key``, new by :meth:`admit` (once what it stands for was counted),
        forgetting the oldest key when the window is full."""
        if not self._capacity:
            return
        if len(self._order) >= self._capacity:
            self.discard(self._order.popleft())
        self.add(key)
        self._order.append(key)
