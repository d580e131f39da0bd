"""The experience page in a real Chromium: the lifecycle timeline recorded with the CLI, the schema.org JSON-LD
embedded from the API, and (with the API key) a transition recorded from the page's form, every problem the API
reports shown beside its field."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.server import serve_pedkb
from tests.test_web_browser import KEY, pedkb
from tests.test_web_page_browser import enter_key, screenshot

EXP = "exp-kk-017"  # at stage "identified" in the corpus
FORM_EXP = "exp-ru-009"  # at stage "studied", no history


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("lifecycle-web") / "data"
    env = {**os.environ, "PEDKB_MODEL": "hashing:256"}
    pedkb(data, env, "kb", "load")
    pedkb(data, env, "exp", "stage", EXP, "studied", "--evidence-kind", "seminar", "--evidence",
          "Облыстық семинар, 12 наурыз", "--by", "Айгүл Серікқызы", "--date", "2025-03-12")
    pedkb(data, env, "exp", "stage", EXP, "disseminated", "--evidence-kind", "publication", "--evidence",
          "<b>Журнал</b> №2", "--by", "Ерлан Б.", "--date", "2025-05-20", "--reason", "обобщён на семинаре")
    with serve_pedkb(data, {**env, "PEDKB_API_KEYS": KEY}) as url:
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


def test_without_the_key_the_page_only_points_to_the_methodist_section(page: Page, server: str) -> None:
    page.goto(f"{server}/#/experience/{FORM_EXP}")
    expect(page.locator(".lifecycle .notice")).to_be_visible()
    expect(page.locator(".stage-form")).to_have_count(0)
    expect(page.locator(".stage-key-hint a")).to_have_attribute("href", "#/manage")


def test_a_transition_recorded_from_the_page_with_its_problems_beside_the_fields(page: Page, server: str,
                                                                               shots: Path) -> None:
    enter_key(page, server)
    page.goto(f"{server}/#/experience/{FORM_EXP}")
    form = page.locator(".stage-form")
    expect(form.get_by_label("Новый этап")).to_have_value("generalised")  # the next stage in order
    form.get_by_label("Новый этап").select_option("implemented")  # skips "generalised" and "disseminated"
    form.get_by_role("button", name="Записать этап").click()
    # nothing typed: both required fields refused by the API, each beside its field, in Russian
    expect(form.locator("[data-field=evidence] .field-error")).to_be_visible()
    expect(form.locator("[data-field=by] .field-error")).to_be_visible()
    expect(form.locator("[data-field=by] .field-error")).not_to_contain_text("by:")  # beside it: no field prefix
    expect(form.get_by_label("Подтверждение (что было, где, когда)")).to_have_attribute("aria-invalid", "true")
    form.get_by_label("Подтверждение (что было, где, когда)").fill("Городской семинар учителей математики")
    form.get_by_label("Записал методист").fill("Ольга Петровна")
    form.get_by_role("button", name="Записать этап").click()
    stage_error = form.locator("[data-field=stage] .field-error")
    # a skip needs a reason: said in Russian beside the stage (naming the skipped stages) and beside the reason
    expect(stage_error).to_have_text("Пропускаются этапы: Обобщён, Распространён. Укажите причину.")
    expect(form.locator("[data-field=reason] .field-error")).to_have_text(
        "Укажите причину пропуска этапа или возврата назад.")
    expect(form.get_by_label("Причина")).to_have_attribute("aria-invalid", "true")
    expect(form.locator("[data-field=evidence] .field-error")).to_have_count(0)
    stage_error.scroll_into_view_if_needed()
    screenshot(page, shots / "lifecycle-form-ru.png")
    assert httpx.get(f"{server}/api/v1/experiences/{FORM_EXP}/history").json() == []  # nothing stored
    form.get_by_label("Новый этап").select_option("generalised")
    form.get_by_label("Вид подтверждения").select_option("seminar")
    form.get_by_label("Дата").fill("2025-04-02")
    form.get_by_role("button", name="Записать этап").click()
    step = page.locator(".timeline .timeline-step")
    expect(step).to_have_count(1)
    expect(step.locator("time")).to_have_text("2025-04-02")
    expect(step).to_have_attribute("data-stage", "generalised")
    expect(step.locator(".timeline-by")).to_have_text("Ольга Петровна")
    expect(step.locator(".timeline-evidence")).to_have_text("Городской семинар учителей математики")
    expect(page.locator(".stage-form [role=status]")).to_have_text("Этап записан.")
    expect(page.locator(".stage-form").get_by_label("Новый этап")).to_have_value("disseminated")
    history = httpx.get(f"{server}/api/v1/experiences/{FORM_EXP}/history").json()
    assert [(h["previous"], h["stage"], h["evidence_kind"]) for h in history] == [("studied", "generalised", "seminar")]
    page.reload()  # stored, not only drawn
    expect(page.locator(".timeline .timeline-step")).to_have_count(1)
