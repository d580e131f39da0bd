"""Shared fixtures: settings on a temporary data folder with the fast hashing embedder, and backends."""

from __future__ import annotations

import itertools
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from index.embedding.hashing import HashingEmbedder
from index.knowledge_base import KnowledgeBase
from index.store.base import Backend
from pedkb.settings import Settings
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.pgserver import PgServer, start_primary

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


BACKENDS = ["faiss", "postgres"]
_databases = itertools.count()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """A real PostgreSQL 16 + pgvector server for the whole test session."""
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="pedkb-pg-"))  # not under pytest's tmp: the server's user must reach it
    server = start_primary(root)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(server: PgServer) -> str:
    """A new empty database on the test server; returns its URL."""
    import psycopg

    name = f"pedkb_{os.getpid()}_{next(_databases)}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.database_url(name)


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest) -> str:
    """Every backend in turn: "faiss", or the URL of a fresh PostgreSQL database."""
    if request.param == "faiss":
        return "faiss"
    return fresh_database(request.getfixturevalue("pg_server"))


@pytest.fixture
def settings(tmp_path: Path, backend_url: str) -> Settings:
    """Settings on a fresh data folder (and database) with the hashing embedder and small chunks."""
    return Settings(data=tmp_path / "data", model="hashing:256", chunk_tokens=64, chunk_overlap=8,
                    backend=backend_url)


@pytest.fixture
def embedder() -> CountingEmbedder:
    """A counting hashing embedder."""
    return CountingEmbedder(256)


@pytest.fixture
def kb(settings: Settings, embedder: CountingEmbedder) -> Iterator[KnowledgeBase]:
    """A knowledge base on the embedded backend."""
    with KnowledgeBase(settings, embedder=embedder) as base:
        yield base


@pytest.fixture
def backend(backend_url: str, tmp_path: Path) -> Iterator[Backend]:
    """Every backend, so one suite checks them all."""
    from index.store.factory import open_backend

    opened = open_backend(Settings(data=tmp_path / "store", backend=backend_url))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="session")
def real_embedder():  # type: ignore[no-untyped-def]
    """The real default model, loaded once per test session (provisioned by `pedkb model install`)."""
    from index.embedding.embedder import load_embedder

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


# ---- the browser ----

@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium; installed with apt-get when it is missing (as root, like CI)."""
    if not CHROMIUM.exists():
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "chromium"]
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, check=True, capture_output=True)
            subprocess.run(install, env=env, check=True, capture_output=True)
    assert CHROMIUM.exists(), "apt-get install chromium did not provide /usr/bin/chromium"
    return str(CHROMIUM)


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    """One headless Chromium per test module, shared by its tests. Not per session: Playwright's sync API keeps an
    event loop running in the main thread while it is open, which later modules' asyncio code (TestClient, anyio)
    must not see; and one definition here, so two Playwright instances are never open at once."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh profile (storage, cookies) with a Russian-speaking reader, failing on any script error."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    errors: list[str] = []
    ctx.on("weberror", lambda error: errors.append(str(error.error)))
    yield ctx
    ctx.close()
    assert not errors, errors


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A tab in the fresh profile."""
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    return tab


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go."""
    folder = Path(os.environ.get("PEDKB_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
