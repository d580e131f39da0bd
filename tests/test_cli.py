"""The `pedkb` command line, run as a user runs it (a subprocess), with the hashing embedder."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import rispy

from search_api.i18n import message

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


# --- readable output, --json, templates, errors in the API's wording, exports ---------------------------------
def test_template_is_valid_for_exp_add_and_ids_are_made_from_the_title(tmp_path: Path, backend_url: str) -> None:
    """On both backends: the template of each language is added as it is; the second copy gets `-2`."""
    data, env = tmp_path / "data", {"PEDKB_BACKEND": backend_url}
    for lang in ("kk", "ru", "ky"):
        template = pedkb("exp", "template", "--lang", lang, data=data, env=env)
        assert template.returncode == 0, template.stderr
        record = json.loads(template.stdout)
        assert record["language"] == lang and "id" not in record
        path = tmp_path / f"{lang}.json"
        path.write_text(template.stdout, encoding="utf-8")
        first = pedkb("exp", "add", str(path), data=data, env=env)
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith(f"added exp-{lang}-")
        second = json.loads(pedkb("exp", "add", str(path), "--json", data=data, env=env).stdout)
        assert second["id"] == first.stdout.split()[1] + "-2" and second["title"] == record["title"]
    listed = pedkb("exp", "list", data=data, env=env)
    assert "\x1b[" not in listed.stdout  # a pipe gets no colour codes
    assert "exp-ky-adabiyat-sabagynda-zhuptuk-debat-2" in listed.stdout and "6 of 6 experiences" in listed.stdout
    assert json.loads(pedkb("exp", "list", "--json", data=data, env=env).stdout)["total"] == 6


def test_exp_add_lists_every_problem_in_the_apis_words(data: Path, tmp_path: Path) -> None:
    record = json.loads(pedkb("exp", "template", "--lang", "ru", data=data).stdout)
    record.update(id="Мой опыт", region="kz-atlantis", year=2031)
    del record["title"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    out = pedkb("exp", "add", str(path), data=data)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert lines[0] == "pedkb: error: experience: 4 problems"
    problems = [line.strip() for line in lines[1:]]
    assert "title is required" in problems
    assert "year must be at most 2026 (got 2031)" in problems
    assert "region: unknown value 'kz-atlantis'" in problems
    assert any(p.startswith("id: 'Мой опыт' is not a valid id: use lowercase Latin letters") for p in problems)
    assert message("unknown_value", "en", field="region", value="kz-atlantis") in problems  # one catalogue
    russian = pedkb("exp", "add", str(path), data=data, env={"LANG": "ru_RU.UTF-8", "LC_ALL": ""})
    assert "поле title обязательно" in russian.stderr
    assert json.loads(pedkb("exp", "list", "--json", data=data).stdout)["total"] == 0


def test_search_table_json_and_exports(data: Path) -> None:
    assert pedkb("kb", "load", data=data).returncode == 0
    table = pedkb("search", "дебаты в парах", "--k", "3", data=data)
    assert table.returncode == 0 and "\x1b[" not in table.stdout
    assert "matching items" in table.stdout and "score" in table.stdout.splitlines()[1]
    payload = json.loads(pedkb("search", "дебаты в парах", "--k", "3", "--json", data=data).stdout)
    ids = [r["doc_id"] for r in payload["results"]]
    assert all(i in table.stdout for i in ids)

    exported = pedkb("search", "дебаты в парах", "--k", "3", "--format", "csv", data=data)
    rows = list(csv.DictReader(io.StringIO(exported.stdout.removeprefix("\ufeff"))))
    assert [r["id"] for r in rows] == ids
    assert all(r["url"].startswith("http://127.0.0.1:8000/#/") for r in rows)
    ris = pedkb("search", "дебаты в парах", "--k", "3", "--format", "ris", "--base-url", "https://kb.example",
                data=data)
    assert [r["id"] for r in rispy.loads(ris.stdout)] == ids and "UR  - https://kb.example/#/" in ris.stdout

    stats = json.loads(pedkb("stats", "--json", data=data).stdout)
    assert stats["documents"]["experience"] == 72
    summary = pedkb("stats", data=data).stdout
    assert "experience" in summary
    runtimes = stats["embedding_runtime"]  # a list: in the table on one line
    assert runtimes and any(line.split()[:1] == ["embedding_runtime"] and ", ".join(runtimes) in line
                            for line in summary.splitlines())
    loaded = json.loads(pedkb("kb", "load", "--json", data=data).stdout)
    assert loaded["experiences"]["unchanged"] == 72
    classified = json.loads(pedkb("classify", "дебаты в парах на уроке", "--json", data=data).stdout)
    assert classified and "technology_id" in classified[0]
    assert "technology" in pedkb("classify", "дебаты в парах на уроке", data=data).stdout
    tech = json.loads(pedkb("tech", "show", "debates", "--json", data=data).stdout)
    for locale, lang in (("ky_KG.UTF-8", "ky"), ("C.UTF-8", "ru")):  # no language asked: ru first, as the API
        shown = pedkb("search", "дебаты", "--type", "technology", "--k", "1", data=data,
                      env={"LANG": locale, "LC_ALL": "", "COLUMNS": "400"})
        assert tech["labels"][lang].split()[0] in shown.stdout, (locale, shown.stdout)
