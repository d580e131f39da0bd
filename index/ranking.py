"""Ranking: dense scores on one scale across languages, BM25 over analysed terms, their fusion, and the page rules.

- **Dense** (`dense_ranking`): the CANDIDATES nearest chunks by cosine, re-scored per language. A multilingual
  encoder scores passages in the query's own language higher across the board; each language's scores are moved
  onto the corpus-wide mean and their spread corrected half-way towards the corpus-wide spread, both *for this
  query* (the query against the language's mean vector and covariance, precomputed per store state by the
  backend), so scores stay on the cosine scale. `alpha` (PEDKB_LANG_CENTERING) blends raw (0) and corrected (1).
- **Lexical** (`lexical_ranking`): BM25 over `lexical.index_terms` (folded 4-letter prefixes) in the backend.
- **Hybrid** (`hybrid_ranking`): within each language, reciprocal-rank fusion of the dense and the lexical lists
  decides *which* passages come first; across languages, the slot a passage takes keeps the dense score of that
  rank in its language, so the dense model alone decides *how many* passages of each language the page gets.
  Lexical matches barely cross languages; fusing them across languages would push every other-language answer
  down, fused this way they reorder only within their language (docs/retrieval.md has the comparison). In a
  language outside the query's family a lexical match is a name, a number or a loanword (педагог), weaker
  evidence: it counts OTHER_LANGUAGE_LEXICAL.
- **Page rules** (`present`): a passage whose normalised text repeats one already ranked in the same language is
  dropped (exact copies anywhere, near copies among the first NEAR_DUPLICATE_WINDOW); and every block of PAGE
  results holds at most MAX_PER_SOURCE passages of one document in one language while others are left.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from itertools import islice
from operator import itemgetter
from typing import NamedTuple

import numpy as np

from index.records import ChunkRecord, Ranked, SearchFilters
from index.store.base import Backend
from index.store.statistics import LanguageStatistics

CANDIDATES = 200  # nearest neighbours re-scored by the language correction; lexical hits fused with them
SHRINK = 20  # pseudo-count pulling the statistics of a small language towards those of the whole corpus
SPREAD_POWER = 0.5  # scores are divided by (spread ratio) ** this: 1 = full z-scores, 0 = means only
RRF_K = 60  # reciprocal-rank fusion constant (the usual value; 10-100 measured within noise)
OTHER_LANGUAGE_LEXICAL = 0.25  # weight of lexical matches in passages outside the query's language family
LANGUAGE_FAMILIES = {"kk": ("kk", "ky"), "ky": ("ky", "kk"), "ru": ("ru",)}  # folded kk/ky words meet
PAGE = 10  # the block the per-source cap applies to
MAX_PER_SOURCE = 3  # passages of one document in one language per block of PAGE results
NEAR_DUPLICATE = 0.8  # share of the smaller passage's word trigrams found in the other: a near copy
NEAR_DUPLICATE_WINDOW = 50  # near copies are looked for among this many first results (exact copies everywhere)
SHINGLE_CACHE_SIZE = 2_048  # passages whose trigrams are kept between searches (about 5 KB each)
TEXT_KEYS_SIZE = 200_000  # chunks whose text key a searcher keeps (120 bytes each, 24 MB when full; no text)
_MIN_VARIANCE = 1e-8
_WORD = re.compile(r"[^\W_]+")
_BY_SCORE_AND_ID = itemgetter(0, 1)


Scale = Callable[[float, str], float]


def language_scale(backend: Backend, query: np.ndarray, alpha: float) -> Scale:
    """score, language -> the score put on the corpus-wide scale for this query (identity when alpha is 0).

    With per-language statistics: M + (S / s_L) ** SPREAD_POWER * (score - m_L), where m_L and s_L are the mean
    and standard deviation of this query's cosine over the language's chunks (q·mean_L and sqrt(qᵀ cov_L q)) and
    M, S the same over the whole corpus. Without them (a backend keeping only means) the means alone are corrected.
    """
    if alpha <= 0:
        return lambda score, lang: score
    stats = backend.language_statistics()
    if stats:  # one language alone needs no correction (its scale is the corpus's)
        affine = _standardising(query, stats) if len(stats) >= 2 else {}
    else:  # a backend without statistics: the language means alone
        affine = _centring(query, backend.language_centroids())
    if not affine:
        return lambda score, lang: score
    blended = {lang: (alpha * intercept, 1.0 - alpha + alpha * slope) for lang, (intercept, slope) in affine.items()}
    return lambda score, lang: (blended[lang][0] + blended[lang][1] * score) if lang in blended else score


def corpus_moments(backend: Backend, query: np.ndarray) -> tuple[float, float] | None:
    """The mean and standard deviation of this query's cosine over every stored chunk (None without statistics).

    A score's distance above the mean in standard deviations says how much a passage stands out for *this* query:
    a nonsense query is about as close to everything, a real one has passages far above the crowd.
    """
    stats = backend.language_statistics()
    if not stats:
        return None
    q = np.asarray(query, dtype=np.float64)
    total = sum(s.count for s in stats.values())
    means = {lang: float(q @ s.mean) for lang, s in stats.items()}
    variances = {lang: float(q @ s.covariance.astype(np.float64) @ q) for lang, s in stats.items()}
    mean = sum(means[lang] * s.count for lang, s in stats.items()) / total
    var = sum((variances[lang] + means[lang] ** 2) * s.count for lang, s in stats.items()) / total - mean**2
    return mean, math.sqrt(max(var, _MIN_VARIANCE))


def _standardising(query: np.ndarray, stats: dict[str, LanguageStatistics],
                   power: float = SPREAD_POWER) -> dict[str, tuple[float, float]]:
    """lang -> (intercept, slope) mapping each language's score distribution onto the corpus-wide one."""
    q = np.asarray(query, dtype=np.float64)
    total = sum(s.count for s in stats.values())
    means = {lang: float(q @ s.mean) for lang, s in stats.items()}
    variances = {lang: float(q @ s.covariance.astype(np.float64) @ q) for lang, s in stats.items()}
    overall_mean = sum(means[lang] * s.count for lang, s in stats.items()) / total
    overall_var = sum((variances[lang] + means[lang] ** 2) * s.count for lang, s in stats.items()) / total
    overall_var = max(overall_var - overall_mean**2, _MIN_VARIANCE)
    overall_sd = math.sqrt(overall_var)
    affine = {}
    for lang, s in stats.items():
        mean = (means[lang] * s.count + overall_mean * SHRINK) / (s.count + SHRINK)
        var = (variances[lang] * s.count + overall_var * SHRINK) / (s.count + SHRINK)
        slope = (overall_sd / math.sqrt(max(var, _MIN_VARIANCE))) ** power
        affine[lang] = (overall_mean - slope * mean, slope)
    return affine


def _centring(query: np.ndarray, centroids: dict[str, tuple[np.ndarray, int]]) -> dict[str, tuple[float, float]]:
    """lang -> (intercept, 1): subtract the query's similarity to the language's (shrunk) mean vector."""
    if len(centroids) < 2:
        return {}
    total = sum(count for _, count in centroids.values())
    overall = sum(mean * count for mean, count in centroids.values()) / total
    offsets = {lang: float(query @ ((mean * count + overall * SHRINK) / (count + SHRINK)))
               for lang, (mean, count) in centroids.items()}
    centre = float(query @ overall)
    return {lang: (centre - offset, 1.0) for lang, offset in offsets.items()}


ChunkReader = Callable[[list[int]], dict[int, ChunkRecord]]  # chunk ids -> the chunks that exist


def dense_ranked(backend: Backend, query: np.ndarray, depth: int, filters: SearchFilters | None,
                 alpha: float, read: ChunkReader | None = None) -> list[Ranked]:
    """The nearest chunks re-scored by `language_scale`, best first, ties by id (CANDIDATES at least); chunks are
    read by `read` (default: the backend's `get_chunks`)."""
    fetch = max(CANDIDATES, depth) if alpha > 0 else depth
    pairs = backend.search(query, fetch, filters)
    chunks = (read or backend.get_chunks)([cid for cid, _ in pairs])
    scale = language_scale(backend, query, alpha)
    scored = []  # (-score, id, chunk): sorted as tuples, best first, ties by id
    for cid, score in pairs:
        chunk = chunks.get(cid)
        if chunk is not None:
            scored.append((-scale(score, chunk.lang), cid, chunk))
    scored.sort(key=_BY_SCORE_AND_ID)
    return [Ranked(chunk, -negative) for negative, _, chunk in scored]


def dense_ranking(backend: Backend, query: np.ndarray, depth: int, filters: SearchFilters | None,
                  alpha: float) -> list[tuple[int, float, str]]:
    """(chunk_id, corrected score, chunk language) for the best `depth` chunks, best first, ties by id."""
    return [(r.chunk_id, r.score, r.chunk.lang) for r in dense_ranked(backend, query, depth, filters, alpha)[:depth]]


def lexical_ranking(backend: Backend, terms: Sequence[str], depth: int,
                    filters: SearchFilters | None, read: ChunkReader | None = None) -> list[Ranked]:
    """Chunks sharing terms with the query, by BM25, best first (chunks read as in `dense_ranked`)."""
    pairs = backend.lexical_search(terms, depth, filters)
    chunks = (read or backend.get_chunks)([cid for cid, _ in pairs])
    return [Ranked(chunks[cid], score) for cid, score in pairs if cid in chunks]


def hybrid_ranking(backend: Backend, query: np.ndarray, terms: Sequence[str], depth: int,
                   filters: SearchFilters | None, alpha: float, query_lang: str | None = None) -> list[Ranked]:
    """Dense and lexical fused by rank within each language; languages interleaved by the dense scores."""
    depth = max(CANDIDATES, depth)
    dense = dense_ranked(backend, query, depth, filters, alpha)
    lexical = lexical_ranking(backend, terms, depth, filters)
    return fuse_by_language(dense, lexical, query_lang=query_lang)


def fuse_by_language(dense: Sequence[Ranked], lexical: Sequence[Ranked], k: int = RRF_K,
                     query_lang: str | None = None) -> list[Ranked]:
    """Per language: order by RRF of the two lists, then give the i-th passage the i-th best dense score.

    With the query's language (kk, ky or ru), lexical matches in languages outside its family count
    OTHER_LANGUAGE_LEXICAL; without it (an English or undetermined query) every lexical match counts fully.
    """
    family = LANGUAGE_FAMILIES.get(query_lang or "")
    chunks: dict[int, ChunkRecord] = {}
    dense_score: dict[int, float] = {}
    fused: dict[int, float] = {}
    for leg, is_lexical in ((dense, False), (lexical, True)):
        seen: dict[str, int] = {}
        for r in leg:
            chunk = r.chunk
            cid, lang = chunk.chunk_id, chunk.lang
            place = seen[lang] = seen.get(lang, 0) + 1
            weight = OTHER_LANGUAGE_LEXICAL if is_lexical and family and lang not in family else 1.0
            fused[cid] = fused.get(cid, 0.0) + weight / (k + place)
            if is_lexical:
                chunks.setdefault(cid, chunk)
            else:
                chunks[cid], dense_score[cid] = chunk, r.score
    floor = min(dense_score.values(), default=0.0)
    by_lang: dict[str, list[tuple[float, float, int]]] = {}
    for cid, chunk in chunks.items():  # (-fused, -dense score, id): the order within a language
        by_lang.setdefault(chunk.lang, []).append((-fused[cid], -dense_score.get(cid, -math.inf), cid))
    out = []  # (-slot, -fused, id): the final order
    for keys in by_lang.values():
        keys.sort()
        slots = sorted((-negative for _, negative, _ in keys if negative != math.inf), reverse=True)
        for position, (negative_fused, _, cid) in enumerate(keys):
            slot = slots[position] if position < len(slots) else (slots[-1] if slots else floor)
            out.append((-slot, negative_fused, cid))
    out.sort()
    return [Ranked(chunks[cid], -negative_slot) for negative_slot, _, cid in out]


# ---- page rules ---------------------------------------------------------------------------------------------


def present(ranked: Sequence[Ranked], limit: int, page: int = PAGE, per_source: int = MAX_PER_SOURCE,
            keys: Callable[[ChunkRecord], int] | None = None) -> list[Ranked]:
    """The first `limit` results after the page rules: near-duplicates dropped, then every block of `page`
    results filled in rank order with at most `per_source` passages of one document in one language, as long as
    other passages can take the place. Pages do not depend on `limit`, so paging with offsets is consistent."""
    stream = drop_duplicates(ranked, keys)
    pending: list[Ranked] = []
    out: list[Ranked] = []
    while len(out) < limit:
        taken: list[int] = []
        counts: Counter[tuple[str, str]] = Counter()
        i = 0
        while len(taken) < page:
            if i == len(pending):
                item = next(stream, None)
                if item is None:
                    break
                pending.append(item)
            source = (pending[i].chunk.doc_id, pending[i].chunk.lang)
            if counts[source] < per_source:
                counts[source] += 1
                taken.append(i)
            i += 1
        if len(taken) < page:  # nothing else left: the deferred passages fill the page, in rank order
            chosen = set(taken)
            taken = sorted(taken + [j for j in range(len(pending)) if j not in chosen][: page - len(taken)])
        if not taken:
            break
        out.extend(pending[j] for j in taken)
        chosen = set(taken)
        pending = [r for j, r in enumerate(pending) if j not in chosen]
    return out[:limit]


def drop_duplicates(ranked: Iterable[Ranked], keys: Callable[[ChunkRecord], int] | None = None) -> Iterator[Ranked]:
    """The passages in order without repeats: the same normalised text in the same language again, or (among the
    first NEAR_DUPLICATE_WINDOW) a near copy of one; a translation is a different passage. `keys` gives a chunk's
    text key (default: `text_key` of its text, found anew; a searcher passes its `TextKeys`)."""
    key_of = _key_of if keys is None else keys
    exact: set[tuple[str, int]] = set()
    kept: list[tuple[str, Shingles]] = []  # the passages near copies are compared with, by language
    window = NEAR_DUPLICATE_WINDOW  # passages still to be kept before near copies are no longer looked for
    for r in ranked:
        chunk = r.chunk
        lang = chunk.lang
        key = (lang, key_of(chunk))
        if key in exact:
            continue
        if window:
            shingles = _shingles(chunk.text)
            if any(other_lang == lang and _near_copy(shingles, other) for other_lang, other in kept):
                continue
            kept.append((lang, shingles))
            window -= 1
        exact.add(key)
        yield r


def text_key(text: str) -> int:
    """A hash of a passage's words, case-folded. Within one process, as the keys are only compared there; two
    different texts share one with a chance of 2**-64."""
    return hash(" ".join(_WORD.findall(text.casefold())))


def _key_of(chunk: ChunkRecord) -> int:
    return text_key(chunk.text)


class TextKeys:
    """The text keys of one store's chunks by chunk id, kept between searches: the passages a search ranks recur
    across searches, and finding their words again cost more than the rest of grouping a ranking (measured in
    docs/benchmarks.md). A stored chunk's text never changes and its id is never reused (the stores only ever
    update a chunk's vector key and term count), so an id names one key for the life of the store; no text is kept
    alive. Bounded: cleared when full (clearing a dict is safe beside concurrent searches, evicting from it is not).
    """

    def __init__(self, size: int = TEXT_KEYS_SIZE) -> None:
        self._keys: dict[int, int] = {}
        self._size = size

    def __call__(self, chunk: ChunkRecord) -> int:
        key = self._keys.get(chunk.chunk_id)
        if key is None:
            key = text_key(chunk.text)
            if len(self._keys) >= self._size:
                self._keys.clear()
            self._keys[chunk.chunk_id] = key
        return key

    def __len__(self) -> int:
        return len(self._keys)


class Shingles(NamedTuple):
    """A passage's word trigrams (hashed) and `probe`: as many of them as the passage may lack of a near copy's,
    plus one. A passage holding NEAR_DUPLICATE of this one's trigrams holds one of the probe's (pigeonhole)."""

    grams: frozenset[int]
    probe: frozenset[int]


@lru_cache(maxsize=SHINGLE_CACHE_SIZE)
def _shingles(text: str) -> Shingles:
    tokens = _WORD.findall(text.casefold())
    grams = frozenset(map(hash, zip(tokens, tokens[1:], tokens[2:], strict=False)))
    need = math.ceil(NEAR_DUPLICATE * len(grams))  # trigrams a near copy shares when this is the smaller
    return Shingles(grams, frozenset(islice(grams, len(grams) - need + 1)))


def _near_copy(a: Shingles, b: Shingles) -> bool:
    """Whether the smaller passage has NEAR_DUPLICATE of its trigrams in the other (its probe is checked first:
    most pairs share none of it, and then cannot be near copies)."""
    if len(a.grams) > len(b.grams):
        a, b = b, a
    if not a.grams or a.probe.isdisjoint(b.grams):
        return False
    return len(a.grams & b.grams) >= NEAR_DUPLICATE * len(a.grams)
