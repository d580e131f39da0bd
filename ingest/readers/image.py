"""Image reader (PNG, JPEG, TIFF): every frame is a page to OCR, numbered from 1."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from PIL import Image, ImageSequence, UnidentifiedImageError

from ingest.document import ExtractedDocument, Page
from ingest.ocr.images import ImageFrames
from pedkb.errors import CorruptFileError

logger = logging.getLogger(__name__)


def read_image(data: bytes, path: Path) -> ExtractedDocument:
    """An image file as pages with no text yet, all of them marked for OCR."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            frames = sum(1 for _ in ImageSequence.Iterator(image))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise CorruptFileError(path, f"damaged image that cannot be decoded ({exc})") from exc
    numbers = list(range(1, frames + 1))
    logger.debug("%s: image with %d frame(s)", path, frames)
    return ExtractedDocument(source=str(path), fmt="image", pages=[Page(number=n, text="") for n in numbers],
                             needs_ocr=numbers, scans=ImageFrames(data))
