"""Language identification for Kazakh, Kyrgyz, Russian and neighbours; language runs in a document."""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

from ingest.script import fix_mixed_script

logger = logging.getLogger(__name__)

UNDETERMINED = "und"
# Letters only Kazakh uses among our languages (ә ғ қ ұ һ; і is shared with Ukrainian and Belarusian).
_KAZAKH_ONLY = frozenset("әғқұһӘҒҚҰҺ")
_KAZAKH_I = frozenset("іІ")
# Letters Kyrgyz shares with Kazakh (and Mongolian); with no Kazakh-only letter they mean Kyrgyz.
_KYRGYZ = frozenset("өүңӨҮҢ")
_UKRAINIAN = frozenset("їєґЇЄҐ")
_BELARUSIAN = frozenset("ўЎ")
_WORD = re.compile(r"[^\W\d_]+")

# Cyrillic text with none of the special letters: Russian, unless the model is sure of another language.
_NO_SPECIAL_LETTERS = ("kk", "ky", "ru", "uk", "be", "bg", "sr", "mk")
LATIN_LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "tr", "pl", "nl", "cs")
# Below this many letters a paragraph is a heading, a number or a label: it takes a neighbour's language.
SHORT_PARAGRAPH_LETTERS = 40


@functools.lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    logger.debug("loading the py3langid model")
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _langid_best(text: str, allowed: tuple[str, ...]) -> tuple[str, float]:
    ranked = _identifier().rank(text)
    total = sum(score for lang, score in ranked if lang in allowed) or 1.0
    for lang, score in ranked:
        if lang in allowed:
            return lang, score / total
    return UNDETERMINED, 0.0


def detect_language(text: str) -> str:
    """ISO 639-1 code of the language of `text` (kk, ky, ru, en, uk, ...), or "und" when it has no letters."""
    return detect_language_confidence(text)[0]


@functools.lru_cache(maxsize=4_096)
def detect_query_language(query: str) -> str:
    """`detect_language` of a search query, remembered: one search asks it four times (the route, the ranking, the
    speller, the technology bridge), and popular queries recur. Queries are short (`limits.MAX_QUERY_CHARS`)."""
    return detect_language(query)


def detect_language_confidence(text: str) -> tuple[str, float]:
    """The language of `text` and how sure the guess is (1.0 when letters decide, else the model's share)."""
    text = fix_mixed_script(text)
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return UNDETERMINED, 1.0
    cyrillic = sum(1 for ch in letters if "\u0400" <= ch <= "\u052f")
    latin = sum(1 for ch in letters if ch.isascii())
    if cyrillic >= 8 and cyrillic >= 0.25 * len(letters):
        # Kazakh prose naming English software is still Kazakh: judge the Cyrillic words.
        words = [w for w in _WORD.findall(text) if not w.isascii()]
        return _detect_cyrillic(" ".join(words), [ch for ch in letters if not ch.isascii()])
    if latin >= cyrillic:
        lang, score = _langid_best(text, LATIN_LANGUAGES)
        return (lang, score) if len(letters) >= 12 else ("en", score)
    if cyrillic >= len(letters) / 2:
        return _detect_cyrillic(text, letters)
    return _langid_best(text, tuple(_identifier().labels))


def _detect_cyrillic(text: str, letters: list[str]) -> tuple[str, float]:
    if any(ch in _UKRAINIAN for ch in letters):
        return "uk", 1.0
    if any(ch in _BELARUSIAN for ch in letters) and not any(ch in _KAZAKH_ONLY for ch in letters):
        return "be", 1.0
    words = [w for w in _WORD.findall(text) if len(w) > 1]
    n = max(1, len(words))
    kazakh = sum(1 for w in words if any(ch in _KAZAKH_ONLY or ch in _KAZAKH_I for ch in w))
    kyrgyz = sum(1 for w in words if any(ch in _KYRGYZ for ch in w)) if not kazakh else 0
    # In Kazakh prose a third to two thirds of the words carry ә ғ қ ұ і һ, in Kyrgyz prose a fifth or more
    # carry ө ү ң; a Russian text quoting a Kazakh or Kyrgyz name has far fewer: the model decides those.
    if kazakh and not any(ch in _KAZAKH_ONLY for ch in letters):
        lang, score = _langid_best(text, ("kk", "uk", "be", "ru"))
        if lang in {"uk", "be"} and score > 0.9:
            return lang, score  # і without any other Kazakh letter: maybe Ukrainian or Belarusian
    if kazakh:
        if kazakh / n >= 0.3 or len(words) < 8:
            return "kk", 1.0  # (Kyrgyz has no і: Kazakh spelled without its other letters is still Kazakh)
        return _langid_best(text, ("kk", "ru", "ky"))
    if kyrgyz:
        if kyrgyz / n >= 0.2 or len(words) < 8:
            lang, score = _langid_best(text, ("ky", "kk", "mn"))
            return (lang, score) if lang != "ky" and score > 0.9 else ("ky", 1.0)
        return _langid_best(text, ("ky", "ru", "kk"))
    lang, score = _langid_best(text, _NO_SPECIAL_LETTERS)
    if lang in {"kk", "ky"}:
        return (lang, score) if score >= 0.6 else ("ru", 1.0 - score)
    return (lang, score) if lang == "ru" or score >= 0.9 else ("ru", 1.0 - score)


def split_by_language(paragraphs: list[str]) -> list[tuple[int, int, str]]:
    """Runs of one language over `paragraphs` as (first index, index after the last, language).

    Short paragraphs (headings, numbers, labels) take the language of a neighbouring run; a run that is one
    short paragraph between two runs of the same language is folded into them.
    """
    if not paragraphs:
        return []
    labels: list[str | None] = []
    own: list[str | None] = []
    guess: list[str] = []
    weights: list[int] = []
    for paragraph in paragraphs:
        n_letters = sum(1 for ch in paragraph if ch.isalpha())
        lang, confidence = detect_language_confidence(paragraph)
        weights.append(n_letters)
        strong = n_letters >= SHORT_PARAGRAPH_LETTERS and lang != UNDETERMINED
        labels.append(lang if strong else None)
        own.append(lang if confidence >= 0.8 and lang != UNDETERMINED else None)
        guess.append(lang)
    if all(label is None for label in labels):
        langs = [lang for lang in own if lang is not None]
        fallback = max(set(langs), key=langs.count) if langs else UNDETERMINED
        return [(0, len(paragraphs), fallback)]

    resolved = list(labels)
    for i, label in enumerate(labels):
        if label is not None:
            continue
        before = next((labels[j] for j in range(i - 1, -1, -1) if labels[j] is not None), None)
        after = next((labels[j] for j in range(i + 1, len(labels)) if labels[j] is not None), None)
        heading = not paragraphs[i].rstrip().endswith((".", ";", ","))
        if before is None or (after != before and (own[i] == after or (heading and guess[i] == after))):
            resolved[i] = after  # a heading opens the run that follows it
        else:
            resolved[i] = before

    runs = _runs([lang or UNDETERMINED for lang in resolved])
    return _fold_islands(runs, weights)


def _runs(labels: list[str]) -> list[tuple[int, int, str]]:
    runs: list[tuple[int, int, str]] = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            runs.append((start, i, labels[start]))
            start = i
    return runs


def _fold_islands(runs: list[tuple[int, int, str]], weights: list[int]) -> list[tuple[int, int, str]]:
    """Fold a lone short paragraph of another language between two runs of one language into them."""
    changed = True
    while changed and len(runs) >= 3:
        changed = False
        for k in range(1, len(runs) - 1):
            start, end, _ = runs[k]
            before, after = runs[k - 1], runs[k + 1]
            if before[2] == after[2] and end - start == 1 and weights[start] < 150:
                runs[k - 1 : k + 2] = [(before[0], after[1], before[2])]
                changed = True
                break
    return runs
