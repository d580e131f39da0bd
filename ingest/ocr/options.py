"""What OCR is asked to do (options), what it reports per page (progress) and what it returns (a page's result)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "apt-get install tesseract-ocr tesseract-ocr-kaz tesseract-ocr-kir tesseract-ocr-rus"


@dataclass(frozen=True)
class PageOcr:
    """The OCR result of one page: text, mean word confidence (0-1), the model kept, the deskew angle, the cost.

    `seconds` is wall time, `cpu_seconds` the CPU time of the worker and its Tesseract runs.
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
    """One page finished: `done` of `total` pages of `source` (from the cache or freshly recognised)."""

    source: str
    page: int
    done: int
    total: int
    cached: bool
    result: PageOcr


@dataclass(frozen=True)
class OcrOptions:
    """How scanned pages are recognised; `cache_dir` None disables the resume cache."""

    dpi: int = 300
    workers: int = 2
    page_timeout: float = 120.0  # seconds of Tesseract per page; a slower page is left out with a warning
    cache_dir: Path | None = None
    on_page: Callable[[OcrProgress], None] | None = None
    tesseract_cmd: str = "tesseract"
