"""Plain-text and Markdown reader: encoding detection, light Markdown clean-up."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.document import ExtractedDocument, Page
from ingest.readers.encoding import decode_text

_MARKDOWN_SUFFIXES = {".md", ".markdown"}
_MD_RULES = (
    (re.compile(r"^```.*$", re.M), ""),  # code fences
    (re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*$", re.M), r"\1"),  # headings
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # bold
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),  # italics
    (re.compile(r"^[ \t]{0,3}>[ \t]?", re.M), ""),  # block quotes
    (re.compile(r"^[ \t]{0,3}([-*+])[ \t]+", re.M), "• "),  # list items
)


def strip_markdown(text: str) -> str:
    """Markdown syntax removed, the words and the line structure kept."""
    for pattern, replacement in _MD_RULES:
        text = pattern.sub(replacement, text)
    return text


def read_text(data: bytes, path: Path) -> ExtractedDocument:
    """Decode the text file `data` read from `path` (any common encoding) as one page."""
    text, encoding = decode_text(data, path)
    meta: dict[str, str] = {}
    if path.suffix.lower() in _MARKDOWN_SUFFIXES:
        text = strip_markdown(text)
        meta["markup"] = "markdown"
    return ExtractedDocument(
        source=str(path), fmt="txt", pages=[Page(number=None, text=text)], encoding=encoding, meta=meta
    )
