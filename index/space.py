"""The embedding space of a store: which model, dimension and weights its vectors come from, and their cache.

The store's meta names the space it holds: "model", "dim" and "model_weights" (the embedder's weights
fingerprint, since one model name can stand for other weights: docs/model_identity.md), and "embedding_runtime"
(the runtimes that made its vectors, e.g. "onnx-int8", with the weights they were recorded for). Vectors are cached
by a key over (model, weights, role, text), so a re-ingest or a repeated query text is not embedded twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index.embedding.embedder import Embedder
from index.store.base import WEIGHTS_META, Backend
from pedkb.errors import ModelMismatchError

log = logging.getLogger(__name__)

RUNTIME_META = "embedding_runtime"  # comma-separated runtime labels that embedded the store's vectors
RUNTIME_WEIGHTS_META = "embedding_runtime_weights"  # the weights fingerprint RUNTIME_META was recorded with


def vector_key(model: str, weights: str, text: str, role: str = "passage") -> str:
    """The embedding-cache key of a text embedded as a passage or a query by a model with these weights."""
    return hashlib.sha1(f"{model}\0{weights}\0{role}\0{text}".encode()).hexdigest()


def mean_vector(vectors: np.ndarray) -> np.ndarray:
    """The normalised mean of some vectors (one vector for a text of several chunks)."""
    mean = np.asarray(vectors, dtype=np.float32).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else mean


class EmbeddingSpace:
    """One store's embedding space: refuses another model or other weights, and embeds through the cache."""

    def __init__(self, backend: Backend, embedder: Callable[[], Embedder], data: Path | str) -> None:
        self.backend = backend
        self._embedder = embedder
        self._data = data  # named in error messages

    @property
    def embedder(self) -> Embedder:
        """The embedding model (loaded on first use by the owner's loader)."""
        return self._embedder()

    def is_claimed(self) -> bool:
        """True once the store holds vectors of some model."""
        return self.backend.get_meta("model") is not None

    def check(self) -> None:
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
                f"the index in {self._data} was built with {stored} ({dim} dims) but the configured model is "
                f"{embedder.name} ({embedder.dim} dims); run `pedkb reindex` to re-embed it with the new "
                f"model, or set PEDKB_MODEL={stored}"
            )
        weights, current = self.backend.get_meta(WEIGHTS_META), embedder.fingerprint
        if weights is None:
            log.info("the index in %s records no weights for %s: adopting those loaded now (%s)",
                     self._data, stored, current)
            self.backend.set_meta(WEIGHTS_META, current)
        elif weights != current:
            self._refuse_other_runtime(weights, current)
            raise ModelMismatchError(
                f"the index in {self._data} was built with {stored} weights {weights} but the configured "
                f"model {embedder.name} has weights {current} (one name, other weights: e.g. the offline 4-bit "
                "build and the hub's original); run `pedkb reindex` to re-embed it with the configured model, or "
                "point PEDKB_MODEL at the model folder the index was built with"
            )

    def recorded_runtimes(self) -> list[str]:
        """The runtimes recorded for the store's present weights ([] when none is, or the record is stale)."""
        recorded = self.backend.get_meta(RUNTIME_META)
        if not recorded or self.backend.get_meta(RUNTIME_WEIGHTS_META) != self.backend.get_meta(WEIGHTS_META):
            return []  # e.g. `pedkb reindex` switched the weights: the next write records the runtime
        return recorded.split(",")

    def _refuse_other_runtime(self, weights: str, current: str) -> None:
        """Raise ModelMismatchError naming both runtimes when the store records one other than the embedder's."""
        recorded, runtime = self.recorded_runtimes(), self.embedder.runtime
        if recorded and runtime not in recorded:
            raise ModelMismatchError(
                f"the index in {self._data} was embedded by runtime {','.join(recorded)} (weights {weights}) but "
                f"the configured runtime is {runtime} (weights {current}); vectors of two runtimes are not mixed "
                f"(docs/model_identity.md): run `pedkb reindex` to re-embed it with {runtime}, or set "
                f"PEDKB_RUNTIME={recorded[0]}"
            )
        if not recorded and runtime.startswith("onnx-"):  # e.g. a torch-built index from before runtimes were kept
            raise ModelMismatchError(
                f"the index in {self._data} was built with weights {weights}, which the configured runtime "
                f"{runtime} (weights {current}) did not make; if it was embedded by torch, set "
                f"PEDKB_RUNTIME=torch-fp32 to keep it, or run `pedkb reindex` to re-embed it with {runtime}"
            )

    def _record_runtime(self) -> None:
        """Add the embedder's runtime to the store's record (after `check` accepted its weights)."""
        recorded, runtime = self.recorded_runtimes(), self.embedder.runtime
        if runtime not in recorded:
            self.backend.set_meta(RUNTIME_META, ",".join(sorted({*recorded, runtime})))
            self.backend.set_meta(RUNTIME_WEIGHTS_META, self.backend.get_meta(WEIGHTS_META) or "")

    def claim(self) -> None:
        """Record the embedder as the store's space on the first write; check it on every later one."""
        if not self.is_claimed():
            embedder = self.embedder
            self.backend.claim_meta({"model": embedder.name, "dim": str(embedder.dim),
                                     WEIGHTS_META: embedder.fingerprint})
        self.check()
        self._record_runtime()

    def describe(self) -> dict[str, object]:
        """The space the store records: model name, dimension, weights fingerprint and the runtimes."""
        return {"model": self.backend.get_meta("model"), "dim": int(self.backend.get_meta("dim") or 0) or None,
                WEIGHTS_META: self.backend.get_meta(WEIGHTS_META), RUNTIME_META: self.recorded_runtimes() or None}

    def embed(self, texts: Sequence[str], role: str = "passage",
              persist: bool = False) -> tuple[list[str], np.ndarray]:
        """Vectors for texts as passages or queries, from the cache where possible; `persist` caches new ones."""
        embedder = self.embedder
        keys = [vector_key(embedder.name, embedder.fingerprint, t, role) for t in texts]
        cached = self.backend.cached_vectors(keys)
        missing = [i for i, key in enumerate(keys) if key not in cached]
        vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
        if missing:
            embed = embedder.embed_passages if role == "passage" else embedder.embed_queries
            fresh = embed([texts[i] for i in missing])
            for row, i in enumerate(missing):
                cached[keys[i]] = fresh[row]
            if persist:
                self.backend.store_vectors([(keys[i], fresh[row]) for row, i in enumerate(missing)])
        for i, key in enumerate(keys):
            vectors[i] = cached[key]
        return keys, vectors
