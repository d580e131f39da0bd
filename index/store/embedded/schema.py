"""The embedded store's SQLite schema (version 2 added the lexical index, 3 the OCR columns, 4 the deletions kept
for harvesters) and its rows as records."""

from __future__ import annotations

import json
import sqlite3

from index.records import ChunkRecord, DocumentRecord

SCHEMA_VERSION = 4

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
    vector_key TEXT NOT NULL,
    ocr INTEGER NOT NULL DEFAULT 0,
    ocr_confidence REAL
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
CREATE TABLE IF NOT EXISTS deletions (
    doc_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    deleted REAL NOT NULL,
    facets TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS deletions_kind ON deletions(kind, deleted);
"""

CHUNK_FIELDS = ("chunk_id", "doc_id", "ordinal", "text", "lang", "page", "start", "end", "n_tokens", "ocr",
                "ocr_confidence")
# Columns added after a store's chunks table was created, with their definitions (schema 3: OCR).
ADDED_CHUNK_COLUMNS = (("ocr", "INTEGER NOT NULL DEFAULT 0"), ("ocr_confidence", "REAL"))
CHUNK_COLUMNS = ", ".join(f'"{name}"' for name in CHUNK_FIELDS)
DOC_FIELDS = ("doc_id", "source", "title", "fmt", "sha256", "size", "kind", "languages", "n_chunks", "created",
              "updated", "meta")


def doc_from_row(row: sqlite3.Row) -> DocumentRecord:
    """A document from its row (facets are read apart); languages and meta are stored as JSON."""
    values = {name: row[name] for name in DOC_FIELDS}
    values["languages"], values["meta"] = json.loads(values["languages"]), json.loads(values["meta"])
    return DocumentRecord(**values)


def add_missing_columns(db: sqlite3.Connection) -> None:
    """Give the chunks table of a store made before schema 3 its OCR columns (existing chunks: not OCR)."""
    present = {row[1] for row in db.execute("PRAGMA table_info(chunks)")}
    for name, definition in ADDED_CHUNK_COLUMNS:
        if name not in present:
            db.execute(f"ALTER TABLE chunks ADD COLUMN {name} {definition}")


def chunk_from_row(row: sqlite3.Row) -> ChunkRecord:
    """A chunk from its row (`ocr` is stored as 0/1)."""
    values = {name: row[name] for name in CHUNK_FIELDS}
    values["ocr"] = bool(values["ocr"])
    return ChunkRecord(**values)
