"""Technologies as a bridge between languages: recognise a technology named in a query and lift its items.

`TechnologyBridge.recognise` compares the query's words with every name of every technology (its kk/ru/ky/en
labels and aliases, corpus/technologies.json). A name matches when each of its content words meets a query word:

- *exact*: the same normalised word (Kazakh and Kyrgyz letters folded);
- *inflected*: the same stem in the name's language (`lexical.stem`), a stem shorter than MIN_STEM only for
  words within MAX_ENDING_GAP letters of each other; or, in a Kazakh or Kyrgyz name, the name's word with one
  case, possessive or plural ending (a word too short for the stemmer: иш → ишти);
- *fuzzy*: Levenshtein distance 1 (rapidfuzz), for words of MIN_FUZZY letters or more (two edits made
  зерттеуші a technology name).

A name of three or more content words of which all but one meet the query, two of them specific (in the names of
fewer than GENERIC_IN technologies), matches as *described*. Acronyms (a name in capitals: СОР, ТРИЗ) match only
the same capitals.

`lift` then moves, for each matched technology (MAX_TECHNOLOGIES at most), its card (doc_id `tech:<id>`, fetched
from the backend when the candidates lack it) and up to PER_LANGUAGE experiences tagged with it in each language
up the ranking, in that order, the rest following in their order: to the top when the name is most of the query
(NAMED_SHARE of its content words: "дебаты", "кейс-стади"), else right after the first MENTION_HEAD results,
which stay where they are (the query asks something else of a technology it mentions: "ЮНЕСКО болжамы бойынша
қашықтан оқыту үлесі"). Nothing already above its new place moves down. Scores stay monotone with rank: the
i-th result of the new list takes the i-th best score of the old one (results past its end take its last score).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

from index.lexical import KAZAKH_SUFFIXES, KYRGYZ_SUFFIXES, fold_turkic, normalise, stem
from index.ranking import Ranked
from index.records import ChunkRecord, SearchFilters
from index.store.base import Backend
from ingest.knowledge import LANGUAGES, Vocabulary

HOW = ("exact", "inflected", "fuzzy", "described")  # best first
MIN_STEM = 5  # a shared stem this long means one word; a shorter one only for words of about one length
MAX_ENDING_GAP = 2  # (кластер and клас share the "stem" клас but are not one word)
MIN_FUZZY = 4  # shorter words match exactly or by stem only
MAX_TECHNOLOGIES = 2  # technologies lifted per query
GENERIC_IN = 3  # a word in the names of this many technologies (білім, обучение, method) is generic
PER_LANGUAGE = 1  # tagged experiences lifted per technology and language
NAMED_SHARE = 0.5  # a name covering this share of the query's content words is what the query is about
MENTION_HEAD = 3  # results left in place above the lifted ones when the query only mentions a technology
STOP_WORDS = frozenset(
    "и в во на с со по для из к о об а или и және мен пен бен менен жана же and of the in on for to".split()
)
# one case, possessive or plural ending of Kazakh or Kyrgyz, folded as the words are (too short a word to stem: иш)
_ENDINGS = {lang: frozenset(fold_turkic(e) for e in endings)
            for lang, endings in (("kk", KAZAKH_SUFFIXES), ("ky", KYRGYZ_SUFFIXES))}
_ACRONYM = re.compile(r"^[A-ZА-ЯЁӘҒҚҢӨҰҮІҺ0-9-]{2,}$")


@dataclass(frozen=True)
class TechnologyMatch:
    """A technology recognised in a query: which one, the name that matched (its language), how, and how much
    of the query it is."""

    technology_id: str
    name: str
    lang: str
    how: str
    share: float = 1.0  # the share of the query's content words the name covers


@dataclass(frozen=True)
class Lifted:
    """One item moved up by `lift`: its doc id, the technology and why, its rank before (None: not a candidate)."""

    doc_id: str
    technology_id: str
    reason: str  # "technology card" or "tagged experience"
    rank_before: int | None
    rank_after: int


@dataclass(frozen=True)
class _Name:
    technology_id: str
    text: str
    lang: str
    words: tuple[str, ...]
    acronym: bool


def _key(word: str, lang: str) -> str:
    """A word's folded stem, to count in how many technologies' names it occurs."""
    return fold_turkic(stem(word, lang if lang in LANGUAGES else "ru"))


@lru_cache(maxsize=65_536)
def _forms(word: str, lang: str) -> tuple[str, str]:
    """A word's folded form and folded stem (cached: every query meets every name word again)."""
    return fold_turkic(word), fold_turkic(stem(word, lang if lang in LANGUAGES else "ru"))


def _word_match(name_word: str, lang: str, query_word: str) -> str | None:
    """How a word of a name meets a query word: exact, inflected, fuzzy, or None."""
    if name_word == query_word:
        return "exact"
    (a, common), (b, query_common) = _forms(name_word, lang), _forms(query_word, lang)
    if a == b:
        return "exact"
    if common == query_common and (
            len(common) >= MIN_STEM or abs(len(a) - len(b)) <= MAX_ENDING_GAP):
        return "inflected"
    if b.startswith(a) and b[len(a):] in _ENDINGS.get(lang, ()):  # a short kk/ky word with one case ending: иш-ти
        return "inflected"
    if min(len(a), len(b)) >= MIN_FUZZY and Levenshtein.distance(a, b, score_cutoff=1) <= 1:
        return "fuzzy"
    return None


class TechnologyBridge:
    """Every name of every technology, ready to be recognised in a query."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.names: list[_Name] = []
        for tech in vocabulary.technologies.values():
            for lang in (*LANGUAGES, "en"):
                for text in dict.fromkeys([getattr(tech.labels, lang), *getattr(tech.aliases, lang)]):
                    content = tuple(w for w in normalise(text).split() if w not in STOP_WORDS)
                    if content:
                        self.names.append(_Name(tech.id, text, lang, content, bool(_ACRONYM.match(text))))
        spread: dict[str, set[str]] = {}
        for name in self.names:
            for word in name.words:
                spread.setdefault(_key(word, name.lang), set()).add(name.technology_id)
        self.generic = {key for key, techs in spread.items() if len(techs) >= GENERIC_IN}

    def recognise(self, query: str) -> list[TechnologyMatch]:
        """The technologies the query names, best match first (exact, inflected, fuzzy, described)."""
        query_words = [w for w in normalise(query).split() if w not in STOP_WORDS]
        raw_words = set(re.findall(r"\w+", query))
        best: dict[str, tuple[tuple[int, int], TechnologyMatch]] = {}
        for name in self.names:
            if name.acronym:
                acronym = set(re.findall(r"\w+", name.text))
                found: tuple[str, int] | None = ("exact", len(acronym)) if acronym <= raw_words else None
            else:
                found = self._name_match(name, query_words, self.generic)
            if found is None:
                continue
            how, covered = found
            key = (HOW.index(how), -len(name.words))
            if name.technology_id not in best or key < best[name.technology_id][0]:
                share = covered / max(len(query_words), 1)
                best[name.technology_id] = (key, TechnologyMatch(name.technology_id, name.text, name.lang, how,
                                                                 min(share, 1.0)))
        return [match for _, match in sorted(best.values(), key=lambda item: (item[0], item[1].technology_id))]

    @staticmethod
    def _name_match(name: _Name, query_words: Sequence[str], generic: set[str]) -> tuple[str, int] | None:
        """How the name meets the query and how many query words it covers, or None."""
        levels: list[str | None] = []
        covered: set[int] = set()
        for word in name.words:
            found = [(h, i) for i, q in enumerate(query_words) if (h := _word_match(word, name.lang, q)) is not None]
            levels.append(min((h for h, _ in found), key=HOW.index) if found else None)
            covered.update(i for _, i in found)
        missing = levels.count(None)
        if missing == 0:
            return max(levels, key=lambda h: HOW.index(h or "described")) or "described", len(covered)
        specific = sum(1 for word, level in zip(name.words, levels, strict=True)
                       if level is not None and _key(word, name.lang) not in generic)
        if missing == 1 and len(levels) >= 3 and specific >= 2:
            return "described", len(covered)
        return None


def lift(ranked: Sequence[Ranked], matches: Sequence[TechnologyMatch], backend: Backend,
         filters: SearchFilters | None = None, query_lang: str | None = None) -> tuple[list[Ranked], list[Lifted]]:
    """The ranking with the matched technologies' cards and tagged experiences first, and what was moved."""
    if not matches or not ranked:
        return list(ranked), []
    base = filters or SearchFilters()
    best_chunk: dict[str, tuple[int, Ranked]] = {}
    for position, r in enumerate(ranked):
        best_chunk.setdefault(r.chunk.doc_id, (position, r))
    chosen: list[tuple[str, str, str, ChunkRecord]] = []  # (doc_id, technology, reason, chunk)
    taken: set[str] = set()

    def take(doc_id: str, tech_id: str, reason: str, lang: str | None) -> None:
        if doc_id in taken:
            return
        chunk = best_chunk[doc_id][1].chunk if doc_id in best_chunk else _first_chunk(backend, doc_id, lang)
        if chunk is not None:
            taken.add(doc_id)
            chosen.append((doc_id, tech_id, reason, chunk))

    for match in matches[:MAX_TECHNOLOGIES]:
        tech_id = match.technology_id
        if base.technologies is not None and tech_id not in base.technologies:
            continue
        card = f"tech:{tech_id}"
        if _passes(backend, replace(base, doc_ids=(card,))):
            wanted = query_lang if base.langs is None or query_lang in base.langs else base.langs[0]
            take(card, tech_id, "technology card", wanted)
        if base.kinds is not None and "experience" not in base.kinds:
            continue
        tagged, _ = backend.filter_documents(replace(base, technologies=(tech_id,), kinds=("experience",)))
        order = {doc.doc_id: best_chunk[doc.doc_id][0] if doc.doc_id in best_chunk else len(ranked) + i
                 for i, doc in enumerate(tagged)}
        per_lang: dict[str, int] = {}
        for doc in sorted(tagged, key=lambda d: order[d.doc_id]):
            lang = doc.languages[0] if doc.languages else ""
            if per_lang.get(lang, 0) < PER_LANGUAGE and doc.doc_id not in taken:
                per_lang[lang] = per_lang.get(lang, 0) + 1
                take(doc.doc_id, tech_id, "tagged experience", lang)
    head = 0 if max(m.share for m in matches[:MAX_TECHNOLOGIES]) >= NAMED_SHARE else MENTION_HEAD
    kept = {r.chunk.doc_id for r in ranked[:head]}
    chosen = [item for item in chosen if item[0] not in kept]
    if not chosen:
        return list(ranked), []
    moved = {chunk.chunk_id for *_, chunk in chosen}
    rest = [r.chunk for r in ranked[head:] if r.chunk_id not in moved]
    order_chunks = [r.chunk for r in ranked[:head]] + [chunk for *_, chunk in chosen] + rest
    slots = [r.score for r in ranked]
    slots.sort(reverse=True)
    out = [Ranked(chunk, slots[min(i, len(slots) - 1)]) for i, chunk in enumerate(order_chunks)]
    record = [Lifted(doc_id, tech_id, reason, best_chunk[doc_id][0] + 1 if doc_id in best_chunk else None,
                     head + i + 1) for i, (doc_id, tech_id, reason, _) in enumerate(chosen)]
    return out, record


def _passes(backend: Backend, filters: SearchFilters) -> bool:
    """True when some document passes the filters."""
    return bool(backend.filter_documents(filters, 0, 1)[0])


def _first_chunk(backend: Backend, doc_id: str, lang: str | None) -> ChunkRecord | None:
    """A document's chunk in `lang` (else its first chunk), for an item that was not among the candidates."""
    chunks = backend.document_chunks(doc_id)
    if not chunks:
        return None
    return next((c for c in chunks if c.lang == lang), chunks[0])
