"""Search as a reader sees it: the ranking pipeline run once per query, then passages or one result per item.

`Searcher.passages` is the flat passage list (`ranking.present`'s page rules); `Searcher.items` groups the same
ranked list by item (`results.group`), maps raw scores to calibrated 0–1 scores (`calibration.py`), says "no
close match" when even the best item is below the calibrated floor, counts the matching items and their facets,
and with `explain` records for every shown passage the dense and lexical evidence and the fusion ranks.

Ranking depth comes in TIERS: the first pages read a shallow ranking (CANDIDATES passages per leg), deeper pages
a ranking POOL deep. The order served is one list per query, whatever the page asked: the shallow tier's first
`reach` results, then the deeper tier's results not already among them. Every page is a slice of that list, so
page n + 1 continues page n exactly and no result comes twice (docs/api.md, "Paging"); totals counted on a
shallow tier whose pool was full are marked estimates.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from index import ranking
from index.calibration import Calibration
from index.lexical import index_terms
from index.records import ChunkRecord, DocumentRecord, SearchFilters, SearchHit
from index.results import ItemGroup, facet_counts, group
from index.store.base import Backend
from index.store.generation_cache import GenerationCache, RecordCache
from ingest.language import detect_query_language
from pedkb import limits

log = logging.getLogger(__name__)

Lift = Callable[[str, list[ranking.Ranked], SearchFilters | None, str, np.ndarray],
               tuple[list[ranking.Ranked], list[Any]]]
POOL = limits.MAX_OFFSET + limits.MAX_K  # passages ranked for the deepest page reachable
# (depth, reach): results up to `reach` come from a ranking `depth` passages deep on each leg; the last tier is
# POOL deep and reaches every page. 400 deep: the evaluation is unchanged (200 moved cross-lingual MRR@10 -0.01).
TIERS: tuple[tuple[int, int], ...] = ((2 * ranking.CANDIDATES, 100), (POOL, POOL))
# chunk texts kept between searches: about 60 MB with the records (Cyrillic text takes 2 bytes a character). At
# 100k chunks the API bench's 1,100 new queries read 40,762 distinct chunks: 12M characters kept 17k of them and
# missed 19 % of reads (1 ms a search in SQLite reads), 30M keeps them all.
CHUNK_CACHE_CHARS = 30_000_000
WARM_CHUNKS_BATCH = 2_000  # chunks read at once by `Searcher.warm_chunks`
DOCUMENT_CACHE_SIZE = 10_000  # item records kept between searches


@dataclass
class Evidence:
    """Why one passage ranks where it does: its dense and lexical ranks (within its language) and scores."""

    dense_rank: int | None = None
    dense_score: float | None = None
    lexical_rank: int | None = None
    lexical_score: float | None = None
    rank: int = 0  # position in the fused list (1 = first)

    def to_dict(self) -> dict[str, object]:
        """JSON shape of `explain`."""
        return {"dense": None if self.dense_rank is None else
                {"rank_in_language": self.dense_rank, "score": round(float(self.dense_score or 0.0), 6)},
                "lexical": None if self.lexical_rank is None else
                {"rank_in_language": self.lexical_rank, "score": round(float(self.lexical_score or 0.0), 6)},
                "fused_rank": self.rank}


@dataclass
class Ranking:
    """The ranked passages of one query, with the terms searched and the evidence per chunk."""

    ranked: list[ranking.Ranked]
    terms: list[str]
    legs: tuple[Sequence[ranking.Ranked], Sequence[ranking.Ranked]] = ((), ())  # the dense and lexical lists
    expansions: list[str] = field(default_factory=list)
    full: bool = False  # the pool was full: more passages may match beyond it
    words: float = 0.0  # the best BM25 per distinct query term among the word matches (0: no word matched)
    dense_top: float | None = None  # the best language-corrected cosine, in every mode
    _groups: list[ItemGroup] | None = field(default=None, repr=False, compare=False)
    _evidence: dict[int, Evidence] | None = field(default=None, repr=False, compare=False)

    @property
    def evidence(self) -> dict[int, Evidence]:
        """Per chunk, its ranks and scores in each leg and its place in the final list (computed when first read:
        only `explain` reads it, and the ranks of some 800 passages cost more than the rest of a cached search)."""
        if self._evidence is None:
            self._evidence = _evidence(*self.legs, self.ranked)
        return self._evidence

    def groups(self, keys: ranking.TextKeys | None = None) -> list[ItemGroup]:
        """The items of the ranking in order of their best passage, near duplicates dropped (computed once: a
        ranking may be shared by several searches through `rankings`; callers do not change the groups). `keys`:
        the searcher's text keys of the chunks, kept between searches."""
        if self._groups is None:
            self._groups = group(ranking.drop_duplicates(self.ranked, keys))
        return self._groups


@dataclass
class ItemHit:
    """One item of a search answer: its document, its matched passages and its calibrated score."""

    document: DocumentRecord
    group: ItemGroup
    score: float
    passage_scores: list[float]  # the calibrated score of each matched passage, best first
    explanation: dict[str, object] | None = None

    def hit(self) -> SearchHit:
        """The item as a passage hit: its best passage, its document, its score."""
        return SearchHit(self.group.best.chunk, self.document, self.score)


@dataclass
class ItemPage:
    """A page of items with the query's totals and facets."""

    items: list[ItemHit]
    total: int
    total_is_estimate: bool
    facets: dict[str, dict[str, int]]
    no_close_match: bool
    floor: float | None
    close_match: float | None = None  # the calibrated chance that the query has a close match at all


class _Candidate(NamedTuple):
    """A matching item in the served order, with its calibrated score and the ranking (tier) it came from."""

    group: ItemGroup
    score: float
    found: Ranking


@dataclass
class _ServedItems:
    """The matching items of one query as served: `order` pages slice it; `beyond` only counts."""

    order: list[_Candidate] = field(default_factory=list)
    beyond: list[_Candidate] = field(default_factory=list)
    estimate: bool = False  # the deepest tier ranked was full and its last item still matched
    no_close_match: bool = False
    close: float | None = None


class Searcher:
    """Runs searches over one backend with one embedder."""

    def __init__(self, backend: Backend, embed_query: Callable[[str], np.ndarray], lang_centering: float,
                 calibration: Callable[[], Calibration], *, terms: Callable[[str], list[str]] = index_terms,
                 lift: Lift | None = None) -> None:
        self.backend = backend
        self._embed_query = embed_query
        self._alpha = lang_centering
        self._calibration = calibration
        self._terms = terms  # the lexical leg's terms (with the spelling corrections of unknown words)
        self._lift = lift  # the technology bridge: named technologies and their experiences moved up
        self.rankings: GenerationCache[Ranking] = GenerationCache()  # the recent rankings
        # the chunks and items searches read, by id (weighed by text length: ~CHUNK_CACHE_CHARS characters in all)
        self.chunks: RecordCache[int, ChunkRecord] = RecordCache(CHUNK_CACHE_CHARS, lambda c: len(c.text) + 200)
        self.documents: RecordCache[str, DocumentRecord] = RecordCache(DOCUMENT_CACHE_SIZE)
        self.text_keys = ranking.TextKeys()  # the chunks' text keys (exact copies are dropped by them)

    def warm_chunks(self, seconds: float) -> int:
        """Read the store's chunks into `chunks`, and their text keys into `text_keys`, in id order, until the cache
        is full (nothing is dropped for them), every chunk is in or `seconds` have passed; returns how many were
        taken. A fresh process otherwise reads from the store most chunks its first hundred searches rank (at 100k
        chunks 16-23 thousand reads, p50 1.7 ms a search more than once warm: docs/benchmarks.md session 16); a
        bank of up to CHUNK_CACHE_CHARS characters is read whole, a larger one in part."""
        deadline = time.monotonic() + seconds
        generation = self.backend.generation()
        taken = 0
        for batch in self.backend.iter_chunks(WARM_CHUNKS_BATCH):
            kept = self.chunks.fill(((chunk.chunk_id, chunk) for chunk in batch), generation)
            for chunk in batch[:kept]:
                self.text_keys(chunk)
            taken += kept
            if kept < len(batch) or time.monotonic() >= deadline:
                break
        return taken

    def _chunk_reader(self, generation: int) -> ranking.ChunkReader:
        """Chunks by id through `chunks`, at the generation the ranking was asked at (read once per ranking)."""
        return lambda ids: self.chunks.get_many(ids, generation, self.backend.get_chunks)

    def _read_documents(self, ids: Sequence[str]) -> dict[str, DocumentRecord]:
        return self.documents.get_many(ids, self.backend.generation(), self.backend.get_documents)

    def rank(self, query: str, mode: str, filters: SearchFilters | None, depth: int = POOL) -> Ranking:
        """The passages for a query best first, `depth` at most from each leg (dense and lexical); a ranking asked
        for again before the store changed (the next page, a popular query) comes from `rankings`.

        Both legs always run (the one a mode does not rank by, shallowly): the close-match check reads the best
        dense score and the best word match in every mode.
        """
        terms = self._terms(query)  # in the key: the spelling corrections follow the speller's rebuilds
        generation = self.backend.generation()
        return self.rankings.get((query, tuple(terms), mode, filters, depth), generation,
                                 lambda: self._rank(query, terms, mode, filters, depth, generation))

    def _rank(self, query: str, terms: list[str], mode: str, filters: SearchFilters | None, depth: int,
              generation: int) -> Ranking:
        read = self._chunk_reader(generation)
        lexical = self._lexical(terms, depth if mode != "dense" else 1, filters, read)
        words = _word_match(lexical, terms)
        vector = self._embed_query(query)
        dense = ranking.dense_ranked(self.backend, vector, depth if mode != "lexical" else 1, filters,
                                     self._alpha, read)
        dense_top = dense[0].score if dense else None
        if mode == "lexical" and lexical is not None:
            return Ranking(lexical, terms, ((), lexical), full=len(lexical) >= depth, words=words,
                           dense_top=dense_top)
        dense = dense[:depth]
        full = len(dense) >= depth
        if mode != "hybrid" or lexical is None:
            return Ranking(dense, terms, (dense, ()), full=full, words=words, dense_top=dense_top)
        query_lang = detect_query_language(query)
        fused = ranking.fuse_by_language(dense, lexical, query_lang=query_lang)
        expansions = []
        if self._lift is not None:
            fused, lifted = self._lift(query, fused, filters, query_lang, vector)
            expansions = [_expansion(x) for x in lifted]
        return Ranking(fused, terms, (dense, lexical), expansions, full=full or len(lexical) >= depth,
                       words=words, dense_top=dense_top)

    def _lexical(self, terms: list[str], depth: int, filters: SearchFilters | None,
                 read: ranking.ChunkReader) -> list[ranking.Ranked] | None:
        """The word matches, best first; None (and a warning) when the backend has no lexical index."""
        try:
            return ranking.lexical_ranking(self.backend, terms, depth, filters, read)
        except NotImplementedError:
            log.warning("%s has no lexical index: search falls back to dense (embeddings alone)",
                        type(self.backend).__name__)
            return None

    def passages(self, query: str, *, k: int, offset: int, filters: SearchFilters | None,
                 mode: str) -> list[SearchHit]:
        """One page of passages under the page rules (near duplicates dropped, at most three of a source)."""
        need = offset + k
        served: list[ranking.Ranked] = []
        for depth, reach in TIERS:
            found = self.rank(query, mode, filters, depth)
            last = not found.full or depth >= TIERS[-1][0]
            seen = {r.chunk_id for r in served}
            limit = need if last else reach
            fresh = [r for r in ranking.present(found.ranked, limit + len(served), keys=self.text_keys)
                     if r.chunk_id not in seen]
            served += fresh[:limit - len(served)]
            if last or len(served) >= need:
                break
        page = served[offset:need]
        docs = self._read_documents([r.chunk.doc_id for r in page])
        calibration = self._calibration()
        n_terms = len(set(found.terms))
        return [SearchHit(r.chunk, docs[r.chunk.doc_id], calibration.score(r.score, mode, n_terms))
                for r in page if r.chunk.doc_id in docs]

    def items(self, query: str, *, k: int, offset: int, filters: SearchFilters | None, mode: str,
              explain: bool = False, min_score: float | None = None) -> ItemPage:
        """One page of items: each item once, at its best passage; totals and facets over the matching items.

        Matching items score at least `min_score` (default: the calibrated floor of the mode); a query whose
        best item is not a close match (`Calibration.close_match` below its floor) has none.
        """
        calibration = self._calibration()
        floor = calibration.floor(mode) if min_score is None else min_score
        served = self._served_items(query, mode, filters, offset + k, calibration, floor)
        matching = served.order + served.beyond
        docs = self._read_documents([c.group.doc_id for c in matching])
        kept = [c.group for c in matching if c.group.doc_id in docs]
        items = []
        for c in served.order[offset:offset + k]:
            g = c.group
            if g.doc_id not in docs:
                continue
            explanation = None
            if explain:
                explanation = self._explain(g, c.found, c.score, mode, calibration, floor)
            n_terms = len(set(c.found.terms))
            passage_scores = [calibration.score(p.raw, mode, n_terms) for p in g.passages]
            items.append(ItemHit(docs[g.doc_id], g, c.score, passage_scores, explanation))
        return ItemPage(items, len(kept), served.estimate, facet_counts(kept, docs), served.no_close_match, floor,
                        served.close)

    def _served_items(self, query: str, mode: str, filters: SearchFilters | None, need: int,
                      calibration: Calibration, floor: float | None) -> _ServedItems:
        """The matching items in the order served, at least `need` of them where they exist (module docstring).

        The list served is cut from one list of *all* ranked items (whatever `min_score`): a tier adds its items not
        yet listed up to its reach, the tier that ends the walk (enough matching served, its pool not full, or the
        deepest) all of them. The items scoring at least `floor` are served; those past the reach of the tier that
        ended the walk go to `beyond` (counted in totals and facets, never shown), so a stricter `min_score` keeps
        a subset of the same list. Whether the query has a close match at all is read on the first tier.
        """
        served = _ServedItems()
        listed: set[str] = set()
        for depth, reach in TIERS:
            found = self.rank(query, mode, filters, depth)
            n_terms = len(set(found.terms))
            groups = found.groups(self.text_keys)
            if depth == TIERS[0][0]:
                served.close = self._close_match(query, filters, found, calibration)
                query_floor = calibration.query_floor()
                served.no_close_match = (bool(groups) and served.close is not None and query_floor is not None
                                         and served.close < query_floor)
                if served.no_close_match:
                    return served
            fresh = [_Candidate(g, calibration.score(g.best.raw, mode, n_terms), found)
                     for g in groups if g.doc_id not in listed]
            deepest = depth >= TIERS[-1][0]
            last = not found.full or deepest
            taken = fresh if last else fresh[:max(reach - len(listed), 0)]
            matching = [c for c in taken if floor is None or c.score >= floor]
            if last or len(served.order) + len(matching) >= need:
                served.order += matching
                served.beyond = [c for c in fresh[len(taken):] if floor is None or c.score >= floor]
                # counted on a full pool: a deeper one holds more items (the deepest: while its last one matches)
                served.estimate = found.full and (not deepest or (bool(fresh) and (floor is None or
                                                                                     fresh[-1].score >= floor)))
                return served
            served.order += matching
            listed.update(c.group.doc_id for c in taken)
        return served

    def _close_match(self, query: str, filters: SearchFilters | None, found: Ranking,
                     calibration: Calibration) -> float | None:
        """The chance that the query has a close match in the bank (`Calibration.close_match`).

        Under a filter the chance reads the filtered search's best dense score (is anything *shown* close?) with
        the query's best word match in the whole bank (is the query made of this bank's words, or keyboard mash?).
        The filtered word match alone cut real queries filtered to another language than their own, which have no
        words of their language to match there: 28 of 159 cross-lingual evaluation pairs searched within the
        answer language. The unfiltered dense score alone showed items under a filter that holds nothing close (a
        mentoring question filtered to Kazakh in a bank whose only mentoring text is Russian). docs/results.md.
        """
        words = found.words
        if filters is not None and not filters.is_empty():
            words = max(words, self._words_in_bank(query))  # the filtered words are a part of the bank's
        return calibration.close_match(found.dense_top, words)

    def _words_in_bank(self, query: str) -> float:
        """The query's best word match per term over the whole bank (`Ranking.words` unfiltered): the lexical leg
        alone, one passage deep, kept in `rankings` under a key of its own."""
        terms = self._terms(query)
        generation = self.backend.generation()

        def words() -> Ranking:
            lexical = self._lexical(terms, 1, None, self._chunk_reader(generation))
            return Ranking([], terms, words=_word_match(lexical, terms))

        return self.rankings.get((query, tuple(terms), "words", None, 1), generation, words).words

    def _explain(self, item: ItemGroup, found: Ranking, score: float, mode: str, calibration: Calibration,
                 floor: float | None) -> dict[str, object]:
        """The evidence behind one item: per matched passage, the legs' ranks and scores and the terms matched."""
        query_terms = Counter(found.terms)
        passages = []
        for passage in item.passages[:5]:
            evidence = found.evidence.get(passage.chunk_id, Evidence())
            matched = sorted(set(index_terms(passage.text)) & set(query_terms))
            passages.append({"chunk_id": passage.chunk_id, "lang": passage.lang, "raw_score": round(passage.raw, 6),
                             **evidence.to_dict(), "matched_terms": matched})
        return {"mode": mode, "score": round(score, 6), "raw_score": round(item.best.raw, 6), "floor": floor,
                "best_dense_score": found.dense_top, "word_match_per_term": round(found.words, 4),
                "calibration": calibration.describe(mode), "query_terms": list(query_terms),
                "expansions": list(found.expansions), "passages": passages}


def _word_match(lexical: Sequence[ranking.Ranked] | None, terms: Sequence[str]) -> float:
    """`Ranking.words`: the best lexical score per distinct query term (0 when no passage shares a word)."""
    return lexical[0].score / max(len(set(terms)), 1) if lexical else 0.0


def _expansion(lifted: Any) -> str:
    """How the technology bridge moved one item, for `explain`."""
    how = {"embedded": "described in", "feedback": "agreed on by the first results of"}.get(lifted.how, "named in")
    return (f"{lifted.doc_id}: {lifted.reason} of {lifted.technology_id} {how} the query "
            f"(rank {lifted.rank_before or 'none'} → {lifted.rank_after})")


def _evidence(dense: Sequence[ranking.Ranked], lexical: Sequence[ranking.Ranked],
              fused: Sequence[ranking.Ranked]) -> dict[int, Evidence]:
    """Per chunk: its rank within its language in each leg, the leg's score, and its place in the final list."""
    out: dict[int, Evidence] = {}
    for leg, is_lexical in ((dense, False), (lexical, True)):
        seen: Counter[str] = Counter()
        for r in leg:
            seen[r.chunk.lang] += 1
            evidence = out.setdefault(r.chunk_id, Evidence())
            if is_lexical:
                evidence.lexical_rank, evidence.lexical_score = seen[r.chunk.lang], r.score
            else:
                evidence.dense_rank, evidence.dense_score = seen[r.chunk.lang], r.score
    for position, r in enumerate(fused, 1):
        out.setdefault(r.chunk_id, Evidence()).rank = position
    return out
