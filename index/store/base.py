"""The storage backend interface: documents, chunks, cached vectors and vector search behind one ABC.

The embedded backend (SQLite + FAISS files, `embedded/`) and the PostgreSQL + pgvector backend implement it;
`store.factory.open_backend` picks one from the settings. Every write that changes what a search can return is atomic:
after a crash a search sees either the old or the new state of each document, never half of it.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from index.records import ChunkRecord, Deletion, DocumentRecord, NewChunk, SearchFilters
from index.store.consistency import ConsistencyReport
from index.store.statistics import LanguageStatistics
from pedkb.errors import ConflictError, NotFoundError

WEIGHTS_META = "model_weights"  # meta key of the embedder's weights fingerprint (docs/model_identity.md)


def check_precondition(doc_id: str, exists: bool, must_exist: bool | None, *, current_sha256: str | None = None,
                       expect_sha256: str | None = None) -> None:
    """Inside a write transaction: refuse to create an existing item (ConflictError) or to update a missing one
    (NotFoundError); `must_exist` None writes either way. With `expect_sha256`, refuse (ConflictError) when the
    stored item is no longer the version the caller read (another writer changed it meanwhile)."""
    if must_exist is False and exists:
        raise ConflictError(f"id: an item with id {doc_id!r} exists already")
    if must_exist and not exists:
        raise NotFoundError(f"no item with id {doc_id!r}")
    if expect_sha256 is not None and current_sha256 != expect_sha256:
        raise ConflictError(f"{doc_id}: changed by another writer meanwhile; read it again and retry")


class Backend(ABC):
    """Store of documents and chunks with a vector index over the chunks."""

    # --- identity of the embedding space -------------------------------------------------------------------
    @abstractmethod
    def get_meta(self, key: str) -> str | None:
        """A value from the store's metadata (model name, dimension, schema version)."""

    @abstractmethod
    def set_meta(self, key: str, value: str) -> None:
        """Set a metadata value."""

    def generation(self) -> int:
        """How many writes changed the store (documents, chunks, vectors): bumped in each write's transaction."""
        return int(self.get_meta("generation") or 0)

    def warm(self, seconds: float) -> int:
        """Prepare, within about `seconds`, what the first searches would otherwise compute (a serving process calls
        it before it says ready); returns how many things were prepared. Nothing by default."""
        return 0

    def maintain(self) -> bool:
        """Start, in the background, the upkeep the store's state calls for and no write has started (a serving
        process calls it once it is warm); True when something was started. Nothing to do by default."""
        return False

    @abstractmethod
    def claim_meta(self, values: Mapping[str, str]) -> bool:
        """Record the store's embedding space (`values`, "model" among them) in one write, as the only writer,
        unless a "model" is recorded already: True when this call recorded it. Two first writes at once (threads
        of one upload, a CLI beside the server) cannot leave a half-recorded space or two models' values."""

    # --- documents -------------------------------------------------------------------------------------------
    @abstractmethod
    def put_document(self, doc: DocumentRecord, chunks: Sequence[NewChunk], *,
                     must_exist: bool | None = None, expect_sha256: str | None = None) -> DocumentRecord:
        """Insert or replace a document with all its chunks and vectors, atomically, as the only writer of the
        store at that moment; `must_exist` False only creates, True only replaces, `expect_sha256` only replaces
        that version (`check_precondition`, decided inside the write so that two writers cannot both pass it).

        Deleting a document records its deletion (`deletions`); storing one under that id again forgets it."""

    @abstractmethod
    def delete_document(self, doc_id: str) -> bool:
        """Delete a document, its chunks and their vectors; False when it did not exist."""

    @abstractmethod
    def deletions(self, kind: str | None = None) -> list[Deletion]:
        """The deleted items remembered (optionally of one kind), oldest deletion first."""

    @abstractmethod
    def restore_deletions(self, items: Sequence[Deletion]) -> None:
        """Remember these deletions (a copied store's), except of ids that exist as documents."""

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
        """Group writes into one batch: each write still commits on its own and other writers interleave between
        them; the embedded backend saves its FAISS file once at the end instead of after every write."""
        return contextlib.nullcontext()

    def bulk_loading(self) -> contextlib.AbstractContextManager[None]:
        """Group a large load: the backend may defer index upkeep to the end of the block (PostgreSQL drops its
        HNSW index and builds it once), searches keep working meanwhile. The default is `writing()`.
        """
        return self.writing()

    # --- upkeep ----------------------------------------------------------------------------------------------
    @abstractmethod
    def check(self, *, quick: bool = False, repair: bool = False) -> ConsistencyReport:
        """Verify that rows, lexical index and vectors agree (`consistency.py`); `quick` only what is cheap to
        read at start-up; `repair` rebuilds what the rows allow, as a writer, and reports it."""

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
