"""The API routes behind the page's new screens: similar projects for an uploaded file (read, never stored) and
every invalid field of an experience reported at once (the editor shows each beside its field)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.test_api import KEYS, make_client

REPO = Path(__file__).resolve().parents[1]
MENTORING = REPO / "corpus" / "documents" / "ru-mentoring-young-teachers.txt"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from tests.test_api import build_seeded_data

    yield from make_client(build_seeded_data(tmp_path_factory), tmp_path_factory.mktemp("web-analysis") / "data")


def listing(client: TestClient) -> list[str]:
    return sorted(d["doc_id"] for d in client.get("/api/v1/documents", params={"limit": 500}).json()["items"])


def test_similar_to_a_file_reads_it_without_storing_it(client: TestClient, tmp_path: Path) -> None:
    before = listing(client)
    data = Path(client.app.state.settings.data)  # type: ignore[attr-defined]
    files_before = sorted(p.relative_to(data) for p in data.rglob("*") if p.is_file())
    with MENTORING.open("rb") as file:
        answer = client.post("/api/v1/similar/file", params={"k": 5},
                             files={"file": ("наставничество.txt", file, "text/plain")})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["filename"] == "наставничество.txt" and body["chars"] > 200 and body["truncated"] is False
    assert 0 < len(body["similar"]) <= 5 and {s["type"] for s in body["similar"]} <= {"experience", "document"}
    assert all(s["passage"] and s["reason"] for s in body["similar"])
    assert body["technologies"] and set(body["technologies"][0]["labels"]) == {"kk", "ru", "ky", "en"}
    # the same document as pasted text finds the same neighbours as /similar
    by_text = client.post("/api/v1/similar", json={"text": MENTORING.read_text(encoding="utf-8")[:20_000], "k": 5})
    assert [s["doc_id"] for s in by_text.json()] == [s["doc_id"] for s in body["similar"]]
    assert listing(client) == before  # nothing was added
    assert sorted(p.relative_to(data) for p in data.rglob("*") if p.is_file()) == files_before


def test_similar_to_a_file_docx_and_errors(client: TestClient) -> None:
    with (REPO / "tests" / "data" / "guide.docx").open("rb") as file:
        docx = client.post("/api/v1/similar/file", files={"file": ("guide.docx", file)})
    assert docx.status_code == 200, docx.text
    assert docx.json()["chars"] > 0 and docx.json()["filename"] == "guide.docx"
    junk = client.post("/api/v1/similar/file", files={"file": ("junk.pdf", b"%PDF-1.4 not really", "application/pdf")},
                       headers={"Accept-Language": "ru"})
    assert junk.status_code == 422 and junk.json()["error"] == "input_error", junk.text
    none = client.post("/api/v1/similar/file", data={"x": "1"}, files={"other": ("", b"")})
    assert none.status_code == 422, none.text
    json_body = client.post("/api/v1/similar/file", json={"text": "x"})
    assert json_body.status_code == 415 and json_body.json()["error"] == "unsupported_media_type"
    big_k = client.post("/api/v1/similar/file", params={"k": 100_000}, files={"file": ("a.txt", b"text")})
    assert big_k.status_code == 422 and big_k.json()["field"] == "k"


def test_every_invalid_field_of_an_experience_is_reported_at_once(client: TestClient) -> None:
    record = {"id": "Bad Id", "language": "kk", "title": "", "summary": "", "problem": "p", "goal": "g",
              "method": "m", "stages": [], "results": "r", "author": "a", "organisation": "o", "region": "",
              "subject": "math", "grades": [5], "technologies": ["debates"],
              "innovation": {"scale": "local", "significance": "isolated", "origin": "new", "novelty": "relative"},
              "experience_kind": "individual", "stage": "described", "year": 1990}
    answer = client.post("/api/v1/experiences", json=record, headers={"X-API-Key": KEYS[0], "Accept-Language": "kk"})
    assert answer.status_code == 422, answer.text
    body = answer.json()
    fields = [e["field"] for e in body["problems"]]
    assert set(fields) >= {"id", "title", "summary", "stages", "region", "year"}, fields
    assert body["field"] == fields[0] and body["detail"] == body["problems"][0]["detail"]
    by_field = {e["field"]: e for e in body["problems"]}
    assert by_field["title"]["error"] == "empty_value" and by_field["region"]["error"] == "empty_value"
    assert by_field["year"]["error"] == "too_small" and "бос болмауы керек" in by_field["title"]["detail"]
    one = client.post("/api/v1/classify", json={"text": "  "})
    assert one.status_code == 422 and len(one.json()["problems"]) == 1  # a single problem: a list of one
