"""The pages of a scanned file as grey-level images for OCR: PDF pages rendered by PyMuPDF, image frames by PIL."""

from __future__ import annotations

import hashlib
import io
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from functools import cached_property

import pymupdf
from PIL import Image, ImageOps

# A page rendered larger than this (an A0 poster at 300 dpi is 140 Mpx) is rendered at a lower resolution.
MAX_PAGE_PIXELS = 40_000_000


class PageImages(ABC):
    """A file's pages as images, addressed by 1-based page number."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    @cached_property
    def sha256(self) -> str:
        """The hex SHA-256 of the file's bytes (part of the OCR cache key)."""
        return hashlib.sha256(self.data).hexdigest()

    @abstractmethod
    def render(self, numbers: Sequence[int], dpi: int) -> Iterator[tuple[int, Image.Image]]:
        """(number, grey image) of each page in `numbers`, in order."""

    @abstractmethod
    def resolution(self, dpi: int) -> int:
        """The resolution the images are made at when `dpi` is asked for (0: the file's own pixels)."""


class PdfPageImages(PageImages):
    """Pages of a PDF rendered at the requested resolution."""

    def render(self, numbers: Sequence[int], dpi: int) -> Iterator[tuple[int, Image.Image]]:
        """Each page rendered in grey levels at `dpi` (less for a page too large for MAX_PAGE_PIXELS)."""
        with pymupdf.open(stream=self.data, filetype="pdf") as document:
            for number in numbers:
                page = document.load_page(number - 1)
                inches = page.rect.width * page.rect.height / 72**2
                page_dpi = min(dpi, int((MAX_PAGE_PIXELS / max(inches, 1e-6)) ** 0.5))
                pixmap = page.get_pixmap(dpi=page_dpi, colorspace=pymupdf.csGRAY, alpha=False)
                yield number, Image.frombytes("L", (pixmap.width, pixmap.height), pixmap.samples)

    def resolution(self, dpi: int) -> int:
        """PDF pages are rendered at `dpi`."""
        return dpi


class ImageFrames(PageImages):
    """Frames of a PNG, JPEG or (multi-page) TIFF at their own resolution, turned upright by their EXIF tag."""

    def render(self, numbers: Sequence[int], dpi: int) -> Iterator[tuple[int, Image.Image]]:
        """Each frame in grey levels, at the file's own pixels."""
        with Image.open(io.BytesIO(self.data)) as image:
            for number in numbers:
                image.seek(number - 1)
                yield number, ImageOps.exif_transpose(image).convert("L")

    def resolution(self, dpi: int) -> int:
        """Images are read at their own pixels."""
        return 0
