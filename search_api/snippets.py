"""Snippets: the part of a passage around the query's words, with those words marked.

Two words match when they share a long enough beginning (all but the last two letters of the shorter one, and at
least four letters), which copes with the rich endings of Kazakh, Kyrgyz and Russian: "учителей" marks "учителю",
"мұғалімдердің" marks "мұғалім". Three-letter words match only exactly; shorter ones are not marked.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass

_WORD = re.compile(r"\w+", re.UNICODE)
MIN_WORD = 3  # shorter query words (prepositions, particles) are not marked
MIN_SHARED = 4  # letters two different words must share at their start
ENDING = 2  # letters of the shorter word that may differ


@dataclass(frozen=True)
class Snippet:
    """An excerpt of a passage and the [start, end) character spans in it that match the query."""

    text: str
    highlights: list[tuple[int, int]]

    def html(self) -> str:
        """The excerpt HTML-escaped, with matches wrapped in <mark>."""
        out, last = [], 0
        for start, end in self.highlights:
            out.append(html.escape(self.text[last:start]))
            out.append(f"<mark>{html.escape(self.text[start:end])}</mark>")
            last = end
        out.append(html.escape(self.text[last:]))
        return "".join(out)


def _fold(word: str) -> str:
    return word.lower().replace("ё", "е")


def query_words(query: str) -> set[str]:
    """The query's words worth marking, lower-cased."""
    return {word for word in map(_fold, _WORD.findall(query)) if len(word) >= MIN_WORD}


def same_word(a: str, b: str) -> bool:
    """True when two lower-cased words look like forms of one word."""
    if a == b:
        return True
    shared = len(os.path.commonprefix([a, b]))
    return shared >= max(MIN_SHARED, min(len(a), len(b)) - ENDING)


def matches(text: str, words: set[str]) -> list[tuple[int, int]]:
    """Spans of the words of `text` that match a query word."""
    if not words:
        return []
    spans = []
    for found in _WORD.finditer(text):
        word = _fold(found.group())
        if len(word) >= MIN_WORD and any(same_word(word, q) for q in words):
            spans.append((found.start(), found.end()))
    return spans


def make_snippet(text: str, query: str, width: int = 300) -> Snippet:
    """The `width`-character window of `text` holding the most query words, cut at word boundaries."""
    text = " ".join(text.split())
    spans = matches(text, query_words(query))
    if len(text) <= width:
        return Snippet(text, spans)
    start = 0
    if spans:
        best, best_count = 0, -1
        for i, (first, _) in enumerate(spans):
            count = sum(1 for s, e in spans[i:] if e <= first + width)
            if count > best_count:
                best, best_count = first, count
        start = max(0, best - width // 5)
        start = min(start, len(text) - width)
        if start > 0:
            space = text.find(" ", start)
            start = space + 1 if 0 <= space < start + 30 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + width // 2 else end
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(text) else ""
    excerpt = prefix + text[start:end] + suffix
    shift = len(prefix) - start
    inside = [(s + shift, e + shift) for s, e in spans if s >= start and e <= end]
    return Snippet(excerpt, inside)
