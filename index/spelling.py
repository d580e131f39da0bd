"""Spelling: per-language vocabularies of the store's own words, "did you mean" suggestions and typo tolerance.

`Lexicon` counts the normalised words of every stored passage by the passage's language (kk, ru, ky; Latin
words go to "en") plus the words of the technology names and aliases, and keeps the stems of those words
(`lexical.stem`) so an inflected form of a known word counts as known. `Speller` holds the lexicon of the store
and rebuilds it when the store's `generation` has changed, at most every MAX_AGE seconds.

A query word is *unknown* when it is at least MIN_WORD letters, has no digit, and neither it nor its stem is in
the query language's vocabulary nor in another's (there the stem counts for words of FOREIGN_STEM_WORD letters or
more: клас is not кластер), so a word of another language or of a misdetected short query is not "corrected".
An unknown word is corrected to the nearest vocabulary word of the same language by Levenshtein distance
(rapidfuzz): at most 1 edit for words of up to LONG_WORD letters, 2 for longer ones, ties broken by how often the
word occurs. `suggest` returns the whole query with its unknown words corrected, only when at least one was;
`tolerant_words` gives the corrections for the lexical leg to search as well. The vocabulary is the corpus's: a
correct word that the corpus lacks can be "corrected" to a close one it has (күзде → кезде).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from index.lexical import normalise, stem
from index.store.base import Backend
from ingest.knowledge import Vocabulary
from ingest.language import detect_query_language

log = logging.getLogger(__name__)

LANGS: tuple[str, ...] = ("kk", "ru", "ky")
MIN_WORD = 4  # shorter words (particles, prepositions, abbreviations) are never corrected
LONG_WORD = 7  # words longer than this may take two edits, shorter ones one
CANDIDATES = 8  # nearest vocabulary words looked at per unknown word
FOREIGN_STEM_WORD = 6  # a word this long is known when its stem is known in another language
MAX_AGE = 30.0  # seconds a lexicon is kept after the store changed
_WORD = re.compile(r"\w+", re.UNICODE)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_DIGIT = re.compile(r"\d")


def word_language(word: str, lang: str) -> str:
    """The vocabulary a normalised word belongs to: `lang` for Cyrillic words, "en" for Latin ones."""
    return lang if _CYRILLIC.search(word) else "en"


@lru_cache(maxsize=262_144)
def _vocabulary_of(word: str, lang: str) -> str | None:
    """`word_language` of a normalised word worth counting; None for one letter or a word with a digit (cached:
    a store's passages repeat their words, and every passage is read when the lexicon is built)."""
    if len(word) < 2 or _DIGIT.search(word):
        return None
    return word_language(word, lang)


@dataclass
class Lexicon:
    """Word counts and word stems per language."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    stems: dict[str, set[str]] = field(default_factory=dict)

    def add(self, text: str, lang: str) -> None:
        """Count the words of a text written in `lang` (words of one letter or with a digit are left out)."""
        for word, n in Counter(normalise(text).split()).items():
            vocabulary = _vocabulary_of(word, lang)
            if vocabulary is not None:
                self.counts.setdefault(vocabulary, Counter())[word] += n

    def finish(self) -> Lexicon:
        """Compute the stems of the vocabulary (call once after the last `add`)."""
        self.stems = {lang: {stem(w, lang) for w in words} for lang, words in self.counts.items()}
        return self

    def knows(self, word: str, lang: str) -> bool:
        """True when `word` or an inflection of one of the vocabulary's words is in `lang`'s vocabulary."""
        lang = word_language(word, lang)
        return word in self.counts.get(lang, ()) or stem(word, lang) in self.stems.get(lang, ())

    def correct(self, word: str, lang: str) -> str | None:
        """The nearest vocabulary word of `lang` to an unknown word, or None when none is close enough."""
        lang = word_language(word, lang)
        counts = self.counts.get(lang)
        if not counts:
            return None
        limit = 1 if len(word) <= LONG_WORD else 2
        found = process.extract(word, counts.keys(), scorer=Levenshtein.distance, score_cutoff=limit,
                                limit=CANDIDATES)
        if not found:
            return None
        best = min(found, key=lambda item: (item[1], -counts[item[0]], item[0]))
        return str(best[0])

    def size(self) -> dict[str, int]:
        """Vocabulary size per language."""
        return {lang: len(words) for lang, words in self.counts.items()}


def build_lexicon(backend: Backend, vocabulary: Vocabulary | None = None) -> Lexicon:
    """The lexicon of every stored passage and of the technology names and aliases."""
    lexicon = Lexicon()
    for batch in backend.iter_chunks():
        for chunk in batch:
            lexicon.add(chunk.text, chunk.lang)
    for tech in (vocabulary.technologies.values() if vocabulary else ()):
        for lang in (*LANGS, "en"):
            names = [getattr(tech.labels, lang), *getattr(tech.aliases, lang)]
            for name in names:
                lexicon.add(name, lang)
    return lexicon.finish()


@dataclass(frozen=True)
class Correction:
    """One corrected word of a query: its span in the query, the word as typed and the correction."""

    start: int
    end: int
    typed: str
    corrected: str


def corrections(lexicon: Lexicon, query: str, lang: str | None = None) -> list[Correction]:
    """The query's unknown words with their corrections (words with no close vocabulary word are left out)."""
    lang = lang or query_language(lexicon, query)
    out = []
    for found in _WORD.finditer(query):
        typed = found.group()
        word = normalise(typed)
        if len(word) < MIN_WORD or not word.isalpha() or lexicon.knows(word, lang) or any(
                lexicon.knows(word, other) if len(word) >= FOREIGN_STEM_WORD else word in lexicon.counts.get(other, ())
                for other in LANGS):
            continue
        corrected = lexicon.correct(word, lang)
        if corrected is not None and corrected != word:
            out.append(Correction(found.start(), found.end(), typed, corrected))
    return out


def query_language(lexicon: Lexicon, query: str) -> str:
    """The query's language: detected, else the one whose vocabulary knows most of its words."""
    detected = detect_query_language(query)
    if detected in LANGS:
        return detected
    words = normalise(query).split()
    return max(LANGS, key=lambda lang: (sum(lexicon.knows(w, lang) for w in words), lang == "ru"))


def apply(query: str, fixes: Iterable[Correction]) -> str:
    """The query with the corrected words put in (a capitalised word stays capitalised)."""
    out: list[str] = []
    last = 0
    for fix in sorted(fixes, key=lambda f: f.start):
        word = fix.corrected.capitalize() if fix.typed[:1].isupper() else fix.corrected
        out.extend((query[last:fix.start], word))
        last = fix.end
    out.append(query[last:])
    return "".join(out)


class Speller:
    """Suggestions and typo tolerance over the store's vocabulary, rebuilt when the store has changed and the
    lexicon is more than `max_age` seconds old (a store being written to is not re-read on every search)."""

    def __init__(self, backend: Backend, vocabulary: Vocabulary | None = None, max_age: float = MAX_AGE) -> None:
        self.backend = backend
        self.vocabulary = vocabulary
        self.max_age = max_age
        self._lock = threading.Lock()
        self._state: str | None = None
        self._built = -math.inf
        self._lexicon: Lexicon | None = None
        self._rebuild: threading.Thread | None = None

    def lexicon(self) -> Lexicon:
        """The lexicon of the store: built on first use; after a change, once it is max_age old, rebuilt on a
        background thread while searches go on with the current one (a rebuild reads every passage: seconds on a
        large store, which no search should wait for)."""
        state = f"{self.backend.get_meta('generation')}/{self.backend.get_meta('model')}"
        with self._lock:
            now = time.monotonic()
            if self._lexicon is None:
                self._build(state, now)
            elif state != self._state and now - self._built >= self.max_age and self._rebuild is None:
                self._rebuild = threading.Thread(target=self._build_later, args=(state, now), daemon=True,
                                                 name="pedkb-spelling")
                self._rebuild.start()
            assert self._lexicon is not None
            return self._lexicon

    def close(self) -> None:
        """Wait for a rebuild under way (it reads the store, which is about to be closed)."""
        with self._lock:
            rebuild = self._rebuild
        if rebuild is not None:
            rebuild.join()

    def _build(self, state: str, now: float) -> None:
        self._lexicon = build_lexicon(self.backend, self.vocabulary)
        self._state, self._built = state, now
        log.debug("spelling lexicon built for store state %s: %s", state, self._lexicon.size())

    def _build_later(self, state: str, now: float) -> None:
        try:
            lexicon = build_lexicon(self.backend, self.vocabulary)
        except Exception:  # noqa: BLE001 - searches keep the current lexicon; the next change tries again
            log.exception("the spelling lexicon could not be rebuilt; the previous one stays in use")
            lexicon = None
        with self._lock:
            if lexicon is not None:
                self._lexicon, self._state, self._built = lexicon, state, now
                log.debug("spelling lexicon rebuilt for store state %s: %s", state, lexicon.size())
            self._rebuild = None

    def suggest(self, query: str) -> str | None:
        """The query with its misspelt words corrected, or None when every word is known (or nothing is close)."""
        fixes = corrections(self.lexicon(), query)
        return apply(query, fixes) if fixes else None

    def tolerant_words(self, query: str) -> list[str]:
        """The corrections of the query's unknown words, to be searched beside them on the lexical leg."""
        return [fix.corrected for fix in corrections(self.lexicon(), query)]
