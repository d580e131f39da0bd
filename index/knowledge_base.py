"""The knowledge base: the one object the CLI and the API talk to.

It owns the backend (`store/`), the embedding space (`space.py`) and the one write path (`items.py`), and puts
the features on top of them: file ingest (`documents.py`), search (`ranking.py`), the experience bank,
classification and similar projects (`kb/`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path

import numpy as np

from index import ranking
from index.bridge import Lifted, TechnologyBridge, TechnologyRouter, feedback, lift, merge
from index.calibration import Calibration
from index.documents import DocumentIngester
from index.embedding.embedder import Embedder, WarmsQueryLengths, load_embedder
from index.items import ItemWriter
from index.kb import lifecycle
from index.kb.bank import ExperienceBank
from index.kb.classify import TechnologyClassifier
from index.kb.lifecycle import TransitionRequest
from index.kb.similar import SimilarItem, find_similar
from index.lexical import index_terms
from index.records import DocumentRecord, SearchFilters, SearchHit, TechnologySuggestion
from index.searcher import ItemPage, Searcher
from index.space import EmbeddingSpace, mean_vector
from index.spelling import Speller
from index.store.base import Backend
from index.store.consistency import ConsistencyReport
from index.store.factory import open_backend
from ingest.files import FileResult, IngestReport
from ingest.knowledge import (
    Experience,
    StageTransition,
    Vocabulary,
    empty_vocabulary,
    experience_text,
    load_corpus_experiences,
    load_vocabulary,
)
from ingest.language import detect_query_language
from ingest.ocr import OcrProgress
from pedkb import limits
from pedkb.errors import InconsistentStoreError, ModelMismatchError, NotFoundError, ValidationError
from pedkb.settings import Settings

__all__ = ["FileResult", "IngestReport", "KnowledgeBase", "TransitionRequest"]

log = logging.getLogger(__name__)


class KnowledgeBase:
    """Documents, experiences and technologies, embedded and searchable."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None,
                 backend: Backend | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._embedder_lock = threading.Lock()  # the server's warm-up and a first search load the model once
        self.backend = backend if backend is not None else open_backend(settings)
        self.space = EmbeddingSpace(self.backend, lambda: self.embedder, settings.data)
        self.writer = ItemWriter(self.backend, self.space, settings, self.suggest_for_vectors)
        self.documents_in = DocumentIngester(self.writer, settings)

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use (once, whichever thread asks first)."""
        if self._embedder is None:
            with self._embedder_lock:
                if self._embedder is None:
                    self._embedder = load_embedder(self.settings)
        return self._embedder

    def close(self) -> None:
        """Release the backend (after the spelling lexicon's rebuild, if one is reading it)."""
        if "speller" in self.__dict__:  # built on first use (cached_property)
            self.speller.close()
        self.backend.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- ingest ------------------------------------------------------------------------------------------------
    def ingest_file(self, path: Path, *, source: str | None = None, force: bool = False) -> FileResult:
        """Ingest one file; the document id derives from `source` (default: the absolute path)."""
        return self.documents_in.ingest_file(path, source=source, force=force)

    def ingest(self, paths: Sequence[Path], *, force: bool = False, on_file: Callable[[FileResult], None] | None = None,
               on_page: Callable[[OcrProgress], None] | None = None) -> IngestReport:
        """Ingest files and folders; one failing file never stops the batch; `on_page` follows OCR page by page."""
        return self.documents_in.ingest(paths, force=force, on_file=on_file, on_page=on_page)

    def planned_files(self, paths: Sequence[Path]) -> int:
        """How many files an ingest of these paths will look at (for a progress bar)."""
        return self.documents_in.planned_files(paths)

    # --- reading ------------------------------------------------------------------------------------------------
    def search(self, query: str, *, k: int = 10, offset: int = 0, filters: SearchFilters | None = None,
               mode: str = limits.DEFAULT_SEARCH_MODE, langs: Sequence[str] | None = None,
               kinds: Sequence[str] | None = None) -> list[SearchHit]:
        """Passages best answering the query, in any language unless filtered; `offset` pages through them.

        `mode`: "hybrid" (dense and BM25 fused), "dense" (embeddings only) or "lexical" (BM25 only); every mode
        drops near-duplicate passages and keeps at most three passages of one document and language per page
        of ten (`ranking.present`). Scores are calibrated 0–1 (`calibration.py`). `find` gives one result per item.
        """
        query, filters = self._checked(query, k, offset, mode, filters, langs, kinds)
        if not self.space.is_claimed():
            return []
        self.space.check()
        return self.searcher.passages(query, k=k, offset=offset, filters=filters, mode=mode)

    def find(self, query: str, *, k: int = 10, offset: int = 0, filters: SearchFilters | None = None,
             mode: str = limits.DEFAULT_SEARCH_MODE, explain: bool = False,
             min_score: float | None = None) -> ItemPage:
        """Items (documents, experiences, technologies) best answering the query, one result per item.

        Each item comes once, with its best passage, its other matching passages, and a calibrated 0–1 score;
        the page says how many items match and their facet counts, or that nothing is a close match.
        """
        query, filters = self._checked(query, k, offset, mode, filters, None, None)
        if not self.space.is_claimed():
            return ItemPage([], 0, False, {}, False, None)
        self.space.check()
        return self.searcher.items(query, k=k, offset=offset, filters=filters, mode=mode, explain=explain,
                                   min_score=min_score)

    def _checked(self, query: str, k: int, offset: int, mode: str, filters: SearchFilters | None,
                 langs: Sequence[str] | None, kinds: Sequence[str] | None) -> tuple[str, SearchFilters | None]:
        """The query with its spaces collapsed and the filters, or ValidationError naming the wrong parameter."""
        query = " ".join(query.split())
        if not query:
            raise ValidationError("query", "must not be empty")
        if len(query) > limits.MAX_QUERY_CHARS:
            raise ValidationError("query", f"longer than {limits.MAX_QUERY_CHARS} characters")
        _check_k(k, limits.MAX_K)
        if not 0 <= offset <= limits.MAX_OFFSET:
            raise ValidationError("offset", f"must be between 0 and {limits.MAX_OFFSET}")
        if mode not in limits.SEARCH_MODES:
            raise ValidationError("mode", f"must be one of {', '.join(limits.SEARCH_MODES)}")
        if langs or kinds:
            filters = replace(filters or SearchFilters(), langs=tuple(langs) if langs else None,
                              kinds=tuple(kinds) if kinds else None)
        return query, filters

    @cached_property
    def searcher(self) -> Searcher:
        """The search pipeline over this store (scores calibrated for the loaded model)."""
        return Searcher(self.backend, lambda text: self.embedder.embed_queries([text])[0],
                        self.settings.lang_centering, lambda: self.calibration, terms=self.lexical_terms,
                        lift=self.lift_technologies)

    @cached_property
    def calibration(self) -> Calibration:
        """The score calibration fitted for the loaded model (uncalibrated for any other)."""
        return Calibration.for_model(self.embedder.name)

    # --- language side of search: spelling and the technology bridge (index/spelling.py, index/bridge.py) ------
    @cached_property
    def speller(self) -> Speller:
        """The spelling lexicon of the store's own words and the technology names, rebuilt when the store changes."""
        return Speller(self.backend, self.vocabulary)

    @cached_property
    def bridge(self) -> TechnologyBridge:
        """Every name of every technology, to recognise in queries."""
        return TechnologyBridge(self.vocabulary)

    def warm_query_lengths(self) -> int:
        """Run the model once at every query length its engine prepares a shape for (`WarmsQueryLengths`, the
        serving warm-up); returns how many lengths were run (0 for a model without such an engine)."""
        embedder = self.embedder
        return embedder.warm_query_lengths() if isinstance(embedder, WarmsQueryLengths) else 0

    def warm_chunks(self, seconds: float) -> int:
        """Read the chunks searches will rank into the searcher's caches ahead of them (`Searcher.warm_chunks`)."""
        return self.searcher.warm_chunks(seconds)

    def spelling_suggestion(self, query: str) -> str | None:
        """The query with its misspelt words corrected from the corpus's vocabulary, or None ("did you mean")."""
        query = " ".join(query.split())
        return self.speller.suggest(query) if query and self.space.is_claimed() else None

    def lexical_terms(self, query: str) -> list[str]:
        """The lexical leg's terms: the query's, plus those of the corrections of its unknown words."""
        terms = index_terms(query)
        extra = " ".join(self.speller.tolerant_words(query))
        return terms + [t for t in index_terms(extra) if t not in terms] if extra else terms

    @cached_property
    def router(self) -> TechnologyRouter:
        """The technologies' prototype vectors, to route a query that describes one without naming it."""
        return TechnologyRouter(self.classifier.ids, self.classifier.prototypes)

    def lift_technologies(self, query: str, ranked: Sequence[ranking.Ranked], filters: SearchFilters | None,
                          query_lang: str | None = None,
                          vector: np.ndarray | None = None) -> tuple[list[ranking.Ranked], list[Lifted]]:
        """The ranking with the technologies named in the query (or, given its `vector`, clearly described by
        it, or else agreed on by its first results), and the experiences tagged with them, first (`query_lang`:
        the query's language when the caller has detected it already)."""
        lang = detect_query_language(query) if query_lang is None else query_lang
        matches = self.bridge.recognise(query)
        if vector is not None and self.vocabulary.technologies:
            matches = merge(matches, self.router.route(vector))
        if not matches:  # no technology named or described: the one the first results agree on, if any
            matches = feedback(ranked, self.backend)
        return lift(ranked, matches, self.backend, filters, lang)

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

    # --- knowledge base: vocabulary, bank, classification, similar projects ------------------------------------
    @cached_property
    def vocabulary(self) -> Vocabulary:
        """The technology classification and the other vocabularies of the corpus folder (empty when absent)."""
        if (self.settings.corpus / "technologies.json").exists():
            return load_vocabulary(self.settings.corpus)
        log.warning("no technologies.json in %s: classification is off", self.settings.corpus)
        return empty_vocabulary()

    @cached_property
    def bank(self) -> ExperienceBank:
        """The experience bank."""
        return ExperienceBank(self.writer, self.vocabulary)

    def record_transition(self, exp_id: str, request: TransitionRequest) -> Experience:
        """Move an experience to a new lifecycle stage with its evidence (`kb/lifecycle.py`)."""
        return lifecycle.record_transition(self.bank, exp_id, request)

    def stage_history(self, exp_id: str) -> list[StageTransition]:
        """An experience's recorded lifecycle transitions, oldest first."""
        return lifecycle.history(self.bank, exp_id)

    @cached_property
    def classifier(self) -> TechnologyClassifier:
        """The technology classifier (its prototype vectors are cached in the store)."""
        return TechnologyClassifier(self.vocabulary, lambda texts: self.space.embed(texts, "query", True)[1],
                                    self._typical_text_vector())

    def _typical_text_vector(self) -> np.ndarray | None:
        """The mean vector of the corpus's sample experiences (cached in the store after the first time)."""
        if not self.vocabulary.technologies or not (self.settings.corpus / "experiences").is_dir():
            return None
        experiences = load_corpus_experiences(self.settings.corpus, self.vocabulary)
        if not experiences:
            return None
        vectors = [self.text_vector(experience_text(e), persist=True) for e in experiences]
        return mean_vector(np.stack(vectors))

    def text_vector(self, text: str, field: str = "text", persist: bool = False) -> np.ndarray:
        """One normalised vector for a text of any length: the mean of its chunks' passage vectors."""
        text = text.strip()
        if not text:
            raise ValidationError(field, "must not be empty")
        if len(text) > limits.MAX_TEXT_CHARS:
            raise ValidationError(field, f"longer than {limits.MAX_TEXT_CHARS} characters")
        chunks = self.writer.chunk_text(text)
        if not chunks:
            raise ValidationError(field, "has no words")
        return mean_vector(self.space.embed([c.text for c in chunks], persist=persist)[1])

    def suggest_for_vectors(self, vectors: np.ndarray, k: int = 5) -> list[TechnologySuggestion]:
        """Technologies suggested for an item given its chunk vectors."""
        if not len(vectors) or not self.vocabulary.technologies:
            return []
        return self.classifier.suggest(mean_vector(vectors), k)

    def classify(self, text: str, *, k: int = 5) -> list[TechnologySuggestion]:
        """The k technologies that best match a text (an experience, a document, a teacher's description)."""
        _check_k(k, limits.MAX_CLASSIFY_K)
        return self.classifier.suggest(self.text_vector(text), k)

    def similar(self, *, exp_id: str | None = None, text: str | None = None, k: int = 10,
                kinds: Sequence[str] = ("experience", "document")) -> list[SimilarItem]:
        """Experiences and documents most similar to an experience or to a project description, never itself."""
        if (exp_id is None) == (text is None):
            raise ValidationError("exp_id", "give either an experience id or a text")
        _check_k(k, limits.MAX_K)
        if exp_id is not None:
            exp = self.bank.get(exp_id)
            chunks = self.backend.document_chunks(exp_id)
            vector = mean_vector(self.space.embed([c.text for c in chunks])[1])
            own = list(exp.technologies)
        else:
            vector = self.text_vector(text or "")
            own = [s.technology_id for s in self.classifier.suggest(vector, limits.SUGGESTED_TAGS)]
        self.space.check()
        return find_similar(self.backend, vector, own, exclude=exp_id, k=k, kinds=tuple(kinds),
                            lang_centering=self.settings.lang_centering)

    # --- re-embedding ---------------------------------------------------------------------------------------------
    def reindex(self, on_batch: Callable[[int], None] | None = None) -> int:
        """Re-embed every chunk with the configured model; atomic: the old index serves until the switch."""
        embedder = self.embedder
        assignments: list[tuple[int, str]] = []
        for batch in self.backend.iter_chunks(batch=256):
            keys, vectors = self.space.embed([c.text for c in batch])
            self.backend.store_vectors(list(zip(keys, vectors, strict=True)))
            assignments.extend((c.chunk_id, key) for c, key in zip(batch, keys, strict=True))
            if on_batch is not None:
                on_batch(len(batch))
        self.backend.switch_model(embedder.name, embedder.dim, assignments, weights=embedder.fingerprint)
        return len(assignments)

    # --- integrity -------------------------------------------------------------------------------------------------
    def check(self, *, quick: bool = False, repair: bool = False) -> ConsistencyReport:
        """`pedkb check`: the backend's rows, lexical index and vectors agree (`Backend.check`; `repair` rebuilds
        what the rows allow) and, unless `quick` (which needs no model), the store's model is the embedder's."""
        report = self.backend.check(quick=quick, repair=repair)
        if repair and report.number("vectors_missing"):
            self.space.check()  # re-embedding needs the store's own model
            for batch in self.backend.iter_chunks(batch=256):  # the cache embeds only what it lacks
                self.space.embed([c.text for c in batch], persist=True)
            again = self.backend.check(repair=True)  # the index, now that every chunk has its vector
            report.repaired += [f"{report.number('vectors_missing')} chunk vectors re-embedded", *again.repaired]
        if not quick and self.space.is_claimed():
            try:
                self.space.check()
            except ModelMismatchError as exc:
                report.problem("model_mismatch", 1, str(exc), repairable=False)
        return report

    def refuse_inconsistent(self) -> None:
        """Raise InconsistentStoreError, naming the command that repairs it, when the quick check finds a problem
        (`pedkb serve` calls it at start)."""
        report = self.check(quick=True)
        if not report.ok:
            for line in report.lines():
                log.error("%s", line)
            problems = "; ".join(f"{p.name} {p.count}" for p in report.problems)
            raise InconsistentStoreError(f"the {report.backend} store is inconsistent ({problems}): run "
                                         "`pedkb check --repair` before serving it")

    def stats(self) -> dict[str, object]:
        """Store statistics plus the model the index was built with: name, dimension and weights fingerprint."""
        return {**self.backend.stats(), **self.space.describe()}


def _check_k(k: int, most: int) -> None:
    if not 1 <= k <= most:
        raise ValidationError("k", f"must be between 1 and {most}")
