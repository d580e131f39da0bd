"""A scanned passage on the search page: found by a query in its language, with the "scanned text" badge and its OCR
confidence in the tooltip, in a real Chromium (the fixtures of test_web_browser.py) against uvicorn.

`PEDKB_SCREENSHOTS=docs/screenshots .venv/bin/python -m pytest tests/test_ocr_browser.py` refreshes
docs/screenshots/search-scanned-text.png.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.scans import render_page, sample_text, scanned_pdf
from tests.support.server import serve_pedkb
from tests.test_web_browser import pedkb, search

QUERY = "топтық жұмыс балаларды бір-бірін тыңдауға үйретеді"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """pedkb (hashing embedder) with a scanned kk + ru PDF, OCR'd by `pedkb ingest`, beside the corpus documents."""
    root = tmp_path_factory.mktemp("ocr-web")
    data, docs = root / "data", root / "docs"
    docs.mkdir()
    pages = [render_page(sample_text(lang), inches=(8.27, 5.0), margin=0.5)[0] for lang in ("kk", "ru")]
    (docs / "scanned-collection.pdf").write_bytes(scanned_pdf(pages))
    for path in (Path(__file__).resolve().parents[1] / "corpus" / "documents").glob("*.txt"):
        (docs / path.name).write_bytes(path.read_bytes())
    env = {**os.environ, "PEDKB_MODEL": "hashing:256"}
    pedkb(data, env, "ingest", str(docs))
    with serve_pedkb(data, env) as url:
        yield url


def test_a_scanned_passage_is_found_and_badged_on_the_search_page(page: Page, server: str, shots: Path) -> None:  # noqa: F811
    page.goto(f"{server}/#/search?type=document")
    search(page, QUERY)
    first = page.locator(".card").first
    expect(first.locator(".card-title")).to_contain_text("scanned collection")  # the file name as title
    badge = first.locator(".badge.scanned")
    expect(badge).to_have_text("Сканированный текст")
    title = badge.get_attribute("title") or ""
    confidence = re.search(r"уверенность (\d+)%", title)
    assert confidence and 80 <= int(confidence.group(1)) <= 100, title
    expect(first.locator(".snippet")).to_contain_text("бір-бірін тыңдауға")
    unscanned = page.locator(".card").filter(has_not=page.locator(".badge.scanned"))
    assert unscanned.count() >= 1  # born-digital results carry no badge
    first.scroll_into_view_if_needed()
    page.screenshot(path=shots / "search-scanned-text.png", full_page=False)
