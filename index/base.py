"""The storage backend interface: documents, chunks, cached vectors and vector search behind one ABC.

The embedded backend (SQLite + FAISS files, `faiss_backend.py`) and the PostgreSQL + pgvector backend implement it;
`factory.open_backend` picks one from the settings. Every write that changes what a search can return is atomic:
after a crash a search sees either the old or the new state of each document, never half of it.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from index.records import ChunkRecord, DocumentRecord, NewChunk, SearchFilters

log = logging.getLogger(__name__)

WEIGHTS_META = "model_weights"  # meta key of the embedder's weights fingerprint (docs/model_identity.md)


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


class Backend(ABC):
    """Store of documents and chunks with a vector index over the chunks."""

    # --- identity of the embedding space -------------------------------------------------------------------
    @abstractmethod
    def get_meta(self, key: str) -> str | None:
        """A value from the store's metadata (model name, dimension, schema version)."""

    @abstractmethod
    def set_meta(self, key: str, value: str) -> None:
        """Set a metadata value."""

    # --- documents -------------------------------------------------------------------------------------------
    @abstractmethod
    def put_document(self, doc: DocumentRecord, chunks: Sequence[NewChunk]) -> DocumentRecord:
        """Insert or replace a document with all its chunks and vectors, atomically."""

    @abstractmethod
    def delete_document(self, doc_id: str) -> bool:
        """Delete a document, its chunks and their vectors; False when it did not exist."""

    @abstractmethod
    def get_document(self, doc_id: str) -> DocumentRecord | None:
        """A document by id."""

    def get_documents(self, doc_ids: Sequence[str]) -> dict[str, DocumentRecord]:
        """Documents by id; a backend may answer this in one query."""
        found = {doc_id: self.get_document(doc_id) for doc_id in dict.fromkeys(doc_ids)}
        return {doc_id: doc for doc_id, doc in found.items() if doc is not None}

    @abstractmethod
    def list_documents(self, kind: str | None = None) -> list[DocumentRecord]:
        """All documents, optionally of one kind, in insertion order."""

    @abstractmethod
    def export_document(self, doc_id: str) -> tuple[DocumentRecord, list[NewChunk]] | None:
        """A document with its chunks and their vectors, as `put_document` takes them (for copying stores)."""

    @abstractmethod
    def filter_documents(self, filters: SearchFilters, offset: int = 0,
                         limit: int | None = None) -> tuple[list[DocumentRecord], int]:
        """Documents passing the filters, in insertion order: (one page, total count)."""

    @abstractmethod
    def get_chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        """Chunks by id; ids that no longer exist are absent."""

    @abstractmethod
    def document_chunks(self, doc_id: str) -> list[ChunkRecord]:
        """A document's chunks in order."""

    # --- vectors ---------------------------------------------------------------------------------------------
    @abstractmethod
    def cached_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors already computed for these content keys (the embedding cache)."""

    @abstractmethod
    def search(self, query: np.ndarray, k: int, filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """The k chunks nearest to a normalised query vector, as (chunk_id, cosine) best first."""

    @abstractmethod
    def language_centroids(self) -> dict[str, tuple[np.ndarray, int]]:
        """Per chunk language: the mean vector of its chunks and their count (for language-bias correction)."""

    def language_statistics(self) -> dict[str, LanguageStatistics]:
        """Per chunk language: count, mean and covariance of the chunk vectors, computed once per store state.

        Search uses them to put each language's scores on one scale (`ranking.py`); a backend that returns {}
        (the default) gets the correction by the language means alone.
        """
        return {}

    def lexical_search(self, terms: Sequence[str], k: int,
                       filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """The k chunks best matching analysed query terms (`lexical.index_terms`) by BM25, as (chunk_id, score)
        best first, higher is better; only chunks sharing a term with the query.

        Every backend should index `lexical.index_terms(chunk.text, chunk.lang)` of each chunk in the same
        transaction as the chunk. The default raises NotImplementedError: search then falls back to dense
        ranking and logs a warning.
        """
        raise NotImplementedError(f"{type(self).__name__} has no lexical index")

    @abstractmethod
    def iter_chunks(self, batch: int = 512) -> Iterator[list[ChunkRecord]]:
        """Every chunk, in batches (for re-embedding)."""

    @abstractmethod
    def store_vectors(self, items: Sequence[tuple[str, np.ndarray]]) -> None:
        """Add (content key, vector) pairs to the embedding cache; searches do not see them yet."""

    @abstractmethod
    def switch_model(self, model: str, dim: int, assignments: Sequence[tuple[int, str]],
                     weights: str | None = None) -> None:
        """Atomically record a new model (name, dimension and, when given, its weights fingerprint under
        WEIGHTS_META) and point every chunk at its new cached vector (chunk_id, key)."""

    def writing(self) -> contextlib.AbstractContextManager[None]:
        """Group writes into one batch (the embedded backend holds its write lock and saves once at the end)."""
        return contextlib.nullcontext()

    def bulk_loading(self) -> contextlib.AbstractContextManager[None]:
        """Group a large load: the backend may defer index upkeep to the end of the block (PostgreSQL drops its
        HNSW index and builds it once), searches keep working meanwhile. The default is `writing()`.
        """
        return self.writing()

    # --- upkeep ----------------------------------------------------------------------------------------------
    @abstractmethod
    def stats(self) -> dict[str, object]:
        """Counts per kind and language, vector count and sizes."""

    @abstractmethod
    def flush(self) -> None:
        """Persist whatever the backend keeps in memory (the FAISS file)."""

    @abstractmethod
    def close(self) -> None:
        """Flush and release files and connections."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
