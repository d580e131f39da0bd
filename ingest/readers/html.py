"""HTML reader (lxml): the main text only, without scripts, navigation, headers, footers and forms."""

from __future__ import annotations

import re
from pathlib import Path

import lxml.html
from lxml import etree

from ingest.document import ExtractedDocument, Page
from ingest.readers.encoding import decode_text
from pedkb.errors import CorruptFileError, LimitExceededError

DROPPED = frozenset(
    "script style nav header footer aside form noscript template iframe svg canvas button select "
    "textarea input label menu dialog object embed".split()
)
_DROPPED_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "menu", "complementary"})
BLOCKS = frozenset(
    "p div h1 h2 h3 h4 h5 h6 li dt dd blockquote pre section article main figcaption caption address "
    "ul ol dl table thead tbody tfoot figure hr details summary center".split()
)
_CELLS = frozenset({"td", "th"})
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w:.-]+)""", re.I)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_SPACE = re.compile(r"\s+")


def _decode(data: bytes, path: Path) -> tuple[str, str]:
    declared = _CHARSET.search(data[:4096])
    if declared and not data.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        name = declared.group(1).decode("ascii", "ignore").lower()
        try:
            return data.decode(name), name
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong declaration: detect instead
    return decode_text(data, path)


class _TextCollector:
    """Walks the tree and collects block texts: paragraphs, headings, list items, table rows."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self._current: list[str] = []

    def flush(self) -> None:
        text = _SPACE.sub(" ", "".join(self._current)).strip()
        if text:
            self.blocks.append(text)
        self._current = []

    def add(self, text: str | None) -> None:
        if text:
            self._current.append(text)

    def walk(self, element: etree._Element) -> None:
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if not tag or _is_dropped(element, tag):
            return
        if tag == "br":
            self._current.append("\n")
        elif tag == "tr":
            self.flush()
            cells = [_SPACE.sub(" ", cell.text_content()).strip() for cell in element if _tag(cell) in _CELLS]
            row = " | ".join(cell for cell in cells if cell)
            if row:
                self.blocks.append(row)
        elif tag in BLOCKS:
            self.flush()
            self.add(element.text)
            for child in element:
                self.walk(child)
                self.add(child.tail)
            self.flush()
        else:
            self.add(element.text)
            for child in element:
                self.walk(child)
                self.add(child.tail)


def _tag(element: etree._Element) -> str:
    return element.tag.lower() if isinstance(element.tag, str) else ""


def _is_dropped(element: etree._Element, tag: str) -> bool:
    if tag in DROPPED:
        return True
    if element.get("hidden") is not None or element.get("aria-hidden") == "true":
        return True
    return (element.get("role") or "").lower() in _DROPPED_ROLES


def read_html(data: bytes, path: Path) -> ExtractedDocument:
    """Extract the main text of the HTML `data` read from `path` as one page; title from <title> or <h1>."""
    text, encoding = _decode(data, path)
    parser = lxml.html.HTMLParser()  # huge_tree stays off: libxml2 keeps its depth and text-node limits
    try:
        root = lxml.html.document_fromstring(_XML_DECLARATION.sub("", text), parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise CorruptFileError(path, f"damaged HTML ({exc})") from exc
    limit_hit = [error.message for error in parser.error_log if error.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT]
    if limit_hit:  # libxml2 stops at 256 nested elements and silently drops the rest of the page
        reason = limit_hit[0].strip()
        raise LimitExceededError(path, f"the HTML is nested too deeply or too large to parse ({reason})")
    title_text = " ".join(root.xpath("//title//text()")).strip()
    if not title_text:
        title_text = " ".join(" ".join(h.itertext()) for h in root.xpath("//h1")[:1]).strip()
    main = root.xpath("//main|//*[@role='main']") or (
        articles if len(articles := root.xpath("//article")) == 1 else []
    )
    container = main[0] if main and _SPACE.sub("", main[0].text_content()) else root.find("body")
    collector = _TextCollector()
    if container is not None:
        collector.walk(container)
        collector.flush()
    return ExtractedDocument(
        source=str(path),
        fmt="html",
        pages=[Page(number=None, text="\n\n".join(collector.blocks))],
        title=_SPACE.sub(" ", title_text) or None,
        encoding=encoding,
    )
