"""Mixed-script repair: Latin lookalike letters inside Cyrillic words (and the reverse), Latin ə for ә."""

from __future__ import annotations

import re

# Latin letters that PDF extraction (or a typist) puts in place of the Cyrillic letter they look like.
LATIN_TO_CYRILLIC: dict[str, str] = {
    "a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у", "i": "і", "k": "к",
    "m": "м", "t": "т", "h": "һ", "b": "ь",
    "A": "А", "B": "В", "C": "С", "E": "Е", "H": "Н", "K": "К", "M": "М", "O": "О", "P": "Р",
    "T": "Т", "X": "Х", "Y": "У", "I": "І",
    "ə": "ә", "Ə": "Ә",
}  # fmt: skip
CYRILLIC_TO_LATIN: dict[str, str] = {
    "а": "a", "с": "c", "е": "e", "о": "o", "р": "p", "х": "x", "у": "y", "і": "i", "к": "k",
    "А": "A", "В": "B", "С": "C", "Е": "E", "Н": "H", "К": "K", "М": "M", "О": "O", "Р": "P",
    "Т": "T", "Х": "X", "І": "I", "Ј": "J", "ѕ": "s", "Ѕ": "S",
}  # fmt: skip

# Latin schwa is never right in our languages: it always stands for the Kazakh letter.
_SCHWA = str.maketrans({"ə": "ә", "Ə": "Ә"})
_WORD = re.compile(r"[^\W\d_]+")
_HAS_LATIN = re.compile(r"[A-Za-z]")
# One-letter Latin words that are Russian/Kazakh one-letter words when they stand between Cyrillic words.
_SINGLE = {"a": "а", "c": "с", "o": "о", "y": "у", "k": "к", "A": "А", "C": "С", "O": "О", "K": "К", "B": "В"}
_LONE_LATIN = re.compile(r"([\u0400-\u04FF][,;:]?) ([acoykACOKB])(?= [\u0400-\u04FF])")


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff" or "\u0500" <= ch <= "\u052f"


def _is_latin(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def fix_word_script(word: str) -> str:
    """Return `word` in one script when it mixes Cyrillic and Latin lookalikes; genuinely mixed words stay."""
    cyr = lat = cyr_strong = lat_strong = 0
    for ch in word:
        if _is_cyrillic(ch):
            cyr += 1
            if ch not in CYRILLIC_TO_LATIN:
                cyr_strong += 1
        elif _is_latin(ch):
            lat += 1
            if ch not in LATIN_TO_CYRILLIC:
                lat_strong += 1
    if not cyr or not lat:
        return word
    if cyr_strong and lat_strong:
        return word  # e.g. "TALISтың": a Latin name with a Kazakh suffix
    to_cyrillic = bool(cyr_strong) or (not lat_strong and cyr >= lat)
    if to_cyrillic:
        # An acronym in Latin capitals followed by a Cyrillic suffix ("CBTнің") is kept as written.
        head = re.match(r"[A-Z]{2,}", word)
        if head and all(_is_cyrillic(ch) and ch.islower() for ch in word[head.end() :]):
            return word
        if any(_is_latin(ch) and ch not in LATIN_TO_CYRILLIC for ch in word):
            return word
        return "".join(LATIN_TO_CYRILLIC.get(ch, ch) if _is_latin(ch) else ch for ch in word)
    if any(_is_cyrillic(ch) and ch not in CYRILLIC_TO_LATIN for ch in word):
        return word
    return "".join(CYRILLIC_TO_LATIN.get(ch, ch) if _is_cyrillic(ch) else ch for ch in word)


def _fix_match(match: re.Match[str]) -> str:
    word = match.group(0)
    if word.isascii() or not _HAS_LATIN.search(word):
        return word
    return fix_word_script(word)


def fix_mixed_script(text: str) -> str:
    """Replace Latin ə/Ə by Kazakh ә/Ә and make every mixed Cyrillic/Latin word single-script."""
    text = text.translate(_SCHWA)
    text = _WORD.sub(_fix_match, text)
    return _LONE_LATIN.sub(lambda m: f"{m.group(1)} {_SINGLE[m.group(2)]}", text)
