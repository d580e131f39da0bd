"""The storage backend interface: documents, chunks, cached vectors and vector search behind one ABC.

The embedded backend (SQLite + FAISS files, `faiss_backend.py`) and the PostgreSQL + pgvector backend implement it;
`factory.open_backend` picks one from the settings. Every write that changes what a search can return is atomic:
after a crash a search sees either the old or the new state of each document, never half of it.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from index.records import ChunkRecord, DocumentRecord, NewChunk, SearchFilters


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


class StatisticsCache:
    """The per-language statistics of one store, recomputed when the store changed.

    While the store holds at most STATS_SAMPLE chunks they are exact and follow every write. A larger store's
    sampled estimate is kept up to STATS_MAX_AGE seconds while writes go on: a few documents do not move the
    means of a large store, and the next search after each upload should not pay for a pass over its vectors.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: Hashable = None
        self._value: dict[str, LanguageStatistics] | None = None
        self._sampled = False
        self._at = -math.inf

    def get(self, state: Hashable, compute: Callable[[], tuple[dict[str, LanguageStatistics], bool]]
            ) -> dict[str, LanguageStatistics]:
        """The cached statistics if still valid for `state`, else `compute()`'s."""
        with self._lock:
            now = time.monotonic()
            fresh = self._value is not None and (
                state == self._state or (self._sampled and now - self._at < STATS_MAX_AGE))
            if not fresh:
                self._value, self._sampled = compute()
                self._state, self._at = state, now
            assert self._value is not None
            return self._value


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
    def switch_model(self, model: str, dim: int, assignments: Sequence[tuple[int, str]]) -> None:
        """Atomically record a new model and point every chunk at its new cached vector (chunk_id, key)."""

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
