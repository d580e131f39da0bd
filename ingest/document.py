"""What ingestion produces: extracted documents, their pages and the chunks cut from them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Page:
    """The text of one page (PDF) or of a whole file (other formats: number is None)."""

    number: int | None
    text: str


@dataclass
class ExtractedDocument:
    """A file read into text, before repair; `pages` keep PDF page numbers (1-based)."""

    source: str
    fmt: str  # "pdf" | "docx" | "txt" | "html"
    pages: list[Page]
    title: str | None = None
    encoding: str | None = None
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A passage to embed: its text, language and where it sits in the repaired document.

    `start`/`end` are character offsets into the repaired text of page `page` (or of the whole document when the
    format has no pages); `ordinal` is the chunk's position in the document, from 0.
    """

    ordinal: int
    text: str
    lang: str
    page: int | None
    start: int
    end: int
    n_tokens: int


@dataclass
class PreparedDocument:
    """A document read, repaired and chunked: what the index stores.

    `pages` hold the repaired text; chunk offsets point into them.
    """

    source: str
    fmt: str
    title: str | None
    pages: list[Page]
    chunks: list[Chunk]
    encoding: str | None = None

    @property
    def languages(self) -> list[str]:
        """Languages of the chunks, most frequent first."""
        counts: dict[str, int] = {}
        for chunk in self.chunks:
            counts[chunk.lang] = counts.get(chunk.lang, 0) + 1
        return sorted(counts, key=lambda lang: (-counts[lang], lang))
