"""The SQLite half of the embedded backend: documents, chunks, the vector cache and metadata in one file.

SQLite is the source of truth. The FAISS file is derived from it and can always be rebuilt; every write bumps
the `generation` counter in the same transaction, so a FAISS file knows which state of the store it reflects.
The lexical index (`sqlite_lexical.py`, an FTS5 table) lives in the same file and is written in the same
transactions as the chunks. Schema 2 added it; opening a schema-1 store fills it from the existing chunks.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path

import numpy as np

from index.records import ChunkRecord, Deletion, DocumentRecord, NewChunk, SearchFilters
from index.store.base import check_precondition
from index.store.embedded import lexical as sqlite_lexical
from index.store.embedded.schema import (
    CHUNK_COLUMNS,
    SCHEMA,
    SCHEMA_VERSION,
    add_missing_columns,
    chunk_from_row,
    doc_from_row,
)
from index.store.filter_sql import filter_clause
from index.store.generation_cache import GenerationCache
from index.store.statistics import LanguageStatistics, estimate_statistics
from pedkb.errors import StoreError

PASSING_IDS_BUDGET = 4_000_000  # chunk ids of recent filters kept (8 bytes each: 32 MB at most)
_SET_META = "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value"


class SqliteStore:
    """Documents, chunks and cached vectors in one SQLite file (WAL mode, safe for concurrent readers)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: dict[int, tuple[threading.Thread, sqlite3.Connection]] = {}
        self._guard = threading.Lock()
        self.term_scores = sqlite_lexical.TermScores()  # common terms' BM25 scores at the current generation
        # per filter, the chunk ids passing it (`passing_ids`)
        self.passing: GenerationCache[np.ndarray] = GenerationCache(PASSING_IDS_BUDGET, lambda ids: ids.size + 1)
        try:
            self.db.executescript(SCHEMA)
            add_missing_columns(self.db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: not a usable pedkb store ({exc})") from exc
        version = self.get_meta("schema_version")
        if version is not None and int(version) > SCHEMA_VERSION:
            raise StoreError(f"{path}: store schema {version} is newer than this pedkb ({SCHEMA_VERSION})")
        try:
            self.db.executescript(sqlite_lexical.LEXICAL_SCHEMA)
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{path}: this SQLite build has no FTS5, which the lexical index needs ({exc})") from exc
        sqlite_lexical.ensure_current(self.db)
        if version is None or int(version) < SCHEMA_VERSION:
            self.set_meta("schema_version", str(SCHEMA_VERSION))

    # --- connections: one per thread -------------------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        """The calling thread's connection (opened on first use): a transaction of one thread never sees or
        ends another thread's statements; WAL lets them all read while one writes."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            self._local.db = db
            with self._guard:
                for ident, (thread, old) in list(self._connections.items()):
                    if not thread.is_alive():  # a finished request thread: its connection is idle for good
                        old.close()
                        del self._connections[ident]
                self._connections[threading.get_ident()] = (threading.current_thread(), db)
        return db

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable pedkb store ({exc})") from exc
        return db

    # --- metadata --------------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A metadata value or None."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Set a metadata value."""
        self.db.execute(_SET_META, (key, value))

    def set_metas(self, values: Mapping[str, str]) -> None:
        """Set several metadata values in one transaction."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(_SET_META, list(values.items()))
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def generation(self) -> int:
        """How many vector-changing writes the store has seen."""
        value = self.get_meta("generation")
        return int(value) if value else 0

    def _bump_generation(self) -> None:
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES ('generation', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    # --- writes ----------------------------------------------------------------------------------------------
    def put_document(self, doc: DocumentRecord, chunks: Sequence[NewChunk],
                     must_exist: bool | None = None,
                     expect_sha256: str | None = None) -> tuple[DocumentRecord, list[int], list[int]]:
        """Insert or replace a document and its chunks in one transaction; returns (doc, removed ids, new ids).
        `must_exist` True or False makes it an update or a creation only (`check_precondition`)."""
        now = time.time()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            old = self.db.execute("SELECT created, seq, sha256 FROM documents WHERE doc_id = ?",
                                  (doc.doc_id,)).fetchone()
            check_precondition(doc.doc_id, old is not None, must_exist, expect_sha256=expect_sha256,
                               current_sha256=None if old is None else old["sha256"])
            removed = [r[0] for r in self.db.execute("SELECT chunk_id FROM chunks WHERE doc_id = ?", (doc.doc_id,))]
            self.db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc.doc_id,))
            if old is None:
                seq = self.db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM documents").fetchone()[0]
                doc.created = now
            else:
                seq = old["seq"]
                doc.created = old["created"]
            doc.updated = now
            doc.n_chunks = len(chunks)
            self.db.execute(
                "INSERT OR REPLACE INTO documents(doc_id, seq, source, title, fmt, sha256, size, kind, languages, "
                "n_chunks, created, updated, meta) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (doc.doc_id, seq, doc.source, doc.title, doc.fmt, doc.sha256, doc.size, doc.kind,
                 json.dumps(doc.languages), doc.n_chunks, doc.created, doc.updated,
                 json.dumps(doc.meta, ensure_ascii=False)),
            )
            self.db.execute("DELETE FROM facets WHERE doc_id = ?", (doc.doc_id,))
            self.db.execute("DELETE FROM deletions WHERE doc_id = ?", (doc.doc_id,))
            self.db.executemany(
                "INSERT OR IGNORE INTO facets(doc_id, facet, value) VALUES (?, ?, ?)",
                [(doc.doc_id, facet, str(value)) for facet, values in doc.stored_facets().items()
                 for value in values],
            )
            self.db.executemany(
                "INSERT OR IGNORE INTO vectors(key, vector) VALUES (?, ?)",
                [(c.vector_key, np.asarray(c.vector, dtype=np.float32).tobytes()) for c in chunks],
            )
            added: list[int] = []
            for c in chunks:
                cur = self.db.execute(
                    'INSERT INTO chunks(doc_id, ordinal, text, lang, page, start, "end", n_tokens, vector_key, ocr, '
                    "ocr_confidence) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (doc.doc_id, c.ordinal, c.text, c.lang, c.page, c.start, c.end, c.n_tokens, c.vector_key,
                     int(c.ocr), c.ocr_confidence),
                )
                added.append(int(cur.lastrowid or 0))
            sqlite_lexical.remove_chunks(self.db, removed)
            sqlite_lexical.add_chunks(self.db, [(cid, c.text, c.lang) for cid, c in zip(added, chunks, strict=True)])
            self._bump_generation()
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return doc, removed, added

    def delete_document(self, doc_id: str) -> list[int] | None:
        """Delete a document; returns the removed chunk ids, or None when it did not exist."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if self.db.execute("SELECT 1 FROM documents WHERE doc_id = ?", (doc_id,)).fetchone() is None:
                self.db.execute("ROLLBACK")
                return None
            removed = [r[0] for r in self.db.execute("SELECT chunk_id FROM chunks WHERE doc_id = ?", (doc_id,))]
            self._remember_deletion(doc_id)
            self.db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
            sqlite_lexical.remove_chunks(self.db, removed)
            self.db.execute("DELETE FROM facets WHERE doc_id = ?", (doc_id,))
            self.db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
            self._bump_generation()
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return removed

    def _remember_deletion(self, doc_id: str) -> None:
        """Inside a delete: keep the item's kind and facets with the time it went (`deletions`)."""
        kind = self.db.execute("SELECT kind FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()[0]
        facets: dict[str, list[str]] = {}
        for row in self.db.execute("SELECT facet, value FROM facets WHERE doc_id = ? ORDER BY facet, value",
                                   (doc_id,)):
            facets.setdefault(row[0], []).append(row[1])
        self.db.execute("INSERT OR REPLACE INTO deletions(doc_id, kind, deleted, facets) VALUES (?, ?, ?, ?)",
                        (doc_id, kind, time.time(), json.dumps(facets, ensure_ascii=False)))

    def deletions(self, kind: str | None = None) -> list[Deletion]:
        """The remembered deletions, oldest first."""
        sql = "SELECT doc_id, kind, deleted, facets FROM deletions"
        rows = self.db.execute(f"{sql} ORDER BY deleted, doc_id" if kind is None else
                               f"{sql} WHERE kind = ? ORDER BY deleted, doc_id", () if kind is None else (kind,))
        return [Deletion(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    def restore_deletions(self, items: Sequence[Deletion]) -> None:
        """Remember deletions copied from another store (not of ids that exist here)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(
                "INSERT OR REPLACE INTO deletions(doc_id, kind, deleted, facets) SELECT ?, ?, ?, ? "
                "WHERE NOT EXISTS (SELECT 1 FROM documents WHERE doc_id = ?)",
                [(d.doc_id, d.kind, d.deleted, json.dumps(d.facets, ensure_ascii=False), d.doc_id) for d in items])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def store_vectors(self, items: Sequence[tuple[str, np.ndarray]]) -> None:
        """Add vectors to the cache (no chunk points at them yet, so no generation bump)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(
                "INSERT OR IGNORE INTO vectors(key, vector) VALUES (?, ?)",
                [(key, np.asarray(vec, dtype=np.float32).tobytes()) for key, vec in items],
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def switch_model(self, meta: dict[str, str], assignments: Sequence[tuple[int, str]]) -> None:
        """Point chunks at new vectors and record the new model metadata in one transaction."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany("UPDATE chunks SET vector_key = ? WHERE chunk_id = ?",
                                [(key, cid) for cid, key in assignments])
            for key, value in meta.items():
                self.set_meta(key, value)
            self._bump_generation()
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    # --- reads -----------------------------------------------------------------------------------------------
    def _with_facets(self, docs: list[DocumentRecord]) -> list[DocumentRecord]:
        by_id = {d.doc_id: d for d in docs}
        ids = list(by_id)
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            marks = ",".join("?" * len(part))
            for doc_id, facet, value in self.db.execute(
                f"SELECT doc_id, facet, value FROM facets WHERE doc_id IN ({marks}) AND facet != 'lang' "
                "ORDER BY rowid", part,
            ):
                by_id[doc_id].facets.setdefault(facet, []).append(value)
        return docs

    def get_document(self, doc_id: str) -> DocumentRecord | None:
        """A document by id."""
        row = self.db.execute("SELECT * FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return None if row is None else self._with_facets([doc_from_row(row)])[0]

    def get_documents(self, doc_ids: Sequence[str]) -> dict[str, DocumentRecord]:
        """Documents by id."""
        out: dict[str, DocumentRecord] = {}
        ids = list(dict.fromkeys(doc_ids))
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            marks = ",".join("?" * len(part))
            for row in self.db.execute(f"SELECT * FROM documents WHERE doc_id IN ({marks})", part):
                out[row["doc_id"]] = doc_from_row(row)
        self._with_facets(list(out.values()))
        return out

    def list_documents(self, kind: str | None = None) -> list[DocumentRecord]:
        """All documents (optionally of one kind) in insertion order."""
        if kind is None:
            rows = self.db.execute("SELECT * FROM documents ORDER BY seq")
        else:
            rows = self.db.execute("SELECT * FROM documents WHERE kind = ? ORDER BY seq", (kind,))
        return self._with_facets([doc_from_row(r) for r in rows])

    def get_chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        """Chunks by id."""
        out: dict[int, ChunkRecord] = {}
        ids = [int(i) for i in chunk_ids]
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            marks = ",".join("?" * len(part))
            for row in self.db.execute(f"SELECT {CHUNK_COLUMNS} FROM chunks WHERE chunk_id IN ({marks})", part):
                out[row["chunk_id"]] = chunk_from_row(row)
        return out

    def export_document(self, doc_id: str) -> tuple[DocumentRecord, list[NewChunk]] | None:
        """A document with its chunks and vectors."""
        doc = self.get_document(doc_id)
        if doc is None:
            return None
        rows = self.db.execute(
            'SELECT c.ordinal, c.text, c.lang, c.page, c.start, c."end", c.n_tokens, c.vector_key, v.vector, c.ocr, '
            "c.ocr_confidence FROM chunks c JOIN vectors v ON v.key = c.vector_key WHERE c.doc_id = ? "
            "ORDER BY c.ordinal", (doc_id,))
        chunks = [NewChunk(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], np.frombuffer(r[8], dtype=np.float32),
                           ocr=bool(r[9]), ocr_confidence=r[10]) for r in rows]
        return doc, chunks

    def document_chunks(self, doc_id: str) -> list[ChunkRecord]:
        """A document's chunks in order."""
        rows = self.db.execute(f"SELECT {CHUNK_COLUMNS} FROM chunks WHERE doc_id = ? ORDER BY ordinal", (doc_id,))
        return [chunk_from_row(r) for r in rows]

    def iter_chunks(self, batch: int = 512) -> Iterator[list[ChunkRecord]]:
        """All chunks in id order, in batches."""
        last = -1
        while True:
            rows = self.db.execute(
                f"SELECT {CHUNK_COLUMNS} FROM chunks WHERE chunk_id > ? ORDER BY chunk_id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            yield [chunk_from_row(r) for r in rows]
            last = rows[-1]["chunk_id"]

    def cached_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached vectors by content key."""
        out: dict[str, np.ndarray] = {}
        uniq = list(dict.fromkeys(keys))
        for start in range(0, len(uniq), 500):
            part = uniq[start:start + 500]
            marks = ",".join("?" * len(part))
            for key, blob in self.db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", part):
                out[key] = np.frombuffer(blob, dtype=np.float32)
        return out

    def chunk_ids(self) -> np.ndarray:
        """Every chunk id, as int64."""
        rows = self.db.execute("SELECT chunk_id FROM chunks").fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def chunk_vectors(self, chunk_ids: Sequence[int], dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) for these chunks, read from the vector cache."""
        ids_out: list[int] = []
        vecs: list[bytes] = []
        ids = [int(i) for i in chunk_ids]
        for start in range(0, len(ids), 900):
            part = ids[start:start + 900]
            marks = ",".join("?" * len(part))
            for cid, blob in self.db.execute(
                f"SELECT c.chunk_id, v.vector FROM chunks c JOIN vectors v ON v.key = c.vector_key "
                f"WHERE c.chunk_id IN ({marks})", part,
            ):
                ids_out.append(cid)
                vecs.append(blob)
        matrix = np.frombuffer(b"".join(vecs), dtype=np.float32).reshape(len(vecs), dim) if vecs else \
            np.zeros((0, dim), dtype=np.float32)
        return np.asarray(ids_out, dtype=np.int64), matrix

    def reader(self) -> sqlite3.Connection:
        """A read-only connection of its own to the store's file, for the thread that opens it: work there neither
        waits for nor holds up this store's connection (WAL lets it read while this one writes). The caller closes
        it."""
        db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=rw", uri=True, timeout=60.0, isolation_level=None)
        db.execute("PRAGMA query_only=ON")
        return db

    def language_statistics(self, db: sqlite3.Connection | None = None) -> tuple[dict[str, LanguageStatistics], bool]:
        """Count, mean and covariance of the chunk vectors per chunk language (`estimate_statistics`: a large
        store is sampled by chunk id), read on `db` (a `reader()`) or this store's connection; returns
        (statistics, sampled)."""
        db = self.db if db is None else db
        counts = dict(db.execute("SELECT lang, COUNT(*) FROM chunks GROUP BY lang").fetchall())

        def read(langs: Sequence[str], fraction: float) -> Iterator[tuple[str, np.ndarray]]:
            step = max(1, round(1 / fraction))
            sql = (f"SELECT c.lang, v.vector FROM chunks c JOIN vectors v ON v.key = c.vector_key "
                   f"WHERE c.lang IN ({','.join('?' * len(langs))}) AND c.chunk_id % ? = 0")
            for lang, blob in db.execute(sql, [*langs, step]):
                yield lang, np.frombuffer(blob, dtype=np.float32)

        return estimate_statistics(counts, read)

    def lexical_search(self, terms: Sequence[str], k: int,
                       filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """BM25 over the analysed chunk terms, as (chunk_id, score) best first (common terms' scores kept for the
        store's generation: `lexical.TermScores`)."""
        generation = self.generation()
        passing = None if filters is None else partial(self.passing_ids, filters, generation)
        return sqlite_lexical.search(self.db, terms, k, filters, self.term_scores, generation, passing)

    def warm_terms(self, seconds: float) -> int:
        """Keep the most common terms' scores before searches ask for them (`TermScores.prefill`)."""
        return self.term_scores.prefill(self.db, self.generation(), seconds)

    def passing_ids(self, filters: SearchFilters, generation: int) -> np.ndarray:
        """The ids of the chunks passing `filters`, sorted, read once per filter and store generation (searches with
        a filter check their candidates against them in memory)."""
        return self.passing.get(filters, generation, lambda: np.sort(self.filtered_chunk_ids(filters)))

    def filtered_chunk_ids(self, filters: SearchFilters) -> np.ndarray:
        """Ids of the chunks that pass the filters."""
        where, params = filter_clause(filters, chunk_level=True)
        sql = "SELECT c.chunk_id FROM chunks c JOIN documents d ON d.doc_id = c.doc_id"
        if where:
            sql += " WHERE " + where
        rows = self.db.execute(sql, params).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def filter_documents(self, filters: SearchFilters, offset: int = 0,
                         limit: int | None = None) -> tuple[list[DocumentRecord], int]:
        """Documents passing the filters in insertion order: (one page, total count)."""
        where, params = filter_clause(filters, chunk_level=False)
        clause = f" WHERE {where}" if where else ""
        total = self.db.execute(f"SELECT COUNT(*) FROM documents d{clause}", params).fetchone()[0]
        sql = f"SELECT d.* FROM documents d{clause} ORDER BY d.seq LIMIT ? OFFSET ?"
        rows = self.db.execute(sql, [*params, -1 if limit is None else limit, offset]).fetchall()
        return self._with_facets([doc_from_row(r) for r in rows]), int(total)

    def stats(self) -> dict[str, object]:
        """Counts per kind and per chunk language."""
        kinds = {r[0]: r[1] for r in self.db.execute("SELECT kind, COUNT(*) FROM documents GROUP BY kind")}
        langs = {r[0]: r[1] for r in self.db.execute("SELECT lang, COUNT(*) FROM chunks GROUP BY lang")}
        n_chunks = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return {"documents": kinds, "chunks": n_chunks, "chunk_languages": langs}

    def close(self) -> None:
        """Close every thread's connection."""
        with self._guard:
            for _, db in self._connections.values():
                db.close()
            self._connections.clear()
        self._local = threading.local()
