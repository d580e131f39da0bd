"""Recent rankings, so that a repeated search (the next page, a popular query, a portal's default query) skips the
ranking pipeline; any write to the store, by this process or another, makes them stale.

An entry is kept under the store's generation (`Backend.generation`, bumped by every write in the same
transaction); a lookup under another generation empties the cache. Entries are shared, read-only `Ranking`s.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

RANKING_CACHE_SIZE = 32  # rankings; one is up to ~1,400 passages (1-2 MB with their texts)

T = TypeVar("T")


class RankingCache(Generic[T]):
    """Least-recently-used values by key, valid for one store generation; safe to share between threads."""

    def __init__(self, size: int = RANKING_CACHE_SIZE) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._generation: int | None = None
        self._values: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, generation: int, compute: Callable[[], T]) -> T:
        """The value cached for `key` at `generation`, or `compute()`'s (then kept; an unhashable key is not)."""
        try:
            hash(key)
        except TypeError:
            return compute()
        with self._lock:
            if generation != self._generation:
                self._values.clear()
                self._generation = generation
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
                self.hits += 1
                return value
            self.misses += 1
        value = compute()
        with self._lock:
            if self.size > 0 and generation == self._generation:
                self._values[key] = value
                while len(self._values) > self.size:
                    self._values.popitem(last=False)
        return value
