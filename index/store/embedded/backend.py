"""The embedded backend: SQLite for records and vectors, a FAISS file as the search index derived from it.

Crash safety: SQLite commits each document in one transaction and counts writes in `generation`; the FAISS file
is named after the generation it reflects and replaced by rename. A process that finds the file behind the store
(another process wrote since, or a writer was killed) brings its in-memory index up to date from SQLite by
adding and removing the chunk ids that differ, so searches never see a half-written document.
Writers take an exclusive lock file for the duration of a batch; readers never lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import faiss
import numpy as np

from index.records import ChunkRecord, DocumentRecord, NewChunk, SearchFilters
from index.store.base import WEIGHTS_META, Backend
from index.store.embedded.sqlite import SqliteStore
from index.store.statistics import LanguageStatistics, StatisticsCache
from pedkb.errors import StoreError

log = logging.getLogger(__name__)

# One query scans the index on one thread: splitting a 100k flat scan over both cores saves a few ms on an idle
# machine but costs tens of ms as soon as another request or process holds a core (measured 15 ms vs 65 ms p50).
faiss.omp_set_num_threads(1)

DB_NAME = "pedkb.sqlite3"
LOCK_NAME = "write.lock"
SYNC_BLOCK = 65_536  # chunk vectors read from SQLite per step when the index catches up


class FaissBackend(Backend):
    """SQLite + FAISS (exact inner-product search over normalised vectors) in one data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.data_dir}: cannot create the data folder ({exc.strerror})") from exc
        self.store = SqliteStore(self.data_dir / DB_NAME)
        self._mutex = threading.RLock()  # the in-memory index and the SQLite connection
        self._batch_guard = threading.RLock()  # the write-batch depth and the lock file
        self._flush_guard = threading.Lock()
        self._index: faiss.IndexIDMap2 | None = None
        self._index_gen = -1
        self._index_space = ""
        self._dirty = False
        self._lock_depth = 0
        self._bulk_depth = 0
        self._lock_file: IO[str] | None = None
        self._statistics = StatisticsCache()

    # --- metadata ----------------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A metadata value."""
        with self._mutex:
            return self.store.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        """Set a metadata value."""
        with self._mutex:
            self.store.set_meta(key, value)

    def _space(self) -> str:
        space = self.store.get_meta("vector_space")
        if space is None:
            space = uuid.uuid4().hex[:12]
            self.store.set_meta("vector_space", space)
        return space

    def _dim(self) -> int | None:
        dim = self.store.get_meta("dim")
        return int(dim) if dim else None

    # --- write lock ----------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the data folder's write lock for a batch of writes; the FAISS file is saved at the end.

        Only the file lock is held across the batch: searches in this process keep running between writes.
        """
        with self._batch_guard:
            if self._lock_depth == 0:
                handle = open(self.data_dir / LOCK_NAME, "a+")  # noqa: SIM115 - held across the batch
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    log.info("waiting for another pedkb process writing to %s", self.data_dir)
                    fcntl.flock(handle, fcntl.LOCK_EX)
                self._lock_file = handle
            self._lock_depth += 1
        try:
            yield
        finally:
            with self._batch_guard:
                try:
                    if self._lock_depth == 1:
                        self.flush()
                finally:
                    self._lock_depth -= 1
                    if self._lock_depth == 0 and self._lock_file is not None:
                        fcntl.flock(self._lock_file, fcntl.LOCK_UN)
                        self._lock_file.close()
                        self._lock_file = None

    @contextlib.contextmanager
    def bulk_loading(self) -> Iterator[None]:
        """A write batch whose documents reach the FAISS index all at once at its end.

        Outside it every document write updates the in-memory index with its own chunk ids (`_apply_write`);
        inside, writes go to SQLite only and the flush at the end adds them in one sync. Searches in the block
        sync first, so they see every write as usual.
        """
        with self.writing():
            self._bulk_depth += 1
            try:
                yield
            finally:
                self._bulk_depth -= 1

    # --- the in-memory FAISS index ---------------------------------------------------------------------------------
    def _vector_files(self, space: str) -> list[tuple[int, Path]]:
        found = []
        for path in self.data_dir.glob(f"vectors-{space}-*.faiss"):
            try:
                found.append((int(path.stem.rsplit("-", 1)[1]), path))
            except ValueError:
                continue
        return sorted(found, reverse=True)

    def _load_index(self, space: str, gen: int, dim: int) -> faiss.IndexIDMap2:
        for file_gen, path in self._vector_files(space):
            if file_gen > gen:
                continue
            try:
                index = faiss.read_index(str(path))
            except RuntimeError as exc:  # vanished under us, or truncated by a crash: rebuild instead
                log.warning("ignoring unreadable vector file %s (%s)", path.name, exc)
                continue
            if not isinstance(index, faiss.IndexIDMap2):  # read_index returns the concrete class; ours is always this
                log.warning("ignoring vector file %s holding a %s", path.name, type(index).__name__)
                continue
            if index.d == dim:
                return index
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def _sync(self) -> faiss.IndexIDMap2 | None:
        """Bring the in-memory index up to the store's current generation."""
        gen = self.store.generation()
        space = self._space()
        if self._index is not None and gen == self._index_gen and space == self._index_space:
            return self._index
        dim = self._dim()
        if dim is None:
            return None
        if self._index is None or space != self._index_space or self._index.d != dim:
            self._index = self._load_index(space, gen, dim)
        index = self._index
        in_store = self.store.chunk_ids()
        in_index = faiss.vector_to_array(index.id_map).astype(np.int64) if index.ntotal else np.zeros(0, np.int64)
        removed = np.setdiff1d(in_index, in_store, assume_unique=True)
        added = np.setdiff1d(in_store, in_index, assume_unique=True)
        if removed.size:
            index.remove_ids(faiss.IDSelectorBatch(removed))
        for start in range(0, added.size, SYNC_BLOCK):  # a block at a time: a bulk load adds millions at once
            ids, vectors = self.store.chunk_vectors(added[start:start + SYNC_BLOCK].tolist(), dim)
            if ids.size:
                index.add_with_ids(vectors, ids)
        if removed.size or added.size:
            log.debug("vector index synced: +%d -%d (generation %d)", added.size, removed.size, gen)
            self._dirty = True
        self._index_gen = gen
        self._index_space = space
        return index

    def _current_generation(self) -> int | None:
        """The store's generation when the in-memory index matches it exactly, else None."""
        gen = self.store.generation()
        current = self._index is not None and gen == self._index_gen and self._space() == self._index_space
        return gen if current else None

    def _apply_write(self, before: int | None, removed: Sequence[int], added: Sequence[int]) -> None:
        """After one write under the write lock: apply its chunk ids to an index that matched the store before it
        (O(write) instead of listing every chunk id), else sync in full."""
        if before is None or self._index is None or self.store.generation() != before + 1:
            self._sync()
            return
        index = self._index
        if removed:
            index.remove_ids(faiss.IDSelectorBatch(np.asarray(removed, dtype=np.int64)))
        if added:
            ids, vectors = self.store.chunk_vectors(added, index.d)
            if ids.size:
                index.add_with_ids(vectors, ids)
        self._index_gen = before + 1
        self._dirty = True

    def flush(self) -> None:
        """Write the in-memory index to `vectors-<space>-<generation>.faiss` by atomic rename.

        The index is serialised under the lock (a memory copy) and written outside it, so searches are not held
        up by the disk.
        """
        with self._flush_guard:
            with self._mutex:
                index = self._sync()
                if index is None or not self._dirty or self._lock_depth == 0:
                    return
                blob = faiss.serialize_index(index)
                target = self.data_dir / f"vectors-{self._index_space}-{self._index_gen}.faiss"
                self._dirty = False
            tmp = target.with_suffix(".faiss.tmp")
            try:
                with open(tmp, "wb") as handle:
                    blob.tofile(handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, target)
            except OSError:
                self._dirty = True
                raise
            for path in self.data_dir.glob("vectors-*.faiss*"):
                if path != target:
                    path.unlink(missing_ok=True)

    # --- documents -------------------------------------------------------------------------------------------------
    def put_document(self, doc: DocumentRecord, chunks: Sequence[NewChunk]) -> DocumentRecord:
        """Insert or replace a document with its chunks."""
        with self.writing():
            before = self._current_generation()
            stored, removed, added = self.store.put_document(doc, chunks)
            if not self._bulk_depth:
                self._apply_write(before, removed, added)
            return stored

    def delete_document(self, doc_id: str) -> bool:
        """Delete a document and its vectors."""
        with self.writing():
            before = self._current_generation()
            removed = self.store.delete_document(doc_id)
            self._apply_write(before, removed or [], [])
            return removed is not None

    def get_document(self, doc_id: str) -> DocumentRecord | None:
        """A document by id."""
        with self._mutex:
            return self.store.get_document(doc_id)

    def get_documents(self, doc_ids: Sequence[str]) -> dict[str, DocumentRecord]:
        """Documents by id."""
        with self._mutex:
            return self.store.get_documents(doc_ids)

    def list_documents(self, kind: str | None = None) -> list[DocumentRecord]:
        """All documents."""
        with self._mutex:
            return self.store.list_documents(kind)

    def export_document(self, doc_id: str) -> tuple[DocumentRecord, list[NewChunk]] | None:
        """A document with its chunks and vectors."""
        with self._mutex:
            return self.store.export_document(doc_id)

    def filter_documents(self, filters: SearchFilters, offset: int = 0,
                         limit: int | None = None) -> tuple[list[DocumentRecord], int]:
        """Documents passing the filters."""
        with self._mutex:
            return self.store.filter_documents(filters, offset, limit)

    def get_chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        """Chunks by id."""
        with self._mutex:
            return self.store.get_chunks(chunk_ids)

    def document_chunks(self, doc_id: str) -> list[ChunkRecord]:
        """A document's chunks."""
        with self._mutex:
            return self.store.document_chunks(doc_id)

    # --- vectors ---------------------------------------------------------------------------------------------------
    def cached_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached vectors by content key."""
        with self._mutex:
            return self.store.cached_vectors(keys)

    def search(self, query: np.ndarray, k: int, filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """Exact inner-product search, optionally restricted by filters."""
        with self._mutex:
            index = self._sync()
            if index is None or index.ntotal == 0 or k <= 0:
                return []
            q = np.asarray(query, dtype=np.float32).reshape(1, -1)
            if q.shape[1] != index.d:
                raise StoreError(f"query has {q.shape[1]} dimensions, the index {index.d}")
            params = None
            if filters is not None and not filters.is_empty():
                allowed = self.store.filtered_chunk_ids(filters)
                if allowed.size == 0:
                    return []
                # The keyword form: faiss's wrapper then keeps the selector alive with the parameters (older
                # wrappers do not for a plain attribute assignment); its stubs do not declare the keyword.
                params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))  # type: ignore[call-arg]
            scores, ids = index.search(q, min(k, index.ntotal), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def language_centroids(self) -> dict[str, tuple[np.ndarray, int]]:
        """Mean vector per chunk language, recomputed only after the store changed."""
        return {lang: (stats.mean, stats.count) for lang, stats in self.language_statistics().items()}

    def language_statistics(self) -> dict[str, LanguageStatistics]:
        """Count, mean and covariance per chunk language, recomputed only after the store changed
        (`StatisticsCache`: a large store's sampled estimate is refreshed at most once a minute, in the background)."""
        with self._mutex:
            if self._dim() is None:
                return {}
            return self._statistics.get(self.store.generation(), self.store.language_statistics,
                                        self._read_statistics, space=self._space())

    def _read_statistics(self) -> tuple[dict[str, LanguageStatistics], bool]:
        """The statistics on a connection of their own, for a background refresh: searches keep the store's
        connection and `_mutex` meanwhile."""
        db = self.store.reader()
        try:
            return self.store.language_statistics(db)
        finally:
            db.close()

    def lexical_search(self, terms: Sequence[str], k: int,
                       filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """BM25 over the FTS5 table of analysed chunk terms (kept in the same transactions as the chunks)."""
        with self._mutex:
            return self.store.lexical_search(terms, k, filters)

    def iter_chunks(self, batch: int = 512) -> Iterator[list[ChunkRecord]]:
        """Every chunk in batches."""
        yield from self.store.iter_chunks(batch)

    def store_vectors(self, items: Sequence[tuple[str, np.ndarray]]) -> None:
        """Add vectors to the cache."""
        with self._mutex:
            self.store.store_vectors(items)

    def switch_model(self, model: str, dim: int, assignments: Sequence[tuple[int, str]],
                     weights: str | None = None) -> None:
        """Record a new model and re-point all chunks at once; the next sync rebuilds the index."""
        with self.writing():
            meta = {"model": model, "dim": str(dim), "vector_space": uuid.uuid4().hex[:12]}
            if weights is not None:
                meta[WEIGHTS_META] = weights
            self.store.switch_model(meta, assignments)
            self._index = None
            self._sync()

    # --- upkeep ----------------------------------------------------------------------------------------------------
    def stats(self) -> dict[str, object]:
        """Counts and sizes."""
        with self._mutex:
            index = self._sync()
            out = self.store.stats()
            out["vectors"] = 0 if index is None else int(index.ntotal)
            out["backend"] = "faiss"
            out["store_bytes"] = sum(p.stat().st_size for p in self.data_dir.glob(f"{DB_NAME}*"))
            out["index_bytes"] = sum(p.stat().st_size for p in self.data_dir.glob("vectors-*.faiss"))
            return out

    def close(self) -> None:
        """Save and close (after a statistics refresh under way, `StatisticsCache.close`)."""
        self._statistics.close()
        with self._mutex:
            self.store.close()
