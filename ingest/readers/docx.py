"""DOCX reader (python-docx): paragraphs and tables in document order, title from the core properties (else the
first heading)."""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path

import docx
from docx.document import Document
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph

from ingest.document import ExtractedDocument, Page
from ingest.limits import ReadLimits
from ingest.readers.archive import check_package
from ingest.readers.title import usable_title
from pedkb.errors import CorruptFileError

logger = logging.getLogger(__name__)
CELL_SEPARATOR = " | "


def _table_rows(table: Table) -> Iterator[str]:
    """One line per table row, its distinct cells joined by CELL_SEPARATOR (merged cells appear once)."""
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            text = " ".join(p.text.strip() for p in cell.paragraphs if p.text.strip())
            nested = [line for inner in cell.tables for line in _table_rows(inner)]
            text = " ".join([text, *nested]).strip()
            if text:
                cells.append(text)
        if cells:
            yield CELL_SEPARATOR.join(cells)


def _blocks(document: Document) -> Iterator[str]:
    """The text of the body's paragraphs and table rows, in document order."""
    for child in document.element.body.iterchildren():
        if child.tag == qn("w:p"):
            text = Paragraph(child, document).text.strip()
            if text:
                yield text
        elif child.tag == qn("w:tbl"):
            yield from _table_rows(Table(child, document))


def _first_heading(document: Document) -> str | None:
    """The text of the first paragraph styled as a title or heading (Title, Heading 1, Заголовок 1, ...)."""
    for paragraph in document.paragraphs[:200]:
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if style.lower().startswith(("title", "heading", "заголовок", "название")) and paragraph.text.strip():
            return usable_title(paragraph.text)
    return None


def read_docx(data: bytes, path: Path, limits: ReadLimits) -> ExtractedDocument:
    """Extract the paragraphs and tables of the DOCX `data` read from `path` as one page, within `limits`."""
    check_package(data, path, limits)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = list(_blocks(document))
        core = document.core_properties
        title = usable_title(core.title) or _first_heading(document)
        meta = {
            key: str(value).strip()
            for key in ("author", "subject", "keywords")
            if (value := getattr(core, key, None))
        }
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise CorruptFileError(path, f"damaged DOCX ({exc})") from exc
    except Exception as exc:  # python-docx and lxml raise assorted errors on broken packages
        raise CorruptFileError(path, f"damaged DOCX ({type(exc).__name__}: {exc})") from exc
    logger.debug("%s: %d blocks, title %r", path, len(blocks), title)
    return ExtractedDocument(
        source=str(path),
        fmt="docx",
        pages=[Page(number=None, text="\n\n".join(blocks))],
        title=title,
        meta=meta,
    )
