"""Warm serving: load the embedding model and run one whole search on a background thread after start-up.

The search builds what a first user's search would otherwise wait for: the model's thread pools, the searcher
and its calibration, the spelling lexicon, the technology names, the vector index brought into memory."""

from __future__ import annotations

import logging
import threading

from index.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)

WARMUP_QUERY = "педагогикалық инновация"


class Warmup:
    """The state of the warm-up: `ready` is set once a whole search was answered; `error` says why it was not."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.error: str | None = None
        self._thread: threading.Thread | None = None

    def start(self, kb: KnowledgeBase) -> None:
        """Start warming `kb` on a daemon thread (a model load cannot be interrupted, so shutdown does not wait)."""
        self._thread = threading.Thread(target=self._run, args=(kb,), name="pedkb-warmup", daemon=True)
        self._thread.start()

    def _run(self, kb: KnowledgeBase) -> None:
        try:
            kb.embedder.embed_queries([WARMUP_QUERY])
            kb.find(WARMUP_QUERY, k=10)
            kb.spelling_suggestion(WARMUP_QUERY)
        except Exception as exc:  # noqa: BLE001 - any failure is reported by /health/ready, never raised
            error = f"{type(exc).__name__}: {exc}"
            log.error("warm-up failed, the service is not ready: %s", error)
            self.error = error
        else:
            log.info("warm-up done: the model %s is loaded and a search answered", kb.embedder.name)
            self.ready.set()
