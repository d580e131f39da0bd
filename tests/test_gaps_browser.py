"""The methodist's gap report page in a real browser (Debian's Chromium, headless, driven by Playwright): reached
from the manage section with the key, it draws searches and unmet searches per day and per week with the uPlot
chart served by pedkb itself, lists the planted topic first, and a result opened on the search page is recorded."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from index.searchlog import DAY, LOG_FILE, SearchLog, SqliteSearchLog
from tests.support.server import serve_pedkb
from tests.test_web_browser import pedkb

KEY = "gaps-test-key"
TOPIC = ["робототехника в детском саду", "робототехника в детском саду программа", "программа робототехника саду"]
DAYS = 12  # days of planted history: two or three ISO weeks


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """pedkb (hashing model) with the sample bank and twelve days of logged searches."""
    data = tmp_path_factory.mktemp("gaps-web") / "data"
    env = {**os.environ, "PEDKB_MODEL": "hashing:1024", "PEDKB_GAP_DISTANCE": "0.6"}
    pedkb(data, env, "kb", "load")
    now = time.time()
    clock = iter(now - DAY * (i % DAYS) for i in range(10_000))
    planted = SearchLog(SqliteSearchLog(data / LOG_FILE), 90, clock=lambda: next(clock))
    for i in range(3 * DAYS):
        planted.record(TOPIC[i % 3], mode="hybrid", filters={"region": ["kz-almaty-city"]}, n_items=0,
                       top_score=None, no_close_match=True)
        planted.record("сындарлы оқыту", mode="hybrid", filters={}, n_items=3, top_score=0.8, no_close_match=False)
    planted.close()
    with serve_pedkb(data, {**env, "PEDKB_API_KEYS": KEY}) as url:
        yield url


def report(server: str) -> dict:  # type: ignore[type-arg]
    answer = httpx.get(f"{server}/api/v1/gaps", headers={"X-API-Key": KEY}, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_gaps_page_draws_the_chart_and_lists_the_planted_topic(page: Page, server: str, shots: Path) -> None:  # noqa: F811
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    before = report(server)
    assert before["searches"] == 6 * DAYS and before["unmet"] == 6 * DAYS  # nothing opened yet

    # a teacher searches and opens a result: that search is met
    page.goto(server)
    page.get_by_role("searchbox").fill("сындарлы оқыту")
    page.get_by_role("searchbox").press("Enter")
    expect(page.locator("#result-status")).to_have_attribute("data-state", "results")
    page.locator(".card a").first.click()
    deadline = time.monotonic() + 15
    while (after := report(server))["searches"] == before["searches"] and time.monotonic() < deadline:
        time.sleep(0.3)
    assert after["searches"] == before["searches"] + 1 and after["unmet"] == before["unmet"]

    # the methodist: no key, no report; the key, then the link from the manage section
    page.goto(f"{server}/#/gaps")
    expect(page.locator("h1")).to_have_text("Ненайденные запросы")
    expect(page.get_by_text("Для этого отчёта нужен API-ключ.")).to_be_visible()
    page.goto(f"{server}/#/manage")
    page.get_by_label("API-ключ").fill(KEY)
    page.get_by_role("button", name="Сохранить ключ").click()
    expect(page.locator(".key-state")).to_be_visible()
    page.get_by_role("link", name="Открыть отчёт").click()
    expect(page.locator("h1")).to_have_text("Ненайденные запросы")
    expect(page.locator("#gaps-summary")).to_contain_text(f"{6 * DAYS + 1} поисков")

    chart = page.locator(".gaps-chart")
    expect(chart.locator("canvas")).to_have_count(1)
    expect(chart).to_have_attribute("data-points", str(DAYS))
    legend = chart.locator(".u-legend").inner_text()
    assert "Поиски" in legend and "Поиски без ответа" in legend
    box = chart.locator("canvas").bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100
    painted = page.evaluate("""() => {
        const c = document.querySelector('.gaps-chart canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let red = 0, blue = 0;
        for (let i = 0; i < d.length; i += 4) {
          if (d[i] > 150 && d[i + 1] < 80 && d[i + 2] < 80) red++;
          if (d[i] < 60 && d[i + 1] > 70 && d[i + 2] > 140) blue++;
        }
        return {red, blue};
    }""")
    assert painted["red"] > 50 and painted["blue"] > 50, painted  # both lines are drawn
    page.screenshot(path=str(shots / "gaps-page.png"), full_page=True)
    page.get_by_label("Период").select_option("week")
    expect(chart).to_have_attribute("data-unit", "week")
    weeks = int(chart.get_attribute("data-points") or 0)
    assert 2 <= weeks <= 3 and chart.locator("canvas").count() == 1

    first = page.locator(".gaps-table tbody tr").first
    for text in TOPIC:
        expect(first).to_contain_text(text)
    expect(first).to_contain_text(f"{3 * DAYS}")
    expect(first).to_contain_text("ru: 36")
    expect(first).to_contain_text("город Алматы: 36")
    assert first.locator("a[href^='#/technology/']").count() >= 1

    # the language filter goes through the address and the API
    page.get_by_label("Язык запроса").select_option("kk")
    page.get_by_role("button", name="Показать").click()
    expect(page).to_have_url(f"{server}/#/gaps?lang=kk")
    expect(page.locator(".gaps-table tbody tr").first).to_contain_text("сындарлы оқыту")

    with page.expect_download() as download:
        page.get_by_role("button", name="Скачать CSV").click()
    csv_text = Path(download.value.path()).read_text(encoding="utf-8")
    assert csv_text.startswith("rank,searches,") and "сындарлы оқыту" in csv_text

    assert all(url.startswith(server) for url in requests), [u for u in requests if not u.startswith(server)]
    assert any(url.endswith("/ui/vendor/uplot.iife.min.js") for url in requests)
