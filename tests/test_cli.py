"""The `pedkb` command line, run as a user runs it (a subprocess), with the hashing embedder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"


def pedkb(*args: str, data: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m cli` with the hashing model on a data folder."""
    full_env = {**os.environ, "PEDKB_MODEL": "hashing:256", "PEDKB_CHUNK_TOKENS": "64",
                "PEDKB_CHUNK_OVERLAP": "8", **(env or {})}
    return subprocess.run([sys.executable, "-m", "cli", "--data", str(data), "-q", *args], cwd=REPO,
                          env=full_env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_ingest_search_docs_delete(data: Path) -> None:
    good = [DATA / "kk_ru_bilingual.txt", DATA / "ky_narrow.txt", DATA / "ru_cp1251.txt", DATA / "guide.docx",
            DATA / "three_pages.pdf", DATA / "page.html"]
    done = pedkb("ingest", *map(str, good), data=data)
    assert done.returncode == 0, done.stderr
    assert "6 added, 0 updated, 0 unchanged, 0 failed" in done.stdout

    again = pedkb("ingest", *map(str, good), data=data)
    assert "0 added, 0 updated, 6 unchanged, 0 failed" in again.stdout

    docs = json.loads(pedkb("docs", "--json", data=data).stdout)
    assert len(docs) == 6
    by_name = {Path(d["source"]).name: d for d in docs}
    assert by_name["ky_narrow.txt"]["languages"] == ["ky"]
    assert set(by_name["kk_ru_bilingual.txt"]["languages"]) == {"kk", "ru"}

    out = pedkb("search", "мугалим", "--k", "3", "--json", data=data)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["query"] == "мугалим"
    assert 1 <= len(payload["results"]) <= 3
    for result in payload["results"]:
        assert set(result) >= {"doc_id", "chunk_id", "source", "title", "lang", "page", "text", "score"}

    only_ky = json.loads(pedkb("search", "мугалим", "--lang", "ky", "--json", data=data).stdout)
    assert only_ky["results"] and {r["lang"] for r in only_ky["results"]} == {"ky"}

    pdf_hits = [r for r in json.loads(pedkb("search", "page", "--k", "50", "--json", data=data).stdout)["results"]
                if r["source"].endswith(".pdf")]
    assert pdf_hits and all(r["page"] in (1, 2, 3) for r in pdf_hits)

    gone = by_name["ky_narrow.txt"]["doc_id"]
    assert pedkb("delete", gone, data=data).returncode == 0
    assert len(json.loads(pedkb("docs", "--json", data=data).stdout)) == 5
    missing = pedkb("delete", gone, data=data)
    assert missing.returncode == 1 and gone in missing.stderr


def test_ingest_names_each_failed_file_and_exits_1(data: Path, tmp_path: Path) -> None:
    bad = [DATA / "empty.txt", DATA / "junk.pdf", DATA / "encrypted.pdf", DATA / "scanned.pdf",
           DATA / "truncated.pdf", tmp_path / "nowhere.txt"]
    done = pedkb("ingest", str(DATA / "ru_plain.txt"), *map(str, bad), data=data)
    assert done.returncode == 1
    assert "1 added, 0 updated, 0 unchanged, 6 failed" in done.stdout
    for path in bad:
        assert f"failed: {path}:" in done.stdout
    assert "no text layer" in done.stdout and "encrypted" in done.stdout.lower()


def test_lang_command() -> None:
    cases = {"Мұғалімдердің кәсіби дамуы": "kk", "Мугалимдердин кесиптик өнүгүүсү": "ky",
             "Профессиональное развитие учителей": "ru", "Teachers' professional development": "en"}
    for text, lang in cases.items():
        out = subprocess.run([sys.executable, "-m", "cli", "lang", text], cwd=REPO, capture_output=True,
                             text=True, timeout=60)
        assert out.stdout.strip() == lang, (text, out.stdout, out.stderr)


def test_bad_configuration_is_named(data: Path) -> None:
    out = pedkb("docs", data=data, env={"PEDKB_CHUNK_TOKENS": "lots"})
    assert out.returncode == 2 and "PEDKB_CHUNK_TOKENS" in out.stderr


def test_model_mismatch_message(data: Path) -> None:
    assert pedkb("ingest", str(DATA / "ru_plain.txt"), data=data).returncode == 0
    out = pedkb("search", "учитель", data=data, env={"PEDKB_MODEL": "hashing:64"})
    assert out.returncode == 1 and "pedkb reindex" in out.stderr
    assert pedkb("reindex", data=data, env={"PEDKB_MODEL": "hashing:64"}).returncode == 0
    assert pedkb("search", "учитель", data=data, env={"PEDKB_MODEL": "hashing:64"}).returncode == 0
