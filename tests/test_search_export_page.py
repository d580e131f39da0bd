"""The search page's export links in a real Chromium: "CSV" and "RIS" point at the current search's API address
(the same query and filters, titles in the page's language) and download a file holding the shown results."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import Page, expect

from tests.test_lifecycle_page import server
from tests.test_web_page_browser import screenshot

__all__ = ["server"]

QUERY = "проектный метод в сельской школе"


def test_the_export_links_download_the_shown_results(page: Page, server: str, shots: Path) -> None:  # noqa: F811
    page.goto(f"{server}/#/search?q={QUERY}&type=experience")
    expect(page.locator("#result-status")).to_have_attribute("data-state", "results")
    links = page.locator(".export-links")
    expect(links).to_have_text("Скачать: CSV · RIS")
    screenshot(page, shots / "search-export-ru.png")
    titles = page.locator(".card .card-title").all_text_contents()
    assert titles
    href = links.get_by_role("link", name="CSV").get_attribute("href") or ""
    sent = parse_qs(urlsplit(href).query)
    assert urlsplit(href).path == "/api/v1/search"
    assert sent == {"q": [QUERY], "k": ["10"], "offset": ["0"], "type": ["experience"], "group_by": ["item"],
                    "format": ["csv"], "ui_lang": ["ru"]}
    expect(links.get_by_role("link", name="CSV")).to_have_attribute("download", "")
    with page.expect_download() as info:
        links.get_by_role("link", name="CSV").click()
    download = info.value
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8-sig").read())))
    assert [row["title"] for row in rows] == [t.strip() for t in titles]
    assert {row["type"] for row in rows} == {"experience"}
    ris = httpx.get(server + (links.get_by_role("link", name="RIS").get_attribute("href") or ""))
    assert ris.status_code == 200
    records = [r for r in ris.text.split("ER  -") if r.strip()]
    assert len(records) == len(titles) and all("TY  -" in r for r in records)


def test_the_links_follow_the_filters_and_the_page_language(page: Page, server: str) -> None:  # noqa: F811
    page.goto(f"{server}/#/search?q={QUERY}&lang=kk")
    page.get_by_role("button", name="Қазақша").click()
    expect(page.locator("#result-status")).to_have_attribute("data-state", "results")
    links = page.locator(".export-links")
    expect(links).to_have_text("Жүктеп алу: CSV · RIS")
    sent = parse_qs(urlsplit(links.get_by_role("link", name="RIS").get_attribute("href") or "").query)
    assert sent["lang"] == ["kk"] and sent["ui_lang"] == ["kk"] and sent["format"] == ["ris"]
