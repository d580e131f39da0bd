"""The embedded backend: SQLite for records and vectors, a FAISS file as the search index derived from it.

Crash safety: SQLite commits each document in one transaction and counts writes in `generation`; the FAISS file
is named after the generation it reflects and replaced by rename. A process that finds the file behind the store
(another process wrote since, or a writer was killed) brings its in-memory index up to date from SQLite by
adding and removing the chunk ids that differ, so searches never see a half-written document.
Writers serialise on the folder's `WriterLock` (a re-entrant thread lock plus `flock` on `write.lock`, held by one
write at a time, at every depth); SQLite commits first and the FAISS index follows under the same lock, so a
failure after the commit only leaves the index to be rebuilt from the rows. Readers never take the writer lock;
each thread has its own SQLite connection and FAISS searches never overlap an index update (`_mutex`).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import faiss
import numpy as np

from index.records import ChunkRecord, Deletion, DocumentRecord, NewChunk, SearchFilters
from index.store.base import WEIGHTS_META, Backend
from index.store.consistency import ConsistencyReport
from index.store.embedded import check as embedded_check
from index.store.embedded import vector_files
from index.store.embedded.sqlite import SqliteStore
from index.store.locking import WriterLock
from index.store.statistics import LanguageStatistics, StatisticsCache
from pedkb.errors import StoreError

log = logging.getLogger(__name__)

# One query scans the index on one thread: splitting a 100k flat scan over both cores saves a few ms on an idle
# machine but costs tens of ms as soon as another request or process holds a core (measured 15 ms vs 65 ms p50).
faiss.omp_set_num_threads(1)

DB_NAME = "pedkb.sqlite3"
SYNC_BLOCK = 65_536  # chunk vectors read from SQLite per step when the index catches up


class FaissBackend(Backend):
    """SQLite + FAISS (exact inner-product search over normalised vectors) in one data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.data_dir}: cannot create the data folder ({exc.strerror})") from exc
        self._writer = WriterLock.for_folder(self.data_dir)
        with self._writer.hold():  # opening may refill the lexical index: a write
            self.store = SqliteStore(self.data_dir / DB_NAME)
        self._mutex = threading.RLock()  # the in-memory index: searches and updates never overlap
        self._batch_guard = threading.Lock()
        self._index: faiss.IndexIDMap2 | None = None
        self._index_gen = -1
        self._index_space = ""
        self._dirty = False
        self._batches = 0  # open `writing()` blocks: the FAISS file is saved when the last one ends
        self._bulk_depth = 0
        self._statistics = StatisticsCache()

    # --- metadata ----------------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A metadata value."""
        return self.store.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        """Set a metadata value (as a writer)."""
        with self._writer.hold():
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

    # --- writes: the lock, batches, the index after a commit ----------------------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """A batch of writes: each takes the writer lock for its own transaction only, so other threads and
        processes write between them; the FAISS file is saved once, when the last open batch ends."""
        with self._batch_guard:
            self._batches += 1
        try:
            yield
        finally:
            with self._batch_guard:
                self._batches -= 1
                last = self._batches == 0
            if last:
                with self._writer.hold():
                    self._save_quietly()

    @contextlib.contextmanager
    def bulk_loading(self) -> Iterator[None]:
        """A write batch whose documents reach the FAISS index all at once at its end: outside it every write
        applies its own chunk ids to the in-memory index (`_apply_write`); inside, writes go to SQLite only and the
        save at the end adds them in one sync. Searches in the block sync first, so they see every write."""
        with self.writing():
            with self._batch_guard:
                self._bulk_depth += 1
            try:
                yield
            finally:
                with self._batch_guard:
                    self._bulk_depth -= 1

    def _after_commit(self, before: int | None, removed: Sequence[int], added: Sequence[int], depth: int) -> None:
        """Bring the in-memory index, then (outside a batch) the FAISS file, up to a write SQLite just committed.

        The write stands whatever happens here: a failure is logged and leaves the index to be rebuilt from the
        rows at its next use, so a caller never sees an error for a write that is in the store.
        """
        try:
            if not self._bulk_depth:
                with self._mutex:
                    self._apply_write(before, removed, added)
        except (RuntimeError, MemoryError, sqlite3.Error):
            log.exception("the vector index could not follow a committed write: it is rebuilt from the store")
            with self._mutex:
                self._index, self._index_gen = None, -1
        if depth == 1 and not self._batches:
            self._save_quietly()

    def _save_quietly(self) -> None:
        """Save the FAISS file; a failure is logged (the file is a cache of the rows, rebuilt when it is behind)."""
        try:
            self._save()
        except (OSError, RuntimeError, MemoryError):
            log.exception("the vector file of %s could not be saved; it is rebuilt from the store when needed",
                          self.data_dir.name)

    # --- the in-memory FAISS index ---------------------------------------------------------------------------------
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
            self._index = vector_files.load_index(self.data_dir, space, gen, dim)
        index = self._index
        in_store = self.store.chunk_ids()
        in_index = faiss.vector_to_array(index.id_map).astype(np.int64) if index.ntotal else np.zeros(0, np.int64)
        if np.unique(in_index).size != in_index.size:  # a file written by an older pedkb under concurrent writes
            log.error("the vector index of %s holds duplicate chunk ids: rebuilding it from the store",
                      self.data_dir.name)
            self._index = index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
            in_index = np.zeros(0, np.int64)
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
        (O(write) instead of listing every chunk id), else sync in full. A search may have synced the index past
        `before` between the commit and this call: then the write is in it already and the sync does nothing."""
        if (before is None or self._index is None or self._index_gen != before
                or self.store.generation() != before + 1):
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
        """Write the in-memory index to `vectors-<space>-<generation>.faiss` (as a writer, by atomic rename)."""
        with self._writer.hold():
            self._save()

    def _save(self) -> None:
        """The save itself, by the holder of the writer lock: the index is serialised under `_mutex` (a memory
        copy) and written outside it, so searches are not held up by the disk."""
        with self._mutex:
            index = self._sync()
            if index is None or not self._dirty:
                return
            blob = faiss.serialize_index(index)
            target = self.data_dir / f"vectors-{self._index_space}-{self._index_gen}.faiss"
            self._dirty = False
        try:
            vector_files.write_file(blob, target)
        except OSError:
            self._dirty = True
            raise

    # --- documents -------------------------------------------------------------------------------------------------
    def put_document(self, doc: DocumentRecord, chunks: Sequence[NewChunk], *,
                     must_exist: bool | None = None, expect_sha256: str | None = None) -> DocumentRecord:
        """Insert or replace a document with its chunks: one SQLite transaction, then the index follows."""
        with self._writer.hold() as depth:
            with self._mutex:
                before = self._current_generation()
            stored, removed, added = self.store.put_document(doc, chunks, must_exist, expect_sha256)
            self._after_commit(before, removed, added, depth)
            return stored

    def delete_document(self, doc_id: str) -> bool:
        """Delete a document and its vectors."""
        with self._writer.hold() as depth:
            with self._mutex:
                before = self._current_generation()
            removed = self.store.delete_document(doc_id)
            if removed is not None:
                self._after_commit(before, removed, [], depth)
            return removed is not None

    def deletions(self, kind: str | None = None) -> list[Deletion]:
        """The remembered deletions, oldest first."""
        return self.store.deletions(kind)

    def restore_deletions(self, items: Sequence[Deletion]) -> None:
        """Remember deletions copied from another store (as a writer)."""
        with self._writer.hold():
            self.store.restore_deletions(items)

    def get_document(self, doc_id: str) -> DocumentRecord | None:
        """A document by id."""
        return self.store.get_document(doc_id)

    def get_documents(self, doc_ids: Sequence[str]) -> dict[str, DocumentRecord]:
        """Documents by id."""
        return self.store.get_documents(doc_ids)

    def list_documents(self, kind: str | None = None) -> list[DocumentRecord]:
        """All documents."""
        return self.store.list_documents(kind)

    def export_document(self, doc_id: str) -> tuple[DocumentRecord, list[NewChunk]] | None:
        """A document with its chunks and vectors."""
        return self.store.export_document(doc_id)

    def filter_documents(self, filters: SearchFilters, offset: int = 0,
                         limit: int | None = None) -> tuple[list[DocumentRecord], int]:
        """Documents passing the filters."""
        return self.store.filter_documents(filters, offset, limit)

    def get_chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        """Chunks by id."""
        return self.store.get_chunks(chunk_ids)

    def document_chunks(self, doc_id: str) -> list[ChunkRecord]:
        """A document's chunks."""
        return self.store.document_chunks(doc_id)

    # --- vectors ---------------------------------------------------------------------------------------------------
    def cached_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached vectors by content key."""
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
        return self.store.lexical_search(terms, k, filters)

    def iter_chunks(self, batch: int = 512) -> Iterator[list[ChunkRecord]]:
        """Every chunk in batches."""
        yield from self.store.iter_chunks(batch)

    def store_vectors(self, items: Sequence[tuple[str, np.ndarray]]) -> None:
        """Add vectors to the cache (no chunk points at them: no generation, no index, no writer lock)."""
        self.store.store_vectors(items)

    def switch_model(self, model: str, dim: int, assignments: Sequence[tuple[int, str]],
                     weights: str | None = None) -> None:
        """Record a new model and re-point all chunks at once; the next sync rebuilds the index."""
        with self._writer.hold():
            meta = {"model": model, "dim": str(dim), "vector_space": uuid.uuid4().hex[:12]}
            if weights is not None:
                meta[WEIGHTS_META] = weights
            self.store.switch_model(meta, assignments)
            with self._mutex:
                self._index = None
                self._sync()
            self._save_quietly()

    # --- upkeep ----------------------------------------------------------------------------------------------------
    def check(self, *, quick: bool = False, repair: bool = False) -> ConsistencyReport:
        """Rows vs FTS5 entries vs the FAISS file and the in-memory index (`embedded/check.py`)."""
        if quick and not repair:  # one SQLite snapshot; the FAISS file is named after the generation it holds
            return self._check(quick)
        with self._writer.hold():  # the live index and the rows compared with no write in between
            report = self._check(quick)
            if repair:
                embedded_check.repair(self.store, report, self.rebuild_index)
            return report

    def _check(self, quick: bool) -> ConsistencyReport:
        space = self.store.get_meta("vector_space")
        return embedded_check.check(self.store, vector_files.list_files(self.data_dir, space) if space else [],
                                    None if quick else self._index_ids)

    def _index_ids(self) -> np.ndarray:
        """The chunk ids of the in-memory index, brought up to the store."""
        with self._mutex:
            index = self._sync()
            if index is None or not index.ntotal:
                return np.zeros(0, np.int64)
            return faiss.vector_to_array(index.id_map).astype(np.int64)

    def rebuild_index(self) -> int:
        """Rebuild the index from the stored vectors and save it; returns how many it holds."""
        with self._writer.hold():
            vector_files.remove_files(self.data_dir)
            with self._mutex:
                self._index, self._index_gen = None, -1
                index = self._sync()
                self._dirty = True
            self._save()
            return 0 if index is None else int(index.ntotal)

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
