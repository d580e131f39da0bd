"""Offline API docs (/docs, /redoc in Chromium with the network cut off), gzip, ETags with 304, Cache-Control."""

from __future__ import annotations

import gzip
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Route, expect
from test_api import build_seeded_data, make_client
from test_api_write import KEY, new_experience

from search_api.docs_offline import ASSETS_URL
from tests.support.server import serve_pedkb

LOOPBACK = "127.0.0.1"
ITEM_PATHS = ["/api/v1/experiences/exp-ru-001", "/api/v1/technologies/project-method"]
# ReDoc's sidebar shows Redocly's logo from their site; the page's CSP refuses it and ReDoc hides the image.
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture(scope="session")
def seeded_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded data folder shared with test_api (never written: clients work on copies)."""
    return build_seeded_data(tmp_path_factory)


@pytest.fixture(scope="module")
def client(seeded_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A read-only client shared by this module."""
    yield from make_client(seeded_data, tmp_path_factory.mktemp("docs-read") / "data")


@pytest.fixture
def writer(seeded_data: Path, tmp_path: Path) -> Iterator[TestClient]:
    """A client on a fresh copy of the seeded data, for edits."""
    yield from make_client(seeded_data, tmp_path / "data")


def first_document(client: TestClient) -> str:
    return str(client.get("/api/v1/documents", params={"limit": 1}).json()["items"][0]["doc_id"])


# --- the docs pages and their assets ---------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "assets"), [
    ("/docs", ["swagger-ui-bundle.js", "swagger-ui.css"]),
    ("/redoc", ["redoc.standalone.js"]),
])
def test_docs_pages_load_their_assets_from_this_server(client: TestClient, path: str, assets: list[str]) -> None:
    page = client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "http://" not in page.text and "https://" not in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "img-src 'self' data:" in policy and "'unsafe-inline'" not in (
        policy.split("script-src")[1])
    for name in assets:
        assert f'"{ASSETS_URL}/{name}"' in page.text
        asset = client.get(f"{ASSETS_URL}/{name}")
        assert asset.status_code == 200 and len(asset.content) > 100_000, name
    assert client.get("/openapi.json").status_code == 200


def test_docs_assets_are_long_lived_and_revalidate_with_304(client: TestClient) -> None:
    first = client.get(f"{ASSETS_URL}/swagger-ui.css")
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
    again = client.get(f"{ASSETS_URL}/swagger-ui.css", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == first.headers["etag"]
    assert client.get(f"{ASSETS_URL}/../app.py").status_code == 404


def test_page_files_revalidate_with_304(client: TestClient) -> None:
    for path in ("/ui/app.js", "/widget.js", "/"):
        first = client.get(path)
        assert first.status_code == 200 and first.headers["cache-control"] == "no-cache", path
        again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b"", path
        assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


# --- compression -----------------------------------------------------------------------------------------------
def raw_get(client: TestClient, path: str, encoding: str) -> tuple[Mapping[str, str], bytes]:
    """Headers and the bytes as sent (not decoded)."""
    with client.stream("GET", path, headers={"Accept-Encoding": encoding}) as response:
        assert response.status_code == 200
        return response.headers, b"".join(response.iter_raw())


def test_technologies_are_gzipped_and_smaller(client: TestClient) -> None:
    plain_headers, plain = raw_get(client, "/api/v1/technologies", "identity")
    zipped_headers, zipped = raw_get(client, "/api/v1/technologies", "gzip")
    assert "content-encoding" not in plain_headers
    assert zipped_headers["content-encoding"] == "gzip" and "Accept-Encoding" in zipped_headers["vary"]
    assert gzip.decompress(zipped) == plain
    assert len(zipped) * 3 < len(plain), (len(plain), len(zipped))
    assert int(zipped_headers["content-length"]) == len(zipped)


def test_small_answers_stay_plain(client: TestClient) -> None:
    headers, _ = raw_get(client, "/api/v1/health", "gzip")
    assert "content-encoding" not in headers


def test_search_and_static_files_are_gzipped(client: TestClient) -> None:
    headers, body = raw_get(client, "/api/v1/search?q=%D0%B4%D0%B5%D0%B1%D0%B0%D1%82%D1%8B&k=10", "gzip")
    assert headers["content-encoding"] == "gzip" and gzip.decompress(body).startswith(b"{")
    headers, body = raw_get(client, f"{ASSETS_URL}/swagger-ui-bundle.js", "gzip")
    assert headers["content-encoding"] == "gzip" and len(gzip.decompress(body)) > len(body)


def test_upload_and_write_answers_pass_through_gzip_and_are_never_cached(writer: TestClient) -> None:
    text = ("Наставничество для молодых учителей: опытный педагог посещает уроки и обсуждает их. " * 40).encode()
    uploaded = writer.post("/api/v1/documents", files=[("files", ("mentor.txt", text))],
                           headers={**KEY, "Accept-Encoding": "gzip"})
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.headers["cache-control"] == "no-store" and "etag" not in uploaded.headers
    doc_id = uploaded.json()["files"][0]["doc_id"]
    assert writer.get(f"/api/v1/documents/{doc_id}").status_code == 200
    refused = writer.post("/api/v1/documents", files=[("files", ("x.txt", text))])
    assert refused.status_code == 401 and refused.headers["cache-control"] == "no-store"


# --- ETags and Cache-Control -----------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_catalogue_and_items_answer_304_to_their_etag(client: TestClient, encoding: str) -> None:
    paths = ["/api/v1/technologies", *ITEM_PATHS, f"/api/v1/documents/{first_document(client)}"]
    for path in paths:
        first = client.get(path, headers={"Accept-Encoding": encoding})
        etag = first.headers["etag"]
        assert first.status_code == 200 and etag.startswith('"'), path
        expected = "no-cache" if "/experiences/" in path or "/documents/" in path else "public, max-age=300"
        assert first.headers["cache-control"] == expected, path
        again = client.get(path, headers={"Accept-Encoding": encoding, "If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"", path
        assert again.headers["etag"] == etag and again.headers["cache-control"] == expected
        assert "content-type" not in again.headers
        weak = client.get(path, headers={"Accept-Encoding": encoding, "If-None-Match": f'"x", W/{etag}'})
        assert weak.status_code == 304
        other = client.get(path, headers={"Accept-Encoding": encoding, "If-None-Match": '"x"'})
        assert other.status_code == 200 and other.headers["etag"] == etag and other.content == first.content


def test_plain_and_gzipped_answers_have_their_own_etags(client: TestClient) -> None:
    plain = client.get("/api/v1/technologies", headers={"Accept-Encoding": "identity"}).headers["etag"]
    zipped = client.get("/api/v1/technologies", headers={"Accept-Encoding": "gzip"}).headers["etag"]
    assert plain != zipped
    crossed = client.get("/api/v1/technologies", headers={"Accept-Encoding": "gzip", "If-None-Match": plain})
    assert crossed.status_code == 200


def test_errors_searches_and_keyed_reads_are_not_shared(client: TestClient) -> None:
    missing = client.get("/api/v1/experiences/exp-none")
    assert missing.status_code == 404 and "etag" not in missing.headers and "cache-control" not in missing.headers
    search = client.get("/api/v1/search", params={"q": "дебаты"})
    assert "etag" not in search.headers and "cache-control" not in search.headers
    keyed = client.get("/api/v1/technologies", headers=KEY)
    assert keyed.headers["cache-control"] == "private, no-cache" and "etag" in keyed.headers
    assert client.post("/api/v1/search", json={"q": "дебаты"}).headers["cache-control"] == "no-store"


def test_an_edit_changes_the_items_etag(writer: TestClient) -> None:
    path = "/api/v1/experiences/exp-ru-001"
    before = writer.get(path)
    etag = before.headers["etag"]
    assert writer.get(path, headers={"If-None-Match": etag}).status_code == 304
    changed = writer.put(path, json=new_experience(id="exp-ru-001", title="Наставничество: изменённое название"),
                         headers=KEY)
    assert changed.status_code == 200, changed.text
    assert changed.headers["cache-control"] == "no-store" and "etag" not in changed.headers
    after = writer.get(path, headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["etag"] != etag
    assert after.json()["title"] == "Наставничество: изменённое название"
    assert writer.get(path, headers={"If-None-Match": after.headers["etag"]}).status_code == 304
    assert writer.delete(path, headers=KEY).status_code == 204
    assert writer.get(path, headers={"If-None-Match": after.headers["etag"]}).status_code == 404


# --- in Chromium with every other host cut off -----------------------------------------------------------------
@pytest.fixture(scope="module")
def server(seeded_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn over a copy of the seeded data (hashing embedder)."""
    data = tmp_path_factory.mktemp("docs-server") / "data"
    shutil.copytree(seeded_data, data)
    with serve_pedkb(data, {**os.environ, "PEDKB_MODEL": "hashing:256"}) as url:
        yield url


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["csp", "no-csp"])
@pytest.mark.parametrize(("path", "operation"), [
    ("/docs", ".opblock-summary-path[data-path='/api/v1/search']"),
    ("/redoc", "[data-section-id^='tag/search/operation/'] >> text=\"/api/v1/search\""),
])
def test_docs_render_in_chromium_with_only_loopback_reachable(
    browser: Browser, server: str, path: str, operation: str, bypass_csp: bool
) -> None:
    """Every request to another host is aborted; with the page's CSP bypassed, what it would fetch shows too."""
    context = browser.new_context(bypass_csp=bypass_csp)
    aborted: list[str] = []
    loaded: list[str] = []
    failed: list[str] = []
    errors: list[str] = []

    def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname == LOOPBACK:
            loaded.append(route.request.url)
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(server + path)
        expect(page.locator(operation).first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("/api/v1/technologies/{tech_id}").first).to_be_attached()
    finally:
        context.close()
    # Only ReDoc's decorative logo is ever wanted from elsewhere: refused by the CSP, or aborted here without it.
    assert [url for url in aborted if url != REDOCLY_LOGO] == [], aborted
    assert aborted == [] or bypass_csp
    assert [url for url in failed if url != REDOCLY_LOGO] == [], failed
    assert errors == [], errors
    assert any(url.startswith(f"{server}{ASSETS_URL}/") for url in loaded), loaded
    assert f"{server}/openapi.json" in loaded
