"""`pedkb check` on the embedded store: SQLite rows vs the FTS5 lexical entries vs the vector files and index.

The rows are the truth. Every chunk must have exactly one lexical entry and, in the current FAISS file when it
is at the store's generation, exactly one vector id; nothing may point at a chunk that is gone. A file behind the
store is normal (a writer was killed before saving) and only noted; duplicate ids in it are a problem. A repair
refills the lexical entries and the document chunk counts from the rows and rebuilds the FAISS index from the
stored vectors; chunks whose vector is missing from the cache are re-embedded with the model (`KnowledgeBase.check`).
Above the ANN threshold the vectors live in a segment folder (`segments.py`) instead of the flat file: its ids must
be unique and match its graph and vectors; chunks written since (the delta) and deleted since (tombstones) are
normal and counted; an unreadable segment is noted and rebuilt by a repair.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import faiss
import numpy as np

from index.store.consistency import ConsistencyReport
from index.store.embedded import lexical as sqlite_lexical
from index.store.embedded import segments
from index.store.embedded.sqlite import SqliteStore

log = logging.getLogger(__name__)


def _ids(db: sqlite3.Connection, sql: str) -> np.ndarray:
    rows = db.execute(sql).fetchall()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


def check(store: SqliteStore, files: Sequence[tuple[int, Path]], live_ids: Callable[[], np.ndarray] | None,
          segment_dirs: Sequence[tuple[int, Path]] = ()) -> ConsistencyReport:
    """Compare rows, lexical entries and the vector `files` and `segment_dirs` of the store's space; with
    `live_ids` (the full check) also the stored vectors and the in-memory index."""
    report = ConsistencyReport("faiss")
    db = store.reader()
    try:
        db.execute("BEGIN")  # one snapshot for every comparison, whatever commits meanwhile
        chunks = _ids(db, "SELECT chunk_id FROM chunks")
        lexical = _ids(db, "SELECT rowid FROM chunk_terms")
        report.counts.update(documents=int(db.execute("SELECT count(*) FROM documents").fetchone()[0]),
                             chunks=int(chunks.size), lexical=int(lexical.size))
        report.problem("lexical_missing", np.setdiff1d(chunks, lexical).size,
                       "chunks without a lexical (FTS5) entry: BM25 search cannot find them")
        report.problem("lexical_orphans", np.setdiff1d(lexical, chunks).size,
                       "lexical entries of chunks that no longer exist")
        report.problem("chunk_count_wrong", db.execute(
            "SELECT count(*) FROM documents d WHERE n_chunks != "
            "(SELECT count(*) FROM chunks c WHERE c.doc_id = d.doc_id)").fetchone()[0],
            "documents whose recorded chunk count differs from their chunks")
        report.problem("chunks_without_document", db.execute(
            "SELECT count(*) FROM chunks c LEFT JOIN documents d ON d.doc_id = c.doc_id "
            "WHERE d.doc_id IS NULL").fetchone()[0], "chunks whose document is gone")
        dim = store.get_meta("dim")
        if live_ids is not None and dim:
            report.problem("vectors_missing", db.execute(
                "SELECT count(*) FROM chunks c LEFT JOIN vectors v ON v.key = c.vector_key "
                "WHERE v.key IS NULL OR length(v.vector) != ?", (int(dim) * 4,)).fetchone()[0],
                "chunks without a stored vector of the store's dimension: re-embedded by `pedkb check --repair`")
        generation = int(db.execute("SELECT coalesce((SELECT value FROM meta WHERE key = 'generation'), 0)")
                         .fetchone()[0])
        db.execute("COMMIT")
    finally:
        db.close()
    if not (dim and _check_segment(segment_dirs, report, chunks, generation, int(dim))):
        _check_file(files, report, chunks, generation)
    if live_ids is not None and dim:
        live = live_ids()
        report.counts["vectors"] = int(live.size)
        report.problem("index_duplicates", live.size - np.unique(live).size, "chunk ids twice in the live index")
        report.problem("index_missing", np.setdiff1d(chunks, live).size, "chunks missing from the live index")
        report.problem("index_orphans", np.setdiff1d(live, chunks).size, "live vector ids without a chunk")
    return report


def _note_later(found: Sequence[tuple[int, Path]], generation: int, what: str, report: ConsistencyReport) -> None:
    """Note the files of a later generation than the store (left by a write that crashed before its commit)."""
    later = [gen for gen, _ in found if gen > generation]
    if later:
        report.notes.append(f"{len(later)} {what} from a later generation than the store "
                            f"({max(later)} > {generation}): ignored, deleted by a repair")


def _check_file(files: Sequence[tuple[int, Path]], report: ConsistencyReport, chunks: np.ndarray,
                generation: int) -> None:
    """The newest FAISS file of the store's space, read as it is on disk (before any catching up)."""
    _note_later(files, generation, "vector file(s)", report)
    for file_gen, path in files:
        if file_gen > generation:
            continue
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            report.notes.append(f"unreadable vector file {path.name} ({exc}): rebuilt from the rows at next use")
            continue
        if not isinstance(index, faiss.IndexIDMap2):  # read_index gives the concrete class; ours is always this
            report.notes.append(f"vector file {path.name} holds a {type(index).__name__}: ignored, rebuilt")
            continue
        ids = faiss.vector_to_array(index.id_map).astype(np.int64) if index.ntotal else np.zeros(0, np.int64)
        report.counts["file_vectors"] = int(ids.size)
        report.problem("file_duplicates", ids.size - np.unique(ids).size,
                       f"chunk ids stored twice in {path.name}")
        if file_gen == generation:
            report.problem("file_missing", np.setdiff1d(chunks, ids).size,
                           f"chunks without a vector in {path.name}")
            report.problem("file_orphans", np.setdiff1d(ids, chunks).size,
                           f"vector ids in {path.name} without a chunk")
        else:
            report.notes.append(f"the vector file is at generation {file_gen}, the store at {generation}: the "
                                "index catches up from the rows when it is next used")
        return
    if chunks.size:
        report.notes.append("no current vector file: the index is built from the rows when it is next used")


def _check_segment(found: Sequence[tuple[int, Path]], report: ConsistencyReport, chunks: np.ndarray,
                   generation: int, dim: int) -> bool:
    """The newest ANN segment not past the store (as on disk); False when there is none to check."""
    _note_later(found, generation, "ANN segment(s)", report)
    for seg_gen, path in found:
        if seg_gen > generation:
            continue
        try:
            segment = segments.open_segment(path, seg_gen, dim)
        except (OSError, ValueError, RuntimeError) as exc:
            report.notes.append(f"unreadable ANN segment {path.name} ({exc}): rebuilt from the rows by a repair")
            continue
        try:
            ids = np.asarray(segment.ids)
            report.counts["segment_vectors"] = int(ids.size)
            report.problem("segment_duplicates", int(ids.size - np.unique(ids).size),
                           f"chunk ids stored twice in {path.name}")
            report.problem("segment_unsorted", int(np.count_nonzero(np.diff(ids) < 0)),
                           f"chunk ids out of order in {path.name}: lookups in it fail")
            report.counts["segment_tombstones"] = int(np.setdiff1d(ids, chunks).size)  # deleted since: normal
            report.counts["segment_delta"] = int(np.setdiff1d(chunks, ids).size)  # written since: normal
        finally:
            segment.close()
        return True
    return False


def repair(store: SqliteStore, report: ConsistencyReport, rebuild_index: Callable[[], int]) -> None:
    """Rebuild from the rows what the report found wrong (the caller holds the writer lock)."""
    names = {p.name for p in report.problems}
    db = store.db
    if names & {"lexical_missing", "lexical_orphans", "chunks_without_document", "chunk_count_wrong"}:
        db.execute("BEGIN IMMEDIATE")
        try:
            gone = db.execute("DELETE FROM chunks WHERE doc_id NOT IN (SELECT doc_id FROM documents)").rowcount
            db.execute("DELETE FROM chunk_terms WHERE rowid NOT IN (SELECT chunk_id FROM chunks)")
            rows = db.execute("SELECT chunk_id, text, lang FROM chunks WHERE chunk_id NOT IN "
                              "(SELECT rowid FROM chunk_terms)").fetchall()
            sqlite_lexical.add_chunks(db, [(r[0], r[1], r[2]) for r in rows])
            fixed = db.execute("UPDATE documents SET n_chunks = (SELECT count(*) FROM chunks c "
                               "WHERE c.doc_id = documents.doc_id) WHERE n_chunks != (SELECT count(*) "
                               "FROM chunks c WHERE c.doc_id = documents.doc_id)").rowcount
            db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        report.repaired.append(f"lexical index: {len(rows)} entries added, orphans removed; {gone} chunks "
                               f"without a document removed; {fixed} document chunk counts corrected")
    if store.get_meta("dim") and (names & {"file_duplicates", "file_missing", "file_orphans", "index_duplicates",
                                             "index_missing", "index_orphans", "segment_duplicates",
                                             "segment_unsorted"} or report.notes):
        count = rebuild_index()
        report.repaired.append(f"vector index rebuilt from the stored vectors: {count} vectors")
