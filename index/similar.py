"""Similar past projects: the experiences and documents nearest to an experience or to a free-text description."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from index.ranking import dense_ranking
from index.records import SearchFilters

if TYPE_CHECKING:
    from index.knowledge_base import KnowledgeBase

DEPTH = 300


@dataclass
class SimilarItem:
    """An item similar to the one asked about, with why."""

    doc_id: str
    kind: str
    title: str | None
    lang: str
    score: float
    shared_technologies: list[str]
    passage: str
    reason: str

    def to_dict(self) -> dict[str, object]:
        """JSON shape used by the CLI and the API."""
        return {"doc_id": self.doc_id, "type": self.kind, "title": self.title, "lang": self.lang,
                "score": round(self.score, 6), "shared_technologies": self.shared_technologies,
                "passage": self.passage, "reason": self.reason}


def _snippet(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def find_similar(kb: KnowledgeBase, vector: np.ndarray, own_technologies: list[str], *, exclude: str | None,
                 k: int, kinds: tuple[str, ...]) -> list[SimilarItem]:
    """Items of the given kinds ranked by their best passage against `vector`, one entry per item."""
    ranked = dense_ranking(kb.backend, vector, DEPTH, SearchFilters(kinds=kinds), kb.settings.lang_centering)
    best: dict[str, tuple[int, float]] = {}
    chunk_doc = kb.backend.get_chunks([cid for cid, _, _ in ranked])
    for cid, score, _lang in ranked:
        chunk = chunk_doc.get(cid)
        if chunk is None or chunk.doc_id == exclude or chunk.doc_id in best:
            continue
        best[chunk.doc_id] = (cid, score)
        if len(best) == k:
            break
    docs = kb.backend.get_documents(list(best))
    items = []
    for doc_id, (cid, score) in best.items():
        doc, chunk = docs.get(doc_id), chunk_doc[cid]
        if doc is None:
            continue
        theirs = doc.facets.get("technology", [])
        shared = [t for t in own_technologies if t in theirs]
        passage = _snippet(chunk.text)
        reason = (f"shared technologies: {', '.join(shared)}; " if shared else "") + f"closest passage: «{passage}»"
        items.append(SimilarItem(doc_id, doc.kind, doc.title, chunk.lang, score, shared, passage, reason))
    return items
