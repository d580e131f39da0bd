"""Query and passage prompts: the model's own, else the ones its family was trained with (E5 from the hub)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from index.embedding.embedder import SentenceTransformerEmbedder
from index.embedding.prompts import known_prompts


class WordTokenizer:
    """A tokenizer of words, enough for the embedder's token counts (length-sorted batches)."""

    def __call__(self, text: str, **_: Any) -> dict[str, list[str]]:
        return {"input_ids": text.split()}


class FakeModel:
    """What SentenceTransformerEmbedder reads of a SentenceTransformer, recording the prompt of each encode."""

    max_seq_length = 512
    tokenizer = WordTokenizer()

    def __init__(self, prompts: dict[str, str]) -> None:
        self.prompts = prompts
        self.used: list[str | None] = []

    def get_sentence_embedding_dimension(self) -> int:
        return 4

    def preprocess(self, texts: list[str], prompt: str | None = None, **_: Any) -> dict[str, Any]:
        self.used.append(prompt)
        return {"texts": [(prompt or "") + text for text in texts]}

    def __call__(self, features: dict[str, Any]) -> dict[str, Any]:
        import torch

        return {"sentence_embedding": torch.ones(len(features["texts"]), 4)}


@pytest.mark.parametrize("name", ["intfloat/multilingual-e5-small", "intfloat/e5-base-v2",
                                  "intfloat/multilingual-e5-large", "/models/multilingual-e5-small/"])
def test_e5_names_get_their_prompts(name: str) -> None:
    assert known_prompts(name) == {"query": "query: ", "passage": "passage: "}


@pytest.mark.parametrize("name", ["intfloat/multilingual-e5-large-instruct", "BAAI/bge-m3",
                                  "sentence-transformers/LaBSE", "hashing:256", "/models/e55-custom"])
def test_other_names_get_none(name: str) -> None:
    assert known_prompts(name) == {}


def test_an_e5_model_without_prompts_is_given_them(caplog: pytest.LogCaptureFixture) -> None:
    model = FakeModel({})
    with caplog.at_level(logging.INFO, logger="index.embedding.prompts"):
        embedder = SentenceTransformerEmbedder(model, name="intfloat/multilingual-e5-base",  # type: ignore[arg-type]
                                               fingerprint="f", precision="fp32")
    embedder.embed_queries(["how to argue in pairs"])
    embedder.embed_passages(["pupils argue in pairs"])
    assert model.used == ["query: ", "passage: "]
    assert "no passage/query prompt(s)" in caplog.text
    assert model.prompts == {}  # the shared loaded model is left as it was


def test_a_model_s_own_prompts_win() -> None:
    model = FakeModel({"query": "Q: ", "passage": "P: "})
    embedder = SentenceTransformerEmbedder(model, name="intfloat/multilingual-e5-small",  # type: ignore[arg-type]
                                           fingerprint="f", precision="fp32")
    embedder.embed_queries(["x"])
    embedder.embed_passages(["y"])
    assert model.used == ["Q: ", "P: "]


def test_an_unknown_model_without_prompts_embeds_plain_text() -> None:
    model = FakeModel({})
    embedder = SentenceTransformerEmbedder(model, name="sentence-transformers/LaBSE",  # type: ignore[arg-type]
                                           fingerprint="f", precision="fp32")
    embedder.embed_queries(["x"])
    assert model.used == [None] and model.prompts == {}
