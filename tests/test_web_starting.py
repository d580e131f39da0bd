"""The search page while the service starts, in a real Chromium: it says "starting" instead of a hanging search,
sends no search until /health/ready answers 200, then searches by itself (issue 16)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import BrowserContext, Page, Route, expect

from index import knowledge_base
from index.embedding.embedder import Embedder
from index.embedding.hashing import HashingEmbedder
from index.knowledge_base import KnowledgeBase
from pedkb.settings import Settings
from search_api.app import create_app
from tests.support.pgserver import free_port

TIMEOUT = 30.0


class HeldModel:
    """A model loader that blocks until the test releases it (the real one takes seconds)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def load(self, settings: Settings) -> Embedder:
        """Stand-in for `load_embedder`."""
        assert self.release.wait(TIMEOUT), "the test never released the model"
        return HashingEmbedder(256)


def first_search_answered_starting(tab: Page) -> list[str]:
    """Answer the tab's first search 503 starting (Retry-After 1), as a worker still warming would, and let the
    later ones through; returns the list the searches' URLs are added to."""
    searches: list[str] = []

    def warming_worker_first(route: Route) -> None:
        searches.append(route.request.url)
        if len(searches) == 1:
            route.fulfill(status=503, headers={"Retry-After": "1", "Content-Type": "application/json"},
                          body='{"error": "starting", "detail": "the model is loading"}')
        else:
            route.continue_()

    tab.route("**/api/v1/search?*", warming_worker_first)
    return searches


@pytest.fixture
def tab(context: BrowserContext) -> Page:
    """A tab in a fresh Russian-speaking profile (tests/test_web_browser.py's `context`)."""
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    return opened


@pytest.fixture
def starting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, HeldModel]]:
    """uvicorn serving a data folder with one document, its model still loading until the test releases it."""
    settings = Settings(data=tmp_path / "data", model="hashing:256")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "pairs.txt").write_text("Работа учеников в парах: дебаты на уроке истории.", encoding="utf-8")
    with KnowledgeBase(settings, embedder=HashingEmbedder(256)) as kb:
        assert kb.ingest([docs]).count("failed") == 0
    model = HeldModel()
    monkeypatch.setattr(knowledge_base, "load_embedder", model.load)
    port = free_port()
    with KnowledgeBase(settings) as kb:
        server = uvicorn.Server(uvicorn.Config(create_app(settings, kb=kb), host="127.0.0.1", port=port,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + TIMEOUT
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}", model
        finally:
            model.release.set()
            server.should_exit = True
            thread.join(TIMEOUT)


def test_the_page_says_starting_then_searches_once_ready(tab: Page, starting: tuple[str, HeldModel]) -> None:
    url, model = starting
    searches: list[str] = []
    tab.on("request", lambda request: searches.append(request.url) if "/api/v1/search" in request.url else None)
    tab.goto(url)
    tab.get_by_role("searchbox").fill("дебаты в парах")
    tab.get_by_role("searchbox").press("Enter")
    status = tab.locator("#result-status")
    expect(status).to_have_attribute("data-state", "starting")
    expect(status).to_contain_text("Сервис запускается")
    tab.wait_for_timeout(1500)  # it keeps waiting (polling readiness), without sending the search
    expect(status).to_have_attribute("data-state", "starting")
    assert searches == []
    model.release.set()
    expect(status).to_have_attribute("data-state", "results", timeout=TIMEOUT * 1000)
    expect(tab.locator(".card").first).to_contain_text("парах")
    assert len(searches) == 1


def test_the_starting_message_follows_the_interface_language(tab: Page, starting: tuple[str, HeldModel]) -> None:
    url, _ = starting
    tab.goto(url)
    tab.locator(".lang-switch button[data-lang=kk]").click()
    tab.get_by_role("searchbox").fill("дебат")
    tab.get_by_role("searchbox").press("Enter")
    expect(tab.locator("#result-status")).to_contain_text("Қызмет іске қосылуда")


def test_a_search_answered_starting_by_a_warming_worker_is_sent_again(tab: Page,
                                                                      starting: tuple[str, HeldModel]) -> None:
    """With `serve --workers 2` readiness may come from the ready worker and the search go to the warming one,
    which answers 503 starting (the first search is answered so here, as that worker would)."""
    url, model = starting
    model.release.set()
    searches = first_search_answered_starting(tab)
    tab.goto(url)
    status = tab.locator("#result-status")
    tab.get_by_role("searchbox").fill("дебаты в парах")
    tab.get_by_role("searchbox").press("Enter")
    expect(status).to_have_attribute("data-state", "starting")
    expect(status).to_have_attribute("data-state", "results", timeout=TIMEOUT * 1000)
    expect(tab.locator(".card").first).to_contain_text("парах")
    assert len(searches) == 2


def test_the_portal_widget_waits_for_a_warming_worker_and_searches_again(tab: Page,
                                                                         starting: tuple[str, HeldModel]) -> None:
    """The embedded widget (here in /embed, the iframe page) meets the same 503 starting: it says the service is
    starting, waits Retry-After and sends the search again, instead of showing an error."""
    url, model = starting
    model.release.set()
    searches = first_search_answered_starting(tab)
    tab.goto(f"{url}/embed?lang=ru")
    status = tab.locator("pedkb-search p.status")
    tab.get_by_role("searchbox").fill("дебаты в парах")
    tab.get_by_role("searchbox").press("Enter")
    expect(status).to_have_attribute("data-state", "starting")
    expect(status).to_contain_text("Сервис запускается")
    expect(status).to_have_attribute("data-state", "results", timeout=TIMEOUT * 1000)
    expect(tab.locator("pedkb-search .card").first).to_contain_text("парах")
    expect(tab.locator("pedkb-search .error")).to_be_empty()
    assert len(searches) == 2
