"""Versioned schema migrations of the PostgreSQL backend, applied in order under an advisory lock, and the HNSW
vector index: its DDL, its build, its restoration after an interrupted bulk load."""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)

MIGRATIONS: list[tuple[int, str]] = [
    (1, """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE documents (
    doc_id text PRIMARY KEY,
    seq bigserial UNIQUE,
    source text NOT NULL,
    title text,
    fmt text NOT NULL,
    sha256 text NOT NULL,
    size bigint NOT NULL,
    kind text NOT NULL DEFAULT 'document',
    languages jsonb NOT NULL DEFAULT '[]',
    n_chunks integer NOT NULL DEFAULT 0,
    created double precision NOT NULL,
    updated double precision NOT NULL,
    meta jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX documents_kind ON documents (kind, seq);
CREATE TABLE chunks (
    chunk_id bigserial PRIMARY KEY,
    doc_id text NOT NULL REFERENCES documents (doc_id) ON DELETE CASCADE,
    ordinal integer NOT NULL,
    text text NOT NULL,
    lang text NOT NULL,
    page integer,
    start_offset integer NOT NULL,
    end_offset integer NOT NULL,
    n_tokens integer NOT NULL,
    vector_key text NOT NULL,
    embedding vector NOT NULL
);
CREATE INDEX chunks_doc ON chunks (doc_id, ordinal);
CREATE INDEX chunks_lang ON chunks (lang);
CREATE TABLE vectors (key text PRIMARY KEY, vector vector NOT NULL);
CREATE TABLE facets (
    doc_id text NOT NULL REFERENCES documents (doc_id) ON DELETE CASCADE,
    facet text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (doc_id, facet, value)
);
CREATE INDEX facets_lookup ON facets (facet, value);
INSERT INTO meta (key, value) VALUES ('generation', '0');
"""),
    (2, """
ALTER TABLE chunks ADD COLUMN n_terms integer;
CREATE TABLE chunk_terms (
    chunk_id bigint NOT NULL REFERENCES chunks (chunk_id) ON DELETE CASCADE,
    term text NOT NULL,
    tf integer NOT NULL,
    PRIMARY KEY (term, chunk_id)
);
CREATE INDEX chunk_terms_chunk ON chunk_terms (chunk_id);
"""),  # the lexical index (pg_search.py); existing chunks are indexed when the backend opens the database
    (3, """
ALTER TABLE chunks ADD COLUMN ocr boolean NOT NULL DEFAULT false;
ALTER TABLE chunks ADD COLUMN ocr_confidence double precision;
"""),  # passages read by OCR and the engine's confidence (docs/ocr.md); existing chunks are born-digital
    (4, """
CREATE TABLE search_log (
    search_id text PRIMARY KEY,
    at double precision NOT NULL,
    query text NOT NULL,
    lang text NOT NULL,
    mode text NOT NULL,
    filters text NOT NULL DEFAULT '{}',
    n_items integer NOT NULL,
    top_score double precision,
    no_close_match boolean NOT NULL,
    opened text,
    opened_at double precision
);
CREATE INDEX search_log_at ON search_log (at);
"""),  # the search log (index/searchlog.py, docs/analytics.md): no client address, no key
    (5, """
CREATE TABLE deletions (
    doc_id text PRIMARY KEY,
    kind text NOT NULL,
    deleted double precision NOT NULL,
    facets jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX deletions_kind ON deletions (kind, deleted);
"""),  # deleted items remembered for harvesters (docs/harvesting.md)
]

LOCK_KEY = 7_340_001  # pg_advisory_xact_lock key serialising migrations across processes
BULK_LOCK_KEY = 7_340_003  # session advisory lock held by a bulk load while the vector index is dropped
VECTOR_INDEX = "chunks_embedding_hnsw"


def migrate(conn: Any) -> int:
    """Apply the migrations the database lacks; returns the schema version."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                     "applied timestamptz NOT NULL DEFAULT now())")
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, sql in MIGRATIONS:
            if version not in done:
                conn.execute(sql)
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
    return max(v for v, _ in MIGRATIONS)


def hnsw_index_sql(dim: int) -> list[str]:
    """Statements that (re)build the HNSW cosine index for vectors of `dim` dimensions."""
    return [
        f"DROP INDEX IF EXISTS {VECTOR_INDEX}",
        f"CREATE INDEX {VECTOR_INDEX} ON chunks USING hnsw ((embedding::vector({dim})) vector_cosine_ops) "
        "WITH (m = 16, ef_construction = 64)",
    ]


def build_vector_index(conn: Any, dim: int, memory: str, workers: int) -> None:
    """(Re)build the HNSW index inside the current transaction with `memory` (maintenance_work_mem) and `workers`
    (max_parallel_maintenance_workers) for this build only; pgvector's notices (the graph outgrew the memory and
    the build goes on, slower, on disk) are logged as warnings."""
    def notice(diag: Any) -> None:
        log.warning("building the vector index: %s (index memory %s)", diag.message_primary, memory)

    conn.execute("SELECT set_config('maintenance_work_mem', %s, true), "
                 "set_config('max_parallel_maintenance_workers', %s, true)", (memory, str(workers)))
    drop, create = hnsw_index_sql(dim)
    conn.execute(drop)
    conn.add_notice_handler(notice)
    try:
        conn.execute(create)
    finally:
        conn.remove_notice_handler(notice)


def has_vector_index(conn: Any) -> bool:
    """True when the HNSW index exists."""
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (VECTOR_INDEX,)).fetchone()[0] is True


def restore_vector_index(conn: Any, dim: int | None, memory: str, workers: int, *, expected: bool = False) -> bool:
    """Build the HNSW index when it is missing, unless a bulk load is running (it builds it when it ends); True
    when the index exists afterwards.

    It goes missing when a bulk load's process died, or after a model switch to another dimension (`expected`:
    the switch builds it here itself and logs nothing unusual). `conn` is in autocommit mode; the bulk load's
    session advisory lock tells whether one is running, and makes concurrent openers build it once.
    """
    import psycopg

    if dim is None:
        return False
    if has_vector_index(conn):
        return True
    if not conn.execute("SELECT pg_try_advisory_lock(%s)", (BULK_LOCK_KEY,)).fetchone()[0]:
        return False
    try:
        if not has_vector_index(conn):
            if not expected:
                log.warning("the vector index is missing (an interrupted bulk load or model switch): rebuilding it")
            with conn.transaction():
                build_vector_index(conn, dim, memory, workers)
        return True
    except psycopg.errors.DataException as exc:  # a snapshot from before a model switch still sees old vectors
        log.log(logging.INFO if expected else logging.WARNING,
                "the vector index cannot be built yet (%s); searches scan every vector until it is", exc)
        return False
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (BULK_LOCK_KEY,))


SWITCH_INDEX_WAIT = 30.0  # seconds a dimension switch waits for older snapshots before it leaves the build


def index_new_dimension(conn: Any, dim: int, memory: str, workers: int) -> None:
    """Build the index of a new dimension once no snapshot sees the old vectors; meanwhile searches scan
    exactly (correct, slower). After SWITCH_INDEX_WAIT seconds of retrying, the next process that opens the
    database builds it (`restore_vector_index`, which this uses too: one build under its lock)."""
    waited, delay = 0.0, 0.25
    while not restore_vector_index(conn, dim, memory, workers, expected=True):
        if waited >= SWITCH_INDEX_WAIT:
            log.warning("the vector index for %d dimensions is not built: a transaction older than the model "
                        "switch still sees the old vectors; searches scan every vector until the next process "
                        "opening the database builds it", dim)
            return
        time.sleep(delay)
        waited, delay = waited + delay, min(delay * 2, 4.0)
