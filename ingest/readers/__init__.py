"""Read a document file into text: format by magic bytes first and extension second, one module per format."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

from ingest.document import ExtractedDocument, Page
from ingest.limits import ReadLimits, setting_name
from ingest.readers.sniff import SUPPORTED_SUFFIXES, detect_format
from ingest.readers.title import choose_title
from pedkb.errors import EmptyFileError, FileTooLargeError, LimitExceededError, ReadError

logger = logging.getLogger(__name__)

__all__ = ["SUPPORTED_SUFFIXES", "check_text_size", "detect_format", "read_document"]


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """The bytes of `path`, after checking that it is a readable regular file within the size limit."""
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise ReadError(path, "no such file") from exc
    except PermissionError as exc:
        raise ReadError(path, "permission denied") from exc
    except OSError as exc:
        raise ReadError(path, f"cannot access the file ({exc.strerror or exc})") from exc
    if stat.S_ISDIR(info.st_mode):
        raise ReadError(path, "is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise ReadError(path, "is not a regular file")
    if info.st_size == 0:
        raise EmptyFileError(path, "the file is empty (0 bytes)")
    if info.st_size > max_bytes:
        raise FileTooLargeError(
            path, f"the file has {info.st_size} bytes, more than the limit of {max_bytes}"
        )
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except PermissionError as exc:
        raise ReadError(path, "permission denied") from exc
    except OSError as exc:
        raise ReadError(path, f"cannot read the file ({exc.strerror or exc})") from exc
    if len(data) > max_bytes:  # it grew after the size check
        raise FileTooLargeError(path, f"the file has more than the limit of {max_bytes} bytes")
    if not data:
        raise EmptyFileError(path, "the file is empty (0 bytes)")
    return data


def read_document(path: Path, *, max_bytes: int, limits: ReadLimits | None = None) -> ExtractedDocument:
    """Read the PDF, DOCX, TXT/MD, HTML or image file at `path` into pages of raw text (errors: ReadError).

    Pages that need OCR (scans) are listed in `needs_ocr` and left for `ingest.ocr.recognise_scans`.
    """
    path = Path(path)
    limits = limits or ReadLimits.defaults()
    extracted = _read_format(path, _read_bytes(path, max_bytes), limits)
    check_text_size(path, extracted.pages, limits)
    extracted.title = choose_title(path, extracted.pages, extracted.title)
    return extracted


def check_text_size(path: Path, pages: list[Page], limits: ReadLimits) -> None:
    """Refuse a file whose pages (read, or recognised by OCR) hold more text than the limit."""
    chars = sum(len(page.text) for page in pages)
    if chars > limits.max_text_chars_per_file:
        raise LimitExceededError(path, f"the file yields {chars} characters of text, more than the limit of "
                                       f"{limits.max_text_chars_per_file} ({setting_name('max_text_chars_per_file')})")


def _read_format(path: Path, data: bytes, limits: ReadLimits) -> ExtractedDocument:
    """The reader of the format `data` really has (magic bytes first), applied to it."""
    fmt = detect_format(data, path)
    logger.debug("reading %s as %s (%d bytes)", path, fmt, len(data))
    if fmt == "pdf":
        from ingest.readers.pdf import read_pdf

        return read_pdf(data, path, limits)
    if fmt == "docx":
        from ingest.readers.docx import read_docx

        return read_docx(data, path, limits)
    if fmt == "html":
        from ingest.readers.html import read_html

        return read_html(data, path)
    if fmt == "image":
        from ingest.readers.image import read_image

        return read_image(data, path)
    from ingest.readers.text import read_text

    return read_text(data, path)
