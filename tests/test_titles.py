"""Titles: documents' from metadata, first heading, first line or file name; the API's in the reader's language."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docx
import pymupdf
import pytest
from fastapi.testclient import TestClient

from index.knowledge_base import KnowledgeBase
from ingest.readers import read_document
from ingest.readers.title import usable_title
from search_api.app import create_app
from tests.conftest import REPO

BODY = "Оқушылар топта жұмыс істеп, бір-бірін бағалайды. Мұғалім сабақты жоспарлайды."


def _pdf(path: Path, *, title: str | None, heading: str | None, first_line: str = BODY) -> Path:
    doc = pymupdf.open()
    page = doc.new_page()
    font = pymupdf.Font(fontfile="/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    writer = pymupdf.TextWriter(page.rect)
    y = 72
    if heading:
        writer.append((72, y), heading, font=font, fontsize=20)
        y += 40
    for line in (first_line, BODY, BODY):
        writer.append((72, y), line[:70], font=font, fontsize=10)
        y += 16
    writer.write_text(page)
    if title is not None:
        doc.set_metadata({"title": title})
    doc.save(path)
    return path


def _read(path: Path) -> str | None:
    return read_document(path, max_bytes=10_000_000).title


@pytest.mark.parametrize(("text", "usable"), [
    ("Microsoft Word - otchet_2023.docx", None), ("Untitled-1", None), ("Документ1", None), ("  ", None),
    ("otchet.pdf", None), ("Слайд 1", None), ("12 / 2023", None),
    ("  Жобалық оқыту:\n әдістемелік құрал ", "Жобалық оқыту: әдістемелік құрал"),
])  # fmt: skip
def test_junk_titles_are_refused(text: str, usable: str | None) -> None:
    assert usable_title(text) == usable


def test_pdf_title_from_metadata_else_heading_else_first_line_else_name(tmp_path: Path) -> None:
    if not Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").exists():
        pytest.fail("the DejaVu font (fonts-dejavu-core) is needed to write Cyrillic test PDFs")
    meta = _pdf(tmp_path / "a.pdf", title="Сыни ойлау: әдістемелік нұсқау", heading="Басқа тақырып")
    assert _read(meta) == "Сыни ойлау: әдістемелік нұсқау"
    junk = _pdf(tmp_path / "b.pdf", title="Microsoft Word - b.docx", heading="Жобалық оқыту әдістемесі")
    assert _read(junk) == "Жобалық оқыту әдістемесі"
    plain = _pdf(tmp_path / "c.pdf", title="", heading=None, first_line="Открытый урок по истории")
    assert _read(plain) == "Открытый урок по истории"
    blank = pymupdf.open()
    blank.new_page()
    blank.save(tmp_path / "Ашық_сабақ-2023.pdf")
    assert _read(tmp_path / "Ашық_сабақ-2023.pdf") == "Ашық сабақ 2023"  # a scan: no text, the file name


def test_docx_title_from_core_properties_else_first_heading(tmp_path: Path) -> None:
    document = docx.Document()
    document.core_properties.title = "Microsoft Word - Документ1"
    document.add_paragraph("УДК 37.01")
    document.add_heading("Кластер әдісі бастауыш сыныпта", level=1)
    document.add_paragraph(BODY)
    document.save(tmp_path / "x.docx")
    assert _read(tmp_path / "x.docx") == "Кластер әдісі бастауыш сыныпта"
    document.core_properties.title = "Кластер әдісі"
    document.save(tmp_path / "y.docx")
    assert _read(tmp_path / "y.docx") == "Кластер әдісі"


def test_text_without_title_gets_its_first_line_and_a_scan_its_file_name(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("\n\n  Методическое объединение  \n" + BODY, encoding="utf-8")
    assert _read(tmp_path / "notes.txt") == "Методическое объединение"
    (tmp_path / "long.txt").write_text(BODY * 5, encoding="utf-8")
    assert _read(tmp_path / "long.txt") == "long"  # one long paragraph is no title: the file name


@pytest.fixture
def client(kb: KnowledgeBase) -> Iterator[TestClient]:
    kb.bank.load_corpus(REPO / "corpus")
    with TestClient(create_app(kb.settings, kb=kb), raise_server_exceptions=False) as test_client:
        yield test_client


def test_technology_titles_follow_the_reader(client: TestClient) -> None:
    tree = client.get("/api/v1/technologies", headers={"Accept-Language": "kk-KZ,kk;q=0.9"})
    assert tree.headers["vary"].lower().count("accept-language") == 1
    tech = tree.json()["groups"][0]["technologies"][0]
    assert tech["title"] == tech["titles"]["kk"] and set(tech["titles"]) == {"kk", "ru", "ky", "en"}
    by_param = client.get("/api/v1/technologies", params={"lang": "ky"}).json()["groups"][0]
    assert by_param["title"] == by_param["titles"]["ky"]
    assert by_param["technologies"][0]["title"] == by_param["technologies"][0]["titles"]["ky"]
    german = client.get("/api/v1/technologies", headers={"Accept-Language": "de"}).json()["groups"][0]
    assert german["title"] == german["titles"]["ru"]  # not asked in kk/ru/ky/en: ru first
    english = client.get("/api/v1/technologies/debates", headers={"Accept-Language": "en"}).json()
    assert english["technology"]["title"] == english["technology"]["titles"]["en"]
    assert english["group"]["title"] == english["group"]["titles"]["en"]


def test_search_and_experience_titles_follow_the_reader(client: TestClient) -> None:
    params = {"q": "дебаты", "type": "technology", "k": 3}
    ky = client.get("/api/v1/search", params={**params, "ui_lang": "ky"}).json()["results"]
    assert ky and all(r["title"] == r["titles"]["ky"] for r in ky)
    body = {**params, "type": ["technology"]}
    kk = client.post("/api/v1/search", json=body, headers={"Accept-Language": "kk"}).json()["results"]
    assert kk and all(r["title"] == r["titles"]["kk"] for r in kk)
    plain = client.get("/api/v1/search", params=params).json()["results"]
    assert all(r["title"] == r["titles"]["ru"] for r in plain)
    exp = client.get("/api/v1/experiences/exp-ru-001", headers={"Accept-Language": "kk"}).json()
    assert exp["titles"] == {"ru": exp["title"]}
    tech = client.get(f"/api/v1/technologies/{exp['technologies'][0]}").json()["technology"]
    assert exp["technology_titles"][exp["technologies"][0]] == tech["titles"]["kk"]
