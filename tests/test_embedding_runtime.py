"""The runtime record of a store (refused or accepted on a runtime change), token-budget batches, the query LRU."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from index.embedding.batching import embed_in_batches, token_batches
from index.embedding.hashing import HashingEmbedder
from index.embedding.query_cache import QueryVectorCache
from index.knowledge_base import KnowledgeBase
from index.space import RUNTIME_META
from index.store.base import WEIGHTS_META
from pedkb.errors import ModelMismatchError
from pedkb.settings import Settings
from tests import test_model_identity

folder = test_model_identity.folder  # the fixture of a folder with two short files (kk, ru), shared


class RuntimeEmbedder(HashingEmbedder):
    """The hashing embedder posing as one runtime of a model: its own runtime label and weights fingerprint."""

    def __init__(self, runtime: str, fingerprint: str, shift: int = 0) -> None:
        super().__init__(256)
        self.runtime = runtime
        self.fingerprint = fingerprint
        self.shift = shift

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.roll(super()._embed(texts), self.shift, axis=1)


def test_hashing_embedder_names_its_runtime() -> None:
    assert HashingEmbedder(8).runtime == "hashing"


def test_first_write_records_the_runtime(settings: Settings, folder: Path) -> None:
    with KnowledgeBase(settings, embedder=RuntimeEmbedder("onnx-int8", "int8print")) as kb:
        kb.ingest([folder])
        assert kb.backend.get_meta(RUNTIME_META) == "onnx-int8"
        assert kb.stats()[RUNTIME_META] == ["onnx-int8"]


def test_another_runtime_is_refused_naming_both_and_the_fix(settings: Settings, folder: Path) -> None:
    with KnowledgeBase(settings, embedder=RuntimeEmbedder("torch-fp32", "basepr1nt")) as kb:
        kb.ingest([folder])
    with KnowledgeBase(settings, embedder=RuntimeEmbedder("onnx-int8", "int8print", shift=3)) as kb:
        with pytest.raises(ModelMismatchError) as refused:
            kb.search("ученики спорить")
        for part in ("torch-fp32", "onnx-int8", "pedkb reindex", "PEDKB_RUNTIME=torch-fp32"):
            assert part in str(refused.value)
        with pytest.raises(ModelMismatchError):
            kb.ingest([folder])
        assert kb.backend.get_meta(RUNTIME_META) == "torch-fp32"


def test_runtimes_sharing_weights_are_accepted_and_both_recorded(settings: Settings, folder: Path) -> None:
    """torch-fp32 and torch-bf16 share one fingerprint (cosine 0.99996): one space, both recorded."""
    with KnowledgeBase(settings, embedder=RuntimeEmbedder("torch-fp32", "basepr1nt")) as kb:
        kb.ingest([folder])
    with KnowledgeBase(settings, embedder=RuntimeEmbedder("torch-bf16", "basepr1nt")) as kb:
        assert Path(kb.search("ученики спорить", k=1)[0].document.source).name == "pairs.txt"
        (folder / "more.txt").write_text("Оқушылар топпен жұмыс істейді.", encoding="utf-8")
        kb.ingest([folder])
        assert kb.backend.get_meta(RUNTIME_META) == "torch-bf16,torch-fp32"


def test_reindex_moves_the_store_to_the_new_runtime(settings: Settings, folder: Path) -> None:
    with KnowledgeBase(settings, embedder=RuntimeEmbedder("torch-fp32", "basepr1nt")) as kb:
        kb.ingest([folder])
    with KnowledgeBase(settings, embedder=RuntimeEmbedder("onnx-int8", "int8print", shift=3)) as kb:
        assert kb.reindex() > 0
        assert kb.backend.get_meta(WEIGHTS_META) == "int8print"
        assert kb.stats()[RUNTIME_META] is None  # the old record no longer describes these weights
        assert Path(kb.search("ученики спорить", k=1)[0].document.source).name == "pairs.txt"
        (folder / "more.txt").write_text("Оқушылар топпен жұмыс істейді.", encoding="utf-8")
        kb.ingest([folder])
        assert kb.stats()[RUNTIME_META] == ["onnx-int8"]
    with KnowledgeBase(settings, embedder=RuntimeEmbedder("torch-fp32", "basepr1nt")) as kb, \
            pytest.raises(ModelMismatchError, match="PEDKB_RUNTIME=onnx-int8"):
        kb.search("ученики спорить")


def test_token_batches_sort_by_length_and_keep_the_budget() -> None:
    lengths = [10, 300, 20, 290, 15, 280, 5]
    batches = token_batches(lengths, max_rows=3, token_budget=600)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert batches[0] == [1, 3]  # 300 and 290: a third row would pad to 900 > 600
    for batch in batches:
        assert len(batch) <= 3 and max(lengths[i] for i in batch) * len(batch) <= 600
        assert [lengths[i] for i in batch] == sorted((lengths[i] for i in batch), reverse=True)
    assert token_batches([5000, 10], max_rows=8, token_budget=600) == [[0], [1]]  # too long: a batch of its own
    assert token_batches([], max_rows=4) == []


def test_embed_in_batches_returns_rows_in_input_order() -> None:
    texts = ["a", "bbbbbb", "cc", "dddd"]
    calls: list[list[str]] = []

    def run(batch: list[str]) -> np.ndarray:
        calls.append(batch)
        return np.array([[len(text), 0.0] for text in batch], dtype=np.float32)

    out = embed_in_batches(texts, [len(t) for t in texts], run, dim=2, max_rows=2)
    assert out[:, 0].tolist() == [1, 6, 2, 4]
    assert calls == [["bbbbbb", "dddd"], ["cc", "a"]]


def test_query_cache_embeds_each_text_once_and_drops_the_least_recent() -> None:
    seen: list[str] = []

    def embed(texts: list[str]) -> np.ndarray:
        seen.extend(texts)
        return np.array([[float(len(text)), 1.0] for text in texts], dtype=np.float32)

    cache = QueryVectorCache(size=2)
    first = cache.embed(["aa", "b", "aa"], embed, 2)
    assert seen == ["aa", "b"] and first[:, 0].tolist() == [2, 1, 2]
    first[0, 0] = 99  # the caller's array is its own
    assert cache.embed(["aa"], embed, 2)[0, 0] == 2 and seen == ["aa", "b"]
    cache.embed(["ccc"], embed, 2)  # evicts "b", the least recently used
    assert len(cache) == 2
    cache.embed(["b", "aa"], embed, 2)
    assert seen == ["aa", "b", "ccc", "b"]
    assert (cache.hits, cache.misses) == (2, 4)  # the repeated "aa" of one call is one miss
    off = QueryVectorCache(size=0)
    off.embed(["x"], embed, 2)
    off.embed(["x"], embed, 2)
    assert len(off) == 0 and seen[-2:] == ["x", "x"]


def test_an_index_without_a_runtime_record_refused_by_onnx_names_torch(settings: Settings, folder: Path) -> None:
    with KnowledgeBase(settings, embedder=RuntimeEmbedder("torch-fp32", "basepr1nt")) as kb:
        kb.ingest([folder])
        kb.backend.set_meta(RUNTIME_META, "")  # as written before runtimes were recorded
    with KnowledgeBase(settings, embedder=RuntimeEmbedder("onnx-int8", "int8print", shift=3)) as kb, \
            pytest.raises(ModelMismatchError, match="PEDKB_RUNTIME=torch-fp32"):
        kb.search("ученики спорить")
