"""Warm serving: load the embedding model and run one whole search on a background thread after start-up.

The search builds what a first user's search would otherwise wait for: the model's thread pools and its kernels
for every query length, the searcher and its calibration, the spelling lexicon, the technology names, the vector
index brought into memory; then one search per stored language under that language's filter builds what a
filtered search reads; last, the chunks searches rank are read into the searcher's cache (as many as it holds)."""

from __future__ import annotations

import gc
import logging
import threading
import time

from index.knowledge_base import KnowledgeBase
from index.records import SearchFilters

log = logging.getLogger(__name__)

WARMUP_QUERY = "педагогикалық инновация"
STOP_WAIT_S = 120.0  # the longest a shutdown waits for the warm-up step in progress
# The longest the warm-up spends scoring common terms ahead of searches (`Backend.warm`) before it says ready: all
# of them at 100k chunks (about 10 s; scored after ready instead, beside the first searches, they slowed those
# searches for as long in every worker: docs/benchmarks.md). A larger store scores the rest once ready, in steps
# of WARM_STEP_S, WARM_LATER_S at most.
WARM_STORE_S = 15.0
WARM_LATER_S = 120.0
WARM_STEP_S = 2.0
WARM_CHUNKS_S = 5.0  # the longest the warm-up reads chunks into the searcher's cache (`Searcher.warm_chunks`)
READY_WAIT_S = 3.0  # the longest a search waits for a warming worker before it answers 503 starting
# The collector's thresholds once warm (Python's default: 700, 10, 10). A search keeps some 1,000 records and
# tuples in its caches (chunks, rankings, text keys), so at the default a full collection, which walks every cache,
# ran every few searches: 2-4 ms of a new search's p50 and 8 ms of its mean at 100k chunks (docs/benchmarks.md).
GC_THRESHOLDS = (50_000, 20, 10)


class Warmup:
    """The state of the warm-up: `ready` is set once a whole search was answered; `error` says why it was not."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._frozen = False  # `gc.freeze` was called once warm
        self._thresholds: tuple[int, int, int] | None = None  # the collector's thresholds before warm ones were set

    def start(self, kb: KnowledgeBase) -> None:
        """Start warming `kb` on a daemon thread."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, args=(kb,), name="pedkb-warmup", daemon=True)
        self._thread.start()

    @property
    def started(self) -> bool:
        """Whether a warm-up was started (an app used without its lifespan, in tests, has none)."""
        return self._thread is not None

    def is_ready(self) -> bool:
        """Ready now (or no warm-up was started), without waiting."""
        return not self.started or self.ready.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait at most `timeout` (default READY_WAIT_S) seconds for readiness; True when ready (or when no warm-up
        was started)."""
        return self.is_ready() or self.ready.wait(READY_WAIT_S if timeout is None else timeout)

    def stop(self, timeout: float = STOP_WAIT_S) -> None:
        """Ask the warm-up to end after its current step and wait for it, so that the knowledge base is never closed
        under a search it is running (a model load cannot be interrupted: at most `timeout` seconds are waited)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the warm-up is still running after %.0f s at shutdown", timeout)
        if self._frozen:  # what the closed knowledge base leaves behind may be collected again
            gc.unfreeze()
            self._frozen = False
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None

    def _run(self, kb: KnowledgeBase) -> None:
        steps = (lambda: kb.embedder.embed_queries([WARMUP_QUERY]), lambda: self._warm_query_lengths(kb),
                 lambda: kb.find(WARMUP_QUERY, k=10),
                 lambda: kb.spelling_suggestion(WARMUP_QUERY), lambda: self._warm_store(kb),
                 lambda: self._warm_language_filters(kb), lambda: self._warm_chunks(kb))
        try:
            for step in steps:
                if self._stopping.is_set():
                    return
                step()
        except Exception as exc:  # noqa: BLE001 - any failure is reported by /health/ready, never raised
            error = f"{type(exc).__name__}: {exc}"
            log.error("warm-up failed, the service is not ready: %s", error)
            self.error = error
        else:
            log.info("warm-up done: the model %s is loaded and a search answered", kb.embedder.name)
            self._settle(kb)
            self.ready.set()
            self._keep_warming(kb)

    @staticmethod
    def _warm_query_lengths(kb: KnowledgeBase) -> None:
        """The model at every query length (`OnnxEmbedder.warm_query_lengths`): the first query of each length
        otherwise waits for the engine to prepare that shape (+2.5 ms with OpenVINO)."""
        started = time.perf_counter()
        lengths = kb.warm_query_lengths()
        if lengths:
            log.info("warm-up: the model run at %d query lengths in %.1f s", lengths, time.perf_counter() - started)

    @staticmethod
    def _warm_store(kb: KnowledgeBase) -> None:
        started = time.perf_counter()
        kept = kb.backend.warm(WARM_STORE_S)
        if kept:
            log.info("warm-up: %d common terms of the lexical index scored in %.1f s", kept,
                     time.perf_counter() - started)

    def _warm_language_filters(self, kb: KnowledgeBase) -> None:
        """One search filtered to each language of the store: the language filter is the one readers use most,
        and its first search reads the passing chunks' ids and widens the graph search (at 100k chunks a first
        filtered search took 73-300 ms, the next ones 42-83 ms)."""
        started = time.perf_counter()
        langs = sorted(kb.backend.language_statistics())
        for lang in langs:
            if self._stopping.is_set():
                return
            kb.find(WARMUP_QUERY, k=10, filters=SearchFilters(langs=(lang,)))
        if langs:
            log.info("warm-up: a search filtered to each of %s in %.1f s", ", ".join(langs),
                     time.perf_counter() - started)

    @staticmethod
    def _warm_chunks(kb: KnowledgeBase) -> None:
        started = time.perf_counter()
        taken = kb.warm_chunks(WARM_CHUNKS_S)
        if taken:
            log.info("warm-up: %d chunks read ahead of searches in %.1f s", taken, time.perf_counter() - started)

    def _keep_warming(self, kb: KnowledgeBase) -> None:
        """Once ready, go on preparing the store in short steps (at most WARM_LATER_S in all, until a step adds
        nothing): what did not fit in WARM_STORE_S (a store well above 100k chunks)."""
        started = time.perf_counter()
        kept = 0
        try:
            while not self._stopping.is_set() and time.perf_counter() - started < WARM_LATER_S:
                more = kb.backend.warm(WARM_STEP_S)
                if more <= kept:
                    break
                kept = more
        except Exception:  # noqa: BLE001 - searches compute what is missing themselves
            log.exception("preparing the store after the warm-up failed")
            return
        if kept:
            log.info("after the warm-up: %d common terms of the lexical index kept (%.1f s)", kept,
                     time.perf_counter() - started)

    def _settle(self, kb: KnowledgeBase) -> None:
        """Start the store's upkeep (`Backend.maintain`), then freeze what warming built out of the collector's reach.

        The model, the lexicons and the technology names (about 600,000 objects) live as long as the process, yet
        every full collection walked them: about 360 ms, twice a minute under load, some 12 ms per search at 100k
        chunks (docs/benchmarks.md). `gc.freeze` moves them to a generation that is never scanned; they are still
        freed by reference counting. What searches keep afterwards (the caches) is collected less often
        (GC_THRESHOLDS). `stop` unfreezes them and sets the thresholds back.
        """
        try:
            kb.backend.maintain()
        except Exception:  # noqa: BLE001 - upkeep is not needed to serve: the flat index answers meanwhile
            log.exception("the store's upkeep could not be started")
        gc.collect()
        gc.freeze()
        self._frozen = True
        if self._thresholds is None:
            self._thresholds = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLDS)
