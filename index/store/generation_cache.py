"""Values derived from one state of a store, reused until any write, by this process or another, changes it.

An entry is kept under the store's generation (`Backend.generation`, bumped by every write in the same
transaction); a lookup under another generation empties the cache. Least recently used entries go first once the
entries' total weight passes the budget. Used for recent rankings (`index/searcher.py`: the next page or a popular
query skips the ranking pipeline), for the embedded lexical leg's per-term scores (`embedded/lexical.py`) and,
by id (`RecordCache`), for the chunks and documents that searches read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

RANKING_CACHE_SIZE = 32  # rankings; one is up to ~1,400 passages (1-2 MB with their texts)

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


class GenerationCache(Generic[T]):
    """Least-recently-used values by key, valid for one store generation, within `budget` (the values' total
    `weigh`, by default their count); safe to share between threads."""

    def __init__(self, budget: int = RANKING_CACHE_SIZE, weigh: Callable[[T], int] = lambda value: 1) -> None:
        self.budget = budget
        self.weigh = weigh
        self.hits = 0
        self.misses = 0
        self.weight = 0
        self._generation: int | None = None
        self._values: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key: Hashable, generation: int, compute: Callable[[], T],
            keep: Callable[[T], bool] = lambda value: True) -> T:
        """The value cached for `key` at `generation`, or `compute()`'s, then kept when `keep` says so (an
        unhashable key is never kept)."""
        try:
            hash(key)
        except TypeError:
            return compute()
        with self._lock:
            self._turn(generation)
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
                self.hits += 1
                return value
            self.misses += 1
        value = compute()
        weight = self.weigh(value)
        with self._lock:
            if (generation == self._generation and key not in self._values and weight <= self.budget
                    and keep(value)):
                self._values[key] = value
                self.weight += weight
                self._trim()
        return value

    def _turn(self, generation: int) -> None:
        """Empty the cache when the store moved on to another generation (under `_lock`)."""
        if generation != self._generation:
            self._values.clear()
            self._generation, self.weight = generation, 0

    def _trim(self) -> None:
        """Drop the least recently used values while the total weight passes the budget (under `_lock`)."""
        while self.weight > self.budget and self._values:
            _, dropped = self._values.popitem(last=False)
            self.weight -= self.weigh(dropped)


class RecordCache(GenerationCache[T], Generic[K, T]):
    """Records by id for one store generation, least recently used dropped past `budget` (their total `weigh`);
    `get_many` reads only the ids it lacks. Searches meet the same chunks and items again and again (a popular
    passage, a technology's card, the next page), and building records from rows is most of what reading costs.
    The records are shared between callers, who must not change them."""

    def get_many(self, ids: Iterable[K], generation: int, fetch: Callable[[list[K]], dict[K, T]]) -> dict[K, T]:
        """The records of `ids` that exist, from the cache or by one `fetch` of those it lacks."""
        found: dict[K, T] = {}
        missing: list[K] = []
        with self._lock:
            self._turn(generation)
            for key in dict.fromkeys(ids):
                value = self._values.get(key)
                if value is None:
                    missing.append(key)
                else:
                    self._values.move_to_end(key)
                    found[key] = value
            self.hits += len(found)
            self.misses += len(missing)
        if not missing:
            return found
        fetched = fetch(missing)
        with self._lock:
            if generation == self._generation:
                for key, value in fetched.items():
                    if key not in self._values:
                        self._values[key] = value
                        self.weight += self.weigh(value)
                self._trim()
        found.update(fetched)
        return found

    def fill(self, records: Iterable[tuple[K, T]], generation: int) -> int:
        """Add the records the cache lacks, in order, while each fits within the budget without dropping any (a
        warm-up reading ahead of searches); returns how many of `records` were taken (added or already there)
        before the first that did not fit."""
        taken = 0
        with self._lock:
            self._turn(generation)
            for key, value in records:
                if key not in self._values:
                    weight = self.weigh(value)
                    if self.weight + weight > self.budget:
                        break
                    self._values[key] = value
                    self.weight += weight
                taken += 1
        return taken
