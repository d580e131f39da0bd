"""Scanned passages in the index: ocr columns, filter and API field on both backends, the ingest's resume, progress
and missing Tesseract, the parser sandbox's OCR time budget, old stores upgraded, and retrieval across languages."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient

from index.embedding.embedder import Embedder
from index.knowledge_base import KnowledgeBase
from index.records import DocumentRecord, NewChunk, SearchFilters
from index.store.base import Backend
from index.store.embedded.schema import SCHEMA_VERSION
from index.store.factory import open_backend
from index.store.postgres.schema import MIGRATIONS
from ingest.limits import ReadLimits
from ingest.ocr import OcrOptions, OcrProgress
from ingest.sandbox import default_pool, read_isolated
from pedkb.errors import LimitExceededError, ParserCrashError
from pedkb.settings import Settings
from search_api.app import create_app
from tests.conftest import fresh_database
from tests.support.scans import (
    image_bytes,
    lying_ocr_reader,
    render_page,
    sample_text,
    scanned_pdf,
    slow_ocr_reader,
    stalling_ocr_reader,
)

DATA = Path(__file__).resolve().parent / "data"
SHORT_PAGE = (8.27, 4.0)
MAX_BYTES = 50_000_000
TYPED = "Мұғалім жаңа сабақта топтық жұмысты қолданады. Мұғалім оқушылардың пікірін тыңдайды."


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(folder, OCR cache): a kk+ky scanned PDF, a ru scanned PNG and a typed kk text; the scans OCR'd once, in the
    parser process, into a cache that each test copies into its data folder (the ingest then resumes from it)."""
    root = tmp_path_factory.mktemp("scans")
    files = root / "files"
    files.mkdir()
    kk, ky, ru = (render_page(sample_text(lang), inches=SHORT_PAGE, margin=0.5)[0] for lang in ("kk", "ky", "ru"))
    (files / "scan.pdf").write_bytes(scanned_pdf([kk, ky]))
    (files / "scan-ru.png").write_bytes(image_bytes(ru))
    (files / "typed.txt").write_text(TYPED, encoding="utf-8")
    cache = root / "ocr-cache"
    for name in ("scan.pdf", "scan-ru.png"):
        read_isolated(files / name, max_bytes=MAX_BYTES, ocr=OcrOptions(cache_dir=cache))
    return files, cache


def test_scanned_passages_are_stored_flagged_filtered_and_served(kb: KnowledgeBase, scans: tuple[Path, Path]) -> None:
    files, cache = scans
    shutil.copytree(cache, kb.settings.ocr_cache)
    events: list[OcrProgress] = []
    report = kb.ingest([files], on_page=events.append)
    assert report.count("added") == 3, report.failed
    ocr_pages = {Path(f.path).name: f.ocr_pages for f in report.files}
    assert ocr_pages == {"scan.pdf": 2, "scan-ru.png": 1, "typed.txt": 0}
    finished = [event for event in events if event.page is not None]
    assert len(finished) == 3 and all(event.cached for event in finished)  # resumed: no page recognised again

    top = kb.search("қалыптастырушы бағалау әр оқушының қай жерде қиналып жүргенін көруге көмектеседі", k=5)[0]
    assert top.chunk.ocr and top.chunk.lang == "kk" and top.chunk.page == 1
    assert top.chunk.ocr_confidence is not None and 0.8 < top.chunk.ocr_confidence <= 1
    assert top.to_dict()["ocr"] is True and top.to_dict()["ocr_confidence"] == top.chunk.ocr_confidence

    scanned = kb.search("мұғалім", k=20, filters=SearchFilters(ocr=True))
    assert {hit.chunk.lang for hit in scanned} == {"kk", "ky", "ru"} and all(hit.chunk.ocr for hit in scanned)
    typed = kb.search("мұғалім", k=20, filters=SearchFilters(ocr=False))
    assert typed and all(not hit.chunk.ocr and hit.chunk.ocr_confidence is None for hit in typed)
    assert {Path(hit.document.source).name for hit in typed} == {"typed.txt"}
    listed, total = kb.backend.filter_documents(SearchFilters(ocr=True))
    assert total == 2 and {Path(doc.source).name for doc in listed} == {"scan.pdf", "scan-ru.png"}

    with TestClient(create_app(kb.settings, kb=kb), raise_server_exceptions=False) as client:
        def search(**params: str) -> list[dict[str, Any]]:
            response = client.get("/api/v1/search", params={"q": "мұғалім", "k": "20", "group_by": "passage", **params})
            assert response.status_code == 200, response.text
            return list(response.json()["results"])

        served = search(ocr="true")
        assert served and all(r["ocr"] is True and 0.8 < r["ocr_confidence"] <= 1 for r in served)
        assert {r["chunk_id"] for r in served} == {hit.chunk.chunk_id for hit in scanned}
        assert all(r["ocr"] is False and r["ocr_confidence"] is None for r in search(ocr="false"))
        assert {r["ocr"] for r in search()} == {True, False}
        items = client.get("/api/v1/search", params={"q": "мұғалім", "ocr": "true"}).json()["results"]
        assert {r["doc_id"] for r in items} == {hit.document.doc_id for hit in scanned}  # one result per item
        assert client.get("/api/v1/search", params={"q": "мұғалім", "ocr": "maybe"}).status_code == 422


def test_the_cli_shows_a_page_bar_while_ocr_runs_and_searches_by_ocr(tmp_path: Path, scans: tuple[Path, Path]) -> None:
    files, cache = scans
    data = tmp_path / "data"
    shutil.copytree(cache, data / "ocr-cache")
    env = {**os.environ, "PEDKB_MODEL": "hashing:256", "PEDKB_CHUNK_TOKENS": "64", "PEDKB_CHUNK_OVERLAP": "8"}
    done = subprocess.run([sys.executable, "-m", "cli", "--data", str(data), "ingest", str(files / "scan.pdf")],
                          cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1 added" in done.stdout
    assert "OCR scan.pdf" in done.stderr and "/2 [" in done.stderr and "page" in done.stderr
    found = subprocess.run([sys.executable, "-m", "cli", "--data", str(data), "search", "мұғалім", "--ocr", "true",
                            "--json"], cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True,
                           text=True, timeout=120)
    assert found.returncode == 0, found.stderr
    results = json.loads(found.stdout)["results"]
    assert results and all(r["ocr"] is True and r["ocr_confidence"] > 0.8 for r in results)


def test_missing_tesseract_names_the_install_and_the_rest_of_the_batch_is_stored(
    tmp_path: Path, scans: tuple[Path, Path]
) -> None:
    files, _ = scans
    settings = Settings(data=tmp_path / "data", model="hashing:256", chunk_tokens=64, chunk_overlap=8,
                        ocr_tesseract="/nonexistent/tesseract")
    mixed = tmp_path / "mixed.pdf"
    image, _ = render_page(sample_text("ru"), inches=SHORT_PAGE, margin=0.5)
    mixed.write_bytes(scanned_pdf([image], text_pages={1: sample_text("kk")}))
    with KnowledgeBase(settings) as base:
        report = base.ingest([files / "scan-ru.png", files / "typed.txt", mixed])
    result = {Path(f.path).name: f for f in report.files}
    hint = "apt-get install tesseract-ocr tesseract-ocr-kaz tesseract-ocr-kir tesseract-ocr-rus"
    assert result["scan-ru.png"].status == "failed" and hint in (result["scan-ru.png"].reason or "")
    assert result["typed.txt"].status == "added"
    assert result["mixed.pdf"].status == "added" and result["mixed.pdf"].ocr_pages == 0
    (warning,) = result["mixed.pdf"].warnings
    assert "page(s) 1 need OCR and were left out" in warning and hint in warning


def test_a_long_ocr_that_keeps_reporting_outlives_the_parse_timeout(tmp_path: Path) -> None:
    path = tmp_path / "long.pdf"
    path.write_bytes(b"%PDF-1.4 placeholder")
    limits = replace(ReadLimits.defaults(), parse_timeout_s=1)
    events: list[OcrProgress] = []
    doc = default_pool().read(path, max_bytes=MAX_BYTES, limits=limits, extract=slow_ocr_reader,
                              ocr=OcrOptions(page_timeout=0.5, on_page=events.append))
    assert [page.ocr_confidence for page in doc.pages] == [0.9] * 4 and all(page.ocr for page in doc.pages)
    assert [event.done for event in events] == [0, 1, 2, 3, 4] and events[-1].confidence == 0.9

    with pytest.raises(LimitExceededError, match=r"OCR reported no page for 1.5 s \(PEDKB_OCR_PAGE_TIMEOUT"):
        default_pool().read(path, max_bytes=MAX_BYTES, limits=limits, extract=stalling_ocr_reader,
                            ocr=OcrOptions(page_timeout=0.5))
    child = Path(f"/proc/{path.with_suffix('.pid').read_text()}/stat")  # the worker's "Tesseract" died with it
    deadline = time.monotonic() + 5
    while child.exists() and child.read_text().split(")")[-1].split()[0] != "Z" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not child.exists() or child.read_text().split(")")[-1].split()[0] == "Z"

    with pytest.raises(ParserCrashError, match="the parser process sent a malformed OCR report"):
        default_pool().read(path, max_bytes=MAX_BYTES, limits=limits, extract=lying_ocr_reader)


def test_a_low_confidence_page_is_stored_flagged_and_carried_by_export(backend: Backend) -> None:
    backend.set_meta("model", "test")
    backend.set_meta("dim", "4")
    vector = np.array([1, 0, 0, 0], dtype=np.float32)
    record = DocumentRecord(doc_id="d1", source="/scan.pdf", title=None, fmt="pdf", sha256="0", size=1)
    backend.put_document(record, [
        NewChunk(0, "анық бет", "kk", 1, 0, 8, 2, "k0", vector, ocr=True, ocr_confidence=0.93),
        NewChunk(1, "бұлыңғыр бет", "kk", 2, 0, 12, 2, "k1", vector, ocr=True, ocr_confidence=0.42),
        NewChunk(2, "мәтін қабаты", "kk", 3, 0, 12, 2, "k2", vector),
    ])
    chunks = backend.document_chunks("d1")
    assert [(c.ocr, c.ocr_confidence, c.low_confidence) for c in chunks] == [
        (True, 0.93, False), (True, 0.42, True), (False, None, False)]
    exported = backend.export_document("d1")
    assert exported is not None
    assert [(c.ocr, c.ocr_confidence) for c in exported[1]] == [(True, 0.93), (True, 0.42), (False, None)]
    ids = {c.chunk_id: c.ocr for c in chunks}
    assert {ids[i] for i, _ in backend.search(vector, 10, SearchFilters(ocr=True))} == {True}
    assert {ids[i] for i, _ in backend.search(vector, 10, SearchFilters(ocr=False))} == {False}


def test_a_data_folder_from_before_ocr_gets_the_columns(tmp_path: Path) -> None:
    settings = Settings(data=tmp_path / "data")
    backend = open_backend(settings)
    record = DocumentRecord(doc_id="d1", source="/old.txt", title=None, fmt="txt", sha256="0", size=1)
    backend.put_document(record, [NewChunk(0, "старый текст", "ru", None, 0, 12, 2, "k0", np.ones(8, np.float32))])
    backend.close()
    with sqlite3.connect(settings.data / "pedkb.sqlite3") as db:  # as schema 2 left it
        db.execute("ALTER TABLE chunks DROP COLUMN ocr_confidence")
        db.execute("ALTER TABLE chunks DROP COLUMN ocr")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    backend = open_backend(settings)
    try:
        (chunk,) = backend.document_chunks("d1")
        assert chunk.ocr is False and chunk.ocr_confidence is None
        assert backend.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert backend.filter_documents(SearchFilters(ocr=False))[1] == 1
        assert backend.filter_documents(SearchFilters(ocr=True))[1] == 0
    finally:
        backend.close()


def test_a_postgresql_database_from_before_ocr_is_migrated(tmp_path: Path, pg_server: Any) -> None:
    url = fresh_database(pg_server)
    with psycopg.connect(url, autocommit=True) as conn:  # the database as migrations 1-2 left it, with one chunk
        conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, "
                     "applied timestamptz NOT NULL DEFAULT now())")
        for version, sql in MIGRATIONS[:2]:
            conn.execute(sql)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
        conn.execute("INSERT INTO documents (doc_id, source, fmt, sha256, size, created, updated) "
                     "VALUES ('d1', '/old.txt', 'txt', '0', 1, 0, 0)")
        conn.execute("INSERT INTO chunks (doc_id, ordinal, text, lang, start_offset, end_offset, n_tokens, "
                     "vector_key, embedding) VALUES ('d1', 0, 'старый текст', 'ru', 0, 12, 2, 'k0', '[1,0,0]')")
    backend = open_backend(Settings(data=tmp_path / "data", backend=url))
    try:
        (chunk,) = backend.document_chunks("d1")
        assert chunk.ocr is False and chunk.ocr_confidence is None
        assert backend.filter_documents(SearchFilters(ocr=True))[1] == 0
        assert backend.filter_documents(SearchFilters(ocr=False))[1] == 1
    finally:
        backend.close()


QUERIES = {
    "kk": "Қалыптастырушы бағалау әр оқушының қай жерде қиналып жүргенін уақытында көруге көмектеседі",
    "ky": "Калыптандыруучу баалоо ар бир окуучунун кайсы жерде кыйналып жүргөнүн өз убагында көрүүгө жардам берет",
    "ru": "Формирующее оценивание помогает вовремя заметить, где именно ученик испытывает трудности",
}

# (query language, language filter): own language, across languages, and no filter
GRID = [("kk", ["kk"]), ("ky", ["ky"]), ("kk", ["ky"]), ("ru", ["ky"]), ("ru", None)]


@pytest.mark.slow
def test_a_scanned_passage_ranks_where_its_born_digital_version_does_in_its_language_and_across(
    tmp_path: Path, scans: tuple[Path, Path], real_embedder: Embedder
) -> None:
    """Two banks with the same distractors: one holds the kk and ky texts typed, the other their scan (one PDF);
    every query, in every language and language filter, ranks the scanned pages where it ranks the typed ones."""
    files, cache = scans
    typed = []
    for lang in ("kk", "ky"):
        typed.append(tmp_path / f"{lang}-typed.txt")
        typed[-1].write_text(sample_text(lang), encoding="utf-8")
    distractors = [DATA / "ru_plain.txt", DATA / "ky_narrow.txt", DATA / "kk_kz1048.txt"]
    rankings: dict[str, list[list[tuple[float, str, str, bool]]]] = {}
    firsts: dict[tuple[str, str], tuple[str, int | None]] = {}
    for bank, own in (("typed", typed), ("scanned", [files / "scan.pdf"])):
        settings = Settings(data=tmp_path / bank)
        shutil.copytree(cache, settings.ocr_cache)
        with KnowledgeBase(settings, embedder=real_embedder) as base:
            report = base.ingest([*own, *distractors])
            assert report.count("failed") == 0, report.failed
            rankings[bank] = []
            for query_lang, langs in GRID:
                hits = base.search(QUERIES[query_lang], k=3, langs=langs)
                rankings[bank].append([(round(hit.score, 2), hit.chunk.lang, "twin" if hit.document.source in
                                        {str(p.resolve()) for p in own} else Path(hit.document.source).name,
                                        hit.chunk.ocr) for hit in hits])
                if bank == "scanned" and langs:
                    firsts[(query_lang, langs[0])] = (hits[0].chunk.lang, hits[0].chunk.page)
    for typed_hits, scanned_hits in zip(rankings["typed"], rankings["scanned"], strict=True):
        assert [hit[1:3] for hit in typed_hits] == [hit[1:3] for hit in scanned_hits]
        # calibrated scores are a steep function of the cosine: a rounding-level change of the text moves them a bit
        assert all(abs(t[0] - s[0]) <= 0.05 for t, s in zip(typed_hits, scanned_hits, strict=True)), (
            typed_hits, scanned_hits)
        assert all(hit[3] == (hit[2] == "twin") for hit in scanned_hits)  # the scan's passages are flagged
    assert firsts[("kk", "kk")] == ("kk", 1) and firsts[("ky", "ky")] == ("ky", 2)  # in their own language
    assert firsts[("kk", "ky")] == ("ky", 2) and firsts[("ru", "ky")] == ("ky", 2)  # across languages
