"""A deterministic bag-of-words embedder for fast tests and demos; not a semantic model.

Each lower-cased word is hashed to one of `dim` buckets (a one-hot per word), so texts that share words have a
positive cosine and texts that share none have zero. Selected with the model name `hashing:<dim>`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """Keyword-hashing embedder implementing the Embedder protocol."""

    precision = "fp32"
    runtime = "hashing"
    max_seq_length = 10_000

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"hashing:{dim}"
        self.fingerprint = self.name  # no weights: the name says everything

    def _bucket(self, word: str) -> int:
        digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
        return int.from_bytes(digest, "little") % self.dim

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                out[row, self._bucket(word)] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for passages."""
        return self._embed(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for queries (same space as passages)."""
        return self._embed(texts)

    def count_tokens(self, text: str) -> int:
        """Number of words."""
        return len(_WORD.findall(text))
