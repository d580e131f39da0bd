"""Tell a file's format from its first bytes, falling back to its extension."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from pedkb.errors import CorruptFileError, UnsupportedFormatError

SUFFIX_FORMATS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".txt": "txt",
    ".text": "txt",
    ".md": "txt",
    ".markdown": "txt",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".tif": "image",
    ".tiff": "image",
}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(sorted(SUFFIX_FORMATS))

# Formats we recognise but do not read, with the advice to give.
_FOREIGN_MAGIC = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office file (.doc/.xls/.ppt); save it as .docx or PDF"),
    (b"{\\rtf", "an RTF document; save it as .docx or PDF"),
    (b"GIF8", "a GIF image; save it as PNG"),
    (b"AT&TFORM", "a DjVu document; convert it to PDF"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
)
# Scans read by OCR (ingest/readers/image.py).
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")
_HTML_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b",
    re.I | re.S,
)


def detect_format(data: bytes, path: Path) -> str:
    """One of "pdf", "docx", "html", "txt", "image" for `data` read from `path`; raise for anything else."""
    suffix = path.suffix.lower()
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return _zip_format(data, path, suffix)
    if data.startswith(_IMAGE_MAGIC):
        return "image"
    for magic, what in _FOREIGN_MAGIC:
        if data.startswith(magic):
            raise UnsupportedFormatError(path, f"unsupported format: {what}")
    claimed = SUFFIX_FORMATS.get(suffix)
    if claimed == "pdf":
        raise CorruptFileError(path, "not a PDF: the file does not start with %PDF")
    if claimed == "docx":
        raise CorruptFileError(path, "not a DOCX: the file is not a ZIP package")
    if claimed == "image":
        raise CorruptFileError(path, "not a PNG, JPEG or TIFF image: the file does not start like one")
    if _HTML_START.match(data[:4096]) or _HTML_START.match(_utf16_head(data)):
        return "html"
    if claimed in ("html", "txt"):
        return claimed
    if not suffix:
        return "txt"  # no extension: try it as text; binary data fails in the decoder
    raise UnsupportedFormatError(
        path, f"unsupported format {suffix!r}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
    )


def _utf16_head(data: bytes) -> bytes:
    """The start of a UTF-16 file (with BOM) re-encoded as UTF-8, so that HTML in UTF-16 is recognised."""
    if data[:2] not in (b"\xff\xfe", b"\xfe\xff"):
        return b""
    return data[:4096].decode("utf-16", "ignore").encode("utf-8")


def _zip_format(data: bytes, path: Path, suffix: str) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        if suffix == ".docx":
            raise CorruptFileError(path, f"damaged DOCX (broken ZIP package: {exc})") from exc
        raise UnsupportedFormatError(path, "unsupported format: a damaged ZIP archive") from exc
    if "word/document.xml" in names:
        return "docx"
    if suffix == ".docx":
        raise CorruptFileError(path, "damaged DOCX: the package has no word/document.xml")
    if "content.xml" in names:
        raise UnsupportedFormatError(
            path, "unsupported format: an OpenDocument file; save it as .docx or PDF"
        )
    raise UnsupportedFormatError(path, "unsupported format: a ZIP archive")
