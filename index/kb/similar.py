"""Similar past projects: the experiences and documents nearest to an experience or to a free-text description."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.ranking import dense_ranking
from index.records import SearchFilters
from index.store.base import Backend

DEPTH = 300
CANDIDATE_ITEMS = 50  # items re-scored by shared technologies
TECH_BONUS = 0.02  # added per shared technology, weighted 1, 1/2, 1/3 by its rank in the asker's list


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


def find_similar(backend: Backend, vector: np.ndarray, own_technologies: list[str], *, exclude: str | None,
                 k: int, kinds: tuple[str, ...], lang_centering: float) -> list[SimilarItem]:
    """Items of the given kinds ranked by their best passage against `vector`, one entry per item.

    The 50 best items are re-scored with a small bonus per technology they share with the asker (its own tags,
    or for a free text the classifier's suggestions), so that projects built on the same method rise.
    """
    ranked = dense_ranking(backend, vector, DEPTH, SearchFilters(kinds=kinds), lang_centering)
    best: dict[str, tuple[int, float]] = {}
    chunk_doc = backend.get_chunks([cid for cid, _, _ in ranked])
    for cid, score, _lang in ranked:
        chunk = chunk_doc.get(cid)
        if chunk is None or chunk.doc_id == exclude or chunk.doc_id in best:
            continue
        best[chunk.doc_id] = (cid, score)
        if len(best) == CANDIDATE_ITEMS:
            break
    weights = {tech: 1.0 / (rank + 1) for rank, tech in enumerate(own_technologies)}
    docs = backend.get_documents(list(best))
    rescored = {
        doc_id: (cid, score + TECH_BONUS * sum(weights.get(t, 0.0) for t in docs[doc_id].facets.get("technology", [])))
        for doc_id, (cid, score) in best.items() if doc_id in docs
    }
    best = dict(sorted(rescored.items(), key=lambda item: (-item[1][1], item[0]))[:k])
    docs = backend.get_documents(list(best))
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
