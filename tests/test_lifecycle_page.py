"""The experience page in a real Chromium: the lifecycle timeline recorded with the CLI, and the schema.org JSON-LD
embedded from the API."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.support.server import serve_pedkb
from tests.test_web_browser import pedkb

EXP = "exp-kk-017"  # at stage "identified" in the corpus


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("lifecycle-web") / "data"
    env = {**os.environ, "PEDKB_MODEL": "hashing:256"}
    pedkb(data, env, "kb", "load")
    pedkb(data, env, "exp", "stage", EXP, "studied", "--evidence-kind", "seminar", "--evidence",
          "Облыстық семинар, 12 наурыз", "--by", "Айгүл Серікқызы", "--date", "2025-03-12")
    pedkb(data, env, "exp", "stage", EXP, "disseminated", "--evidence-kind", "publication", "--evidence",
          "<b>Журнал</b> №2", "--by", "Ерлан Б.", "--date", "2025-05-20", "--reason", "обобщён на семинаре")
    with serve_pedkb(data, env) as url:
        yield url


def test_the_page_shows_the_timeline_and_embeds_json_ld(page: Page, server: str) -> None:  # noqa: F811
    page.goto(f"{server}/#/experience/{EXP}")
    steps = page.locator(".timeline .timeline-step")
    expect(steps).to_have_count(2)
    expect(steps.nth(0).locator("time")).to_have_text("2025-03-12")
    expect(steps.nth(0).locator(".timeline-stage")).to_have_text("Выявлен → Изучен")
    expect(steps.nth(0).locator(".timeline-by")).to_have_text("Айгүл Серікқызы")
    expect(steps.nth(1).locator(".timeline-stage")).to_have_text("Изучен → Распространён")
    expect(steps.nth(1).locator(".timeline-evidence")).to_have_text("<b>Журнал</b> №2")  # text, not markup
    expect(steps.nth(1).locator(".timeline-reason")).to_contain_text("обобщён на семинаре")
    expect(page.locator("#lifecycle-title")).to_have_text("Жизненный путь опыта")
    script = page.locator('article script[type="application/ld+json"]')
    expect(script).to_have_count(1)
    data = json.loads(script.text_content() or "")
    assert data["@type"] == "LearningResource" and data["identifier"] == EXP
    assert data["creativeWorkStatus"] == "Disseminated" and data["inLanguage"] == "kk"
    assert data["url"] == f"{server}/#/experience/{EXP}"


def test_an_experience_without_history_says_so(page: Page, server: str) -> None:  # noqa: F811
    page.goto(f"{server}/#/experience/exp-ru-001")
    expect(page.locator(".lifecycle .notice")).to_have_text("Смена этапов ещё не записана.")
