"""A document's title: its metadata title unless that is junk ("Microsoft Word - x.docx", "Untitled", a file
name), else its first heading, else its first short line, else its file name."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from ingest.document import Page

MAX_TITLE_CHARS = 200
MAX_LINE_CHARS = 150  # a first line longer than this is a paragraph, not a title
FIRST_LINES = 15  # lines of the first page with text looked at for a title
_JUNK = re.compile(
    r"^(microsoft\s+(office\s+)?(word|powerpoint|excel)\b.*|untitled\b.*|no\s+title|title|"
    r"без\s+названия|без\s+имени|заголовок|документ\s*\d*|document\s*\d*|презентация\s*\d*|presentation\s*\d*|"
    r"слайд\s*\d+|slide\s*\d+|новый\s+документ.*|new\s+document.*|атауы\s+жоқ|аталышы\s+жок)$",
    re.IGNORECASE)  # fmt: skip
_FILE_NAME = re.compile(r"\.(docx?|pdf|odt|rtf|txt|md|pptx?|xlsx?|html?)$", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def usable_title(text: str | None) -> str | None:
    """`text` as a title on one line, or None when it is empty, junk a tool wrote, a file name or has no words."""
    if not text:
        return None
    title = _SPACE.sub(" ", text).strip(" \t-–—:;,.|_*#")
    letters = sum(ch.isalpha() for ch in title)
    if letters < 3 or _JUNK.match(title) or _FILE_NAME.search(title) or "\ufffd" in title:
        return None
    return title if len(title) <= MAX_TITLE_CHARS else title[: MAX_TITLE_CHARS - 1].rstrip() + "…"


def first_line_title(pages: Iterable[Page]) -> str | None:
    """The first short line of the first page with text that makes a title (page numbers and rules skipped)."""
    for page in pages:
        lines = [line.strip() for line in page.text.splitlines() if line.strip()]
        if not lines:
            continue
        for line in lines[:FIRST_LINES]:
            if len(line) <= MAX_LINE_CHARS and (title := usable_title(line)):
                return title
        return None
    return None


def file_name_title(path: Path) -> str:
    """A title from a file name: `Ashyq_sabaq-2023.pdf` → `Ashyq sabaq 2023`."""
    name = _SPACE.sub(" ", re.sub(r"[_\-.]+", " ", Path(path).stem)).strip()
    return name or Path(path).name


def choose_title(path: Path, pages: Iterable[Page], *candidates: str | None) -> str:
    """The first usable of `candidates` (metadata title, first heading), else the first short line, else the file
    name."""
    for candidate in candidates:
        if title := usable_title(candidate):
            return title
    return first_line_title(pages) or file_name_title(path)
