"""Snippets: the part of a passage around the query's words, with those words marked.

A passage word is marked when it analyses to the same term, in the passage's language, as a query word in the
query's language (`index.lexical.word_key`: the stem of the lexical analysis with Kazakh/Kyrgyz letters folded).
So the rich endings of each language are covered ("учителей" marks "учителю", "мұғалімдердің" marks "мұғалім",
Kyrgyz "мугалимдердин" marks Kazakh "мұғалімдер"), and a Russian word is never marked inside a Kazakh one that
merely begins with the same letters («парах» does not mark «парағы»). Words of under MIN_WORD letters are not
marked. A language not given is detected (the query's once, the passage's once).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache

from index.lexical import normalise, word_key
from ingest.language import detect_language

_WORD = re.compile(r"\w+", re.UNICODE)
MIN_WORD = 3  # shorter query words (prepositions, particles) are not marked


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


@lru_cache(maxsize=65_536)
def _keys(word: str, lang: str) -> str:
    """The comparison key of one word as written (normalised first, so ё/е and Latin lookalikes meet); cached:
    every snippet analyses each word of its passage, and passages share most of their words."""
    return word_key(normalise(word).replace(" ", ""), lang)


def query_keys(query: str, lang: str = "") -> set[str]:
    """The analysed terms of the query's words worth marking."""
    return {_keys(word, lang) for word in _WORD.findall(query) if len(word) >= MIN_WORD}


def matches(text: str, keys: set[str], lang: str = "") -> list[tuple[int, int]]:
    """Spans of the words of `text` (in language `lang`) whose analysed term is one of `keys`."""
    if not keys:
        return []
    return [(found.start(), found.end()) for found in _WORD.finditer(text)
            if len(found.group()) >= MIN_WORD and _keys(found.group(), lang) in keys]


def make_snippet(text: str, query: str, width: int = 300, *, lang: str | None = None,
                 query_lang: str | None = None) -> Snippet:
    """The `width`-character window of `text` holding the most query words, cut at word boundaries.

    `lang` is the passage's language and `query_lang` the query's (kk, ru, ky...); each is detected when not given.
    """
    text = " ".join(text.split())
    query_lang = detect_language(query) if query_lang is None else query_lang
    lang = detect_language(text) if lang is None else lang
    spans = matches(text, query_keys(query, query_lang), lang)
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
