"""Sentence splitting for Kazakh, Kyrgyz and Russian that respects abbreviations, initials and numbering."""

from __future__ import annotations

import re

# Abbreviations after which a sentence never ends (lower case, without the final dot).
_NEVER_FINAL = frozenset(
    """г гг т.е см стр б бет ж жж с т тт рис табл им проф доц акад ред изд вып ч гл п пп ст обл р-н
    мыс мысалы б.а б.з.б н.э до н.э млн млрд тыс руб тг ср напр др.-греч e.g i.e cf vol pp p no fig dr
    mr mrs ms prof st jr""".split()
)
# Abbreviations that end a list and so may end a sentence: split after them only before a capital letter.
_MAY_END = frozenset("""т.б т.с.с т.с ж.б ж.б.у.с и т.д т.д и т.п т.п и др др пр и пр etc al б.у.с""".split())
_BOUNDARY = re.compile(r"[.!?…]+[»”\"')\]]*(?=\s)|\n\s*\n")
_TOKEN_BEFORE = re.compile(r"(\S+)$")
_NEXT = re.compile(r"\s*([«“\"'(\[]*)(\S?)")
_QUOTES = "«»“”\"'()[]"


def _word_before(text: str, dot: int) -> str:
    """The word (lower case, with inner dots) that ends at the dot at `dot`: "т.е", "ж", "и т.д"."""
    match = _TOKEN_BEFORE.search(text[max(0, dot - 40) : dot])
    word = match.group(1).strip(_QUOTES).lower() if match else ""
    if re.search(r"(?:^|\s)(?:и|and)\s+(?:т\.д|т\.п|др|пр)$", text[max(0, dot - 8) : dot].lower()):
        return "и " + word
    return word


def _is_boundary(text: str, dot: int, end: int, sentence_start: int) -> bool:
    """Whether the punctuation from `dot` to `end` ends the sentence that began at `sentence_start`."""
    after = _NEXT.match(text, end)
    opener, nxt = (after.group(1), after.group(2)) if after else ("", "")
    if not nxt:
        return True
    if nxt.islower():
        return False  # "т.б. және", "... деп", "б.а. ага"
    if text[dot] != "." or text.startswith("...", dot):
        return True  # ! ? … before a capital, a digit or a quote
    word = _word_before(text, dot)
    if not word:
        return True
    if re.fullmatch(r"[^\W\d_]", word) and text[dot - 1].isupper():
        return False  # an initial: "М. Монтессори", "Н. Зайцева"
    if re.fullmatch(r"(?:[^\W\d_]\.)+[^\W\d_]", word) and text[dot - 1].isupper():
        return False  # "А.В. Хуторский"
    if re.fullmatch(r"\d+(?:\.\d+)*", word) and text[sentence_start:dot].strip() == word:
        return False  # "1. Жалпы ереже", "3.1. Мәртебе": a number that opens its sentence numbers a list
    if word in _NEVER_FINAL:
        return False
    if word in _MAY_END:
        return nxt.isupper() or bool(opener)
    return True


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans (start, end) of the sentences of `text`, without surrounding whitespace."""
    spans: list[tuple[int, int]] = []
    start = 0
    depth = 0
    scanned = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        punct = match.group(0)
        if punct.strip():
            # inside parentheses a dot does not end the sentence (unless the bracket never closes nearby)
            for ch in text[scanned : match.start()]:
                if ch in "(":
                    depth += 1
                elif ch in ")" and depth:
                    depth -= 1
            scanned = match.start()
            if depth and text.find(")", end, end + 300) != -1:
                continue
            if not _is_boundary(text, match.start(), end, start):
                continue
        _add_span(text, start, match.start() if not punct.strip() else end, spans)
        start = end
        depth = 0
        scanned = end
    _add_span(text, start, len(text), spans)
    return spans


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))
