"""A page of search results as a CSV table (for Excel: UTF-8 with a BOM) or RIS references (for Zotero, Mendeley,
EndNote): one row or record per result, with its title, authors, year, language and a link to its page."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import rispy

from index.records import DocumentRecord
from search_api.schemas import SearchResponse, SearchResult

EXPORT_FORMATS = ("csv", "ris")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "ris": "application/x-research-info-systems"}
CSV_COLUMNS = ("rank", "title", "type", "language", "score", "authors", "year", "organisation", "region",
               "technologies", "source", "page", "url", "id", "snippet")
NO_AUTHOR = "Anonymous"  # RIS's own word for a work without a named author
_RIS_TYPES = {"experience": "RPRT", "technology": "GEN", "document": "GEN"}
_PAGE_ROUTES = {"experience": "experience", "technology": "technology", "document": "document"}


@dataclass(frozen=True)
class ExportRow:
    """What one exported result says: the search result and what its item's record adds (authors, year)."""

    rank: int
    result: SearchResult
    authors: list[str]
    year: int | None
    organisation: str
    region: str
    url: str


def page_url(base_url: str, result: SearchResult) -> str:
    """The address of the result's page on this service's web page."""
    item_id = result.doc_id.removeprefix("tech:") if result.type == "technology" else result.doc_id
    return f"{base_url.rstrip('/')}/#/{_PAGE_ROUTES.get(result.type, 'document')}/{quote(item_id, safe='')}"


def export_rows(page: SearchResponse, record_of: Callable[[str], DocumentRecord | None],
                base_url: str) -> list[ExportRow]:
    """One row per result of the page, ranked as shown (offset + 1 ...); authors and year come from the item.

    An experience gives its author and year; a file gives the author and year of its metadata when it had them,
    else no author and the year it was added.
    """
    rows = []
    for rank, result in enumerate(page.results, start=page.offset + 1):
        record = record_of(result.doc_id)
        meta = record.meta if record is not None else {}
        raw = meta.get("record")
        exp: dict[str, Any] = raw if isinstance(raw, dict) else {}
        author = exp.get("author") or meta.get("author")
        authors = [a.strip() for a in re.split(r"[;\n]", str(author)) if a.strip()] if author else []
        year = exp.get("year") or meta.get("year")
        if not year and record is not None and record.created:
            year = datetime.fromtimestamp(record.created, UTC).year
        rows.append(ExportRow(rank, result, authors, int(str(year)) if year else None, str(exp.get("organisation", "")),
                              str(exp.get("region", "")), page_url(base_url, result)))
    return rows


def to_csv(rows: Sequence[ExportRow]) -> str:
    """The rows as CSV with a header line, a BOM first so that Excel reads UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        r = row.result
        writer.writerow([row.rank, r.title or r.doc_id, r.type, r.lang, f"{r.score:.4f}", "; ".join(row.authors),
                         row.year or "", row.organisation, row.region, "; ".join(r.technologies), r.source,
                         r.page or "", row.url, r.doc_id, r.snippet])
    return "\ufeff" + out.getvalue()


def to_ris(rows: Sequence[ExportRow]) -> str:
    """The rows as RIS records (TY, TI, AU, PY, LA, UR, AB, KW, ..., ER)."""
    entries = []
    for row in rows:
        r = row.result
        entry: dict[str, object] = {
            "type_of_reference": _RIS_TYPES.get(r.type, "GEN"), "title": r.title or r.doc_id,
            "authors": row.authors or [NO_AUTHOR], "language": r.lang, "urls": [row.url], "abstract": r.snippet,
            "id": r.doc_id,
        }  # fmt: skip
        if row.year:
            entry["year"] = str(row.year)
        if r.technologies:
            entry["keywords"] = list(r.technologies)
        if row.organisation:
            entry["publisher"] = row.organisation
        if r.page:
            entry["start_page"] = str(r.page)
        entries.append(entry)
    return rispy.dumps(entries)


def export_body(fmt: str, rows: Sequence[ExportRow]) -> str:
    """The export of `rows` in `fmt` (csv or ris)."""
    return to_csv(rows) if fmt == "csv" else to_ris(rows)


def file_name(query: str, fmt: str) -> str:
    """A download name from the query: `pedkb-<words>.csv` (ASCII; the header also carries the UTF-8 name)."""
    words = re.sub(r"[^\w]+", "-", query, flags=re.UNICODE).strip("-")[:60] or "results"
    return f"pedkb-{words}.{fmt}"


def content_disposition(query: str, fmt: str) -> str:
    """An attachment header with an ASCII fallback name and the UTF-8 name (RFC 6266)."""
    name = file_name(query, fmt)
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
