"""Warm serving: the app is live at once and ready once a background warm-up has loaded the model (issue 16)."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index import knowledge_base
from index.embedding.embedder import Embedder
from index.embedding.hashing import HashingEmbedder
from index.knowledge_base import KnowledgeBase
from index.records import SearchFilters
from pedkb.errors import ModelError
from pedkb.settings import Settings
from search_api import warmup
from search_api.app import create_app

TIMEOUT = 10.0


class SlowModel:
    """A model loader that blocks until the test releases it, then loads the hashing model or fails."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.failure: Exception | None = None

    def load(self, settings: Settings) -> Embedder:
        """Stand-in for `load_embedder`."""
        assert self.release.wait(TIMEOUT), "the test never released the model"
        if self.failure is not None:
            raise self.failure
        return HashingEmbedder(256)


@pytest.fixture
def slow_model(monkeypatch: pytest.MonkeyPatch) -> SlowModel:
    """The knowledge base loads its model through a SlowModel."""
    model = SlowModel()
    monkeypatch.setattr(knowledge_base, "load_embedder", model.load)
    return model


@pytest.fixture
def client(tmp_path: Path, slow_model: SlowModel) -> Iterator[TestClient]:
    """A started app whose knowledge base has no model loaded yet."""
    settings = Settings(data=tmp_path / "data", model="hashing:256")  # type: ignore[call-arg]
    with KnowledgeBase(settings) as kb:
        with TestClient(create_app(settings, kb=kb), raise_server_exceptions=False) as test_client:
            yield test_client
        slow_model.release.set()  # never leave the warm-up thread waiting


def wait_until(client: TestClient, path: str, status: int) -> None:
    """Poll `path` until it answers `status` (at most TIMEOUT seconds)."""
    deadline = time.monotonic() + TIMEOUT
    while client.get(path).status_code != status:
        assert time.monotonic() < deadline, f"{path} never answered {status}"
        time.sleep(0.01)


def test_live_at_once_ready_after_warm_up(client: TestClient, slow_model: SlowModel) -> None:
    assert client.get("/api/v1/health/live").json() == {"status": "ok"}
    starting = client.get("/api/v1/health/ready", headers={"Accept-Language": "ru"})
    assert starting.status_code == 503 and starting.headers["retry-after"] == "1"
    assert starting.json()["error"] == "starting" and "модель" in starting.json()["detail"]
    health = client.get("/api/v1/health")
    assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["ready"] is False

    slow_model.release.set()
    wait_until(client, "/api/v1/health/ready", 200)
    assert client.get("/api/v1/health/ready").json() == {"status": "ok"}
    assert client.get("/api/v1/health").json()["ready"] is True
    assert client.get("/api/v1/health/live").status_code == 200


def test_a_search_on_a_warming_worker_answers_starting_instead_of_hanging(
        client: TestClient, slow_model: SlowModel, monkeypatch: pytest.MonkeyPatch) -> None:
    # with `serve --workers N` the page's readiness check may reach a ready worker and its search a warming one
    monkeypatch.setattr(warmup, "READY_WAIT_S", 0.2)
    started = time.monotonic()
    answer = client.get("/api/v1/search", params={"q": "работа в парах"}, headers={"Accept-Language": "ru"})
    assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
    assert answer.json()["error"] == "starting" and time.monotonic() - started < TIMEOUT / 2
    similar = client.post("/api/v1/similar", json={"text": "работа учеников в парах на уроке истории"})
    assert similar.status_code == 503 and similar.json()["error"] == "starting"
    slow_model.release.set()
    wait_until(client, "/api/v1/health/ready", 200)
    assert client.get("/api/v1/search", params={"q": "работа в парах"}).status_code == 200


def test_warm_up_failure_is_reported_and_logged(client: TestClient, slow_model: SlowModel,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="search_api.warmup")
    slow_model.failure = ModelError("weights not found")
    slow_model.release.set()
    deadline = time.monotonic() + TIMEOUT
    while (answer := client.get("/api/v1/health/ready")).json()["error"] != "not_ready":
        assert time.monotonic() < deadline, "the failure was never reported"
        time.sleep(0.01)
    assert answer.status_code == 503 and "weights not found" in answer.json()["detail"]
    assert "retry-after" not in answer.headers
    assert client.get("/api/v1/health").json()["ready"] is False
    assert client.get("/api/v1/health/live").status_code == 200
    assert any("weights not found" in record.getMessage() for record in caplog.records)


def test_ready_means_a_whole_search_ran(tmp_path: Path) -> None:
    """Ready only after the searcher, the spelling lexicon and the technology names were built by a search."""
    settings = Settings(data=tmp_path / "data", model="hashing:256")  # type: ignore[call-arg]
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Работа учеников в парах на уроке истории.", encoding="utf-8")
    with KnowledgeBase(settings, embedder=HashingEmbedder(256)) as kb:
        assert kb.ingest([folder]).count("failed") == 0
        assert not {"searcher", "speller", "bridge"} & set(vars(kb))
        with TestClient(create_app(settings, kb=kb)) as test_client:
            wait_until(test_client, "/api/v1/health/ready", 200)
            assert {"searcher", "speller", "bridge"} <= set(vars(kb))


def test_once_warm_the_store_is_maintained_and_what_lives_on_is_frozen(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Ready comes after the store's upkeep was started and the long-lived objects were frozen out of the cyclic
    collector's scans, and what searches keep afterwards is collected less often; stopping the app unfreezes them
    and sets the collector's thresholds back."""
    settings = Settings(data=tmp_path / "data", model="hashing:256")  # type: ignore[call-arg]
    assert gc.get_freeze_count() == 0
    before = gc.get_threshold()
    assert before != warmup.GC_THRESHOLDS
    with KnowledgeBase(settings, embedder=HashingEmbedder(256)) as kb:
        maintained: list[bool] = []
        monkeypatch.setattr(kb.backend, "maintain", lambda: maintained.append(gc.get_freeze_count() == 0) or False)
        warmed: list[tuple[float, bool]] = []  # (seconds allowed, ready already) per call of Backend.warm
        app = create_app(settings, kb=kb)

        def warm(seconds: float) -> int:
            warmed.append((seconds, app.state.warmup.ready.is_set()))
            return min(len(warmed), 3) * 10  # three steps add terms, the fourth adds none

        monkeypatch.setattr(kb.backend, "warm", warm)
        with TestClient(app) as test_client:
            wait_until(test_client, "/api/v1/health/ready", 200)
            assert maintained == [True]  # once, before the freeze
            assert gc.get_freeze_count() > 10_000  # the model, lexicons and names built by the warm-up search
            assert gc.get_threshold() == warmup.GC_THRESHOLDS
            deadline = time.monotonic() + TIMEOUT
            while len(warmed) < 4:
                assert time.monotonic() < deadline, warmed
                time.sleep(0.01)
            time.sleep(0.1)
            assert warmed == [(warmup.WARM_STORE_S, False), *[(warmup.WARM_STEP_S, True)] * 3]  # then it stops
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == before


def test_warm_up_reads_each_language_filter_before_ready(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before ready, one search per stored language under that language's filter has read the chunks the filter
    passes, so the first filtered search of a reader does not read them again."""
    settings = Settings(data=tmp_path / "data", model="hashing:256")  # type: ignore[call-arg]
    folder = tmp_path / "docs"
    folder.mkdir()
    texts = {"ru.txt": "Работа учеников в парах на уроке истории: дебаты и аргументы.",
             "kk.txt": "Оқушылардың жұпта жұмыс істеуі тарих сабағында пікірталас арқылы дамиды.",
             "ky.txt": "Окуучулардын жупта иштөөсү тарых сабагында талаш-тартыш аркылуу өнүгөт."}
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    with KnowledgeBase(settings, embedder=HashingEmbedder(256)) as kb:
        assert kb.ingest([folder]).count("failed") == 0
        assert set(kb.backend.language_statistics()) == {"kk", "ky", "ru"}
        store = kb.backend.store  # type: ignore[attr-defined]
        read = store.filtered_chunk_ids
        filters_read: list[tuple[str, ...]] = []

        def counted(filters: SearchFilters) -> object:
            filters_read.append(filters.langs or ())
            return read(filters)

        monkeypatch.setattr(store, "filtered_chunk_ids", counted)
        with TestClient(create_app(settings, kb=kb)) as test_client:
            wait_until(test_client, "/api/v1/health/ready", 200)
            assert sorted(filters_read) == [("kk",), ("ky",), ("ru",)]
            response = test_client.get("/api/v1/search", params={"q": "дебаты в парах", "lang": "ru"})
            assert response.status_code == 200 and response.json()["results"], response.text
            assert all(r["lang"] == "ru" for r in response.json()["results"])
            assert len(filters_read) == 3  # the warm-up's read served the reader's search


class LengthWarmedEmbedder(HashingEmbedder):
    """A hashing embedder that says which query lengths the warm-up ran it at, and when."""

    def __init__(self) -> None:
        super().__init__(256)
        self.warmed: list[int] = []

    def warm_query_lengths(self) -> int:
        self.warmed.append(time.monotonic_ns())
        return 64


def test_warm_up_runs_the_model_at_every_query_length_before_ready(tmp_path: Path) -> None:
    settings = Settings(data=tmp_path / "data", model="hashing:256")  # type: ignore[call-arg]
    embedder = LengthWarmedEmbedder()
    with KnowledgeBase(settings, embedder=embedder) as kb:
        state = warmup.Warmup()
        state.start(kb)
        try:
            assert state.wait(TIMEOUT)
            assert len(embedder.warmed) == 1
        finally:
            state.stop()


def _bank_of_three(tmp_path: Path) -> Settings:
    """A store of three short documents in kk, ru and ky (hashing embedder), closed again."""
    settings = Settings(data=tmp_path / "data", model="hashing:256")  # type: ignore[call-arg]
    folder = tmp_path / "docs"
    folder.mkdir()
    texts = {"ru.txt": "Работа учеников в парах на уроке истории: дебаты и аргументы. " * 40,
             "kk.txt": "Оқушылардың жұпта жұмыс істеуі тарих сабағында пікірталас арқылы дамиды. " * 40,
             "ky.txt": "Окуучулардын жупта иштөөсү тарых сабагында талаш-тартыш аркылуу өнүгөт. " * 40}
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    with KnowledgeBase(settings, embedder=HashingEmbedder(256)) as kb:
        assert kb.ingest([folder]).count("failed") == 0
    return settings


def test_reading_chunks_ahead_fills_the_cache_and_a_search_then_reads_none(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _bank_of_three(tmp_path)
    with KnowledgeBase(settings, embedder=HashingEmbedder(256)) as kb:
        total = sum(len(batch) for batch in kb.backend.iter_chunks())
        assert total > 3
        searcher = kb.searcher
        assert len(searcher.chunks) == 0
        assert kb.warm_chunks(5.0) == total
        assert len(searcher.chunks) == total and len(searcher.text_keys) == total
        read: list[int] = []
        get_chunks = kb.backend.get_chunks

        def counted(ids: list[int]) -> object:
            read.extend(ids)
            return get_chunks(ids)

        monkeypatch.setattr(kb.backend, "get_chunks", counted)
        page = kb.find("дебаты в парах", k=10)
        assert page.items and read == []


def test_reading_chunks_ahead_stops_at_the_cache_budget_and_drops_nothing(tmp_path: Path) -> None:
    settings = _bank_of_three(tmp_path)
    with KnowledgeBase(settings, embedder=HashingEmbedder(256)) as kb:
        chunks = [c for batch in kb.backend.iter_chunks() for c in batch]
        searcher = kb.searcher
        last = chunks[-1]
        generation = kb.backend.generation()
        searcher.chunks.get_many([last.chunk_id], generation, kb.backend.get_chunks)  # a search read it before
        one = searcher.chunks.weigh(chunks[0])
        searcher.chunks.budget = searcher.chunks.weight + 2 * one + one // 2  # room for two more of that size
        taken = kb.warm_chunks(5.0)
        assert 1 <= taken < len(chunks)
        assert searcher.chunks.weight <= searcher.chunks.budget
        assert last.chunk_id in searcher.chunks._values  # kept: filling never evicts
        assert [c.chunk_id for c in chunks[:taken]] == [k for k in searcher.chunks._values if k != last.chunk_id]


def test_warm_up_reads_chunks_ahead_before_ready(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _bank_of_three(tmp_path)
    with KnowledgeBase(settings, embedder=HashingEmbedder(256)) as kb:
        calls: list[float] = []

        def warm_chunks(seconds: float) -> int:
            calls.append(seconds)
            return 0

        monkeypatch.setattr(kb, "warm_chunks", warm_chunks)
        state = warmup.Warmup()
        state.start(kb)
        try:
            assert state.wait(TIMEOUT)
            assert calls == [warmup.WARM_CHUNKS_S]
        finally:
            state.stop()
