"""OCR of scanned pages (Tesseract kaz/kir/rus): which pages need it, and their text with its confidence."""

from __future__ import annotations

import logging

from ingest.document import ExtractedDocument, Page
from ingest.ocr.engine import TesseractMissingError
from ingest.ocr.images import ImageFrames, PageImages, PdfPageImages
from ingest.ocr.options import INSTALL_HINT, OcrDeferred, OcrOptions, OcrProgress, PageOcr
from ingest.ocr.quality import text_layer_problem
from ingest.ocr.run import ocr_pages
from pedkb.errors import OcrUnavailableError

logger = logging.getLogger(__name__)

__all__ = [
    "INSTALL_HINT",
    "ImageFrames",
    "OcrDeferred",
    "OcrOptions",
    "OcrProgress",
    "PageImages",
    "PageOcr",
    "PdfPageImages",
    "ocr_pages",
    "recognise_scans",
    "text_layer_problem",
]


def recognise_scans(extracted: ExtractedDocument, options: OcrOptions) -> tuple[list[Page], list[str]]:
    """The pages of `extracted` with OCR text in place of missing or garbage text layers, and warnings.

    Raises OcrUnavailableError when Tesseract is missing and no page has text of its own; with some text, the
    scanned pages are left empty and a warning names them. With `options.defer`, raises OcrDeferred instead of
    recognising anything.
    """
    if not extracted.needs_ocr or extracted.scans is None:
        return extracted.pages, []
    if options.defer:
        raise OcrDeferred(len(extracted.needs_ocr))
    wanted = set(extracted.needs_ocr)
    try:
        results = ocr_pages(extracted.scans, extracted.needs_ocr, options, source=extracted.source)
    except TesseractMissingError as exc:
        if not any(page.text.strip() for page in extracted.pages if page.number not in wanted):
            raise OcrUnavailableError(extracted.source, f"{len(wanted)} page(s) need OCR: {exc}") from exc
        warning = f"page(s) {_numbers(wanted)} need OCR and were left out: {exc}"
        logger.warning("%s: %s", extracted.source, warning)
        return [Page(page.number, "") if page.number in wanted else page for page in extracted.pages], [warning]
    warnings = [f"page {number} left out: {result.error}" for number, result in sorted(results.items()) if result.error]
    for warning in warnings:
        logger.warning("%s: %s", extracted.source, warning)
    pages = []
    for page in extracted.pages:
        result = results.get(page.number) if page.number is not None else None
        if result is None:
            pages.append(page)
        elif result.error:
            pages.append(Page(page.number, ""))  # left out: the warning says why
        else:
            pages.append(Page(page.number, result.text, ocr=True, ocr_confidence=result.confidence))
    return pages, warnings


def _numbers(numbers: set[int]) -> str:
    ordered = sorted(numbers)
    return ", ".join(map(str, ordered[:10])) + (f" and {len(ordered) - 10} more" if len(ordered) > 10 else "")
