"""Per-language statistics of the stored vectors (count, mean, covariance) and their cache.

Search uses them to put each language's scores on one scale (`index/ranking.py`); both backends compute them
through `estimate_statistics` (exact for a small store, sampled for a large one) and keep them in a
`StatisticsCache`.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LanguageStatistics:
    """The chunk vectors of one language: how many, their mean and their covariance (dim x dim)."""

    count: int
    mean: np.ndarray
    covariance: np.ndarray

    @classmethod
    def from_moments(cls, count: int, total: np.ndarray, outer: np.ndarray) -> LanguageStatistics:
        """From the sum of the vectors and the sum of their outer products."""
        mean = total / count
        covariance = outer / count - np.outer(mean, mean)
        return cls(count, mean.astype(np.float32), covariance.astype(np.float32))

    @classmethod
    def per_language(cls, rows: Iterable[tuple[str, np.ndarray]], block: int = 4096) -> dict[str, LanguageStatistics]:
        """Statistics per language of (language, vector) rows, summed in float64 a block at a time."""
        moments: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}
        pending: dict[str, list[np.ndarray]] = {}

        def add(lang: str) -> None:
            vectors = np.stack(pending.pop(lang)).astype(np.float64)
            dim = vectors.shape[1]
            count, total, outer = moments.get(lang, (0, np.zeros(dim), np.zeros((dim, dim))))
            moments[lang] = (count + len(vectors), total + vectors.sum(axis=0), outer + vectors.T @ vectors)

        for lang, vector in rows:
            pending.setdefault(lang, []).append(vector)
            if len(pending[lang]) >= block:
                add(lang)
        for lang in list(pending):
            add(lang)
        return {lang: cls.from_moments(*values) for lang, values in moments.items()}


STATS_SAMPLE = 20_000  # vectors read to estimate the statistics of a larger store
STATS_MIN_PER_LANGUAGE = 2_000  # a language with fewer sampled vectors than this is read whole
STATS_MAX_AGE = 60.0  # seconds a sampled estimate is kept while the store changes

# (languages, fraction) -> (language, vector) rows of those languages, every chunk (1.0) or about that share
VectorReader = Callable[[Sequence[str], float], Iterable[tuple[str, np.ndarray]]]


def estimate_statistics(counts: dict[str, int], read: VectorReader,
                        sample: int | None = None) -> tuple[dict[str, LanguageStatistics], bool]:
    """Per-language statistics from every vector of a store of up to `sample` chunks, else from a sample of about
    `sample` vectors (small languages read whole) with the exact counts; returns (statistics, sampled)."""
    sample = STATS_SAMPLE if sample is None else sample
    total = sum(counts.values())
    if total <= sample:
        return LanguageStatistics.per_language(read(sorted(counts), 1.0)), False
    fraction = sample / total
    whole = sorted(lang for lang, n in counts.items() if n * fraction < STATS_MIN_PER_LANGUAGE)
    sampled = sorted(lang for lang in counts if lang not in whole)
    rows = itertools.chain(read(whole, 1.0) if whole else (), read(sampled, fraction) if sampled else ())
    stats = LanguageStatistics.per_language(rows)
    return {lang: replace(s, count=counts[lang]) for lang, s in stats.items()}, True


StatisticsResult = tuple[dict[str, LanguageStatistics], bool]  # (statistics, sampled), as `estimate_statistics`


class StatisticsCache:
    """The per-language statistics of one store, recomputed when the store changed.

    While the store holds at most STATS_SAMPLE chunks they are exact and follow every write, computed on the
    request. A larger store's sampled estimate is kept up to STATS_MAX_AGE seconds while writes go on: a few
    documents do not move the means of a large store. After that the estimate is still served and a refresh runs
    on a daemon thread, one at a time, so no search pays for a pass over the vectors; only the very first
    computation is made on the request. A failed refresh is logged and keeps the old estimate; the next request
    after it tries again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._space: Hashable = None
        self._state: Hashable = None
        self._value: dict[str, LanguageStatistics] | None = None
        self._sampled = False
        self._at = -math.inf
        self._refresh: threading.Thread | None = None
        self._closed = False

    def get(self, state: Hashable, compute: Callable[[], StatisticsResult],
            refresh: Callable[[], StatisticsResult] | None = None,
            space: Hashable = None) -> dict[str, LanguageStatistics]:
        """The cached statistics if still valid for `state`, else `compute()`'s; an old sampled estimate is
        served while `refresh()` replaces it on another thread.

        `compute` runs on the calling thread under the cache's lock, on the caller's connection. `refresh` must be
        safe on any thread and hold up no search (its own connection); without one an old estimate is recomputed
        by `compute` on the request. `space` names the embedding space (model, dimension): statistics of another
        space are never served, however young.
        """
        with self._lock:
            now = time.monotonic()
            value = self._value
            if value is not None and space == self._space:
                if state == self._state or (self._sampled and now - self._at < STATS_MAX_AGE):
                    return value
                if self._sampled and refresh is not None:
                    if self._refresh is None and not self._closed:
                        self._refresh = threading.Thread(target=self._run_refresh, args=(refresh, space, state, now),
                                                         name="pedkb-statistics-refresh", daemon=True)
                        self._refresh.start()
                    return value
            self._value, self._sampled = compute()
            self._space, self._state, self._at = space, state, now
            return self._value

    def _run_refresh(self, refresh: Callable[[], StatisticsResult], space: Hashable, state: Hashable,
                     started: float) -> None:
        result: StatisticsResult | None = None
        try:
            result = refresh()
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, the old estimate stays
            with self._lock:
                closed, age = self._closed, started - self._at
            if closed:
                log.debug("language statistics refresh ended by the store closing: %s", exc)
            else:
                log.warning("refreshing the language statistics failed, keeping the estimate of %.0f s ago (%s: %s)",
                            age, type(exc).__name__, exc, exc_info=exc)
        finally:
            with self._lock:
                self._refresh = None
                if result is not None and not self._closed and started >= self._at:
                    self._value, self._sampled = result
                    self._space, self._state, self._at = space, state, started

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a refresh under way to end; True when none is left running."""
        with self._lock:
            thread = self._refresh
        if thread is not None:
            thread.join(timeout)
        return thread is None or not thread.is_alive()

    def close(self, timeout: float = 5.0) -> None:
        """Start no more refreshes and wait up to `timeout` seconds for one under way (its result is dropped);
        call it before closing what the refresh reads. A refresh still running after that cannot hold up the
        process's exit (a daemon thread)."""
        with self._lock:
            self._closed = True
        self.wait(timeout)
