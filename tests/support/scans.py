"""Synthetic scans for the OCR tests and benchmark: text rendered with DejaVu, degraded, put in image-only PDFs."""

from __future__ import annotations

import io
import subprocess
import time
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ingest.document import ExtractedDocument, Page
from ingest.ocr import OcrOptions, OcrProgress

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
A4_INCHES = (8.27, 11.69)
OCR_TEXTS = Path(__file__).resolve().parents[1] / "data" / "ocr"


def sample_text(lang: str) -> str:
    """Our own short paragraph in `lang` (kk, ky, ru), whitespace collapsed."""
    return " ".join((OCR_TEXTS / f"{lang}.txt").read_text(encoding="utf-8").split())


def render_page(text: str, dpi: int = 300, *, points: float = 12, inches: tuple[float, float] = A4_INCHES,
                margin: float = 1.0) -> tuple[Image.Image, str]:
    """`text` typeset on a white grey-level page at `dpi`, and the part of it that fitted on the page."""
    width, height = round(inches[0] * dpi), round(inches[1] * dpi)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), round(points * dpi / 72))
    line_height = round(points * dpi / 72 * 1.45)
    left, y, right = round(margin * dpi), round(margin * dpi), width - round(margin * dpi)
    words, placed, line = text.split(), [], ""
    for word in words + [""]:
        candidate = f"{line} {word}".strip()
        if word and draw.textlength(candidate, font=font) <= right - left:
            line = candidate
            continue
        if y + line_height > height - round(margin * dpi):
            break
        draw.text((left, y), line, font=font, fill=0)
        placed.append(line)
        y += line_height
        line = word
    return image, " ".join(placed)


def degrade(image: Image.Image, *, angle: float = 1.5, dpi_from: int = 300, dpi_to: int = 200, seed: int = 0,
            noise: float = 12.0, blur: float = 0.6, jpeg_quality: int = 60) -> Image.Image:
    """A worse scan of `image`: rotated, resampled to `dpi_to`, blurred, Gaussian noise, JPEG round trip."""
    skewed = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    scale = dpi_to / dpi_from
    small = skewed.resize((round(skewed.width * scale), round(skewed.height * scale)), Image.Resampling.LANCZOS)
    blurred = small.filter(ImageFilter.GaussianBlur(blur))
    pixels = np.asarray(blurred, dtype=np.float32) + np.random.default_rng(seed).normal(0, noise, blurred.size[::-1])
    noisy = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    noisy.save(buffer, "JPEG", quality=jpeg_quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def image_bytes(image: Image.Image, fmt: str = "PNG", dpi: int = 300) -> bytes:
    """`image` encoded as PNG/JPEG/TIFF."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, dpi=(dpi, dpi))
    return buffer.getvalue()


def scanned_pdf(images: list[Image.Image], *, text_layers: dict[int, str] | None = None,
                text_pages: dict[int, str] | None = None) -> bytes:
    """A PDF of A4 pages showing `images` with no text layer.

    `text_layers` puts an invisible text layer (index -> text) over an image page, as a bad OCR or font map would;
    `text_pages` inserts ordinary text pages (index -> text) at those positions.
    """
    document = pymupdf.open()
    width, height = A4_INCHES[0] * 72, A4_INCHES[1] * 72
    pages = list(images)
    for index in sorted(text_pages or {}):
        pages.insert(index, (text_pages or {})[index])  # type: ignore[arg-type]
    for index, content in enumerate(pages):
        page = document.new_page(width=width, height=height)
        if isinstance(content, str):
            page.insert_font(fontname="dejavu", fontfile=str(FONT))
            page.insert_textbox(pymupdf.Rect(72, 72, width - 72, height - 72), content, fontname="dejavu",
                                fontsize=12)
            continue
        page.insert_image(page.rect, stream=image_bytes(content, "PNG" if content.mode != "RGB" else "JPEG"))
        layer = (text_layers or {}).get(index)
        if layer:
            page.insert_text((72, 72), layer, fontsize=10, render_mode=3)
    return document.tobytes(garbage=4, deflate=True)


def slow_ocr_reader(path: Path, *, ocr: OcrOptions, **_: object) -> ExtractedDocument:
    """A parser-process reader whose OCR takes 2.4 s in all, a page finished every 0.6 s (healthy but long)."""
    assert ocr.on_page is not None
    ocr.on_page(OcrProgress(str(path), None, 0, 4))
    for number in range(1, 5):
        time.sleep(0.6)
        ocr.on_page(OcrProgress(str(path), number, number, 4, confidence=0.9))
    return ExtractedDocument(str(path), "pdf", [Page(n, f"бет {n}", ocr=True, ocr_confidence=0.9) for n in range(1, 5)])


def stalling_ocr_reader(path: Path, *, ocr: OcrOptions, **_: object) -> ExtractedDocument:
    """A parser-process reader whose OCR starts a long child process (as Tesseract) and never reports a page again;
    the child's pid is written beside `path`."""
    assert ocr.on_page is not None
    child = subprocess.Popen(["sleep", "300"])
    path.with_suffix(".pid").write_text(str(child.pid))
    ocr.on_page(OcrProgress(str(path), None, 0, 3))
    while True:
        time.sleep(1)


def lying_ocr_reader(path: Path, *, ocr: OcrOptions, **_: object) -> ExtractedDocument:
    """A parser-process reader that sends an OCR report the caller cannot read (a page count that is no number)."""
    assert ocr.on_page is not None
    ocr.on_page(OcrProgress(str(path), None, "many", 3))  # type: ignore[arg-type]
    raise AssertionError("unreachable: the caller stops the worker")
