"""What ingestion produces: extracted documents, their pages and the chunks cut from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.ocr.images import PageImages

# OCR pages whose mean word confidence is below this are kept but flagged `low_confidence` (docs/ocr.md).
LOW_OCR_CONFIDENCE = 0.6


@dataclass(frozen=True)
class Page:
    """The text of one page (PDF, image) or of a whole file (other formats: number is None).

    `ocr` says the text came from OCR; `ocr_confidence` is then Tesseract's mean word confidence (0-1).
    """

    number: int | None
    text: str
    ocr: bool = False
    ocr_confidence: float | None = None

    @property
    def low_confidence(self) -> bool:
        """True for an OCR page recognised with a mean word confidence below LOW_OCR_CONFIDENCE."""
        return self.ocr_confidence is not None and self.ocr_confidence < LOW_OCR_CONFIDENCE


@dataclass
class ExtractedDocument:
    """A file read into text, before repair; `pages` keep PDF page numbers (1-based).

    `needs_ocr` lists the pages with no usable text layer; `scans` renders them as images for OCR; `warnings` name
    pages that OCR left out.
    """

    source: str
    fmt: str  # "pdf" | "docx" | "txt" | "html" | "image"
    pages: list[Page]
    title: str | None = None
    encoding: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    needs_ocr: list[int] = field(default_factory=list)
    scans: PageImages | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Chunk:
    """A passage to embed: its text, language and where it sits in the repaired document.

    `start`/`end` are character offsets into the repaired text of page `page` (or of the whole document when the
    format has no pages); `ordinal` is the chunk's position in the document, from 0. `ocr`/`ocr_confidence` are
    those of its page.
    """

    ordinal: int
    text: str
    lang: str
    page: int | None
    start: int
    end: int
    n_tokens: int
    # keyword-only, so that records extending Chunk (index.records) keep their positional fields
    ocr: bool = field(default=False, kw_only=True)
    ocr_confidence: float | None = field(default=None, kw_only=True)

    @property
    def low_confidence(self) -> bool:
        """True when the chunk comes from an OCR page recognised below LOW_OCR_CONFIDENCE."""
        return self.ocr_confidence is not None and self.ocr_confidence < LOW_OCR_CONFIDENCE


@dataclass
class PreparedDocument:
    """A document read, repaired and chunked: what the index stores.

    `pages` hold the repaired text; chunk offsets point into them. `warnings` name pages left out (OCR missing or
    too slow) while the rest of the file was read ("page 3 left out: ...", without the file name).
    """

    source: str
    fmt: str
    title: str | None
    pages: list[Page]
    chunks: list[Chunk]
    encoding: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def languages(self) -> list[str]:
        """Languages of the chunks, most frequent first."""
        counts: dict[str, int] = {}
        for chunk in self.chunks:
            counts[chunk.lang] = counts.get(chunk.lang, 0) + 1
        return sorted(counts, key=lambda lang: (-counts[lang], lang))
