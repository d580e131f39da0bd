"""Dense ranking with the correction of the encoder's preference for passages in the query's own language."""

from __future__ import annotations

import numpy as np

from index.base import Backend
from index.records import SearchFilters

CANDIDATES = 200  # raw nearest neighbours re-scored by the language-bias correction
SHRINK = 20  # pseudo-count pulling the mean vector of a small language towards the overall mean


def language_offsets(backend: Backend, query: np.ndarray, alpha: float) -> dict[str, float]:
    """How much each passage language is favoured by this query regardless of content.

    A multilingual encoder scores passages in the query's own language higher across the board. The query's
    similarity to a language's mean passage vector measures that pull; subtracting it (times alpha) ranks
    passages by what they say. Means of small languages shrink towards the overall mean; the offsets are centred
    so that corrected scores stay on the familiar cosine scale.
    """
    centroids = backend.language_centroids()
    if alpha <= 0 or len(centroids) < 2:
        return {}
    total = sum(count for _, count in centroids.values())
    overall = sum(mean * count for mean, count in centroids.values()) / total
    offsets = {}
    for lang, (mean, count) in centroids.items():
        shrunk = (mean * count + overall * SHRINK) / (count + SHRINK)
        offsets[lang] = alpha * float(query @ shrunk)
    centre = sum(offsets.values()) / len(offsets)
    return {lang: offset - centre for lang, offset in offsets.items()}


def dense_ranking(backend: Backend, query: np.ndarray, depth: int, filters: SearchFilters | None,
                  alpha: float) -> list[tuple[int, float, str]]:
    """(chunk_id, corrected score, chunk language) for the best `depth` chunks, best first, ties by id."""
    fetch = max(CANDIDATES, depth) if alpha > 0 else depth
    pairs = backend.search(query, fetch, filters)
    chunks = backend.get_chunks([cid for cid, _ in pairs])
    offsets = language_offsets(backend, query, alpha)
    ranked = [(cid, score - offsets.get(chunks[cid].lang, 0.0), chunks[cid].lang)
              for cid, score in pairs if cid in chunks]
    ranked.sort(key=lambda item: (-item[1], item[0]))
    return ranked[:depth]
