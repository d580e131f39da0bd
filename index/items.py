"""The one write path: every kind of item (file, experience, technology) is stored through `ItemWriter.store`.

chunk → embed (through the space's cache) → one backend transaction over the item's rows, its lexical entries
and its vectors. Callers build the item's record and chunks; they never write to the backend themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from index.records import DocumentRecord, NewChunk, TechnologySuggestion
from index.space import EmbeddingSpace
from index.store.base import Backend
from ingest.chunker import chunk_pages
from ingest.document import Chunk, Page
from pedkb.settings import Settings

Suggester = Callable[[np.ndarray, int], list[TechnologySuggestion]]  # (chunk vectors, k) -> technologies


class ItemWriter:
    """Chunks, embeds and stores items atomically; the technologies an item is suggested are stored with it."""

    def __init__(self, backend: Backend, space: EmbeddingSpace, settings: Settings, suggest: Suggester) -> None:
        self.backend = backend
        self.space = space
        self.settings = settings
        self._suggest = suggest

    def signature(self) -> str:
        """What an item's chunks and vectors depend on; a change re-ingests it."""
        return f"{self.space.embedder.name}|{self.settings.chunk_tokens}|{self.settings.chunk_overlap}"

    def chunk_text(self, text: str, lang: str | None = None) -> list[Chunk]:
        """Token-budget chunks of a free text; `lang` overrides the detected language of every chunk."""
        chunks = chunk_pages([Page(None, text)], count_tokens=self.space.embedder.count_tokens,
                             max_tokens=self.settings.chunk_tokens, overlap_tokens=self.settings.chunk_overlap)
        return [replace(c, lang=lang) for c in chunks] if lang else chunks

    def whole_chunk(self, ordinal: int, text: str, lang: str) -> Chunk:
        """A text kept whole as one chunk (a technology's description in one language)."""
        return Chunk(ordinal, text, lang, None, 0, len(text), self.space.embedder.count_tokens(text))

    def store(self, record: DocumentRecord, chunks: Sequence[Chunk], *, suggest: int = 0,
              must_exist: bool | None = None, expect_sha256: str | None = None) -> int:
        """Embed and store an item with its chunks in one transaction; returns the tokens embedded.

        With `suggest`, that many technologies are suggested from the chunk vectors and kept in the record's meta;
        an item without technology tags of its own (a file) is also filed under them. The model work happens
        before the write: the writer lock is held only for the transaction. `must_exist` False stores a new item
        only (ConflictError), True replaces an existing one only (NotFoundError), decided inside the transaction;
        `expect_sha256` replaces only that stored version (else ConflictError).
        """
        keys, vectors = self.space.embed([c.text for c in chunks])
        if suggest:
            suggestions = self._suggest(vectors, suggest)
            record.meta["suggested_technologies"] = [s.to_dict() for s in suggestions]
            record.facets.setdefault("technology", [s.technology_id for s in suggestions])
            record.facets.setdefault("group", sorted({s.group_id for s in suggestions}))
        new = [NewChunk(c.ordinal, c.text, c.lang, c.page, c.start, c.end, c.n_tokens, keys[i], vectors[i],
                        ocr=c.ocr, ocr_confidence=c.ocr_confidence) for i, c in enumerate(chunks)]
        self.space.claim()
        self.backend.put_document(record, new, must_exist=must_exist, expect_sha256=expect_sha256)
        return sum(c.n_tokens for c in chunks)
