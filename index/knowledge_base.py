"""The knowledge base: ingest files into a backend, search them, list, delete and re-embed.

This is the one object the CLI and the API talk to; it joins ingest/ (text), the embedder and the backend.
The store's meta names the embedding space it holds: "model", "dim" and "model_weights" (the embedder's weights
fingerprint, since one model name can stand for other weights: docs/model_identity.md).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index import ranking
from index.store.base import WEIGHTS_META, Backend
from index.embedding.embedder import Embedder, load_embedder
from index.store.factory import open_backend
from ingest.files import FileResult, IngestReport, collect_files, document_id, file_sha256
from index.lexical import index_terms
from index.records import DocumentRecord, NewChunk, SearchFilters, SearchHit
from ingest import prepare_document
from ingest.chunker import chunk_pages
from ingest.document import Page, PreparedDocument
from ingest.knowledge import Vocabulary, load_vocabulary
from ingest.language import detect_language
from pedkb.errors import ModelMismatchError, NotFoundError, PedkbError, ReadError, ValidationError
from pedkb.settings import Settings

if TYPE_CHECKING:
    from index.kb.bank import ExperienceBank
    from index.kb.classify import TechnologyClassifier, TechnologySuggestion
    from index.kb.similar import SimilarItem

__all__ = ["FileResult", "IngestReport", "KnowledgeBase", "document_id", "vector_key"]

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 4000
MAX_TEXT_CHARS = 50_000
MAX_K = 200
MAX_OFFSET = 1000
SEARCH_MODES = ("hybrid", "dense", "lexical")  # the first is the default (docs/retrieval.md: why)
DEFAULT_SEARCH_MODE = SEARCH_MODES[0]
SUGGESTED_TAGS = 3


def vector_key(model: str, weights: str, text: str, role: str = "passage") -> str:
    """The embedding-cache key of a text embedded as a passage or a query by a model with these weights."""
    return hashlib.sha1(f"{model}\0{weights}\0{role}\0{text}".encode()).hexdigest()


class KnowledgeBase:
    """Documents and their chunks, embedded and searchable."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None,
                 backend: Backend | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self.backend = backend if backend is not None else open_backend(settings)

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use."""
        if self._embedder is None:
            self._embedder = load_embedder(self.settings)
        return self._embedder

    def close(self) -> None:
        """Release the backend."""
        self.backend.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the embedding space --------------------------------------------------------------------------------
    def check_model(self) -> None:
        """Refuse a model, or other weights under the same name, than the index was built with.

        An index from before weights were recorded adopts the loaded embedder's fingerprint.
        """
        stored = self.backend.get_meta("model")
        if stored is None:
            return
        embedder = self.embedder
        dim = int(self.backend.get_meta("dim") or 0)
        if stored != embedder.name or dim != embedder.dim:
            raise ModelMismatchError(
                f"the index in {self.settings.data} was built with {stored} ({dim} dims) but the configured model is "
                f"{embedder.name} ({embedder.dim} dims); run `pedkb reindex` to re-embed it with the new "
                f"model, or set PEDKB_MODEL={stored}"
            )
        weights, current = self.backend.get_meta(WEIGHTS_META), embedder.fingerprint
        if weights is None:
            log.info("the index in %s records no weights for %s: adopting those loaded now (%s)",
                     self.settings.data, stored, current)
            self.backend.set_meta(WEIGHTS_META, current)
        elif weights != current:
            raise ModelMismatchError(
                f"the index in {self.settings.data} was built with {stored} weights {weights} but the configured "
                f"model {embedder.name} has weights {current} (one name, other weights: e.g. the offline 4-bit "
                "build and the hub's original); run `pedkb reindex` to re-embed it with the configured model, or "
                "point PEDKB_MODEL at the model folder the index was built with"
            )

    def put_item(self, record: DocumentRecord, chunks: Sequence[NewChunk]) -> None:
        """Store an item with its chunks; the first write records the model the index is built with."""
        self._claim_space()
        self.backend.put_document(record, chunks)

    def _claim_space(self) -> None:
        if self.backend.get_meta("model") is None:
            self.backend.set_meta("model", self.embedder.name)
            self.backend.set_meta("dim", str(self.embedder.dim))
            self.backend.set_meta(WEIGHTS_META, self.embedder.fingerprint)
        self.check_model()

    def chunking_signature(self) -> str:
        """What an item's chunks and vectors depend on; a change re-ingests it."""
        return f"{self.embedder.name}|{self.settings.chunk_tokens}|{self.settings.chunk_overlap}"

    def embed_cached(self, texts: Sequence[str], role: str = "passage",
                     persist: bool = False) -> tuple[list[str], np.ndarray]:
        """Vectors for texts as passages or queries, from the cache where possible; `persist` caches new ones."""
        name, weights = self.embedder.name, self.embedder.fingerprint
        keys = [vector_key(name, weights, t, role) for t in texts]
        cached = self.backend.cached_vectors(keys)
        missing = [i for i, key in enumerate(keys) if key not in cached]
        vectors = np.zeros((len(texts), self.embedder.dim), dtype=np.float32)
        if missing:
            embed = self.embedder.embed_passages if role == "passage" else self.embedder.embed_queries
            fresh = embed([texts[i] for i in missing])
            for row, i in enumerate(missing):
                cached[keys[i]] = fresh[row]
            if persist:
                self.backend.store_vectors([(keys[i], fresh[row]) for row, i in enumerate(missing)])
        for i, key in enumerate(keys):
            vectors[i] = cached[key]
        return keys, vectors

    # --- ingest ------------------------------------------------------------------------------------------------
    def prepare(self, path: Path) -> PreparedDocument:
        """Read, repair and chunk one file (no embedding)."""
        return prepare_document(
            path,
            max_bytes=self.settings.max_file_bytes,
            count_tokens=self.embedder.count_tokens,
            max_tokens=self.settings.chunk_tokens,
            overlap_tokens=self.settings.chunk_overlap,
        )

    def ingest_file(self, path: Path, *, source: str | None = None, force: bool = False,
                    kind: str = "document", meta: dict[str, object] | None = None) -> FileResult:
        """Ingest one file; the document id derives from `source` (default: the absolute path)."""
        source = source or str(path.resolve())
        doc_id = document_id(source)
        try:
            size = path.stat().st_size
            if size > self.settings.max_file_bytes:
                return FileResult(str(path), "failed", reason=(
                    f"file is {size / 2**20:.1f} MB, over the {self.settings.max_file_mb:g} MB limit "
                    "(PEDKB_MAX_FILE_MB)"))
            data_hash = file_sha256(path)
        except OSError as exc:
            return FileResult(str(path), "failed", reason=f"cannot read: {exc.strerror or exc}")
        existing = self.backend.get_document(doc_id)
        signature = self.chunking_signature()
        if (existing is not None and not force and existing.sha256 == data_hash
                and existing.meta.get("chunking") == signature):
            return FileResult(str(path), "unchanged", doc_id, existing.n_chunks)
        try:
            prepared = self.prepare(path)
        except ReadError as exc:
            return FileResult(str(path), "failed", reason=exc.reason)
        texts = [c.text for c in prepared.chunks]
        keys, vectors = self.embed_cached(texts)
        suggestions = self.suggest_for_vectors(vectors, k=SUGGESTED_TAGS)
        record = DocumentRecord(
            doc_id=doc_id, source=source, title=prepared.title, fmt=prepared.fmt, sha256=data_hash,
            size=size, kind=kind, languages=prepared.languages,
            meta={**(meta or {}), "chunking": signature, "encoding": prepared.encoding,
                  "suggested_technologies": [s.to_dict() for s in suggestions]},
            facets={"technology": [s.technology_id for s in suggestions],
                    "group": sorted({s.group_id for s in suggestions})},
        )
        new_chunks = [
            NewChunk(c.ordinal, c.text, c.lang, c.page, c.start, c.end, c.n_tokens, keys[i], vectors[i])
            for i, c in enumerate(prepared.chunks)
        ]
        self.put_item(record, new_chunks)
        status = "added" if existing is None else "updated"
        return FileResult(str(path), status, doc_id, len(new_chunks), sum(c.n_tokens for c in new_chunks))

    def ingest(self, paths: Sequence[Path], *, force: bool = False,
               on_file: Callable[[FileResult], None] | None = None) -> IngestReport:
        """Ingest files and folders; one failing file never stops the batch."""
        started = time.perf_counter()
        files, failures = collect_files(paths)
        report = IngestReport(files=list(failures))
        self._claim_space()
        with self.backend.writing():
            for path in files:
                try:
                    result = self.ingest_file(path, force=force)
                except PedkbError as exc:
                    result = FileResult(str(path), "failed", reason=str(exc))
                except Exception as exc:  # noqa: BLE001 - one broken file must not stop the batch
                    log.exception("unexpected error while ingesting %s", path)
                    result = FileResult(str(path), "failed", reason=f"internal error: {type(exc).__name__}: {exc}")
                if result.status in ("added", "updated"):
                    report.embedded_chunks += result.chunks
                    report.embedded_tokens += result.tokens
                report.files.append(result)
                if on_file is not None:
                    on_file(result)
        report.seconds = time.perf_counter() - started
        return report

    def planned_files(self, paths: Sequence[Path]) -> int:
        """How many files an ingest of these paths will look at (for a progress bar)."""
        files, failures = collect_files(paths)
        return len(files) + len(failures)

    # --- reading ------------------------------------------------------------------------------------------------
    def search(self, query: str, *, k: int = 10, offset: int = 0, filters: SearchFilters | None = None,
               mode: str = DEFAULT_SEARCH_MODE, langs: Sequence[str] | None = None,
               kinds: Sequence[str] | None = None) -> list[SearchHit]:
        """Passages best answering the query, in any language unless filtered; `offset` pages through them.

        `mode`: "hybrid" (dense and BM25 fused), "dense" (embeddings only) or "lexical" (BM25 only); every mode
        drops near-duplicate passages and keeps at most three passages of one document and language per page
        of ten (`ranking.present`).
        """
        query = " ".join(query.split())
        if not query:
            raise ValidationError("query", "must not be empty")
        if len(query) > MAX_QUERY_CHARS:
            raise ValidationError("query", f"longer than {MAX_QUERY_CHARS} characters")
        if not 1 <= k <= MAX_K:
            raise ValidationError("k", f"must be between 1 and {MAX_K}")
        if not 0 <= offset <= MAX_OFFSET:
            raise ValidationError("offset", f"must be between 0 and {MAX_OFFSET}")
        if mode not in SEARCH_MODES:
            raise ValidationError("mode", f"must be one of {', '.join(SEARCH_MODES)}")
        if langs or kinds:
            filters = replace(filters or SearchFilters(), langs=tuple(langs) if langs else None,
                              kinds=tuple(kinds) if kinds else None)
        if self.backend.get_meta("model") is None:
            return []
        self.check_model()
        depth = max(ranking.CANDIDATES, offset + k)
        alpha = self.settings.lang_centering
        vector = self.embedder.embed_queries([query])[0] if mode != "lexical" else None
        ranked: list[ranking.Ranked] | None = None
        try:
            if mode == "lexical":
                ranked = ranking.lexical_ranking(self.backend, index_terms(query), depth, filters)
            elif mode == "hybrid" and vector is not None:
                ranked = ranking.hybrid_ranking(self.backend, vector, index_terms(query), depth, filters, alpha,
                                                detect_language(query))
        except NotImplementedError:
            log.warning("%s has no lexical index: %s search falls back to dense", type(self.backend).__name__, mode)
        if ranked is None:
            if vector is None:
                vector = self.embedder.embed_queries([query])[0]
            ranked = ranking.dense_ranked(self.backend, vector, depth, filters, alpha)
        page = ranking.present(ranked, offset + k)[offset:]
        docs = self.backend.get_documents([r.chunk.doc_id for r in page])
        return [SearchHit(r.chunk, docs[r.chunk.doc_id], r.score) for r in page if r.chunk.doc_id in docs]

    # --- knowledge base: vocabulary, bank, classification, similar projects ------------------------------------
    @cached_property
    def vocabulary(self) -> Vocabulary:
        """The technology classification and the other vocabularies of the corpus folder (empty when absent)."""
        if (self.settings.corpus / "technologies.json").exists():
            return load_vocabulary(self.settings.corpus)
        log.warning("no technologies.json in %s: classification is off", self.settings.corpus)
        from ingest.knowledge import Classifications

        return Vocabulary([], [], Classifications(classifications=[]), [], [])

    @cached_property
    def bank(self) -> ExperienceBank:
        """The experience bank."""
        from index.kb.bank import ExperienceBank

        return ExperienceBank(self)

    @cached_property
    def classifier(self) -> TechnologyClassifier:
        """The technology classifier (its prototype vectors are cached in the store)."""
        from index.kb.classify import TechnologyClassifier

        return TechnologyClassifier(self.vocabulary, lambda texts: self.embed_cached(texts, "query", True)[1],
                                    self._typical_text_vector())

    def _typical_text_vector(self) -> np.ndarray | None:
        """The mean vector of the corpus's sample experiences (cached in the store after the first time)."""
        from ingest.knowledge import experience_text, load_corpus_experiences

        if not self.vocabulary.technologies or not (self.settings.corpus / "experiences").is_dir():
            return None
        experiences = load_corpus_experiences(self.settings.corpus, self.vocabulary)
        if not experiences:
            return None
        vectors = [self.text_vector(experience_text(e), persist=True) for e in experiences]
        return _mean_vector(np.stack(vectors))

    def text_vector(self, text: str, field: str = "text", persist: bool = False) -> np.ndarray:
        """One normalised vector for a text of any length: the mean of its chunks' passage vectors."""
        text = text.strip()
        if not text:
            raise ValidationError(field, "must not be empty")
        if len(text) > MAX_TEXT_CHARS:
            raise ValidationError(field, f"longer than {MAX_TEXT_CHARS} characters")
        chunks = chunk_pages([Page(None, text)], count_tokens=self.embedder.count_tokens,
                             max_tokens=self.settings.chunk_tokens, overlap_tokens=self.settings.chunk_overlap)
        if not chunks:
            raise ValidationError(field, "has no words")
        return _mean_vector(self.embed_cached([c.text for c in chunks], persist=persist)[1])

    def suggest_for_vectors(self, vectors: np.ndarray, k: int = 5) -> list[TechnologySuggestion]:
        """Technologies suggested for an item given its chunk vectors."""
        if not len(vectors) or not self.vocabulary.technologies:
            return []
        return self.classifier.suggest(_mean_vector(vectors), k)

    def classify(self, text: str, *, k: int = 5) -> list[TechnologySuggestion]:
        """The k technologies that best match a text (an experience, a document, a teacher's description)."""
        if not 1 <= k <= 50:
            raise ValidationError("k", "must be between 1 and 50")
        return self.classifier.suggest(self.text_vector(text), k)

    def similar(self, *, exp_id: str | None = None, text: str | None = None, k: int = 10,
                kinds: Sequence[str] = ("experience", "document")) -> list[SimilarItem]:
        """Experiences and documents most similar to an experience or to a project description, never itself."""
        from index.kb.similar import find_similar

        if (exp_id is None) == (text is None):
            raise ValidationError("exp_id", "give either an experience id or a text")
        if not 1 <= k <= MAX_K:
            raise ValidationError("k", f"must be between 1 and {MAX_K}")
        if exp_id is not None:
            exp = self.bank.get(exp_id)
            chunks = self.backend.document_chunks(exp_id)
            vector = _mean_vector(self.embed_cached([c.text for c in chunks])[1])
            own = list(exp.technologies)
        else:
            vector = self.text_vector(text or "")
            own = [s.technology_id for s in self.classifier.suggest(vector, SUGGESTED_TAGS)]
        self.check_model()
        return find_similar(self, vector, own, exclude=exp_id, k=k, kinds=tuple(kinds))

    def documents(self, kind: str | None = None) -> list[DocumentRecord]:
        """All documents."""
        return self.backend.list_documents(kind)

    def document(self, doc_id: str) -> DocumentRecord:
        """One document, or NotFoundError."""
        doc = self.backend.get_document(doc_id)
        if doc is None:
            raise NotFoundError(f"no document with id {doc_id!r}")
        return doc

    def delete(self, doc_id: str) -> None:
        """Delete a document and its vectors."""
        if not self.backend.delete_document(doc_id):
            raise NotFoundError(f"no document with id {doc_id!r}")

    # --- re-embedding ---------------------------------------------------------------------------------------------
    def reindex(self, on_batch: Callable[[int], None] | None = None) -> int:
        """Re-embed every chunk with the configured model; atomic: the old index serves until the switch."""
        embedder = self.embedder
        assignments: list[tuple[int, str]] = []
        for batch in self.backend.iter_chunks(batch=256):
            texts = [c.text for c in batch]
            keys, vectors = self.embed_cached(texts)
            self.backend.store_vectors(list(zip(keys, vectors, strict=True)))
            assignments.extend((c.chunk_id, key) for c, key in zip(batch, keys, strict=True))
            if on_batch is not None:
                on_batch(len(batch))
        self.backend.switch_model(embedder.name, embedder.dim, assignments, weights=embedder.fingerprint)
        return len(assignments)

    def stats(self) -> dict[str, object]:
        """Store statistics plus the model the index was built with: name, dimension and weights fingerprint."""
        out = self.backend.stats()
        out["model"] = self.backend.get_meta("model")
        out["dim"] = int(self.backend.get_meta("dim") or 0) or None
        out[WEIGHTS_META] = self.backend.get_meta(WEIGHTS_META)
        return out


def _mean_vector(vectors: np.ndarray) -> np.ndarray:
    mean = np.asarray(vectors, dtype=np.float32).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else mean
