"""One model name, other weights: the store records a weights fingerprint and refuses to mix two spaces."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from index.embedding import embedder as embedder_module
from index.embedding import weights as weights_module
from index.embedding.embedder import load_embedder, load_sentence_transformer
from index.embedding.hashing import HashingEmbedder
from index.embedding.weights import weights_fingerprint
from index.knowledge_base import KnowledgeBase
from index.records import DocumentRecord, NewChunk
from index.space import vector_key
from index.store.base import WEIGHTS_META
from pedkb.errors import ModelMismatchError
from pedkb.settings import DEFAULT_MODEL, Settings

if TYPE_CHECKING:
    import torch

PAIRS = "Работа в парах помогает ученикам спорить аргументированно."
PROJECT = "Жобалық әдіс оқушылардың зерттеу дағдысын дамытады."


class WeightedEmbedder(HashingEmbedder):
    """The hashing embedder as a model "hashing:256" whose weights differ by fingerprint (so do its vectors)."""

    def __init__(self, fingerprint: str, shift: int = 0) -> None:
        super().__init__(256)
        self.fingerprint = fingerprint
        self.shift = shift
        self.embedded = 0

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += len(texts)
        return np.roll(super()._embed(texts), self.shift, axis=1)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "pairs.txt").write_text(PAIRS, encoding="utf-8")
    (root / "project.txt").write_text(PROJECT, encoding="utf-8")
    return root


def _source(kb: KnowledgeBase, query: str) -> str:
    return Path(kb.search(query, k=1)[0].document.source).name


def test_first_write_records_the_weights_and_stats_report_them(settings: Settings, folder: Path) -> None:
    with KnowledgeBase(settings, embedder=WeightedEmbedder("aaaa")) as kb:
        kb.ingest([folder])
        assert kb.backend.get_meta(WEIGHTS_META) == "aaaa"
        stats = kb.stats()
        assert (stats["model"], stats["dim"], stats[WEIGHTS_META]) == ("hashing:256", 256, "aaaa")


def test_same_name_other_weights_is_refused_naming_the_fix(settings: Settings, folder: Path) -> None:
    with KnowledgeBase(settings, embedder=WeightedEmbedder("aaaa")) as kb:
        kb.ingest([folder])
    with KnowledgeBase(settings, embedder=WeightedEmbedder("bbbb", shift=7)) as kb:
        with pytest.raises(ModelMismatchError) as refused:
            kb.search("ученики спорить")
        message = str(refused.value)
        for part in ("hashing:256", "aaaa", "bbbb", "pedkb reindex", "PEDKB_MODEL"):
            assert part in message
        with pytest.raises(ModelMismatchError):
            kb.ingest([folder])
        assert kb.backend.get_meta(WEIGHTS_META) == "aaaa"


@pytest.mark.parametrize("first_use", ["search", "write"])
def test_an_index_without_weights_adopts_the_loaded_ones(settings: Settings, folder: Path, first_use: str,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    old = WeightedEmbedder("old")
    with KnowledgeBase(settings, embedder=old) as kb:  # as written before weights were recorded
        kb.backend.set_meta("model", old.name)
        kb.backend.set_meta("dim", str(old.dim))
        vector = old.embed_passages([PAIRS])[0]
        doc = DocumentRecord(doc_id="pairs", source="pairs.txt", title=None, fmt="txt", sha256="0", size=1,
                             languages=["ru"])
        kb.backend.put_document(doc, [NewChunk(0, PAIRS, "ru", None, 0, len(PAIRS), 8, "k0", vector)])
        assert kb.backend.get_meta(WEIGHTS_META) is None
    with caplog.at_level(logging.INFO, logger="index.space"), \
            KnowledgeBase(settings, embedder=WeightedEmbedder("cccc")) as kb:
        if first_use == "search":
            assert _source(kb, "ученики спорить") == "pairs.txt"
        else:
            assert kb.ingest([folder]).count("failed") == 0
        assert kb.backend.get_meta(WEIGHTS_META) == "cccc"
    assert any("adopting" in r.getMessage() and "cccc" in r.getMessage() for r in caplog.records)
    with KnowledgeBase(settings, embedder=WeightedEmbedder("dddd")) as kb, \
            pytest.raises(ModelMismatchError, match="cccc"):
        kb.search("ученики спорить")


def test_reindex_records_the_new_weights_and_embeds_afresh(settings: Settings, folder: Path) -> None:
    with KnowledgeBase(settings, embedder=WeightedEmbedder("aaaa")) as kb:
        kb.ingest([folder])
        chunks = sum(d.n_chunks for d in kb.documents())
    new = WeightedEmbedder("bbbb", shift=7)
    with KnowledgeBase(settings, embedder=new) as kb:
        assert kb.reindex() == chunks
        assert new.embedded == chunks  # the cache held the same texts under other weights: none reused
        assert kb.backend.get_meta(WEIGHTS_META) == "bbbb" and kb.stats()[WEIGHTS_META] == "bbbb"
        assert _source(kb, "ученики спорить в парах") == "pairs.txt"  # the new space, queried by the new model


def test_cache_key_differs_by_weights() -> None:
    assert vector_key("m", "aaaa", "text") != vector_key("m", "bbbb", "text")
    assert vector_key("m", "aaaa", "text") == vector_key("m", "aaaa", "text")
    assert vector_key("m", "aaaa", "text", "query") != vector_key("m", "aaaa", "text")


def test_embed_cached_does_not_reuse_vectors_of_other_weights(tmp_path: Path) -> None:
    settings = Settings(data=tmp_path / "d", model="hashing:256")
    with KnowledgeBase(settings, embedder=WeightedEmbedder("aaaa")) as kb:
        kb.space.embed([PAIRS], persist=True)
    shifted = WeightedEmbedder("bbbb", shift=7)
    with KnowledgeBase(settings, embedder=shifted) as kb:
        vectors = kb.space.embed([PAIRS])[1]
    assert shifted.embedded == 1
    np.testing.assert_array_equal(vectors[0], shifted.embed_passages([PAIRS])[0])


# --- the fingerprint of real weights ----------------------------------------------------------------------------
def _tiny_model(seed: int = 0) -> torch.nn.Module:
    """A module shaped like an encoder: word embeddings, two layers and a (left out) pooler."""
    import torch

    torch.manual_seed(seed)
    model = torch.nn.Module()
    model.embeddings = torch.nn.Embedding(300, 16)
    model.layer = torch.nn.ModuleList([torch.nn.Linear(16, 16) for _ in range(2)])
    model.pooler = torch.nn.Linear(16, 16)
    return model


def test_fingerprint_is_taken_before_the_cast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(embedder_module, "_MODELS", {})
    monkeypatch.setattr(embedder_module, "_open_model", lambda _path: _tiny_model())
    fp32 = load_sentence_transformer(str(tmp_path / "tiny"), "fp32")
    bf16 = load_sentence_transformer(str(tmp_path / "tiny"), "bf16")
    assert next(bf16.model.parameters()).dtype == torch.bfloat16
    assert fp32.fingerprint == bf16.fingerprint == weights_fingerprint(_tiny_model())
    assert len(fp32.fingerprint) == 16 and fp32.fingerprint != weights_fingerprint(_tiny_model(seed=1))


@pytest.mark.parametrize("tensor", ["embeddings.weight", "layer.0.weight", "layer.1.bias"])
def test_one_changed_weight_changes_the_fingerprint(tensor: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(weights_module, "WHOLE_TENSOR_LIMIT", 1000)  # the embeddings are row-sampled, as e5's
    model = _tiny_model()
    before = weights_fingerprint(model)
    values = model.get_parameter(tensor).view(-1)
    at = 16 * 16 if tensor.startswith("embeddings") else -1  # embedding row 16: a sampled row
    with torch.no_grad():
        kept = values[at].item()
        values[at] += 1e-3
        assert weights_fingerprint(model) != before
        values[at] = kept
        model.get_parameter("pooler.weight").add_(1.0)  # never used by sentence-transformers
    assert weights_fingerprint(model) == before


def test_hashing_embedder_is_identified_by_its_name(tmp_path: Path, folder: Path) -> None:
    with KnowledgeBase(Settings(data=tmp_path / "d", model="hashing:64")) as kb:
        kb.ingest([folder])
        assert kb.stats()[WEIGHTS_META] == "hashing:64"


@pytest.mark.slow
def test_real_fingerprint_is_precision_free_and_sees_one_weight() -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    from index.embedding.provision import install_model, resolve_model_path
    from pedkb.settings import default_model_cache

    cache = default_model_cache()
    install_model(cache)  # reuses the provisioned folder
    fp32 = load_embedder(Settings(model=DEFAULT_MODEL, model_cache=cache, precision="fp32"))
    bf16 = load_embedder(Settings(model=DEFAULT_MODEL, model_cache=cache, precision="bf16"))
    assert bf16.precision == "bf16" and fp32.fingerprint == bf16.fingerprint
    copy = SentenceTransformer(resolve_model_path(DEFAULT_MODEL, cache), device="cpu", local_files_only=True)
    assert weights_fingerprint(copy) == fp32.fingerprint
    params = dict(copy.named_parameters())
    layers = 1 + max(int(n.split("encoder.layer.")[1].split(".")[0]) for n in params if "encoder.layer." in n)
    for suffix in ("embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.weight",
                   f"encoder.layer.{layers - 1}.output.dense.weight"):
        (weight,) = [p for n, p in params.items() if n.endswith(suffix)]
        with torch.no_grad():
            kept = weight[0, 0].item()
            weight[0, 0] += 1e-4
            assert weights_fingerprint(copy) != fp32.fingerprint, suffix
            weight[0, 0] = kept
    assert weights_fingerprint(copy) == fp32.fingerprint


def test_copy_carries_the_weights_and_refuses_a_target_of_other_weights(tmp_path: Path, folder: Path) -> None:
    from index.store.transfer import copy_store

    def store(name: str) -> Settings:
        return Settings(data=tmp_path / name, model="hashing:256", chunk_tokens=64, chunk_overlap=8)

    with KnowledgeBase(store("source"), embedder=WeightedEmbedder("aaaa")) as source, \
            KnowledgeBase(store("copy"), embedder=WeightedEmbedder("aaaa")) as copy:
        source.ingest([folder])
        copy_store(source.backend, copy.backend)
        assert copy.backend.get_meta(WEIGHTS_META) == "aaaa"
        assert _source(copy, PAIRS) == "pairs.txt"
    with KnowledgeBase(store("source"), embedder=WeightedEmbedder("aaaa")) as source, \
            KnowledgeBase(store("other"), embedder=WeightedEmbedder("bbbb", shift=3)) as other:
        other.ingest([folder])
        with pytest.raises(ModelMismatchError, match="aaaa") as caught:
            copy_store(source.backend, other.backend)
        assert "bbbb" in str(caught.value) and "pedkb reindex" in str(caught.value)
        assert other.backend.get_meta(WEIGHTS_META) == "bbbb"  # the target is left as it was
