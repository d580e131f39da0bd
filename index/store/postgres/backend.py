"""The PostgreSQL + pgvector backend: the same behaviour as the embedded one, on a server people already run.

Vectors live in a pgvector column with an HNSW cosine index, filters are the embedded store's SQL (`filter_sql.py`);
each write is one transaction behind the writer lock (`integrity.begin_write`), chunks and postings by COPY. Reads
can go to a replica (`read_url`), writes and the reads deciding them to the primary; `bulk_loading()` defers the HNSW
index to the end of a large load."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from index.records import ChunkRecord, Deletion, DocumentRecord, NewChunk, SearchFilters
from index.store.base import WEIGHTS_META, Backend
from index.store.consistency import ConsistencyReport
from index.store.filter_sql import filter_clause
from index.store.postgres import integrity
from index.store.postgres import rows as pg_rows
from index.store.postgres import search as pg_search
from index.store.postgres.rows import (
    CHUNK_COLUMNS,
    CHUNK_COPY,
    CHUNK_TYPES,
    DOC_COLUMNS,
    array_of,
    chunk_of,
    doc_of,
    safe_url,
)
from index.store.postgres.schema import (
    BULK_LOCK_KEY,
    VECTOR_INDEX,
    build_vector_index,
    has_vector_index,
    index_new_dimension,
    migrate,
    restore_vector_index,
)
from index.store.statistics import LanguageStatistics, StatisticsCache
from pedkb.errors import StoreError

log = logging.getLogger(__name__)


# Inside a delete: keep the item's kind and facets with the time it went (for harvesters, docs/harvesting.md).
REMEMBER_DELETION = (
    "INSERT INTO deletions (doc_id, kind, deleted, facets) SELECT d.doc_id, d.kind, %s, COALESCE((SELECT "
    "jsonb_object_agg(facet, vals) FROM (SELECT facet, jsonb_agg(value ORDER BY value) AS vals FROM facets "
    "WHERE doc_id = d.doc_id GROUP BY facet) f), '{}'::jsonb) FROM documents d WHERE d.doc_id = %s "
    "ON CONFLICT (doc_id) DO UPDATE SET kind = EXCLUDED.kind, deleted = EXCLUDED.deleted, facets = EXCLUDED.facets"
)

class PgBackend(Backend):
    """Documents, chunks and vectors in PostgreSQL with pgvector."""

    def __init__(self, url: str, read_url: str | None = None, pool_size: int = 8, index_memory: str = "1GB",
                 index_workers: int = 2) -> None:
        try:
            import psycopg
            from pgvector.psycopg import register_vector
            from psycopg_pool import ConnectionPool
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise StoreError("the PostgreSQL backend needs the `pg` extra: pip install 'pedkb[pg]'") from exc
        self.url = url
        self.index_memory = index_memory
        self.index_workers = index_workers
        self._bulk_depth = 0
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                self.schema_version = migrate(conn)
                pg_search.ensure_lexical_index(conn)
                restore_vector_index(conn, self._dim(conn), index_memory, index_workers)
        except psycopg.Error as exc:
            raise StoreError(f"{safe_url(url)}: cannot open the database ({exc})") from exc

        def configure(conn: Any) -> None:
            register_vector(conn)

        def pool(target: str) -> Any:
            return ConnectionPool(target, min_size=1, max_size=pool_size, kwargs={"autocommit": True},
                                  configure=configure, open=True, name=safe_url(target))

        self._pool = pool(url)
        self._read_pool = pool(read_url) if read_url else self._pool
        self._read_url = read_url or url
        self._centroids: tuple[int, dict[str, tuple[np.ndarray, int]]] | None = None
        self._statistics = StatisticsCache()

    # --- helpers -----------------------------------------------------------------------------------------------
    def _write(self) -> Any:
        return self._pool.connection()

    def _read(self) -> Any:
        return self._read_pool.connection()

    @staticmethod
    def _bump(conn: Any) -> None:
        conn.execute("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'generation'")

    def _with_facets(self, conn: Any, docs: list[DocumentRecord]) -> list[DocumentRecord]:
        if not docs:
            return docs
        by_id = {d.doc_id: d for d in docs}
        rows = conn.execute("SELECT doc_id, facet, value FROM facets WHERE doc_id = ANY(%s) AND facet <> 'lang' "
                            "ORDER BY doc_id, facet, ctid", (list(by_id),))
        for doc_id, facet, value in rows:
            by_id[doc_id].facets.setdefault(facet, []).append(value)
        return docs

    def _dim(self, conn: Any) -> int | None:
        row = conn.execute("SELECT value FROM meta WHERE key = 'dim'").fetchone()
        return int(row[0]) if row else None

    def _build_vector_index(self, conn: Any, dim: int) -> None:
        build_vector_index(conn, dim, self.index_memory, self.index_workers)

    # --- metadata ------------------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A metadata value."""
        with self._read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Set a metadata value; recording a new dimension builds the HNSW index for it (at the end of a bulk load)."""
        with self._write() as conn, conn.transaction():
            integrity.begin_write(conn)  # two first writes never build the vector index at once
            self._put_meta(conn, key, value)

    def _put_meta(self, conn: Any, key: str, value: str) -> None:
        unchanged = key == "dim" and self._dim(conn) == int(value) and has_vector_index(conn)
        conn.execute("INSERT INTO meta (key, value) VALUES (%s, %s) "
                     "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (key, value))
        if key == "dim" and not unchanged:
            if self._bulk_depth:
                conn.execute(f"DROP INDEX IF EXISTS {VECTOR_INDEX}")
            else:
                self._build_vector_index(conn, int(value))

    def claim_meta(self, values: Mapping[str, str]) -> bool:
        """Record the embedding space in one transaction unless a model is recorded (see `Backend.claim_meta`)."""
        with self._write() as conn, conn.transaction():
            integrity.begin_write(conn)
            if conn.execute("SELECT 1 FROM meta WHERE key = 'model'").fetchone() is not None:
                return False
            for key, value in values.items():
                self._put_meta(conn, key, value)
        return True

    @contextlib.contextmanager
    def bulk_loading(self) -> Iterator[None]:
        """Load many documents fast: the HNSW index is dropped for the block and built once at its end (also when
        the block raises; if the process dies, by the next opener). Searches scan meanwhile; the build blocks
        writers, not readers. A session advisory lock marks the load: a second one waits, openers do not rebuild
        under it. Documents are still written one transaction each: the block is not a transaction."""
        if self._bulk_depth:
            self._bulk_depth += 1
            try:
                yield
            finally:
                self._bulk_depth -= 1
            return
        with self._write() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (BULK_LOCK_KEY,))
            try:
                conn.execute(f"DROP INDEX IF EXISTS {VECTOR_INDEX}")
                self._bulk_depth = 1
                try:
                    yield
                finally:
                    self._bulk_depth = 0
                    dim = self._dim(conn)
                    if dim is not None and not has_vector_index(conn):
                        started = time.perf_counter()
                        with conn.transaction():
                            self._build_vector_index(conn, dim)
                        log.info("vector index built in %.1f s", time.perf_counter() - started)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (BULK_LOCK_KEY,))

    # --- documents -----------------------------------------------------------------------------------------------
    def put_document(self, doc: DocumentRecord, chunks: Sequence[NewChunk], *,
                     must_exist: bool | None = None, expect_sha256: str | None = None) -> DocumentRecord:
        """Insert or replace a document and its chunks in one transaction, as the only writer at that moment."""
        now = time.time()
        with self._write() as conn, conn.transaction():
            created = integrity.begin_write(conn, doc.doc_id, must_exist, expect_sha256)
            doc.created = now if created is None else created
            doc.updated = now
            doc.n_chunks = len(chunks)
            conn.execute("DELETE FROM chunks WHERE doc_id = %s", (doc.doc_id,))
            conn.execute(
                f"INSERT INTO documents ({DOC_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
                "ON CONFLICT (doc_id) DO UPDATE SET source = EXCLUDED.source, title = EXCLUDED.title, "
                "fmt = EXCLUDED.fmt, sha256 = EXCLUDED.sha256, size = EXCLUDED.size, kind = EXCLUDED.kind, "
                "languages = EXCLUDED.languages, n_chunks = EXCLUDED.n_chunks, updated = EXCLUDED.updated, "
                "meta = EXCLUDED.meta",
                (doc.doc_id, doc.source, doc.title, doc.fmt, doc.sha256, doc.size, doc.kind,
                 json.dumps(doc.languages), doc.n_chunks, doc.created, doc.updated,
                 json.dumps(doc.meta, ensure_ascii=False)),
            )
            conn.execute("DELETE FROM facets WHERE doc_id = %s", (doc.doc_id,))
            conn.execute("DELETE FROM deletions WHERE doc_id = %s", (doc.doc_id,))
            terms = [pg_search.chunk_terms(c.text, c.lang) for c in chunks]
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO facets (doc_id, facet, value) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                                [(doc.doc_id, f, str(v)) for f, values in doc.stored_facets().items() for v in values])
                with cur.copy(CHUNK_COPY) as copy:
                    copy.set_types(CHUNK_TYPES)
                    for c, counts in zip(chunks, terms, strict=True):
                        copy.write_row(pg_rows.copy_row(doc.doc_id, c, sum(counts.values())))
            conn.execute("INSERT INTO vectors (key, vector) SELECT DISTINCT ON (vector_key) vector_key, embedding "
                         "FROM chunks WHERE doc_id = %s ORDER BY vector_key, chunk_id ON CONFLICT DO NOTHING",
                         (doc.doc_id,))
            pg_search.index_document(conn, doc.doc_id, terms)
            self._bump(conn)
        return doc

    def delete_document(self, doc_id: str) -> bool:
        """Delete a document with its chunks and facets."""
        with self._write() as conn, conn.transaction():
            integrity.begin_write(conn)
            conn.execute(REMEMBER_DELETION, (time.time(), doc_id))
            gone = conn.execute("DELETE FROM documents WHERE doc_id = %s", (doc_id,)).rowcount
            if gone:
                self._bump(conn)
        return bool(gone)

    def deletions(self, kind: str | None = None) -> list[Deletion]:
        """The remembered deletions, oldest first."""
        sql = "SELECT doc_id, kind, deleted, facets FROM deletions"
        with self._read() as conn:
            rows = conn.execute(f"{sql} ORDER BY deleted, doc_id" if kind is None else
                                f"{sql} WHERE kind = %s ORDER BY deleted, doc_id",
                                () if kind is None else (kind,)).fetchall()
        return [Deletion(r[0], r[1], float(r[2]), dict(r[3])) for r in rows]

    def restore_deletions(self, items: Sequence[Deletion]) -> None:
        """Remember deletions copied from another store (not of ids that exist here)."""
        with self._write() as conn, conn.transaction():
            integrity.begin_write(conn)
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO deletions (doc_id, kind, deleted, facets) SELECT %s, %s, %s, %s "
                    "WHERE NOT EXISTS (SELECT 1 FROM documents WHERE doc_id = %s) ON CONFLICT (doc_id) DO UPDATE "
                    "SET kind = EXCLUDED.kind, deleted = EXCLUDED.deleted, facets = EXCLUDED.facets",
                    [(d.doc_id, d.kind, d.deleted, json.dumps(d.facets, ensure_ascii=False), d.doc_id)
                     for d in items])

    def get_document(self, doc_id: str) -> DocumentRecord | None:
        """A document by id, read from the primary (callers decide writes on it)."""
        with self._write() as conn:
            row = conn.execute(f"SELECT {DOC_COLUMNS} FROM documents WHERE doc_id = %s", (doc_id,)).fetchone()
            return None if row is None else self._with_facets(conn, [doc_of(row)])[0]

    def get_documents(self, doc_ids: Sequence[str]) -> dict[str, DocumentRecord]:
        """Documents by id."""
        with self._read() as conn:
            rows = conn.execute(f"SELECT {DOC_COLUMNS} FROM documents WHERE doc_id = ANY(%s)",
                                (list(dict.fromkeys(doc_ids)),)).fetchall()
            return {d.doc_id: d for d in self._with_facets(conn, [doc_of(r) for r in rows])}

    def list_documents(self, kind: str | None = None) -> list[DocumentRecord]:
        """All documents in insertion order."""
        with self._read() as conn:
            if kind is None:
                rows = conn.execute(f"SELECT {DOC_COLUMNS} FROM documents ORDER BY seq").fetchall()
            else:
                rows = conn.execute(f"SELECT {DOC_COLUMNS} FROM documents WHERE kind = %s ORDER BY seq",
                                    (kind,)).fetchall()
            return self._with_facets(conn, [doc_of(r) for r in rows])

    def export_document(self, doc_id: str) -> tuple[DocumentRecord, list[NewChunk]] | None:
        """A document with its chunks and vectors."""
        doc = self.get_document(doc_id)
        if doc is None:
            return None
        with self._write() as conn:
            rows = conn.execute(f"SELECT {pg_rows.EXPORT_COLUMNS} FROM chunks WHERE doc_id = %s ORDER BY ordinal",
                                (doc_id,)).fetchall()
        return doc, [pg_rows.new_chunk_of(r) for r in rows]

    def filter_documents(self, filters: SearchFilters, offset: int = 0,
                         limit: int | None = None) -> tuple[list[DocumentRecord], int]:
        """Documents passing the filters: (one page, total)."""
        where, params = filter_clause(filters, chunk_level=False, mark="%s")
        clause = f" WHERE {where}" if where else ""
        with self._read() as conn:
            total = conn.execute(f"SELECT count(*) FROM documents d{clause}", params).fetchone()[0]
            rows = conn.execute(f"SELECT {', '.join('d.' + c.strip() for c in DOC_COLUMNS.split(','))} "
                                f"FROM documents d{clause} ORDER BY d.seq LIMIT %s OFFSET %s",
                                [*params, limit, offset]).fetchall()
            return self._with_facets(conn, [doc_of(r) for r in rows]), int(total)

    def get_chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        """Chunks by id."""
        with self._read() as conn:
            rows = conn.execute(f"SELECT {CHUNK_COLUMNS} FROM chunks WHERE chunk_id = ANY(%s)",
                                ([int(i) for i in chunk_ids],)).fetchall()
        return {r[0]: chunk_of(r) for r in rows}

    def document_chunks(self, doc_id: str) -> list[ChunkRecord]:
        """A document's chunks in order."""
        with self._read() as conn:
            rows = conn.execute(f"SELECT {CHUNK_COLUMNS} FROM chunks WHERE doc_id = %s ORDER BY ordinal",
                                (doc_id,)).fetchall()
        return [chunk_of(r) for r in rows]

    # --- vectors -------------------------------------------------------------------------------------------------
    def cached_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached vectors by content key."""
        with self._write() as conn:
            rows = conn.execute("SELECT key, vector FROM vectors WHERE key = ANY(%s)",
                                (list(dict.fromkeys(keys)),)).fetchall()
        return {key: array_of(vec) for key, vec in rows}

    def search(self, query: np.ndarray, k: int, filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """Approximate nearest chunks by cosine through the HNSW index (iterative scan when filtered)."""
        if k <= 0:
            return []
        with self._read() as conn, conn.transaction():
            dim = self._dim(conn)
            if dim is None:
                return []
            if len(query) != dim:
                raise StoreError(f"query has {len(query)} dimensions, the index {dim}")
            conn.execute(f"SET LOCAL hnsw.ef_search = {min(1000, max(2 * k, 100))}")
            where, params = "", []  # type: tuple[str, list[object]]
            if filters is not None and not filters.is_empty():
                conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                where, params = filter_clause(filters, chunk_level=True, mark="%s")
            vec = np.asarray(query, dtype=np.float32)
            sql = (f"SELECT c.chunk_id, c.embedding::vector({dim}) <=> %s::vector({dim}) AS distance FROM chunks c "
                   "JOIN documents d ON d.doc_id = c.doc_id" + (f" WHERE {where}" if where else "") +
                   " ORDER BY distance LIMIT %s")
            rows = conn.execute(sql, [vec, *params, k]).fetchall()
        return sorted(((int(cid), 1.0 - float(dist)) for cid, dist in rows), key=lambda r: (-r[1], r[0]))

    def language_centroids(self) -> dict[str, tuple[np.ndarray, int]]:
        """Mean chunk vector per language, recomputed when the store changed."""
        with self._read() as conn:
            gen = int(conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
            if self._centroids is not None and self._centroids[0] == gen:
                return self._centroids[1]
            rows = conn.execute("SELECT lang, avg(embedding), count(*) FROM chunks GROUP BY lang").fetchall()
        means = {lang: (array_of(mean), int(n)) for lang, mean, n in rows}
        self._centroids = (gen, means)
        return means

    def language_statistics(self) -> dict[str, LanguageStatistics]:
        """Count, mean and covariance of the chunk vectors per language, recomputed when the store changed
        (`StatisticsCache`: a large store's sampled estimate is refreshed at most once a minute, in the background)."""
        with self._read() as conn:
            meta = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('generation', 'model', 'dim', %s)",
                                     (WEIGHTS_META,)))
            space = (meta.get("model"), meta.get("dim"), meta.get(WEIGHTS_META))
            return self._statistics.get(int(meta["generation"]), lambda: pg_search.language_statistics(conn),
                                        lambda: pg_search.statistics_on_own_connection(self._read_url),
                                        space=space)

    def lexical_search(self, terms: Sequence[str], k: int,
                       filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """BM25 over the analysed chunk terms, scored like the embedded store's FTS5 (pg_search.py)."""
        with self._read() as conn:
            return pg_search.lexical_search(conn, terms, k, filters)

    def iter_chunks(self, batch: int = 512) -> Iterator[list[ChunkRecord]]:
        """Every chunk in id order, in batches."""
        last = -1
        while True:
            with self._write() as conn:
                rows = conn.execute(f"SELECT {CHUNK_COLUMNS} FROM chunks WHERE chunk_id > %s ORDER BY chunk_id "
                                    "LIMIT %s", (last, batch)).fetchall()
            if not rows:
                return
            yield [chunk_of(r) for r in rows]
            last = rows[-1][0]

    def store_vectors(self, items: Sequence[tuple[str, np.ndarray]]) -> None:
        """Add vectors to the cache."""
        with self._write() as conn, conn.cursor() as cur:
            cur.executemany("INSERT INTO vectors (key, vector) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                            [(key, np.asarray(vec, dtype=np.float32)) for key, vec in items])

    def switch_model(self, model: str, dim: int, assignments: Sequence[tuple[int, str]],
                     weights: str | None = None) -> None:
        """Point every chunk at its new vector and record the model, in one transaction; rebuild the index in it
        (same dimension) or after the commit (another one: `schema.index_new_dimension`, since inside, the build
        would meet the old vectors any open snapshot keeps alive, and fail on their dimension)."""
        with self._write() as conn:
            with conn.transaction():
                integrity.begin_write(conn)
                same_dim = self._dim(conn) == dim
                conn.execute("CREATE TEMP TABLE reassign (chunk_id bigint, key text) ON COMMIT DROP")
                with conn.cursor().copy("COPY reassign (chunk_id, key) FROM STDIN") as copy:
                    for cid, key in assignments:
                        copy.write_row((cid, key))
                conn.execute(f"DROP INDEX IF EXISTS {VECTOR_INDEX}")
                conn.execute("UPDATE chunks c SET vector_key = r.key, embedding = v.vector FROM reassign r "
                             "JOIN vectors v ON v.key = r.key WHERE c.chunk_id = r.chunk_id")
                meta = {"model": model, "dim": str(dim), **({WEIGHTS_META: weights} if weights is not None else {})}
                for key, value in meta.items():
                    conn.execute("INSERT INTO meta (key, value) VALUES (%s, %s) "
                                 "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (key, value))
                if same_dim and not self._bulk_depth:
                    self._build_vector_index(conn, dim)
                self._bump(conn)
            if not same_dim and not self._bulk_depth:
                index_new_dimension(conn, dim, self.index_memory, self.index_workers)

    # --- upkeep --------------------------------------------------------------------------------------------------
    def check(self, *, quick: bool = False, repair: bool = False) -> ConsistencyReport:
        """Rows vs postings vs embeddings and the HNSW index, on the primary (`postgres/integrity.py`)."""
        with self._write() as conn:
            return integrity.check(conn, quick=quick, repair=repair, index=(self.index_memory, self.index_workers))

    def stats(self) -> dict[str, object]:
        """Counts and sizes."""
        with self._read() as conn:
            kinds = dict(conn.execute("SELECT kind, count(*) FROM documents GROUP BY kind").fetchall())
            langs = dict(conn.execute("SELECT lang, count(*) FROM chunks GROUP BY lang").fetchall())
            n_chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
            sizes = conn.execute("SELECT pg_total_relation_size('chunks') + pg_total_relation_size('documents') "
                                 "+ pg_total_relation_size('vectors') + pg_total_relation_size('facets'), "
                                 f"coalesce(pg_relation_size(to_regclass('{VECTOR_INDEX}')), 0)").fetchone()
        return {"documents": kinds, "chunks": int(n_chunks), "chunk_languages": langs, "vectors": int(n_chunks),
                "backend": "postgresql", "store_bytes": int(sizes[0]), "index_bytes": int(sizes[1])}

    def flush(self) -> None:
        """Nothing to flush: every write is committed."""

    def close(self) -> None:
        """Close the connection pools (after a statistics refresh under way, `StatisticsCache.close`)."""
        self._statistics.close()
        if self._read_pool is not self._pool:
            self._read_pool.close()
        self._pool.close()
