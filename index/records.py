"""Records the index stores and returns: documents, chunks, search hits and filters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ingest.document import Chunk


@dataclass
class DocumentRecord:
    """One indexed item: a file (kind "document"), or later an experience or a technology."""

    doc_id: str
    source: str
    title: str | None
    fmt: str
    sha256: str
    size: int
    kind: str = "document"
    languages: list[str] = field(default_factory=list)
    n_chunks: int = 0
    created: float = 0.0
    updated: float = 0.0
    meta: dict[str, object] = field(default_factory=dict)
    facets: dict[str, list[str]] = field(default_factory=dict)  # filterable values: region, grade, technology...

    def stored_facets(self) -> dict[str, list[str]]:
        """The facet rows a backend stores for the item: its own facets plus its languages."""
        facets = {name: [str(v) for v in values] for name, values in self.facets.items()}
        facets["lang"] = list(self.languages)
        return facets


@dataclass(frozen=True)
class Deletion:
    """A deleted item remembered for harvesters (OAI-PMH reports it as deleted): its id, kind, when it went and
    the facets it had (so a harvest of one set sees its deletions too)."""

    doc_id: str
    kind: str
    deleted: float
    facets: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ChunkRecord(Chunk):
    """A stored chunk (the fields of an ingested `Chunk`) with its ids; `chunk_id` is also its vector id."""

    chunk_id: int
    doc_id: str


class Ranked(NamedTuple):
    """One ranked chunk with its raw score (higher is better), as `index.ranking` ranks them; an item's matched
    passages are these too (`results.Passage`). A named tuple: a search makes some 2,000 of them, and a frozen
    dataclass takes half as long again to make."""

    chunk: ChunkRecord
    score: float

    @property
    def chunk_id(self) -> int:
        """The chunk's id."""
        return self.chunk.chunk_id

    @property
    def raw(self) -> float:
        """The raw ranking score (the name the item results read it by)."""
        return self.score

    @property
    def lang(self) -> str:
        """The passage's language."""
        return self.chunk.lang

    @property
    def text(self) -> str:
        """The passage's text."""
        return self.chunk.text


@dataclass(frozen=True)
class NewChunk(Chunk):
    """A chunk about to be stored, with its vector and the cache key of that vector."""

    vector_key: str
    vector: np.ndarray = field(compare=False)


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions on a search or a listing; None means no restriction, several values mean any of them.

    `technologies` and `groups` match an item's own technology tags and, for documents, the suggested ones;
    the other facets (region, subject, grade, year, experience kind, stage) exist on experiences only, so a filter
    on them excludes documents and technologies.
    """

    langs: tuple[str, ...] | None = None
    kinds: tuple[str, ...] | None = None
    doc_ids: tuple[str, ...] | None = None
    technologies: tuple[str, ...] | None = None
    groups: tuple[str, ...] | None = None
    regions: tuple[str, ...] | None = None
    subjects: tuple[str, ...] | None = None
    grades: tuple[int, ...] | None = None
    experience_kinds: tuple[str, ...] | None = None
    stages: tuple[str, ...] | None = None
    year_min: int | None = None
    year_max: int | None = None
    ocr: bool | None = None  # True: passages read by OCR only; False: born-digital text only

    def is_empty(self) -> bool:
        """True when nothing is restricted."""
        return all(getattr(self, name) is None for name in self.__dataclass_fields__)

    def facets(self) -> dict[str, tuple[str, ...]]:
        """The facet restrictions as facet name -> allowed values (see FACETS)."""
        out: dict[str, tuple[str, ...]] = {}
        for facet, attr in FACETS.items():
            values = getattr(self, attr)
            if values is not None:
                out[facet] = tuple(str(v) for v in values)
        return out


# facet name stored in the index -> SearchFilters attribute
FACETS = {
    "technology": "technologies",
    "group": "groups",
    "region": "regions",
    "subject": "subjects",
    "grade": "grades",
    "experience_kind": "experience_kinds",
    "stage": "stages",
}


@dataclass
class SearchHit:
    """One search result: the chunk, its document and the similarity score."""

    chunk: ChunkRecord
    document: DocumentRecord
    score: float

    def to_dict(self) -> dict[str, object]:
        """The stable JSON shape of a result (CLI `search --json` and the API)."""
        return {
            "doc_id": self.document.doc_id,
            "chunk_id": self.chunk.chunk_id,
            "type": self.document.kind,
            "source": self.document.source,
            "title": self.document.title,
            "lang": self.chunk.lang,
            "page": self.chunk.page,
            "text": self.chunk.text,
            "score": round(float(self.score), 6),
            "ocr": self.chunk.ocr,
            "ocr_confidence": self.chunk.ocr_confidence,
            "technologies": list(self.document.facets.get("technology", [])),
        }


@dataclass
class TechnologySuggestion:
    """A technology suggested for a text, with its group and score."""

    technology_id: str
    group_id: str
    score: float
    labels: dict[str, str]

    def to_dict(self) -> dict[str, object]:
        """JSON shape used by the CLI and the API."""
        return {"technology_id": self.technology_id, "group_id": self.group_id, "score": round(self.score, 6),
                "labels": self.labels}
