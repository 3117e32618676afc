"""Keys in the order they fall out of a recent window, so that pruning costs what expires, not what is kept. Pure.

A heap of ``(time, key)``. An entry may be out of date (its key was removed, or renewed to a later time since it
was pushed): whoever pops it checks it against the live value, and pushes the key again if it was renewed. So
``StoryState.prune`` pops the few seen links and pool clusters that expired since the last poll instead of
reading the thousands it keeps.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T", str, float)


class Expiry(Generic[T]):
    """``(time, key)`` entries, earliest first."""

    __slots__ = ("_heap",)

    def __init__(self, entries: Iterable[tuple[T, str]] = ()) -> None:
        self._heap: list[tuple[T, str]] = list(entries)
        heapq.heapify(self._heap)

    def push(self, at: T, key: str) -> None:
        heapq.heappush(self._heap, (at, key))

    def expired(self, horizon: T) -> Iterator[tuple[T, str]]:
        """Pop and yield every entry earlier than ``horizon`` (an entry pushed meanwhile at ``horizon`` or
        later is left for a later call)."""
        heap = self._heap
        while heap and heap[0][0] < horizon:
            yield heapq.heappop(heap)

    def copy(self) -> Expiry[T]:
        twin: Expiry[T] = Expiry()
        twin._heap = list(self._heap)  # a heap's list copied is still a heap
        return twin

    def __len__(self) -> int:
        return len(self._heap)
