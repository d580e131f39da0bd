"""The embedding space of a store: which model, dimension and weights its vectors come from, and their cache.

The store's meta names the space it holds: "model", "dim" and "model_weights" (the embedder's weights
fingerprint, since one model name can stand for other weights: docs/model_identity.md). Vectors are cached by a
key over (model, weights, role, text), so a re-ingest or a repeated query text is not embedded twice.
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
            raise ModelMismatchError(
                f"the index in {self._data} was built with {stored} weights {weights} but the configured "
                f"model {embedder.name} has weights {current} (one name, other weights: e.g. the offline 4-bit "
                "build and the hub's original); run `pedkb reindex` to re-embed it with the configured model, or "
                "point PEDKB_MODEL at the model folder the index was built with"
            )

    def claim(self) -> None:
        """Record the embedder as the store's space on the first write; check it on every later one."""
        if not self.is_claimed():
            self.backend.set_meta("model", self.embedder.name)
            self.backend.set_meta("dim", str(self.embedder.dim))
            self.backend.set_meta(WEIGHTS_META, self.embedder.fingerprint)
        self.check()

    def describe(self) -> dict[str, object]:
        """The space the store records: model name, dimension and weights fingerprint."""
        return {"model": self.backend.get_meta("model"), "dim": int(self.backend.get_meta("dim") or 0) or None,
                WEIGHTS_META: self.backend.get_meta(WEIGHTS_META)}

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
