"""Shared fixtures: settings on a temporary data folder with the fast hashing embedder, and backends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.base import Backend
from index.hashing import HashingEmbedder
from index.knowledge_base import KnowledgeBase
from pedkb.settings import Settings

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"


def seeds_dir() -> Path | None:
    """The shared seed documents, where this checkout has them beside it (as in CI)."""
    env = os.environ.get("PEDKB_SEEDS")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "seeds", REPO.parents[1] / "shared" / "seeds"]
    for candidate in candidates:
        if candidate.is_dir() and any(candidate.glob("*.txt")):
            return candidate
    return None


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, counting how many passages it embedded."""

    def __init__(self, dim: int = 256) -> None:
        super().__init__(dim)
        self.embedded = 0

    def embed_passages(self, texts):  # type: ignore[no-untyped-def]
        self.embedded += len(texts)
        return super().embed_passages(texts)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a fresh data folder with the hashing embedder and small chunks."""
    return Settings(data=tmp_path / "data", model="hashing:256", chunk_tokens=64, chunk_overlap=8)


@pytest.fixture
def embedder() -> CountingEmbedder:
    """A counting hashing embedder."""
    return CountingEmbedder(256)


@pytest.fixture
def kb(settings: Settings, embedder: CountingEmbedder) -> Iterator[KnowledgeBase]:
    """A knowledge base on the embedded backend."""
    with KnowledgeBase(settings, embedder=embedder) as base:
        yield base


@pytest.fixture(params=["faiss"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Every backend, so one suite checks them all."""
    from index.factory import open_backend

    opened = open_backend(Settings(data=tmp_path / "store", backend=request.param))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="session")
def real_embedder():  # type: ignore[no-untyped-def]
    """The real default model, loaded once per test session (provisioned by `pedkb model install`)."""
    from index.embedder import load_embedder

    return load_embedder(Settings())


@pytest.fixture(scope="session")
def seeds_kb(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Iterator[KnowledgeBase]:  # type: ignore[no-untyped-def]
    """The shared seed documents ingested once with the real model."""
    seeds = seeds_dir()
    if seeds is None:
        pytest.skip("the shared seed documents are not beside this checkout")
    settings = Settings(data=tmp_path_factory.mktemp("seeds") / "data")
    with KnowledgeBase(settings, embedder=real_embedder) as base:
        report = base.ingest([seeds])
        assert report.count("failed") == 0, report.failed
        yield base


@pytest.fixture(scope="session")
def bank_kb(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Iterator[KnowledgeBase]:  # type: ignore[no-untyped-def]
    """The shipped technology classification and sample experiences, indexed once with the real model."""
    settings = Settings(data=tmp_path_factory.mktemp("bank") / "data")
    with KnowledgeBase(settings, embedder=real_embedder) as base:
        base.bank.load_corpus(settings.corpus)
        yield base
