"""PostgreSQL rows as records: column lists, COPY layout and conversions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from index.records import ChunkRecord, DocumentRecord, NewChunk

DOC_COLUMNS = "doc_id, source, title, fmt, sha256, size, kind, languages, n_chunks, created, updated, meta"
CHUNK_COLUMNS = "chunk_id, doc_id, ordinal, text, lang, page, start_offset, end_offset, n_tokens, ocr, ocr_confidence"
CHUNK_COPY = ("COPY chunks (doc_id, ordinal, text, lang, page, start_offset, end_offset, n_tokens, n_terms, "
               "vector_key, embedding, ocr, ocr_confidence) FROM STDIN (FORMAT BINARY)")
CHUNK_TYPES = ["text", "int4", "text", "text", "int4", "int4", "int4", "int4", "int4", "text", "vector", "bool",
               "float8"]
EXPORT_COLUMNS = ("ordinal, text, lang, page, start_offset, end_offset, n_tokens, vector_key, embedding, ocr, "
                  "ocr_confidence")


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{':' + str(parts.port) if parts.port else ''}{parts.path}"


def array_of(value: Any) -> np.ndarray:
    """A pgvector value as a float32 array."""
    if hasattr(value, "to_numpy"):
        value = value.to_numpy()
    return np.asarray(value, dtype=np.float32)


def doc_of(row: Sequence[Any]) -> DocumentRecord:
    """A document from its row (facets are read apart)."""
    return DocumentRecord(doc_id=row[0], source=row[1], title=row[2], fmt=row[3], sha256=row[4], size=row[5],
                          kind=row[6], languages=list(row[7]), n_chunks=row[8], created=row[9], updated=row[10],
                          meta=dict(row[11]))


def chunk_of(row: Sequence[Any]) -> ChunkRecord:
    """A chunk from its row."""
    return ChunkRecord(chunk_id=row[0], doc_id=row[1], ordinal=row[2], text=row[3], lang=row[4], page=row[5],
                       start=row[6], end=row[7], n_tokens=row[8], ocr=row[9], ocr_confidence=row[10])


def copy_row(doc_id: str, chunk: NewChunk, n_terms: int) -> tuple[Any, ...]:
    """The CHUNK_COPY row of a chunk about to be stored."""
    return (doc_id, chunk.ordinal, chunk.text, chunk.lang, chunk.page, chunk.start, chunk.end, chunk.n_tokens, n_terms,
            chunk.vector_key, np.asarray(chunk.vector, dtype=np.float32), chunk.ocr, chunk.ocr_confidence)


def new_chunk_of(row: Sequence[Any]) -> NewChunk:
    """A chunk with its vector from an EXPORT_COLUMNS row."""
    return NewChunk(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], array_of(row[8]), ocr=row[9],
                    ocr_confidence=row[10])
