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
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path

import faiss
import numpy as np

from index.records import ChunkRecord, Deletion, DocumentRecord, NewChunk, SearchFilters
from index.store.base import WEIGHTS_META, Backend
from index.store.consistency import ConsistencyReport
from index.store.embedded import check as embedded_check
from index.store.embedded import lexical as sqlite_lexical
from index.store.embedded import segments, vector_files
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
ANN_THRESHOLD = 100_000  # chunks from which the approximate segment replaces the exact flat index
DELTA_SHARE = 0.02  # merge when the flat delta holds this share of the segment (at least DELTA_MIN chunks) ...
DELTA_MIN = 10_000
TOMBSTONE_SHARE = 0.10  # ... or this share of the segment's chunks is deleted
RESCORE = 64  # graph candidates re-scored exactly for a search of k results: max(RESCORE, 2 k)
FILTER_CAP = 65_536  # candidates checked against filters before an exact search over the allowed chunks


class FaissBackend(Backend):
    """SQLite + FAISS (exact inner-product search over normalised vectors) in one data folder; from
    `ann_threshold` chunks an approximate segment (`segments.py`) plus a flat delta of the newer chunks."""

    def __init__(self, data_dir: Path, ann_threshold: int = ANN_THRESHOLD, background_merge: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.ann_threshold = ann_threshold  # 0: never build a segment (an existing one is still used)
        self.background_merge = background_merge
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.data_dir}: cannot create the data folder ({exc.strerror})") from exc
        self._writer = WriterLock.for_folder(self.data_dir)
        with self._writer.hold():  # opening may refill the lexical index: a write
            self.store = SqliteStore(self.data_dir / DB_NAME)
        self._mutex = threading.RLock()  # the in-memory index: searches and updates never overlap
        self._batch_guard = threading.Lock()
        self._index: faiss.IndexIDMap2 | None = None  # the flat index; with a segment, its delta only
        self._segment: segments.Segment | None = None
        self._tombstones: set[int] = set()  # chunk ids of the segment deleted since it was written
        self._segment_seen: int | None = None  # generation of the newest segment on disk at the last load
        self._merge_thread: threading.Thread | None = None
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

    def claim_meta(self, values: Mapping[str, str]) -> bool:
        """Record the embedding space in one transaction unless a model is recorded (see `Backend.claim_meta`)."""
        with self._writer.hold():
            if self.store.get_meta("model") is not None:
                return False
            self.store.set_metas(values)
            return True

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
        newest = next((g for g, _ in segments.list_segments(self.data_dir, space) if g <= gen), None)
        if (self._index is None or space != self._index_space or self._index.d != dim
                or newest != self._segment_seen):
            self._load(space, gen, dim)
            self._segment_seen = newest
        index = self._index
        assert index is not None
        in_store = self.store.chunk_ids()
        in_index = faiss.vector_to_array(index.id_map).astype(np.int64) if index.ntotal else np.zeros(0, np.int64)
        if np.unique(in_index).size != in_index.size:  # a file written by an older pedkb under concurrent writes
            log.error("the vector index of %s holds duplicate chunk ids: rebuilding it from the store",
                      self.data_dir.name)
            self._index = index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
            in_index = np.zeros(0, np.int64)
        if self._segment is not None:  # the segment's live chunks count as indexed
            live = np.setdiff1d(self._segment.ids, np.fromiter(self._tombstones, np.int64), assume_unique=True)
            gone = np.setdiff1d(live, in_store, assume_unique=True)
            self._tombstones.update(gone.tolist())
            in_index = np.union1d(in_index, live)
        removed = np.setdiff1d(in_index, in_store, assume_unique=True)
        added = np.setdiff1d(in_store, in_index, assume_unique=True)
        if removed.size:
            self._remove(removed)
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

    def _load(self, space: str, gen: int, dim: int) -> None:
        """(Re)open the newest segment not past `gen` with an empty delta, or else the newest flat file."""
        if self._segment is not None:
            self._segment.close()
        self._segment = segments.load_newest(self.data_dir, space, gen, dim)
        self._tombstones = set()
        if self._segment is None:
            self._index = vector_files.load_index(self.data_dir, space, gen, dim)
        else:
            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
            log.debug("ANN segment %s opened: %d chunks", self._segment.path.name, len(self._segment))

    def _remove(self, ids: np.ndarray) -> None:
        """Remove chunk ids from the index: the delta's directly, the segment's as tombstones."""
        assert self._index is not None
        if self._segment is not None:
            rows = np.searchsorted(self._segment.ids, ids)
            inside = rows < self._segment.ids.size
            inside[inside] = self._segment.ids[rows[inside]] == ids[inside]
            self._tombstones.update(ids[inside].tolist())
        self._index.remove_ids(faiss.IDSelectorBatch(ids))

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
            self._remove(np.asarray(removed, dtype=np.int64))
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
            if index is None:
                return
            due = self._merge_due()
            if due or self._segment is not None or not self._dirty:  # a delta lives in the rows: nothing to write
                self._dirty = False
                blob = None
            else:
                blob = faiss.serialize_index(index)
                target = self.data_dir / f"vectors-{self._index_space}-{self._index_gen}.faiss"
                self._dirty = False
        if due:
            self._start_merge()
        if blob is None:
            return
        try:
            vector_files.write_file(blob, target)
        except OSError:
            self._dirty = True
            raise

    # --- the approximate segment: built above the threshold, merged when the delta grows -----------------------------
    def _merge_due(self) -> bool:
        """Whether the index should become (or be merged into) a new segment (under `_mutex`, after a sync)."""
        index = self._index
        if index is None:
            return False
        if self._segment is None:
            return self.ann_threshold > 0 and index.ntotal >= self.ann_threshold
        size = len(self._segment)
        return index.ntotal >= max(DELTA_MIN, DELTA_SHARE * size) or len(self._tombstones) >= TOMBSTONE_SHARE * size

    def _start_merge(self) -> None:
        """Merge in a background thread (one at a time per backend), or right here without `background_merge`."""
        if not self.background_merge:
            self.merge()
            return
        with self._batch_guard:
            if self._merge_thread is not None and self._merge_thread.is_alive():
                return
            self._merge_thread = threading.Thread(target=self._merge_quietly, name="pedkb-ann-merge", daemon=True)
            self._merge_thread.start()

    def _merge_quietly(self) -> None:
        try:
            self.merge(threads=1)  # leave the other core to searches
        except (OSError, RuntimeError, ValueError, MemoryError):
            log.exception("the ANN segment of %s could not be merged; the flat delta keeps serving",
                          self.data_dir.name)

    def merge(self, threads: int = 0) -> bool:
        """Write a new segment holding every chunk of the store at the current generation: the current segment
        without its tombstones plus the delta (or, the first time, the flat index). The snapshot is taken under
        `_mutex`, the files are written outside it (writes and searches go on), then published by renaming the
        folder; the next sync of any process opens it. False when another thread or process is merging."""
        with segments.merge_lock(self.data_dir) as mine:
            if not mine:
                return False
            with self._mutex:
                index = self._sync()
                if index is None:
                    return False
                gen, space, dim, base = self._index_gen, self._index_space, index.d, self._segment
                removed = np.sort(np.fromiter(self._tombstones, np.int64, len(self._tombstones)))
                ids = faiss.vector_to_array(index.id_map).astype(np.int64) if index.ntotal else np.zeros(0, np.int64)
                vectors = index.index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, dim), np.float32)
            if base is None and not ids.size:
                return False
            started = time.perf_counter()
            path = segments.write_segment(self.data_dir, space, gen, base, removed, ids, vectors, dim, threads)
            log.info("ANN segment of %s merged in %.1f s", self.data_dir.name, time.perf_counter() - started)
            with self._mutex:
                self._index_gen = -1  # the next sync opens the new segment and keeps what was written since
            vector_files.remove_files(self.data_dir)
            segments.remove_older(self.data_dir, path)
            return True

    def maintain(self) -> bool:
        """Merge in the background when the index is due one that no write started: a store that reached the
        threshold in a process that ended before its merge did, or that a lower PEDKB_ANN_THRESHOLD now puts above
        it, still searches the flat index until its next write."""
        with self._mutex:
            self._sync()
            due = self._merge_due()
        if due:
            log.info("the vector index of %s is due an ANN segment: merging in the background", self.data_dir.name)
            self._start_merge()
        return due

    def warm(self, seconds: float) -> int:
        """Score the most common terms of the lexical leg ahead of the first searches that need them (at most
        `seconds`); returns how many are kept."""
        return self.store.warm_terms(seconds)

    def wait_for_merge(self) -> None:
        """Block until a background merge under way has finished."""
        thread = self._merge_thread
        if thread is not None:
            thread.join()

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
        """Inner-product search, optionally restricted by filters: exact on the flat index, approximate (graph
        candidates re-scored exactly) with a segment."""
        with self._mutex:
            index = self._sync()
            if index is None or k <= 0:
                return []
            q = np.asarray(query, dtype=np.float32).reshape(1, -1)
            if q.shape[1] != index.d:
                raise StoreError(f"query has {q.shape[1]} dimensions, the index {index.d}")
            filtered = filters is not None and not filters.is_empty()
            if self._segment is not None:
                return self._search_segment(q, k, filters if filtered else None)
            if index.ntotal == 0:
                return []
            params = None
            if filters is not None and filtered:
                allowed = self._allowed_ids(filters)
                if allowed.size == 0:
                    return []
                # The keyword form: faiss's wrapper then keeps the selector alive with the parameters (older
                # wrappers do not for a plain attribute assignment); its stubs do not declare the keyword.
                params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))  # type: ignore[call-arg]
            scores, ids = index.search(q, min(k, index.ntotal), params=params)
        found = ids[0] >= 0
        return list(zip(ids[0][found].tolist(), scores[0][found].tolist(), strict=True))

    def _search_segment(self, q: np.ndarray, k: int, filters: SearchFilters | None) -> list[tuple[int, float]]:
        """The segment's graph candidates (re-scored exactly, tombstones dropped) merged with an exact search of the
        delta. With filters, the chunks the filter passes are read once per store state (`_allowed_ids`); the graph's
        candidates are checked against them before they are re-scored, the delta is searched among its chunks that
        pass, and the search widens fourfold until k pass, starting in proportion to the filter's share. A filter
        passing no more chunks than would be checked, or past FILTER_CAP candidates, has its chunks scored exactly."""
        segment, delta, tombstones = self._segment, self._index, self._tombstones
        assert segment is not None and delta is not None
        live = len(segment) - len(tombstones) + delta.ntotal
        count = k + RESCORE
        allowed = np.zeros(0, np.int64)
        if filters is not None:
            allowed = self._allowed_ids(filters)
            if allowed.size == 0:
                return []
            count = max(4 * count, int(1.5 * count * live / allowed.size))
            if allowed.size <= count or count >= FILTER_CAP:
                return self._exact_filtered(q, k, allowed)
        passes = None if filters is None else partial(sqlite_lexical.among, allowed=allowed)
        params, in_delta = None, delta.ntotal
        if filters is not None and in_delta:  # the delta's nearest may all be chunks the filter does not pass:
            delta_ids = faiss.vector_to_array(delta.id_map).astype(np.int64)  # it is searched among those it passes
            passing = delta_ids[sqlite_lexical.among(delta_ids, allowed)]
            in_delta = int(passing.size)
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(passing))  # type: ignore[call-arg]
        while True:
            wanted = min(len(segment), int(count * len(segment) / max(1, len(segment) - len(tombstones))) + 1)
            ids, scores = segment.candidates(q[0], wanted, passes)
            if tombstones:
                keep = np.fromiter((i not in tombstones for i in ids.tolist()), dtype=bool, count=ids.size)
                ids, scores = ids[keep], scores[keep]
            if in_delta:
                d_scores, d_ids = delta.search(q, min(count, in_delta), params=params)
                found = d_ids[0] >= 0
                ids = np.concatenate([ids, d_ids[0][found]])
                scores = np.concatenate([scores, d_scores[0][found]])
            exhausted = wanted >= len(segment) and count >= in_delta
            if ids.size >= min(k, live) or exhausted:
                break
            if count >= FILTER_CAP and filters is not None:
                return self._exact_filtered(q, k, allowed)
            count *= 4
        return _best(ids, scores, k)

    def _exact_filtered(self, q: np.ndarray, k: int, allowed: np.ndarray) -> list[tuple[int, float]]:
        """Exact search over the chunks passing a selective filter (`allowed`): the segment's rows and the delta."""
        segment, delta = self._segment, self._index
        assert segment is not None and delta is not None
        if self._tombstones:
            allowed = np.setdiff1d(allowed, np.fromiter(self._tombstones, np.int64, len(self._tombstones)))
        ids, scores = segment.rescore(q[0], allowed)
        if delta.ntotal and allowed.size:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))  # type: ignore[call-arg]
            d_scores, d_ids = delta.search(q, min(k, delta.ntotal), params=params)
            found = d_ids[0] >= 0
            ids = np.concatenate([ids, d_ids[0][found]])
            scores = np.concatenate([scores, d_scores[0][found]])
        return _best(ids, scores, k)

    def _allowed_ids(self, filters: SearchFilters) -> np.ndarray:
        """The chunk ids passing `filters`, sorted, read once per store state (a new query with the same filter
        checks its candidates against them in memory, not in SQLite)."""
        return self.store.passing_ids(filters, self._index_gen)

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
                                    None if quick else self._index_ids,
                                    segments.list_segments(self.data_dir, space) if space else [])

    def _index_ids(self) -> np.ndarray:
        """The chunk ids of the in-memory index, brought up to the store."""
        with self._mutex:
            index = self._sync()
            if index is None:
                return np.zeros(0, np.int64)
            ids = faiss.vector_to_array(index.id_map).astype(np.int64) if index.ntotal else np.zeros(0, np.int64)
            if self._segment is not None:
                tombstones = np.fromiter(self._tombstones, np.int64, len(self._tombstones))
                ids = np.concatenate([ids, np.setdiff1d(self._segment.ids, tombstones)])
            return ids

    def _vector_count(self) -> int:
        """Live vectors: the flat index, or the segment without its tombstones plus the delta."""
        count = 0 if self._index is None else int(self._index.ntotal)
        if self._segment is not None:
            count += len(self._segment) - len(self._tombstones)
        return count

    def rebuild_index(self) -> int:
        """Rebuild the index from the stored vectors and save it; returns how many it holds."""
        with self._writer.hold():
            self.wait_for_merge()
            with segments.merge_lock(self.data_dir):
                vector_files.remove_files(self.data_dir)
                segments.remove_all(self.data_dir)
            with self._mutex:
                if self._segment is not None:
                    self._segment.close()
                self._index, self._index_gen, self._segment, self._segment_seen = None, -1, None, None
                self._sync()
                self._dirty = True
                due = self._merge_due()
            if due:
                self.merge()
            else:
                self._save()
            with self._mutex:
                self._sync()
                return self._vector_count()

    def stats(self) -> dict[str, object]:
        """Counts and sizes."""
        with self._mutex:
            index = self._sync()
            out = self.store.stats()
            out["vectors"] = 0 if index is None else self._vector_count()
            out["backend"] = "faiss"
            out["vector_index"] = "flat" if self._segment is None else "ann"
            out["store_bytes"] = sum(p.stat().st_size for p in self.data_dir.glob(f"{DB_NAME}*"))
            out["index_bytes"] = (sum(p.stat().st_size for p in self.data_dir.glob("vectors-*.faiss"))
                                  + segments.size_bytes(self.data_dir))
            return out

    def close(self) -> None:
        """Save and close (after a statistics refresh under way, `StatisticsCache.close`)."""
        self._statistics.close()
        self.wait_for_merge()
        with self._mutex:
            if self._segment is not None:
                self._segment.close()
            self.store.close()


def _best(ids: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k best (chunk id, score) pairs, best first, equal scores in the order given."""
    order = np.argsort(-scores, kind="stable")[:k]
    return list(zip(ids[order].tolist(), scores[order].tolist(), strict=True))
