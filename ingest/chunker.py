"""Cut repaired pages into overlapping sentence chunks within a token budget, one language run at a time."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ingest.document import Chunk, Page
from ingest.language import UNDETERMINED, detect_language, split_by_language
from ingest.sentences import split_sentences

TokenCounter = Callable[[str], int]
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_WORD = re.compile(r"\S+")
# Chunks with fewer letters take the language of their run rather than their own detection.
_MIN_LETTERS_FOR_DETECTION = 30


@dataclass(frozen=True)
class _Unit:
    """A sentence (or a piece of a long one) of a page: offsets into the page text and its token count."""

    start: int
    end: int
    tokens: int


@dataclass(frozen=True)
class _Segment:
    """Consecutive paragraphs of one page that belong to one language run."""

    page_index: int
    start: int
    end: int
    lang: str


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    start = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        if text[start : match.start()].strip():
            spans.append((start, match.start()))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


def _segments(pages: list[Page]) -> list[_Segment]:
    """Language runs over all paragraphs of the document, cut at page ends."""
    located: list[tuple[int, int, int]] = []  # (page index, start, end)
    for page_index, page in enumerate(pages):
        located.extend((page_index, start, end) for start, end in _paragraph_spans(page.text))
    texts = [pages[p].text[s:e] for p, s, e in located]
    segments: list[_Segment] = []
    for first, after, lang in split_by_language(texts):
        group_start = first
        for i in range(first + 1, after + 1):
            if i == after or located[i][0] != located[group_start][0]:
                page_index = located[group_start][0]
                segments.append(_Segment(page_index, located[group_start][1], located[i - 1][2], lang))
                group_start = i
    return segments


def _split_long(
    text: str, offset: int, count_tokens: TokenCounter, max_tokens: int, overhead: int
) -> list[_Unit]:
    """Split a sentence longer than the budget into pieces at word boundaries."""
    words = [(offset + m.start(), offset + m.end(), m.group(0)) for m in _WORD.finditer(text)]
    costs = [max(1, count_tokens(word) - overhead) for _, _, word in words]
    units: list[_Unit] = []
    i = 0
    while i < len(words):
        j, total = i + 1, overhead + costs[i]
        while j < len(words) and total + costs[j] <= max_tokens:
            total += costs[j]
            j += 1
        tokens = count_tokens(text[words[i][0] - offset : words[j - 1][1] - offset])
        while tokens > max_tokens and j - 1 > i:
            j -= 1
            tokens = count_tokens(text[words[i][0] - offset : words[j - 1][1] - offset])
        units.append(_Unit(words[i][0], words[j - 1][1], tokens))
        i = j
    return units


def _units(
    text: str, segment: _Segment, count_tokens: TokenCounter, max_tokens: int, overhead: int
) -> list[_Unit]:
    units: list[_Unit] = []
    piece = text[segment.start : segment.end]
    for s, e in split_sentences(piece):
        start, end = segment.start + s, segment.start + e
        tokens = count_tokens(text[start:end])
        if tokens > max_tokens:
            units.extend(_split_long(text[start:end], start, count_tokens, max_tokens, overhead))
        else:
            units.append(_Unit(start, end, tokens))
    return units


class _Packer:
    """Greedy windows of whole units within the budget, each overlapping the last by trailing units."""

    def __init__(self, text: str, units: list[_Unit], count_tokens: TokenCounter, overhead: int) -> None:
        self.text, self.units, self.count_tokens, self.overhead = text, units, count_tokens, overhead

    def cost(self, first: int, after: int) -> int:
        """Estimated tokens of units[first:after] as one text (special tokens counted once)."""
        return self.overhead + sum(u.tokens - self.overhead for u in self.units[first:after])

    def count(self, first: int, after: int) -> int:
        """Real tokens of units[first:after] as one text."""
        return self.count_tokens(self.text[self.units[first].start : self.units[after - 1].end])

    def windows(self, max_tokens: int, overlap_tokens: int) -> list[tuple[int, int, int]]:
        """(first unit, unit after the last, tokens) of every window."""
        units = self.units
        windows: list[tuple[int, int, int]] = []
        i = 0
        while i < len(units):
            j = i + 1
            while j < len(units) and self.cost(i, j + 1) <= max_tokens:
                j += 1
            tokens = self.count(i, j)
            while tokens > max_tokens and j - 1 > i:  # the tokenizer disagrees with the estimate
                j -= 1
                tokens = self.count(i, j)
            windows.append((i, j, tokens))
            if j >= len(units):
                break
            k = j
            while k - 1 > i and self.cost(k - 1, j) - self.overhead <= overlap_tokens:
                k -= 1
            if self.cost(k, j + 1) > max_tokens:
                k = j  # the next sentence would not fit beside the overlap: start afresh
            i = k
        return windows

    def merge_tiny(self, windows: list[tuple[int, int, int]], min_tokens: int, max_tokens: int) -> None:
        """Fold tiny windows (a lone heading, a caption) into a neighbour when the result fits the budget."""
        k = 0
        while k < len(windows) and len(windows) > 1:
            first, after, tokens = windows[k]
            if tokens >= min_tokens:
                k += 1
                continue
            for other in (k - 1, k + 1):
                if 0 <= other < len(windows):
                    lo, hi = min(first, windows[other][0]), max(after, windows[other][1])
                    merged = self.count(lo, hi)
                    if merged <= max_tokens:
                        windows[min(k, other) : max(k, other) + 1] = [(lo, hi, merged)]
                        break
            else:
                k += 1


def chunk_pages(
    pages: list[Page],
    *,
    count_tokens: TokenCounter,
    max_tokens: int = 256,
    overlap_tokens: int = 48,
) -> list[Chunk]:
    """Chunks of repaired `pages`: whole sentences within `max_tokens`, overlapping by up to `overlap_tokens`.

    A chunk stays within one page and one language run; `page.text[chunk.start:chunk.end] == chunk.text`.
    """
    if max_tokens < 1 or overlap_tokens < 0 or overlap_tokens >= max_tokens:
        raise ValueError(f"need 0 <= overlap_tokens < max_tokens, got {overlap_tokens} and {max_tokens}")
    min_tokens = max(4, max_tokens // 16)
    overhead = count_tokens("")  # special tokens a model tokenizer adds to every text
    chunks: list[Chunk] = []
    for segment in _segments(pages):
        page = pages[segment.page_index]
        units = _units(page.text, segment, count_tokens, max_tokens, overhead)
        if not units:
            continue
        packer = _Packer(page.text, units, count_tokens, overhead)
        windows = packer.windows(max_tokens, overlap_tokens)
        packer.merge_tiny(windows, min_tokens, max_tokens)
        for first, after, tokens in windows:
            start, end = units[first].start, units[after - 1].end
            chunk_text = page.text[start:end]
            if not any(ch.isalpha() for ch in chunk_text):
                continue  # a stray number or a form blank is not worth an embedding
            chunks.append(
                Chunk(
                    ordinal=len(chunks),
                    text=chunk_text,
                    lang=_chunk_language(chunk_text, segment.lang),
                    page=page.number,
                    start=start,
                    end=end,
                    n_tokens=tokens,
                    ocr=page.ocr,
                    ocr_confidence=page.ocr_confidence,
                )
            )
    return chunks


def _chunk_language(text: str, run_lang: str) -> str:
    if sum(1 for ch in text if ch.isalpha()) < _MIN_LETTERS_FOR_DETECTION:
        return run_lang
    lang = detect_language(text)
    return run_lang if lang == UNDETERMINED else lang
