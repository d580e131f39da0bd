"""PDF reader (PyMuPDF): text per page with 1-based page numbers, title from the metadata (else the first page's
heading), pages to OCR marked."""

from __future__ import annotations

import logging
from pathlib import Path

import pymupdf

from ingest.document import ExtractedDocument, Page
from ingest.limits import ReadLimits, setting_name
from ingest.ocr.images import PdfPageImages
from ingest.ocr.quality import text_layer_problem
from ingest.readers.title import usable_title
from pedkb.errors import CorruptFileError, EncryptedFileError, LimitExceededError

logger = logging.getLogger(__name__)
HEADING_SCALE = 1.2  # a first-page line at least this much bigger than the body's median size is a heading
_META_FIELDS = ("author", "subject", "keywords", "creator", "producer", "creationDate")


def read_pdf(data: bytes, path: Path, limits: ReadLimits) -> ExtractedDocument:
    """Extract the text of every page of the PDF `data` read from `path`, within `limits`; pages without usable
    text are marked for OCR."""
    try:
        document = pymupdf.open(stream=data, filetype="pdf")
    except Exception as exc:  # PyMuPDF raises its own FileDataError, RuntimeError or ValueError
        raise CorruptFileError(path, f"damaged PDF that cannot be opened ({exc})") from exc
    with document:
        if document.needs_pass:
            raise EncryptedFileError(path, "the PDF is password-protected; remove the password first")
        _check_page_count(document, path, limits)
        if document.page_count == 0:
            raise CorruptFileError(path, "damaged PDF: no pages could be read")
        if document.is_repaired and b"%%EOF" not in data[-2048:]:
            raise CorruptFileError(path, "truncated PDF: the file ends before its end-of-file marker")
        pages: list[Page] = []
        needs_ocr: list[int] = []
        try:
            for index in range(document.page_count):
                page = document.load_page(index)
                text = page.get_text("text")
                problem = text_layer_problem(text, has_images=bool(page.get_images()))
                if problem:
                    logger.debug("%s: page %d needs OCR (%s)", path, index + 1, problem)
                    needs_ocr.append(index + 1)
                pages.append(Page(number=index + 1, text=text))
        except Exception as exc:
            raise CorruptFileError(
                path, f"damaged PDF: page {len(pages) + 1} cannot be read ({exc})"
            ) from exc
        metadata = document.metadata or {}
        heading = None if usable_title(metadata.get("title")) else _first_heading(document)
    title = usable_title(metadata.get("title")) or heading
    meta = {key: str(metadata[key]).strip() for key in _META_FIELDS if metadata.get(key)}
    logger.debug("%s: %d pages, title %r", path, len(pages), title)
    return ExtractedDocument(source=str(path), fmt="pdf", pages=pages, title=title, meta=meta, needs_ocr=needs_ocr,
                             scans=PdfPageImages(data) if needs_ocr else None)


def _first_heading(document: pymupdf.Document) -> str | None:
    """The biggest text on the first page with text when it stands out from the body (a wrapped title joined)."""
    for index in range(min(document.page_count, 3)):
        lines: list[tuple[float, str]] = []
        try:
            blocks = document.load_page(index).get_text("dict").get("blocks", [])
        except Exception:  # noqa: BLE001 - a heading is a nicety; the page's text was read already
            return None
        for block in blocks:
            for line in block.get("lines", []):
                spans = [s for s in line.get("spans", []) if s.get("text", "").strip()]
                if spans:
                    lines.append((max(s["size"] for s in spans), "".join(s["text"] for s in spans).strip()))
        if not lines:
            continue
        sizes = sorted(size for size, _ in lines)
        body, biggest = sizes[len(sizes) // 2], sizes[-1]
        if biggest < body * HEADING_SCALE:
            return None
        start = next(i for i, (size, _) in enumerate(lines) if size == biggest)
        title = [text for size, text in lines[start: start + 3] if abs(size - biggest) < 0.5]
        return usable_title(" ".join(title))
    return None


def _check_page_count(document: pymupdf.Document, path: Path, limits: ReadLimits) -> None:
    """Refuse a PDF with more pages than the limit (MuPDF takes the count from the page tree, without reading)."""
    try:
        count = document.page_count
    except RuntimeError as exc:  # a /Count that does not match the page tree
        raise CorruptFileError(path, f"damaged PDF: the page tree cannot be read ({exc})") from exc
    if count > limits.max_pdf_pages:
        raise LimitExceededError(
            path, f"the PDF has {count} pages, more than the limit of {limits.max_pdf_pages} "
                  f"({setting_name('max_pdf_pages')})"
        )
