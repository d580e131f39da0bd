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
the same capitals. The words of a name must stand together: at most NAME_SPAN other query words among them. The
share of the query a name covers leaves out the words of a how-to frame (QUERY_FRAME: как, организовать, урок,
қалай, сабақта, кантип…).

A query that names none may still be about one technology: `TechnologyRouter` routes the query's embedding to the
technology whose prototypes are clearly nearest (*embedded*), and, failing that, `feedback` takes the primary
technology a majority of the first results share (*feedback*). Both are lifted as mentions.

`lift` then moves, for each matched technology (MAX_TECHNOLOGIES at most), its card (doc_id `tech:<id>`, fetched
from the backend when the candidates lack it) and up to PER_LANGUAGE experiences tagged with it in each language
(the ones whose tags list the technology earliest, then the best ranked) up the ranking, in that order, the
rest following in their order: to the top when the name is most of the query
(NAMED_SHARE of its content words: "дебаты", "кейс-стади"), else right after the first MENTION_HEAD results,
which stay where they are (the query asks something else of a technology it mentions: "ЮНЕСКО болжамы бойынша
қашықтан оқыту үлесі"). Nothing already above its new place moves down. Scores stay monotone with rank: the
i-th result of the new list takes the i-th best score of the old one (results past its end take its last score).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from rapidfuzz.distance import Levenshtein

from index.lexical import KAZAKH_SUFFIXES, KYRGYZ_SUFFIXES, fold_turkic, normalise, stem
from index.ranking import Ranked
from index.records import ChunkRecord, SearchFilters
from index.store.base import Backend
from ingest.knowledge import LANGUAGES, Vocabulary

HOW = ("exact", "inflected", "fuzzy", "described", "embedded", "feedback")  # best first
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
# the frame of a teacher's how-to question, in kk, ru and ky: not what the query is about, so not counted in the
# share a technology's name covers ("как организовать работу в парах на уроке" is about work in pairs)
QUERY_FRAME = frozenset("""
    как что такое какие какой какая каким почему зачем где когда ли можно нужно надо организовать организовывать
    провести проводить использовать применять применение урок урока уроке уроках уроки занятие занятии
    қалай не деген қандай неге қайда қашан ма ме ба бе па пе ұйымдастыру ұйымдастырамыз өткізу өткізеді
    қолдану қолданамыз керек сабақ сабақта сабақтарда сабағында сабақтың
    кантип эмне деген кандай эмнеге кайда качан уюштуруу уюштурабыз өткөрүү колдонуу керек сабак сабакта
    сабактарда сабагында сабактын
    how what why when where use organise organize run lesson lessons class
""".split())
NAME_SPAN = 2  # other query words allowed among the words of a name (работу в классе в парах)
FEEDBACK_TOP = 3  # first items whose primary technologies are counted (the head a mention leaves in place)
FEEDBACK_VOTES = 2  # how many of them must share one (a majority) for the query to be taken as about it
ROUTE_GAP = 0.0125  # an embedded query routes to a technology this much closer than to any other (bench/route)
# one case, possessive or plural ending of Kazakh or Kyrgyz, folded as the words are (too short a word to stem: иш)
_ENDINGS = {lang: frozenset(fold_turkic(e) for e in endings)
            for lang, endings in (("kk", KAZAKH_SUFFIXES), ("ky", KYRGYZ_SUFFIXES))}
_FRAME = frozenset(fold_turkic(w) for w in QUERY_FRAME)
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
    how: str = "exact"  # how the technology was recognised (HOW): "embedded" when the query only describes it


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


class _WordIndex:
    """The words of the technologies' names by how a query word can meet them (`_word_match`): by folded form, by
    folded stem, by a shorter form plus a Kazakh or Kyrgyz ending, and by their one-letter deletions (a Levenshtein
    distance of 1 leaves one deletion of each word equal, or one word equal to a deletion of the other)."""

    def __init__(self, words: Iterable[tuple[str, str]]) -> None:
        self._keys: dict[str, dict[str, set[str]]] = {}  # lang -> key -> name words
        for word, lang in dict.fromkeys(words):
            for key in self._word_keys(word, lang, query=False):
                self._keys.setdefault(lang, {}).setdefault(key, set()).add(word)

    @staticmethod
    def _word_keys(word: str, lang: str, *, query: bool) -> set[str]:
        form, common = _forms(word, lang)
        keys = {f"={form}", f"~{common}"}
        if len(form) >= MIN_FUZZY:
            keys.update(f"-{form[:i]}{form[i + 1:]}" for i in range(len(form)))
            keys.add(f"-{form}")
        if query:
            keys.update(f"={form[:i]}" for i in range(1, len(form)))  # a name word plus an ending
        return keys

    def meetings(self, query_words: Sequence[str]) -> dict[tuple[str, str], list[tuple[str, int]]]:
        """(name word, its language) -> how it meets the query words and their indices, in query order; name words
        meeting no query word are left out."""
        met: dict[tuple[str, str], list[tuple[str, int]]] = {}
        for lang, keys in self._keys.items():
            for i, query_word in enumerate(query_words):
                words = set().union(*(keys.get(k, ()) for k in self._word_keys(query_word, lang, query=True)))
                for word in sorted(words):
                    how = _word_match(word, lang, query_word)
                    if how is not None:
                        met.setdefault((word, lang), []).append((how, i))
        return met


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
        self._words = _WordIndex((word, name.lang) for name in self.names if not name.acronym for word in name.words)
        self._named_by: dict[tuple[str, str], list[int]] = {}  # (word, lang) -> the names holding it, in order
        for position, name in enumerate(self.names):
            if not name.acronym:
                for word in dict.fromkeys(name.words):
                    self._named_by.setdefault((word, name.lang), []).append(position)
        self._acronyms = [position for position, name in enumerate(self.names) if name.acronym]

    def recognise(self, query: str) -> list[TechnologyMatch]:
        """The technologies the query names, best match first (exact, inflected, fuzzy, described)."""
        query_words = [w for w in normalise(query).split() if w not in STOP_WORDS]
        raw_words = set(re.findall(r"\w+", query))
        # the words the query is about (its how-to frame left out), which a name covers a share of
        frame = [fold_turkic(w) in _FRAME for w in query_words]
        content = frame.count(False)
        best: dict[str, tuple[tuple[int, int], TechnologyMatch]] = {}
        # Only a name one of whose words meets a query word can match: `_WordIndex` finds those words (a superset,
        # each then checked by `_word_match`), so the names are not all compared word by word with the query.
        met = self._words.meetings(query_words)
        candidates = sorted({*self._acronyms, *(p for key in met for p in self._named_by.get(key, ()))})
        for name in (self.names[p] for p in candidates):
            if name.acronym:
                acronym = set(re.findall(r"\w+", name.text))
                found: tuple[str, set[int]] | None = None
                if acronym <= raw_words:
                    found = ("exact", {i for i, w in enumerate(query_words) if w.upper() in acronym})
            else:
                found = self._name_match(name, met, self.generic)
            if found is None:
                continue
            how, indices = found
            covered = sum(1 for i in indices if not frame[i])
            key = (HOW.index(how), -len(name.words))
            if name.technology_id not in best or key < best[name.technology_id][0]:
                share = covered / content if content else 1.0
                best[name.technology_id] = (key, TechnologyMatch(name.technology_id, name.text, name.lang, how,
                                                                 min(share, 1.0)))
        return [match for _, match in sorted(best.values(), key=lambda item: (item[0], item[1].technology_id))]

    @staticmethod
    def _name_match(name: _Name, met: dict[tuple[str, str], list[tuple[str, int]]],
                    generic: set[str]) -> tuple[str, set[int]] | None:
        """How the name meets the query and which query words (their indices) it covers, or None; `met` holds how
        each name word meets the query words (`_WordIndex.meetings`)."""
        levels: list[str | None] = []
        covered: set[int] = set()
        places: list[list[tuple[str, int]]] = []
        for word in name.words:
            found = met.get((word, name.lang), [])
            places.append(found)
            levels.append(min((h for h, _ in found), key=HOW.index) if found else None)
            covered.update(i for _, i in found)
        positions = [sorted({i for _, i in found}) for found in places if found]
        if len(positions) >= 2 and _span(positions) > len(positions) + NAME_SPAN:
            return None  # the name's words are scattered over the query: not the name (2-класста ... тескери)
        missing = levels.count(None)
        if missing == 0:
            return max(levels, key=lambda h: HOW.index(h or "described")) or "described", covered
        specific = sum(1 for word, level in zip(name.words, levels, strict=True)
                       if level is not None and _key(word, name.lang) not in generic)
        if missing == 1 and len(levels) >= 3 and specific >= 2:
            return "described", covered
        return None


class TechnologyRouter:
    """Technologies a query describes without naming them: its embedding against each technology's prototypes.

    A technology's prototypes are its name, other names and description in kk, ru and ky, embedded as queries
    (`TechnologyClassifier.prototypes`, cached in the store). The query goes to its nearest technology (the best
    cosine over the three languages) only when that one is at least ROUTE_GAP closer than any other: the encoder
    puts every pedagogical query near several technologies, and only a clear winner is evidence.
    """

    def __init__(self, ids: Sequence[str], prototypes: np.ndarray, gap: float = ROUTE_GAP) -> None:
        self.ids = list(ids)
        self.prototypes = np.asarray(prototypes, dtype=np.float32)  # (languages, technologies, dim)
        self.gap = gap

    def scores(self, vector: np.ndarray) -> np.ndarray:
        """One cosine per technology (in `self.ids` order): the best over its prototypes."""
        return (self.prototypes @ np.asarray(vector, dtype=np.float32)).max(axis=0)

    def route(self, vector: np.ndarray) -> list[TechnologyMatch]:
        """The technology the query's vector stands out for ([] when none does)."""
        if len(self.ids) < 2:
            return []
        scores = self.scores(vector)
        second, first = np.argsort(scores)[-2:]
        if scores[first] - scores[second] < self.gap:
            return []
        # share 0: a described technology is lifted below the first results (the query asks something of it)
        return [TechnologyMatch(self.ids[int(first)], "", "", "embedded", 0.0)]


def feedback(ranked: Sequence[Ranked], backend: Backend, top: int = FEEDBACK_TOP,
             votes: int = FEEDBACK_VOTES) -> list[TechnologyMatch]:
    """The technology the first `top` items agree on (pseudo-relevance feedback), or [].

    Each technology card and experience among the first items votes for its primary technology (its first tag);
    a technology with `votes` of them, and more than any other, is what the query is about, whatever language
    those items are in, so its card and its experiences in the other languages follow them.
    """
    first: list[str] = []
    for r in ranked:
        if r.chunk.doc_id not in first:
            first.append(r.chunk.doc_id)
            if len(first) == top:
                break
    counts: Counter[str] = Counter()
    for doc in backend.get_documents(first).values():
        tags = doc.facets.get("technology", [])
        if doc.kind in ("experience", "technology") and tags:
            counts[tags[0]] += 1
    ranking = counts.most_common(2)
    if not ranking or ranking[0][1] < votes or (len(ranking) > 1 and ranking[1][1] == ranking[0][1]):
        return []
    return [TechnologyMatch(ranking[0][0], "", "", "feedback", 0.0)]


def merge(named: Sequence[TechnologyMatch], routed: Sequence[TechnologyMatch]) -> list[TechnologyMatch]:
    """The named technologies first, then the routed ones not named."""
    seen = {m.technology_id for m in named}
    return [*named, *(m for m in routed if m.technology_id not in seen)]


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
        # the experiences the technology is most about first (its place in their tags), then by their rank
        for doc in sorted(tagged, key=lambda d: (_tag_place(d.facets.get("technology", []), tech_id), order[d.doc_id])):
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
    how = {m.technology_id: m.how for m in matches}
    record = [Lifted(doc_id, tech_id, reason, best_chunk[doc_id][0] + 1 if doc_id in best_chunk else None,
                     head + i + 1, how[tech_id]) for i, (doc_id, tech_id, reason, _) in enumerate(chosen)]
    return out, record


def _span(positions: Sequence[Sequence[int]]) -> int:
    """The fewest query words a window holding one place of each matched name word spans."""
    events = sorted((i, word) for word, places in enumerate(positions) for i in places)
    best, seen, start = len(events) + 10**6, Counter[int](), 0
    for i, word in events:
        seen[word] += 1
        while len(seen) == len(positions):
            best = min(best, i - events[start][0] + 1)
            seen[events[start][1]] -= 1
            if not seen[events[start][1]]:
                del seen[events[start][1]]
            start += 1
    return best


def _tag_place(tags: Sequence[str], tech_id: str) -> int:
    """Where a technology comes in an experience's tags (0: its primary technology)."""
    return list(tags).index(tech_id) if tech_id in tags else len(tags)


def _passes(backend: Backend, filters: SearchFilters) -> bool:
    """True when some document passes the filters."""
    return bool(backend.filter_documents(filters, 0, 1)[0])


def _first_chunk(backend: Backend, doc_id: str, lang: str | None) -> ChunkRecord | None:
    """A document's chunk in `lang` (else its first chunk), for an item that was not among the candidates."""
    chunks = backend.document_chunks(doc_id)
    if not chunks:
        return None
    return next((c for c in chunks if c.lang == lang), chunks[0])
