"""Ingestion: read a file, repair its text, detect its languages and cut it into chunks for the index."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from ingest.chunker import chunk_pages
from ingest.document import Chunk, ExtractedDocument, Page, PreparedDocument
from ingest.language import detect_language, split_by_language
from ingest.readers import SUPPORTED_SUFFIXES, read_document
from ingest.repair import document_vocabulary, repair_text, strip_repeated_lines
from ingest.sentences import split_sentences
from pedkb.errors import EmptyFileError

logger = logging.getLogger(__name__)

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Chunk",
    "ExtractedDocument",
    "Page",
    "PreparedDocument",
    "chunk_pages",
    "detect_language",
    "prepare_document",
    "read_document",
    "repair_pages",
    "repair_text",
    "split_by_language",
    "split_sentences",
    "strip_repeated_lines",
]


def repair_pages(pages: list[Page]) -> list[Page]:
    """Repair every page of a document, with running headers removed and one hyphenation vocabulary."""
    texts = strip_repeated_lines([page.text for page in pages])
    vocabulary = document_vocabulary(texts)
    return [
        Page(number=page.number, text=repair_text(text, vocabulary=vocabulary))
        for page, text in zip(pages, texts, strict=True)
    ]


def prepare_document(
    path: Path,
    *,
    max_bytes: int,
    count_tokens: Callable[[str], int],
    max_tokens: int = 256,
    overlap_tokens: int = 48,
) -> PreparedDocument:
    """Read, repair and chunk the document at `path`; a document with no text left raises EmptyFileError."""
    extracted = read_document(Path(path), max_bytes=max_bytes)
    pages = repair_pages(extracted.pages)
    if not any(page.text.strip() for page in pages):
        raise EmptyFileError(path, "no text left after extraction and repair")
    chunks = chunk_pages(
        pages, count_tokens=count_tokens, max_tokens=max_tokens, overlap_tokens=overlap_tokens
    )
    logger.info("%s: %d page(s), %d chunk(s)", path, len(pages), len(chunks))
    return PreparedDocument(
        source=extracted.source,
        fmt=extracted.fmt,
        title=extracted.title,
        pages=pages,
        chunks=chunks,
        encoding=extracted.encoding,
    )
