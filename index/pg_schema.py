"""Versioned schema migrations of the PostgreSQL backend, applied in order under an advisory lock."""

from __future__ import annotations

from typing import Any

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
]

LOCK_KEY = 7_340_001  # pg_advisory_xact_lock key serialising migrations across processes


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
        "DROP INDEX IF EXISTS chunks_embedding_hnsw",
        f"CREATE INDEX chunks_embedding_hnsw ON chunks USING hnsw ((embedding::vector({dim})) vector_cosine_ops) "
        "WITH (m = 16, ef_construction = 64)",
    ]
