"""What OCR is asked to do (options), what it reports per page (progress) and what it returns (a page's result)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pedkb.settings import Settings

INSTALL_HINT = "apt-get install tesseract-ocr tesseract-ocr-kaz tesseract-ocr-kir tesseract-ocr-rus"


@dataclass(frozen=True)
class PageOcr:
    """The OCR result of one page: text, mean word confidence (0-1), the model kept, the deskew angle, the cost.

    `seconds` is wall time; `cpu_seconds` the CPU time of this process and its finished Tesseract runs while the page
    ran, so with pages in parallel it also counts the overlapping pages (bench/ocr_bench.py measures totals).
    """

    text: str
    confidence: float
    languages: str
    angle: float = 0.0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    error: str | None = None  # set when the page could not be recognised (time limit); text is then ""


@dataclass(frozen=True)
class OcrProgress:
    """OCR of `source` moved on: `done` of `total` pages finished; `page` is the one that just finished (from the
    cache or freshly recognised) with its confidence or its error, None at the start."""

    source: str
    page: int | None
    done: int
    total: int
    cached: bool = False
    confidence: float | None = None
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        """The progress as a JSON object (the parser process sends it to the caller)."""
        return {"page": self.page, "done": self.done, "total": self.total, "cached": self.cached,
                "confidence": self.confidence, "error": self.error}

    @classmethod
    def from_json(cls, source: str, value: dict[str, object]) -> OcrProgress:
        """The progress a parser process sent, checked field by field (it is untrusted)."""
        page, confidence, error = value.get("page"), value.get("confidence"), value.get("error")
        return cls(source, page if isinstance(page, int) else None, int(str(value["done"])),
                   int(str(value["total"])), value.get("cached") is True,
                   float(confidence) if isinstance(confidence, (int, float)) else None,
                   str(error) if error is not None else None)


class OcrDeferred(Exception):  # noqa: N818 - a signal, not an error
    """A file has `pages` pages to OCR and was read with `OcrOptions.defer`: nothing was recognised."""

    def __init__(self, pages: int) -> None:
        super().__init__(f"{pages} page(s) need OCR")
        self.pages = pages


@dataclass(frozen=True)
class OcrOptions:
    """How scanned pages are recognised; `cache_dir` None disables the resume cache."""

    dpi: int = 300
    workers: int = 2
    page_timeout: float = 120.0  # seconds of Tesseract per page; a slower page is left out with a warning
    cache_dir: Path | None = None
    on_page: Callable[[OcrProgress], None] | None = None
    tesseract_cmd: str = "tesseract"
    defer: bool = False  # raise OcrDeferred instead of recognising: the batch reads the file in its OCR lane

    @classmethod
    def from_settings(cls, settings: Settings, on_page: Callable[[OcrProgress], None] | None = None) -> OcrOptions:
        """The OCR options configured in `settings` (PEDKB_OCR_*), with the resume cache in the data folder."""
        return cls(dpi=settings.ocr_dpi, workers=settings.ocr_workers, page_timeout=settings.ocr_page_timeout,
                   cache_dir=settings.ocr_cache, on_page=on_page, tesseract_cmd=settings.ocr_tesseract)
