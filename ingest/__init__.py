"""Ingestion: read a file, OCR its scanned pages, repair its text, detect its languages and cut it into chunks."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

from ingest.chunker import chunk_pages
from ingest.document import Chunk, ExtractedDocument, Page, PreparedDocument
from ingest.language import detect_language, split_by_language
from ingest.limits import ReadLimits
from ingest.ocr import OcrOptions, OcrProgress, recognise_scans
from ingest.readers import SUPPORTED_SUFFIXES, check_text_size, read_document
from ingest.repair import document_vocabulary, repair_text, strip_repeated_lines
from ingest.sentences import split_sentences
from pedkb.errors import EmptyFileError, NoTextLayerError, printable_path

logger = logging.getLogger(__name__)

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Chunk",
    "ExtractedDocument",
    "OcrOptions",
    "OcrProgress",
    "Page",
    "PreparedDocument",
    "ReadLimits",
    "chunk_document",
    "chunk_pages",
    "detect_language",
    "prepare_document",
    "read_and_repair",
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
        dataclasses.replace(page, text=repair_text(text, vocabulary=vocabulary))
        for page, text in zip(pages, texts, strict=True)
    ]


def read_and_repair(path: Path, *, max_bytes: int, limits: ReadLimits | None = None,
                    ocr: OcrOptions | None = None) -> ExtractedDocument:
    """Read the file at `path`, OCR its scanned pages (`ocr`; None: no resume cache), and repair its pages.

    A document with no text left raises EmptyFileError, a scan in which OCR found no text NoTextLayerError.
    """
    limits = limits or ReadLimits.defaults()
    extracted = read_document(Path(path), max_bytes=max_bytes, limits=limits)
    recognised, warnings = recognise_scans(extracted, ocr or OcrOptions())
    if extracted.needs_ocr:
        check_text_size(Path(path), recognised, limits)
    extracted.pages, extracted.warnings, extracted.scans = repair_pages(recognised), warnings, None
    if not any(page.text.strip() for page in extracted.pages):
        if extracted.needs_ocr and warnings:
            raise NoTextLayerError(path, f"no text layer, and OCR failed: {'; '.join(warnings)}")
        if extracted.needs_ocr:
            raise NoTextLayerError(
                path, f"no text layer, and OCR found no text on its {len(extracted.needs_ocr)} scanned page(s)"
            )
        raise EmptyFileError(path, "no text left after extraction and repair")
    return extracted


def chunk_document(
    repaired: ExtractedDocument,
    *,
    count_tokens: Callable[[str], int],
    max_tokens: int = 256,
    overlap_tokens: int = 48,
) -> PreparedDocument:
    """Cut a read and repaired document into chunks of at most `max_tokens` tokens."""
    chunks = chunk_pages(
        repaired.pages, count_tokens=count_tokens, max_tokens=max_tokens, overlap_tokens=overlap_tokens
    )
    logger.info("%s: %d page(s), %d chunk(s)", printable_path(repaired.source), len(repaired.pages), len(chunks))
    return PreparedDocument(
        source=repaired.source,
        fmt=repaired.fmt,
        title=repaired.title,
        pages=repaired.pages,
        chunks=chunks,
        encoding=repaired.encoding,
        warnings=repaired.warnings,
    )


def prepare_document(
    path: Path,
    *,
    max_bytes: int,
    count_tokens: Callable[[str], int],
    max_tokens: int = 256,
    overlap_tokens: int = 48,
    limits: ReadLimits | None = None,
    ocr: OcrOptions | None = None,
) -> PreparedDocument:
    """Read, OCR, repair and chunk the document at `path` in this process (untrusted files: ingest.sandbox)."""
    repaired = read_and_repair(path, max_bytes=max_bytes, limits=limits, ocr=ocr)
    return chunk_document(repaired, count_tokens=count_tokens, max_tokens=max_tokens, overlap_tokens=overlap_tokens)
