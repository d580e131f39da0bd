"""A small LRU cache of query vectors, so a repeated search (paging, a popular query) skips the model."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

QUERY_CACHE_SIZE = 1024  # vectors; 1.5 MB at 384 dims


class QueryVectorCache:
    """Least-recently-used query vectors by query text, safe to share between threads (one per embedder)."""

    def __init__(self, size: int = QUERY_CACHE_SIZE) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def embed(self, texts: Sequence[str], embed: Callable[[list[str]], np.ndarray], dim: int) -> np.ndarray:
        """Rows for `texts`: cached ones copied, the others from one `embed` call and then remembered."""
        out = np.zeros((len(texts), dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for row, text in enumerate(texts):
                vector = self._vectors.get(text)
                if vector is None:
                    missing.setdefault(text, []).append(row)
                else:
                    self._vectors.move_to_end(text)
                    out[row] = vector
            self.hits += len(texts) - sum(len(rows) for rows in missing.values())
            self.misses += len(missing)
        if not missing:
            return out
        fresh = embed(list(missing))
        with self._lock:
            for (text, rows), vector in zip(missing.items(), fresh, strict=True):
                out[rows] = vector
                if self.size > 0:
                    self._vectors[text] = np.array(vector, dtype=np.float32)
                    self._vectors.move_to_end(text)
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return out
