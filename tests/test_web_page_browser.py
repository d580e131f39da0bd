"""The page's new screens in a real Chromium (Playwright on Debian's /usr/bin/chromium, as tests/test_web_browser.py):
similar projects from a pasted text and from a file (read, not stored, added only on request with the key), the
experience editor (every invalid field beside it, in the page's language, a local draft), a wrong API key refused
when it is entered, and every new text switching language. Screenshots of each screen in kk, ru and ky go to
$PEDKB_SCREENSHOTS (docs/screenshots) or a temporary folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests import test_web_browser as web
from tests.test_web_browser import KEY, static_site

# The pedkb server (hashing model, sample knowledge base); the browser fixtures are in tests/conftest.py.
server = web.server

REPO = Path(__file__).resolve().parents[1]
MENTORING = ("Наставничество для молодых учителей: опытный педагог посещает уроки молодого коллеги, вместе они "
             "разбирают урок и планируют следующий, молодой учитель ведёт дневник профессионального роста.")
LANG_BUTTONS = {"kk": "Қазақша", "ru": "Русский", "ky": "Кыргызча", "en": "English"}
SIM_TITLE = {"kk": "Ұқсас жобаларды табу", "ru": "Найти похожие проекты", "ky": "Окшош долбоорлорду табуу"}
SIM_TECHS = {"kk": "Мәтін жататын технологиялар", "ru": "Технологии, к которым относится текст",
             "ky": "Текст тиешелүү технологиялар"}
ANSWER_MS = 60_000  # a model call on a busy 2-core machine may take a while; the answer must come
WHY = {"kk": "Неге ұқсас:", "ru": "Почему похоже:", "ky": "Эмне үчүн окшош:"}


def screenshot(page: Page, path: Path) -> None:
    """The visible part of the page as a small PNG (a 256-colour palette: text and flat colours survive it)."""
    page.screenshot(path=path, full_page=False)
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def documents(server: str) -> list[str]:
    return sorted(d["doc_id"] for d in httpx.get(f"{server}/api/v1/documents", params={"limit": 500}).json()["items"])


def technology_labels(server: str) -> dict[str, dict[str, str]]:
    tree = httpx.get(f"{server}/api/v1/technologies").json()
    return {t["id"]: t["labels"] for g in tree["groups"] for t in g["technologies"]}


def switch(page: Page, lang: str) -> None:
    page.get_by_role("button", name=LANG_BUTTONS[lang]).click()
    expect(page.locator("html")).to_have_attribute("lang", lang)


def enter_key(page: Page, server: str, key: str = KEY) -> None:
    page.goto(f"{server}/#/manage")
    page.locator("#api-key").fill(key)
    page.locator("#api-key").press("Enter")
    expect(page.locator(".key-state")).to_be_visible()  # checked by the server and kept


def test_similar_projects_from_a_pasted_text_in_every_language(page: Page, server: str, shots: Path) -> None:
    page.set_default_timeout(ANSWER_MS)
    before = documents(server)
    labels = technology_labels(server)
    page.goto(server)
    page.get_by_role("link", name="Похожие проекты").click()
    expect(page.locator("h1")).to_have_text(SIM_TITLE["ru"])
    page.get_by_role("button", name="Найти похожие проекты").click()  # nothing given: said, nothing sent
    expect(page.get_by_role("alert")).to_have_text("Опишите проект или выберите файл.")
    expect(page.locator("#sim-text")).to_be_focused()
    page.get_by_label("Описание проекта").fill(MENTORING)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/similar")) as similar, \
            page.expect_response(lambda r: r.url.endswith("/api/v1/classify")) as classify:
        page.get_by_role("button", name="Найти похожие проекты").click()
    status = page.locator(".sim-output > .status")
    expect(status).to_have_attribute("data-state", "done", timeout=ANSWER_MS)
    items, suggestions = similar.value.json(), classify.value.json()
    assert items and suggestions
    cards = page.locator(".sim-results .card")
    expect(cards).to_have_count(len(items))
    assert cards.evaluate_all("els => els.map(e => e.dataset.docId)") == [i["doc_id"] for i in items]
    assert {i["type"] for i in items} == {"experience", "document"}  # experiences and documents alike
    top = cards.first
    expect(top.locator(".reason")).to_contain_text(WHY["ru"])
    expect(top.locator(".snippet q")).to_have_text(items[0]["passage"])
    shared = next((i for i in items if i["shared_technologies"]), None)
    if shared is not None:  # why it matches: the technologies it shares with the text, named in Russian
        reason = page.locator(f".sim-results .card[data-doc-id='{shared['doc_id']}'] .reason")
        expect(reason).to_contain_text(labels[shared["shared_technologies"][0]]["ru"])
    expect(page.locator(".sim-techs a")).to_have_text([labels[s["technology_id"]]["ru"] for s in suggestions])
    expect(status).to_have_text(f"Похожих материалов: {len(items)}, технологий: {len(suggestions)}.")
    screenshot(page, shots / "similar-text-ru.png")

    for lang in ("kk", "ky"):  # every new text switches; the answer stays
        switch(page, lang)
        expect(page.locator("h1")).to_have_text(SIM_TITLE[lang])
        expect(page.locator("#sim-techs-title")).to_have_text(SIM_TECHS[lang])
        expect(page.locator("#sim-text")).to_have_value(MENTORING)
        expect(page.locator(".sim-techs a")).to_have_text([labels[s["technology_id"]][lang] for s in suggestions])
        expect(page.locator(".sim-results .card").first.locator(".reason")).to_contain_text(WHY[lang])
        expect(page.locator(".site-nav a[data-route=similar]")).to_have_attribute("aria-current", "page")
        screenshot(page, shots / f"similar-text-{lang}.png")
    assert documents(server) == before  # nothing was stored


def test_similar_projects_from_a_file_then_added_only_with_the_key(
    page: Page, server: str, shots: Path, tmp_path: Path
) -> None:
    page.set_default_timeout(ANSWER_MS)
    before = documents(server)
    source = REPO / "corpus" / "documents" / "kk-criteria-based-assessment.txt"
    mine = tmp_path / "менің-жобам.txt"
    mine.write_bytes(source.read_bytes())
    page.goto(server)
    switch(page, "kk")
    page.goto(f"{server}/#/similar")
    page.locator("#sim-file").set_input_files(mine)
    expect(page.locator(".sim-chosen")).to_have_text("Таңдалған файл: менің-жобам.txt")
    with page.expect_response(lambda r: "/api/v1/similar/file" in r.url) as answer:
        page.get_by_role("button", name="Ұқсас жобаларды табу").click()
    body = answer.value.json()
    assert answer.value.status == 200 and body["similar"] and body["technologies"]
    expect(page.locator(".sim-read")).to_contain_text("«менің-жобам.txt» файлынан")
    expect(page.locator(".sim-results .card")).to_have_count(len(body["similar"]))
    # the most similar item is the same text, already in the knowledge base
    assert body["similar"][0]["type"] == "document"
    expect(page.locator(".sim-add .notice")).to_contain_text("API кілтін енгізіңіз")  # no key: not offered
    screenshot(page, shots / "similar-file-kk.png")
    for lang in ("ru", "ky"):
        switch(page, lang)
        expect(page.locator(".sim-read")).to_contain_text("менің-жобам.txt")
        screenshot(page, shots / f"similar-file-{lang}.png")
    assert documents(server) == before  # read, not stored

    # a file dropped on the zone is taken as well
    page.eval_on_selector(".dropzone", """(zone) => {
        const data = new DataTransfer();
        data.items.add(new File(["Оқушылар жұпта пікірталас жүргізеді: дебат әдісі тарих сабағында."],
                                "drop.txt", { type: "text/plain" }));
        zone.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
    }""")
    expect(page.locator(".sim-chosen")).to_have_text("Тандалган файл: drop.txt")
    with page.expect_response(lambda r: "/api/v1/similar/file" in r.url) as dropped:
        page.get_by_role("button", name="Окшош долбоорлорду табуу").click()
    assert dropped.value.status == 200 and dropped.value.json()["filename"] == "drop.txt"

    enter_key(page, server)  # with the key the methodist may choose to add it
    page.goto(f"{server}/#/similar")
    add = page.get_by_role("button", name="«drop.txt» файлын базага кошуу")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/documents") and r.request.method == "POST"):
        add.click()
    expect(page.locator(".sim-add .status")).to_contain_text("«drop.txt» базага кошулду.")
    added = set(documents(server)) - set(before)
    assert len(added) == 1


def test_similar_file_errors_are_said_in_the_page_language(page: Page, server: str, tmp_path: Path) -> None:
    page.set_default_timeout(ANSWER_MS)
    junk = tmp_path / "broken.pdf"
    junk.write_bytes(b"%PDF-1.4 this is not a PDF")
    page.goto(server)
    switch(page, "ky")
    page.goto(f"{server}/#/similar")
    page.locator("#sim-file").set_input_files(junk)
    page.get_by_role("button", name="Окшош долбоорлорду табуу").click()
    expect(page.get_by_role("alert")).to_contain_text("Ката:")
    expect(page.locator(".sim-output > .status")).to_have_attribute("data-state", "error")
    page.get_by_role("button", name="Файлды алып салуу").click()
    expect(page.locator(".sim-chosen")).to_have_text("")


ERRORS = {
    "kk": {"summary": "Түзетуді қажет ететін өрістер:", "required": "Бұл өрісті толтырыңыз.",
           "choose": "Тізімнен мән таңдаңыз.", "one": "Кемінде біреуін таңдаңыз.", "save": "Сақтау",
           "title": "Атауы", "id": "кіші латын әріптерін", "draft": "сақталған жоба нұсқасы қалпына келтірілді"},
    "ru": {"summary": "Исправьте поля:", "required": "Заполните это поле.", "choose": "Выберите значение из списка.",
           "one": "Выберите хотя бы одно.", "save": "Сохранить", "title": "Название",
           "id": "строчные латинские буквы", "draft": "Восстановлен черновик"},
    "ky": {"summary": "Оңдоо керек болгон талаалар:", "required": "Бул талааны толтуруңуз.",
           "choose": "Тизмеден маани тандаңыз.", "one": "Жок дегенде бирөөнү тандаңыз.", "save": "Сактоо",
           "title": "Аталышы", "id": "кичине латын тамгаларын", "draft": "долбоор нускасы калыбына келтирилди"},
}


def test_editor_shows_every_error_beside_its_field_in_the_page_language(
    page: Page, server: str, shots: Path
) -> None:
    page.goto(server)
    enter_key(page, server)
    for lang, text in ERRORS.items():
        page.goto(f"{server}/#/manage")
        page.evaluate("localStorage.removeItem('pedkb.draft.new')")  # the last round's failed save left a draft
        switch(page, lang)
        page.goto(f"{server}/#/experience/new")
        expect(page.locator("#f-language")).to_have_value(lang)  # the page's language is the record's default
        with page.expect_request(lambda r: r.url.endswith("/api/v1/experiences") and r.method == "POST") as sent:
            page.get_by_role("button", name=text["save"], exact=True).click()
        assert "id" not in json.loads(sent.value.post_data or "{}")  # left empty: the server assigns it
        alert = page.locator("#editor-errors")
        expect(alert).to_contain_text(text["summary"])
        expect(page.locator("#f-title")).to_have_attribute("aria-invalid", "true")
        notes = page.locator(".field-error")
        assert notes.count() >= 12, notes.all_inner_texts()  # every field at once, not one per save
        assert alert.locator("li").count() == notes.count()
        title_note = page.locator("#f-title").get_attribute("aria-describedby") or ""
        expect(page.locator(f"#{title_note.split()[-1]}")).to_have_text(text["required"])
        expect(page.locator("#f-region").locator("xpath=..").locator(".field-error")).to_have_text(text["choose"])
        expect(page.locator("fieldset[data-field=grades] .field-error")).to_have_text(text["one"])
        expect(page.locator(".tech-picker .field-error")).to_have_text(text["one"])
        expect(alert.get_by_role("link", name=text["title"], exact=True)).to_be_visible()
        screenshot(page, shots / f"editor-errors-{lang}.png")

    # a malformed id is explained in words, not as a regular expression
    page.locator("#f-id").fill("Мой опыт!")
    page.get_by_role("button", name=ERRORS["ky"]["save"], exact=True).click()
    expect(page.locator("#f-id").locator("xpath=..").locator(".field-error")).to_contain_text(ERRORS["ky"]["id"])
    expect(page.locator("#editor-errors")).not_to_contain_text("[a-z")

    # the draft: what was typed survives a reload (or a failed save) and can be discarded
    page.locator("#f-title").fill("Кітап оқу клубы")
    page.locator("#f-summary").fill("Бейсенбі сайын кездесеміз.")
    page.locator("fieldset[data-field=grades]").get_by_label("5", exact=True).check()
    page.reload()
    expect(page.locator(".draft-note")).to_contain_text(ERRORS["ky"]["draft"])
    expect(page.locator("#f-title")).to_have_value("Кітап оқу клубы")
    expect(page.locator("#f-summary")).to_have_value("Бейсенбі сайын кездесеміз.")
    expect(page.locator("fieldset[data-field=grades]").get_by_label("5", exact=True)).to_be_checked()
    switch(page, "ru")  # a language switch keeps the draft too
    expect(page.locator("#f-title")).to_have_value("Кітап оқу клубы")
    page.get_by_role("button", name="Удалить черновик").click()
    expect(page.locator("#f-title")).to_have_value("")
    assert page.evaluate("localStorage.getItem('pedkb.draft.new')") is None


def test_a_failed_save_keeps_the_text_and_a_good_one_clears_the_draft(page: Page, server: str) -> None:
    page.goto(server)
    enter_key(page, server)
    page.goto(f"{server}/#/experience/exp-ru-001/edit")
    page.locator("#f-title").fill("")
    page.locator("#f-method").fill("Новая методика, ещё не сохранённая.")
    page.get_by_role("button", name="Сохранить", exact=True).click()
    expect(page.locator("#f-title")).to_have_attribute("aria-invalid", "true")
    page.reload()
    expect(page.locator("#f-method")).to_have_value("Новая методика, ещё не сохранённая.")
    page.locator("#f-title").fill("Школа молодого учителя (новое название)")
    page.get_by_role("button", name="Сохранить", exact=True).click()
    expect(page.locator("h1")).to_have_text("Школа молодого учителя (новое название)")
    assert page.evaluate("localStorage.getItem('pedkb.draft.exp-ru-001')") is None
    body = httpx.get(f"{server}/api/v1/experiences/exp-ru-001").json()
    assert body["method"] == "Новая методика, ещё не сохранённая."


WRONG_KEY = {"kk": "Кілт тексерілуде…", "ru": "Проверяем ключ…", "ky": "Ачкыч текшерилүүдө…"}


def test_a_wrong_key_is_refused_when_entered_in_every_language(page: Page, server: str, shots: Path) -> None:
    page.goto(server)
    for lang in ("kk", "ru", "ky"):
        switch(page, lang)
        page.goto(f"{server}/#/manage")
        page.locator("#api-key").fill(f"wrong-key-{lang}")
        with page.expect_response(lambda r: r.url.endswith("/api/v1/access")) as answer:
            page.locator("#api-key").press("Enter")
        assert answer.value.status == 403
        error = page.locator("#api-key-error")
        expect(error).to_have_text(answer.value.json()["detail"])  # the API's words, in the page's language
        assert answer.value.request.headers["accept-language"] == lang
        expect(page.locator("#api-key")).to_have_attribute("aria-invalid", "true")
        expect(page.locator(".key-state")).to_be_hidden()
        assert page.evaluate("sessionStorage.getItem('pedkb.key')") is None
        screenshot(page, shots / f"manage-wrong-key-{lang}.png")


WIDGET_PAGE = """<!doctype html>
<html lang="ky"><head><meta charset="utf-8"><title>Портал</title>
<style>body {{ font-family: Georgia, serif; background: #fffbe8; }} button {{ background: hotpink; }}</style></head>
<body><h1>Методикалык портал</h1>
<div id="slot"></div>
<script src="{pedkb}/widget.js" data-pedkb-url="{pedkb}" data-lang="ky" data-similar="true"
        data-target="#slot"></script>
<pedkb-search id="plain" api="{pedkb}" lang="ru"></pedkb-search>
</body></html>
"""


@pytest.fixture
def widget_portal(server: str, tmp_path: Path) -> Iterator[str]:
    """A portal on another origin whose page holds the widget with the similar-projects option, and one without."""
    (tmp_path / "index.html").write_text(WIDGET_PAGE.format(pedkb=server), encoding="utf-8")
    with static_site(tmp_path) as url:
        yield url


def test_widget_similar_projects_option_on_another_origin(
    page: Page, server: str, widget_portal: str, shots: Path, tmp_path: Path
) -> None:
    page.set_default_timeout(ANSWER_MS)
    page.goto(widget_portal)
    widget = page.locator("#slot pedkb-search")
    expect(widget.locator("button.tab[data-tab=search]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#plain").get_by_role("button", name="Похожие проекты")).to_have_count(0)  # option off
    widget.get_by_role("button", name="Окшош долбоорлор", exact=True).click()
    expect(widget.get_by_role("button", name="Окшош долбоорлор", exact=True)).to_have_attribute("aria-pressed", "true")
    widget.get_by_label("Долбоордун сүрөттөмөсү").fill(MENTORING)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/similar")) as answer:
        widget.get_by_role("button", name="Окшош долбоорлорду табуу").click()
    items = answer.value.json()
    cards = widget.locator(".sim-results .card")
    expect(cards).to_have_count(len(items))
    link = cards.first.locator(".card-title a")
    assert (link.get_attribute("href") or "").startswith(f"{server}/#/")
    assert link.get_attribute("target") == "_blank"
    expect(widget.locator(".sim-results .reason").first).to_contain_text("Эмне үчүн окшош:")
    expect(widget.locator(".sim-techs a").first).to_be_visible()
    screenshot(page, shots / "widget-similar-ky.png")

    text = tmp_path / "plan.txt"
    text.write_text("Долбоордук окутуу айылдык мектепте: окуучулар топто долбоор даярдашат.", encoding="utf-8")
    widget.locator("#w-sim-file").set_input_files(text)
    with page.expect_response(lambda r: "/api/v1/similar/file" in r.url) as by_file:
        widget.get_by_role("button", name="Окшош долбоорлорду табуу").click()
    assert by_file.value.status == 200  # a multipart POST across origins (CORS)
    expect(widget.locator(".sim-read")).to_contain_text("«plan.txt» файлынан")
    assert page.eval_on_selector("body", "el => getComputedStyle(el).fontFamily").startswith("Georgia")


real_server = web.real_server


@pytest.mark.slow
def test_similar_projects_cross_language_with_the_real_model(page: Page, real_server: str, shots: Path) -> None:
    """With the real model a Russian description finds projects in Kazakh or Kyrgyz too, and its technology."""
    page.set_default_timeout(ANSWER_MS)
    page.goto(f"{real_server}/#/similar")
    page.get_by_label("Описание проекта").fill(MENTORING)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/classify")) as classify:
        page.get_by_role("button", name="Найти похожие проекты").click()
    expect(page.locator(".sim-output > .status")).to_have_attribute("data-state", "done", timeout=ANSWER_MS)
    assert "mentoring-coaching" in [s["technology_id"] for s in classify.value.json()[:3]]
    badges = set(page.eval_on_selector_all(".sim-results .card .badge",
                                           r"els => els.map(e => e.className.match(/lang-(\w+)/)[1])"))
    assert badges & {"kk", "ky"}, badges  # not only Russian
    titles = page.locator(".sim-results .card-title").all_inner_texts()
    assert any("наставни" in t.lower() or "тәлімгер" in t.lower() or "насаатчы" in t.lower() for t in titles), titles
    screenshot(page, shots / "similar-real-model-ru.png")


def test_the_interface_in_english_for_an_english_browser(browser: Browser, server: str) -> None:
    ctx = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    try:
        tab = ctx.new_page()
        tab.set_default_timeout(ANSWER_MS)
        tab.goto(server)
        expect(tab.locator("h1")).to_have_text("Search experiences and teaching materials")
        expect(tab.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "true")
        tab.get_by_role("link", name="Similar projects").click()
        expect(tab.locator("h1")).to_have_text("Find similar projects")
        tab.get_by_label("Project description").fill(MENTORING)
        tab.get_by_role("button", name="Find similar projects").click()
        expect(tab.locator(".sim-output > .status")).to_have_attribute("data-state", "done", timeout=ANSWER_MS)
        chrome = tab.evaluate("""() => [...document.querySelectorAll(
            'header .brand, nav, h1, h2, label, button:not([lang]), .hint, .status, .reason strong, .passage-label')]
            .map(e => e.innerText).join(' ')""")
        assert not re.search(r"[\u0400-\u04ff]", chrome), chrome  # content may be Cyrillic, the interface is not
        switch(tab, "kk")
        expect(tab.locator("h1")).to_have_text(SIM_TITLE["kk"])
    finally:
        ctx.close()
