"""The web front end's routes and files, without a browser: what is served, with which headers, and that the
interface strings are complete in kk/ru/ky and nothing is loaded from another site."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index.embedding.hashing import HashingEmbedder
from index.knowledge_base import KnowledgeBase
from pedkb.settings import Settings
from search_api.app import create_app
from search_api.web.routes import STATIC
from tests.test_i18n import page_strings

LANGS = ("kk", "ru", "ky")
PLACEHOLDER_URLS = {"http://www.w3.org/2000/svg",  # an XML namespace name, never fetched
                    "https://github.com/leeoniya/uPlot"}  # the vendored chart library's licence header


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app on a fresh knowledge base (the hashing embedder)."""
    settings = Settings(data=tmp_path_factory.mktemp("web") / "data", model="hashing:256")
    with KnowledgeBase(settings, embedder=HashingEmbedder(256)) as kb, TestClient(create_app(settings, kb=kb)) as app:
        yield app


def strings_by_language() -> dict[str, dict[str, str]]:
    """The interface strings (strings.js and strings-page.js, which it merges), per page language, read as text."""
    tables = page_strings()
    return {lang: tables[lang] for lang in LANGS}


def test_page_is_served_at_the_root_and_may_not_be_framed(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/ui/app.js">' in response.text
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert client.get("/docs").status_code == 200


def test_embed_may_be_framed_by_any_site(client: TestClient) -> None:
    response = client.get("/embed", params={"lang": "ru", "type": "experience"})
    assert response.status_code == 200
    assert "frame-ancestors *" in response.headers["content-security-policy"]
    assert "x-frame-options" not in response.headers


def test_widget_script_is_served_to_other_origins(client: TestClient) -> None:
    origin = {"Origin": "https://portal.example"}
    script = client.get("/widget.js", headers=origin)
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "pedkb-search" in script.text
    module = client.get("/ui/widget-element.js", headers=origin)  # imported with CORS by the widget
    assert module.status_code == 200 and module.headers["access-control-allow-origin"] == "*"


def test_every_module_a_script_imports_is_served(client: TestClient) -> None:
    scripts = sorted(STATIC.glob("*.js"))
    assert len(scripts) >= 10
    for script in scripts:
        for name in re.findall(r'from "\./([\w-]+\.js)"', script.read_text(encoding="utf-8")):
            response = client.get(f"/ui/{name}")
            assert response.status_code == 200, f"{script.name} imports {name}"
            assert response.headers["content-type"].startswith("text/javascript")
    assert client.get("/ui/style.css").headers["content-type"].startswith("text/css")


@pytest.mark.parametrize("path", ["/ui/routes.py", "/ui/..%2Froutes.py", "/ui/index.html", "/ui/.hidden.js",
                                  "/ui/missing.js", "/ui/%2Fetc%2Fpasswd"])
def test_nothing_outside_the_static_files_is_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == "route_not_found"


def test_vocabulary_names_regions_subjects_and_classifications(client: TestClient) -> None:
    body = client.get("/ui/vocabulary.json").json()
    assert {r["country"] for r in body["regions"]} == {"KZ", "KG"}
    assert all(set(LANGS) <= set(r["labels"]) for r in body["regions"] + body["subjects"])
    kinds = {c["id"] for c in body["classifications"]}
    assert {"scale", "experience_kind", "stage", "dissemination"} <= kinds


def test_web_routes_stay_out_of_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert all(path.startswith("/api/v1/") for path in paths)


def test_every_language_has_every_string() -> None:
    table = strings_by_language()
    assert set(table) == set(LANGS)
    keys = set(table["ru"])
    assert len(keys) > 100
    for lang in LANGS:
        assert set(table[lang]) == keys, f"{lang}: missing {keys - set(table[lang])}, extra {set(table[lang]) - keys}"
        assert all(value.strip() for value in table[lang].values())
    assert table["kk"]["search_button"] == "Іздеу" and table["ky"]["search_button"] == "Издөө"


def test_every_string_the_code_asks_for_exists() -> None:
    keys = set(strings_by_language()["ru"])
    used: set[str] = set()
    for script in STATIC.glob("*.js"):
        used |= set(re.findall(r'\bt\((?:lang, |this\.lang, )?"(\w+)"', script.read_text(encoding="utf-8")))
    used |= set(re.findall(r'data-i18n(?:-label)?="(\w+)"', (STATIC / "index.html").read_text(encoding="utf-8")))
    dynamic = {f"{prefix}_{v}" for prefix, values in {
        "type": ("experience", "technology", "document"), "group": ("experience", "technology", "document"),
        "lang": ("kk", "ru", "ky", "en"), "status": ("added", "updated", "unchanged", "failed"),
    }.items() for v in values}
    assert len(used) > 60
    assert used - keys == set()
    assert dynamic - keys == set()


def test_nothing_is_loaded_from_another_site() -> None:
    for path in (p for p in STATIC.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8")
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'`)]*", text)) - PLACEHOLDER_URLS
        assert not urls, f"{path.name} refers to {urls}"
        assert "@import" not in text and "fonts.googleapis" not in text


def test_static_files_are_small_modules() -> None:
    for path in STATIC.glob("*.js"):
        lines = path.read_text(encoding="utf-8").count("\n")
        assert lines < 500, f"{path.name} has {lines} lines"
    assert not any(path.suffix in (".map", ".ts", ".jsx") for path in STATIC.iterdir())


def test_no_api_text_is_inserted_as_html() -> None:
    for path in STATIC.glob("*.js"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write", text), path.name
        assert "snippet_html" not in text, f"{path.name}: marks come from `highlights`, not the API's HTML"


def test_readme_and_docs_describe_the_widget() -> None:
    repo = Path(__file__).resolve().parents[1]
    guide = (repo / "docs" / "widget.md").read_text(encoding="utf-8")
    assert "<script src=" in guide and "<pedkb-search" in guide and "<iframe" in guide
    for shot in re.findall(r"\(screenshots/([\w-]+\.png)\)", guide):
        assert (repo / "docs" / "screenshots" / shot).is_file(), shot
    assert "docs/widget.md" in (repo / "README.md").read_text(encoding="utf-8")
