"""Repair text extracted from PDFs: scripts, hyphenation, page artefacts, bullets and paragraph reflow."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from ingest.hyphenation import Vocabulary, keep_hyphen
from ingest.script import fix_mixed_script

_TERMINAL = ".!?…"
_CLOSERS = "»”’\"')]"
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
_SPACES = dict.fromkeys(map(ord, "\t\u00a0\u2002\u2003\u2007\u2009\u202f\u3000"), " ")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_SOFT_HYPHEN_BREAK = re.compile(r"\u00ad[ \t]*\n\s*")

_PAGE_NUMBER = re.compile(r"[-–—]?\s*\d{1,3}\s*[-–—]?|(?:стр|бет|page|с)\.?\s*\d{1,4}", re.IGNORECASE)
_YEAR_ALONE = re.compile(r"\d{4}")
_RULE_LINE = re.compile(r"[_─━—–\-=*.\s]{3,}")
_BULLET_SYMBOL = re.compile(r"([•·▪►●◦○■□✓✔➢➤\uf0b7\uf0a7\uf076\uf0d8\uf0fc\uf02d])\s*")
_DASH_ITEM = re.compile(r"[-–—]\s+(?=\S)")
_NUMBERED_ITEM = re.compile(r"(?:\d{1,2}(?:\.\d{1,2})*[.)]|[a-zа-яёәіңғүұқөһ]\)|[IVXІХ]{1,4}\.)\s+(?=\S)")
_BROKEN_END = re.compile(r"([^\W\d_]+(?:-[^\W\d_]+)*)-$")
_HYPHENATED_TAIL = 200  # characters at a paragraph's end searched for a line-end hyphen (no real word is longer)
_FIRST_WORD = re.compile(r"[^\W\d_]+")
_NUMBER_RANGE_END = re.compile(r"\d-$")
_FIRST_CHAR = re.compile(r"[^\s«»\"'“”„(\[–—-]")

_CITATION = re.compile(
    r"\s?\[\s*\d{1,3}(?:\s*[-–,;]\s*\d{1,3})*"
    r"(?:\s*[,;]\s*(?:(?:с|c|б|p|pp|стр|бет)\.?\s*)?\d{1,4}(?:\s*[-–]\s*\d{1,4})?\s*(?:б|бет|с|стр|p)?\.?)?\s*\]"
)
_CONJUNCTIONS = frozenset({"и", "или", "және", "мен", "жана", "же", "немесе", "бен", "пен", "and", "or"})
_MIDLINE_BROKEN = re.compile(r"(?<![\w-])([^\W\d_]+(?:-[^\W\d_]+)*)- ([^\W\d_]+)")
_MIDLINE_LEADING = re.compile(r"(?<=[^\W\d_]) -(?=[a-zа-яёәіңғүұқөһ])")
_MULTISPACE = re.compile(r"\s+")
# the last touches of a paragraph, in order: (pattern, replacement)
_TIDY = (
    (_CITATION, ""),
    (re.compile(r"_{4,}"), "___"),  # a fill-in line
    (_MULTISPACE, " "),
    (re.compile(r"(?<=[^\W_]) +(?=[,.;:!?)\]»])"), ""),  # a space before punctuation
    (re.compile(r"(?<=[(\[«]) +"), ""),  # a space after an opening bracket or quote
)


@dataclass
class _Line:
    text: str
    blank_before: bool
    item: bool  # starts a list item (bullet or number)


def normalise_characters(text: str) -> str:
    """NFC, one kind of newline, no soft hyphens, zero-width or control characters, plain spaces."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n").replace("\v", "\n")
    text = _SOFT_HYPHEN_BREAK.sub("", text)  # a soft hyphen at a line end marks a syllable split
    text = text.translate(_INVISIBLE).translate(_SPACES)
    return _CONTROL.sub(" ", text)


def _is_page_number(line: str, prev: str | None, nxt: str | None) -> bool:
    if _PAGE_NUMBER.fullmatch(line):
        return True
    if _YEAR_ALONE.fullmatch(line) and prev and nxt:
        # a four-digit number alone between the two halves of a sentence
        return prev[-1] not in _TERMINAL + ":" and _starts_lower(nxt)
    return False


def _starts_lower(line: str) -> bool:
    return _first_char(line).islower()


def _first_char(line: str) -> str:
    match = _FIRST_CHAR.search(line)
    return match.group(0) if match else ""


def _ends_sentence(line: str) -> bool:
    stripped = line.rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] in _TERMINAL


def _mostly_latin(line: str) -> bool | None:
    latin = sum(1 for ch in line if ch.isascii() and ch.isalpha())
    letters = sum(1 for ch in line if ch.isalpha())
    return None if letters < 8 else latin > letters / 2


def _split_lines(text: str) -> list[_Line]:
    raw = [line.strip() for line in text.split("\n")]
    kept: list[tuple[str, bool]] = []
    blank = False
    pending_bullet = False
    for i, line in enumerate(raw):
        if not line or _RULE_LINE.fullmatch(line):
            blank = True
            continue
        if _PAGE_NUMBER.fullmatch(line) or _YEAR_ALONE.fullmatch(line):
            prev = kept[-1][0] if kept else None
            nxt = next((r for r in raw[i + 1 : i + 8] if r), None)
            if _is_page_number(line, prev, nxt):
                continue
        if _BULLET_SYMBOL.fullmatch(line):
            pending_bullet = True
            continue
        if pending_bullet:
            line = "• " + line
            pending_bullet = False
        kept.append((line, blank))
        blank = False
    lines: list[_Line] = []
    for text_line, blank_before in kept:
        lines.append(_classify(text_line, blank_before, lines[-1] if lines else None))
    return lines


def _classify(line: str, blank_before: bool, prev: _Line | None) -> _Line:
    bullet = _BULLET_SYMBOL.match(line)
    if bullet:
        return _Line("• " + line[bullet.end() :], blank_before, True)
    dash = _DASH_ITEM.match(line)
    if dash and (prev is None or prev.item or _ends_sentence(prev.text) or prev.text[-1] in ":;"):
        return _Line("• " + line[dash.end() :], blank_before, True)
    return _Line(line, blank_before, bool(_NUMBERED_ITEM.match(line)))


@dataclass
class _Layout:
    width: float
    one_line_paragraphs: bool
    blank_lines_mark_paragraphs: bool


def _layout(lines: list[_Line]) -> _Layout:
    lengths = sorted(len(line.text) for line in lines)
    if not lengths:
        return _Layout(0, False, True)
    width = lengths[min(len(lengths) - 1, int(0.9 * len(lengths)))]
    near_full = sum(1 for n in lengths if n >= 0.8 * width) / len(lengths)
    terminal = sum(1 for line in lines if _ends_sentence(line.text)) / len(lines)
    median = lengths[len(lengths) // 2]
    one_line = len(lines) >= 3 and (median > 160 or (near_full < 0.4 and terminal >= 0.5))
    gaps = [(a, b) for a, b in zip(lines, lines[1:], strict=False) if b.blank_before]
    inside = sum(1 for a, b in gaps if not _ends_sentence(a.text) and _starts_lower(b.text))
    blank_marks = not gaps or inside / len(gaps) < 0.3
    return _Layout(width, one_line, blank_marks)


def _is_heading(line: _Line, nxt: _Line | None, layout: _Layout) -> bool:
    """A short line with no closing punctuation, starting with a capital, followed by a capitalised line."""
    text = line.text
    if line.item or nxt is None or _starts_lower(nxt.text) or len(text) >= 0.75 * layout.width:
        return False
    first = _first_char(text)
    return (first.isupper() or first.isdigit()) and text[-1] not in _TERMINAL + ",;:-–—"


def _joins(prev: str, cur: _Line, layout: _Layout, heading: bool) -> bool:
    """Whether line `cur` continues the paragraph that ends with line `prev`."""
    if cur.item or heading:
        return False
    if _starts_lower(cur.text):
        return True
    last = prev[-1]
    if last in ",(«“–—" or prev.endswith(" -"):
        return True
    if layout.one_line_paragraphs:
        return False
    if layout.blank_lines_mark_paragraphs and cur.blank_before:
        return False
    if _ends_sentence(prev) or last in ":;":
        if len(prev) < 0.8 * layout.width:
            return False
        scripts = (_mostly_latin(prev), _mostly_latin(cur.text))
        return None in scripts or scripts[0] == scripts[1]
    return len(prev) >= 0.75 * layout.width


def _join_broken(tail: str, cur: str, vocab: Vocabulary) -> bool | None:
    """How `cur` joins a paragraph ending in `tail` whose last line ends in a hyphen: keep it (True), drop it (False).

    None when the paragraph does not end in a hyphen.
    """
    match = _BROKEN_END.search(tail)
    if not match:
        if _NUMBER_RANGE_END.search(tail) and cur[:1].isdigit():
            return True  # "2011-" + "2020 жылдар"
        return None
    word = _FIRST_WORD.match(cur)
    if not word:
        return True  # "2011-" + "2020"
    return keep_hyphen(match.group(1), word.group(0), vocab)


def _tail(parts: list[str]) -> str:
    """The last _HYPHENATED_TAIL characters of a paragraph kept as parts."""
    tail = ""
    for part in reversed(parts):
        tail = part + tail
        if len(tail) >= _HYPHENATED_TAIL:
            break
    return tail[-_HYPHENATED_TAIL:]


def _reflow(lines: list[_Line], vocab: Vocabulary) -> list[str]:
    layout = _layout(lines)
    # Paragraphs are kept as their parts and joined at the end: growing one string line by line, and searching it
    # whole for a line-end hyphen, made a paragraph cost the square of its length (minutes for 300 KB of short lines).
    paragraphs: list[list[str]] = []
    last_line = ""
    for i, line in enumerate(lines):
        heading = _is_heading(line, lines[i + 1] if i + 1 < len(lines) else None, layout)
        if paragraphs and not line.item:
            keep = _join_broken(_tail(paragraphs[-1]), line.text, vocab)
            if keep is not None:
                if not keep:
                    paragraphs[-1][-1] = paragraphs[-1][-1][:-1]
                paragraphs[-1].append(line.text)
                last_line = line.text
                continue
            if _joins(last_line, line, layout, heading):
                paragraphs[-1].append(" " + line.text)
                last_line = line.text
                continue
        paragraphs.append([line.text])
        last_line = line.text
    return ["".join(parts) for parts in paragraphs]


def _fix_midline(paragraph: str, vocab: Vocabulary) -> str:
    def broken(match: re.Match[str]) -> str:
        left, right = match.group(1), match.group(2)
        if right.lower() in _CONJUNCTIONS or not right[0].islower():
            return match.group(0)  # "научно- и учебно-методической": a suspended hyphen
        joined = (left.rsplit("-", 1)[-1] + right).lower()
        compound = f"{left.rsplit('-', 1)[-1]}-{right}".lower()
        if vocab.words.get(joined, 0) > vocab.compounds.get(compound, 0):
            return left + right  # the document writes the word whole elsewhere
        return f"{left}-{right}"

    paragraph = _MIDLINE_BROKEN.sub(broken, paragraph)
    return _MIDLINE_LEADING.sub("-", paragraph)


def _finish(paragraph: str, vocab: Vocabulary) -> str:
    paragraph = _fix_midline(paragraph, vocab)
    for pattern, replacement in _TIDY:
        paragraph = pattern.sub(replacement, paragraph)
    return paragraph.strip()


def repair_text(text: str, *, vocabulary: Vocabulary | None = None) -> str:
    """Repair one page of extracted text: paragraphs joined by a blank line, single spaces inside, NFC.

    `vocabulary` holds the words of the whole document (for hyphenation decisions); by default the page's own.
    """
    text = fix_mixed_script(normalise_characters(text))
    vocab = vocabulary if vocabulary is not None else Vocabulary.from_text(text)
    paragraphs = (_finish(p, vocab) for p in _reflow(_split_lines(text), vocab))
    return unicodedata.normalize("NFC", "\n\n".join(p for p in paragraphs if p))


def document_vocabulary(pages: list[str]) -> Vocabulary:
    """The hyphenation vocabulary of a whole document, built from its raw page texts."""
    return Vocabulary.from_text(fix_mixed_script(normalise_characters("\n\n".join(pages))))


_MAX_HEADER_CHARS = 120


def _edge_key(line: str) -> str:
    return _MULTISPACE.sub(" ", re.sub(r"\d+", "#", line.strip().lower()))


def strip_repeated_lines(pages: list[str], *, edge: int = 3) -> list[str]:
    """Remove running headers and footers: lines repeated at the top or bottom of most pages."""
    if len(pages) < 2:
        return list(pages)
    edges: list[set[int]] = []
    counts: Counter[str] = Counter()
    for page in pages:
        lines = page.split("\n")
        filled = [i for i, line in enumerate(lines) if line.strip()]
        zone = set(filled[:edge] + filled[-edge:])
        edges.append(zone)
        counts.update({_edge_key(lines[i]) for i in zone})
    needed = len(pages) if len(pages) == 2 else max(2, math.ceil(0.5 * len(pages)))
    repeated = {key for key, n in counts.items() if n >= needed and 0 < len(key) <= _MAX_HEADER_CHARS}
    result = []
    for page, zone in zip(pages, edges, strict=True):
        lines = page.split("\n")
        result.append(
            "\n".join(
                line for i, line in enumerate(lines) if i not in zone or _edge_key(line) not in repeated
            )
        )
    return result
