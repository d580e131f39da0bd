"""The embedded store's SQLite schema (version 2 added the lexical index) and its rows as records."""

from __future__ import annotations

import json
import sqlite3

from index.records import ChunkRecord, DocumentRecord

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    source TEXT NOT NULL,
    title TEXT,
    fmt TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    kind TEXT NOT NULL DEFAULT 'document',
    languages TEXT NOT NULL DEFAULT '[]',
    n_chunks INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS documents_kind ON documents(kind, seq);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    lang TEXT NOT NULL,
    page INTEGER,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    n_tokens INTEGER NOT NULL,
    vector_key TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id, ordinal);
CREATE INDEX IF NOT EXISTS chunks_lang ON chunks(lang);
CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS facets (
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (doc_id, facet, value)
);
CREATE INDEX IF NOT EXISTS facets_lookup ON facets(facet, value);
"""

CHUNK_COLUMNS = 'chunk_id, doc_id, ordinal, text, lang, page, start, "end", n_tokens'


def doc_from_row(row: sqlite3.Row) -> DocumentRecord:
    """A document from its row (facets are read apart)."""
    return DocumentRecord(
        doc_id=row["doc_id"],
        source=row["source"],
        title=row["title"],
        fmt=row["fmt"],
        sha256=row["sha256"],
        size=row["size"],
        kind=row["kind"],
        languages=json.loads(row["languages"]),
        n_chunks=row["n_chunks"],
        created=row["created"],
        updated=row["updated"],
        meta=json.loads(row["meta"]),
    )


def chunk_from_row(row: sqlite3.Row) -> ChunkRecord:
    """A chunk from its row."""
    return ChunkRecord(
        chunk_id=row["chunk_id"],
        doc_id=row["doc_id"],
        ordinal=row["ordinal"],
        text=row["text"],
        lang=row["lang"],
        page=row["page"],
        start=row["start"],
        end=row["end"],
        n_tokens=row["n_tokens"],
    )
