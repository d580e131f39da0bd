"""The REST API's writing side: API keys, uploads stored safely, documents and experiences changed, concurrency."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from test_api import KEYS, api_settings, build_seeded_data, make_client

from index.embedding.hashing import HashingEmbedder
from index.knowledge_base import KnowledgeBase
from search_api.app import create_app

KEY = {"X-API-Key": KEYS[1]}
DATA = Path(__file__).resolve().parent / "data"
TEXT_RU = "Наставничество для молодых учителей: опытный педагог посещает уроки и обсуждает их с коллегой. " * 8


@pytest.fixture(scope="session")
def seeded_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded data folder shared with test_api (never written: clients work on copies)."""
    return build_seeded_data(tmp_path_factory)


@pytest.fixture
def client(seeded_data: Path, tmp_path: Path) -> Iterator[TestClient]:
    """A client on a fresh copy of the seeded data."""
    yield from make_client(seeded_data, tmp_path / "data")


def data_dir(client: TestClient) -> Path:
    return Path(client.app.state.settings.data)  # type: ignore[attr-defined]


def snapshot(client: TestClient) -> dict[str, Any]:
    """Everything a refused write must leave as it was."""
    uploads = data_dir(client) / "uploads"
    return {
        "stats": client.get("/api/v1/stats").json(),
        "documents": client.get("/api/v1/documents", params={"limit": 500}).json(),
        "experience": client.get("/api/v1/experiences/exp-ru-001").json(),
        "uploads": sorted(str(p.relative_to(uploads)) for p in uploads.rglob("*")) if uploads.exists() else [],
    }


def upload(client: TestClient, *files: tuple[str, bytes], headers: dict[str, str] | None = None,
           **kwargs: Any) -> httpx.Response:
    return client.post("/api/v1/documents", files=[("files", f) for f in files],
                       headers=KEY if headers is None else headers, **kwargs)


def new_experience(**changes: Any) -> dict[str, Any]:
    from search_api.examples import EXPERIENCE_BODY

    return {**EXPERIENCE_BODY["ru"]["value"], "id": "exp-api-test", **changes}


# --- API keys --------------------------------------------------------------------------------------------------
WRITES = [
    ("post", "/api/v1/documents", {"files": [("files", ("x.txt", TEXT_RU.encode()))]}),
    ("post", "/api/v1/experiences", {"json": new_experience()}),
    ("put", "/api/v1/experiences/exp-ru-001", {"json": new_experience(id="exp-ru-001", title="Changed")}),
    ("delete", "/api/v1/experiences/exp-ru-001", {}),
    ("delete", "/api/v1/documents/{doc}", {}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
@pytest.mark.parametrize(("headers", "status", "error"), [
    ({}, 401, "api_key_required"),
    ({"X-API-Key": ""}, 401, "api_key_required"),
    ({"Authorization": "Basic a2V5LW9uZTo="}, 401, "api_key_required"),
    ({"X-API-Key": "key-three"}, 403, "api_key_invalid"),
    ({"Authorization": "Bearer key-onee"}, 403, "api_key_invalid"),
    ({"X-API-Key": "KEY-ONE"}, 403, "api_key_invalid"),
])  # fmt: skip
def test_refused_writes_change_nothing(client: TestClient, method: str, path: str, body: dict[str, Any],
                                       headers: dict[str, str], status: int, error: str) -> None:
    doc = client.get("/api/v1/documents").json()["items"][0]["doc_id"]
    before = snapshot(client)
    response = client.request(method, path.format(doc=doc), headers=headers, **body)
    assert response.status_code == status
    assert response.json()["error"] == error
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert snapshot(client) == before


def test_both_keys_and_both_headers_are_accepted(client: TestClient) -> None:
    for i, headers in enumerate(({"X-API-Key": KEYS[0]}, {"Authorization": f"Bearer {KEYS[1]}"})):
        response = upload(client, (f"file-{i}.txt", TEXT_RU.encode()), headers=headers)
        assert response.status_code == 200 and response.json()["added"] == 1


def test_key_is_checked_before_the_body_is_read(client: TestClient) -> None:
    response = client.post("/api/v1/experiences", content=b"{broken", headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    response = client.post("/api/v1/documents", content=b"garbage", headers={"Content-Type": "text/plain"})
    assert response.status_code == 401


def test_no_configured_keys_means_read_only(seeded_data: Path, tmp_path: Path) -> None:
    for client in make_client(seeded_data, tmp_path / "data", api_keys=[]):
        response = upload(client, ("a.txt", TEXT_RU.encode()), headers={"X-API-Key": "anything"})
        assert response.status_code == 403 and response.json()["error"] == "writes_disabled"
        assert client.get("/api/v1/search", params={"q": "учителей"}).status_code == 200


# --- uploads ---------------------------------------------------------------------------------------------------
def test_upload_name_cannot_escape_the_upload_folder(client: TestClient) -> None:
    response = upload(client, ("../../etc/passwd", TEXT_RU.encode()), ("..\\..\\boot.txt", TEXT_RU.encode()),
                      ("/etc/../../x.ini", TEXT_RU.encode()), (".", TEXT_RU.encode()))
    assert response.status_code == 200
    files = response.json()["files"]
    assert [f["source"] for f in files] == ["upload/passwd", "upload/boot.txt", "upload/x.ini", None]
    assert [f["status"] for f in files] == ["added", "added", "failed", "failed"]  # .ini is not a format we read
    uploads = data_dir(client) / "uploads"
    assert (uploads / "passwd").read_bytes() == TEXT_RU.encode()
    kept = [p for p in data_dir(client).parent.rglob("*") if p.is_file() and p.read_bytes() == TEXT_RU.encode()]
    assert sorted(p.relative_to(uploads).as_posix() for p in kept) == ["boot.txt", "passwd"]


def test_files_without_a_usable_name_are_refused_not_merged(client: TestClient) -> None:
    before = client.get("/api/v1/stats").json()["documents"]
    texts = {name: (TEXT_RU + f" Файл {i}.").encode() for i, name in enumerate([".", "..", "", "???", "a/.."])}
    parts = b"".join(b'--b\r\nContent-Disposition: form-data; name="files"; filename="%s"\r\n\r\n%s\r\n'
                     % (name.encode(), text) for name, text in texts.items())  # httpx drops filename=""
    response = client.post("/api/v1/documents", content=parts + b"--b--\r\n",
                           headers={**KEY, "Accept-Language": "ru", "Content-Type": "multipart/form-data; boundary=b"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "nothing_ingested" and body["field"] == "files"
    assert body["detail"].count("нет пригодного имени") == len(texts)
    assert client.get("/api/v1/stats").json()["documents"] == before
    assert not (data_dir(client) / "uploads").exists() or not any((data_dir(client) / "uploads").iterdir())
    mixed = upload(client, ("..", TEXT_RU.encode()), ("named.txt", TEXT_RU.encode())).json()
    assert [(f["filename"], f["status"], f["source"]) for f in mixed["files"]] == [
        ("..", "failed", None), ("named.txt", "added", "upload/named.txt")]
    assert "no usable name" in mixed["files"][0]["message"]


def test_reupload_replaces_the_document_and_reports_each_status(client: TestClient) -> None:
    first = upload(client, ("plan.txt", TEXT_RU.encode())).json()
    assert first["added"] == 1
    doc_id = first["files"][0]["doc_id"]
    again = upload(client, ("plan.txt", TEXT_RU.encode()), headers={**KEY, "Accept-Language": "ru"}).json()
    assert again["files"][0]["status"] == "unchanged" and again["files"][0]["message"] == "без изменений"
    changed = upload(client, ("plan.txt", (TEXT_RU + " Жаңа бөлім.").encode())).json()["files"][0]
    assert changed["status"] == "updated" and changed["doc_id"] == doc_id
    sources = [d["source"] for d in client.get("/api/v1/documents").json()["items"]]
    assert sources.count("upload/plan.txt") == 1
    assert (data_dir(client) / "uploads" / "plan.txt").read_bytes().endswith("Жаңа бөлім.".encode())


def test_failed_files_leave_nothing_and_do_not_stop_the_others(client: TestClient) -> None:
    before = client.get("/api/v1/stats").json()["documents"]["document"]
    response = upload(client, ("empty.txt", b""), ("good.txt", TEXT_RU.encode()),
                      ("truncated.pdf", (DATA / "truncated.pdf").read_bytes()),
                      headers={**KEY, "Accept-Language": "kk"})
    body = response.json()
    assert response.status_code == 200 and (body["added"], body["failed"]) == (1, 2)
    empty, good, truncated = body["files"]
    assert empty["status"] == "failed" and "empty" in empty["reason"] and empty["doc_id"] is None
    assert empty["message"].startswith("қабылданбады: ")
    assert truncated["status"] == "failed" and "truncated" in truncated["reason"]
    assert good["status"] == "added" and good["message"] == f"қосылды: {good['chunks']} фрагмент"
    uploads = data_dir(client) / "uploads"
    assert sorted(p.name for p in uploads.iterdir() if p.is_file()) == ["good.txt"]
    assert not (uploads / ".incoming").exists()
    assert client.get("/api/v1/stats").json()["documents"]["document"] == before + 1


def test_upload_where_every_file_fails_is_422(client: TestClient) -> None:
    before = snapshot(client)
    response = upload(client, ("a.zip", b"PK\x03\x04broken"), ("b.txt", b""), headers={**KEY, "Accept-Language": "ru"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "nothing_ingested" and body["field"] == "files"
    assert body["detail"].startswith("ни один файл не принят: a.zip: не принят: ")
    assert "; b.txt: не принят: " in body["detail"]
    assert snapshot(client) == before


def test_upload_limits(seeded_data: Path, tmp_path: Path) -> None:
    for client in make_client(seeded_data, tmp_path / "data", max_file_mb=0.002, max_upload_mb=0.02,
                              max_upload_files=3):
        big = upload(client, ("big.txt", b"word " * 1000), ("small.txt", TEXT_RU.encode()[:1500]),
                     headers={**KEY, "Accept-Language": "ru"}).json()
        assert [f["status"] for f in big["files"]] == ["failed", "added"]
        assert big["files"][0]["message"] == "файл слишком большой: 0.0 MB при пределе 0.002 MB"
        assert not (data_dir(client) / "uploads" / "big.txt").exists()
        many = upload(client, *[(f"{i}.txt", b"a b c") for i in range(4)])
        assert many.status_code == 422 and many.json() == {
            "error": "too_many_files", "detail": "too many files in one request: at most 3", "field": "files",
            "problems": [{"error": "too_many_files", "detail": "too many files in one request: at most 3",
                          "field": "files"}]}
        huge = upload(client, ("a.txt", b"x" * 30_000))
        assert huge.status_code == 413 and huge.json()["error"] == "body_too_large"
        none = client.post("/api/v1/documents", files=[("note", (None, b"no file"))], headers=KEY)
        assert none.status_code == 422 and none.json()["error"] == "no_files"
        wrong = client.post("/api/v1/documents", json={"files": []}, headers=KEY)
        assert wrong.status_code == 415 and wrong.json()["error"] == "unsupported_media_type"


def test_uploaded_document_is_searchable_readable_and_deletable(client: TestClient) -> None:
    doc_id = upload(client, ("ментор.txt", TEXT_RU.encode())).json()["files"][0]["doc_id"]
    hits = client.get("/api/v1/search", params={"q": "наставничество молодых учителей", "type": "document"})
    assert doc_id in [r["doc_id"] for r in hits.json()["results"]]
    detail = client.get(f"/api/v1/documents/{doc_id}").json()
    assert detail["source"] == "upload/ментор.txt" and len(detail["chunk_list"]) == detail["chunks"] > 0
    assert [c["ordinal"] for c in detail["chunk_list"]] == sorted(c["ordinal"] for c in detail["chunk_list"])
    assert client.delete(f"/api/v1/documents/{doc_id}", headers=KEY).status_code == 204
    assert client.get(f"/api/v1/documents/{doc_id}").status_code == 404
    assert client.delete(f"/api/v1/documents/{doc_id}", headers=KEY).json()["error"] == "document_not_found"
    assert not (data_dir(client) / "uploads" / "ментор.txt").exists()
    refused = client.delete("/api/v1/documents/exp-ru-001", headers=KEY)
    assert refused.status_code == 409 and client.get("/api/v1/experiences/exp-ru-001").status_code == 200


# --- experiences -------------------------------------------------------------------------------------------------
def test_experience_create_update_delete(client: TestClient) -> None:
    created = client.post("/api/v1/experiences", json=new_experience(), headers=KEY)
    assert created.status_code == 201 and created.headers["location"] == "/api/v1/experiences/exp-api-test"
    assert client.get("/api/v1/experiences/exp-api-test").json()["title"] == new_experience()["title"]
    again = client.post("/api/v1/experiences", json=new_experience(), headers=KEY)
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    body = {k: v for k, v in new_experience(title="Дебаты в парах: зеркальщики").items() if k != "id"}
    updated = client.put("/api/v1/experiences/exp-api-test", json=body, headers=KEY)
    assert updated.status_code == 200 and updated.json()["title"] == "Дебаты в парах: зеркальщики"
    hits = client.get("/api/v1/search", params={"q": "зеркальщики", "region": "kz-pavlodar", "k": 50}).json()
    found = [r for r in hits["results"] if r["doc_id"] == "exp-api-test"]
    assert found and any("зеркальщики" in r["text"] for r in found)
    assert client.delete("/api/v1/experiences/exp-api-test", headers=KEY).status_code == 204
    assert client.get("/api/v1/experiences/exp-api-test").status_code == 404
    assert client.put("/api/v1/experiences/exp-api-test", json=body, headers=KEY).status_code == 404


@pytest.mark.parametrize(("record", "status", "error", "field"), [
    (new_experience(region="atlantis"), 422, "invalid_value", "region"),
    (new_experience(technologies=["debates", "telepathy"]), 422, "invalid_value", "technologies[1]"),
    (new_experience(year=2031), 422, "too_large", "year"),
    ({**new_experience(), "colour": "red"}, 422, "unknown_field", "colour"),
    ({k: v for k, v in new_experience().items() if k != "title"}, 422, "missing_field", "title"),
    (new_experience(id="Bad Id"), 422, "invalid_id", "id"),
])  # fmt: skip
def test_invalid_experience_is_refused_naming_the_field(client: TestClient, record: dict[str, Any], status: int,
                                                        error: str, field: str) -> None:
    before = client.get("/api/v1/stats").json()
    response = client.post("/api/v1/experiences", json=record, headers=KEY)
    assert response.status_code == status
    assert (response.json()["error"], response.json()["field"]) == (error, field)
    assert client.get("/api/v1/stats").json() == before


def test_experience_without_id_gets_a_readable_unique_one(client: TestClient) -> None:
    body = {k: v for k, v in new_experience(title="Дебаты в парах на уроках истории").items() if k != "id"}
    first = client.post("/api/v1/experiences", json=body, headers=KEY)
    second = client.post("/api/v1/experiences", json={**body, "id": None}, headers=KEY)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] == "exp-ru-debaty-v-parakh-na-urokakh-istorii"
    assert second.headers["location"] == "/api/v1/experiences/exp-ru-debaty-v-parakh-na-urokakh-istorii-2"
    assert client.get(second.headers["location"]).json()["title"] == body["title"]


def test_every_problem_of_a_record_is_listed_at_once_in_the_readers_language(client: TestClient) -> None:
    before = client.get("/api/v1/stats").json()
    bad = new_experience(id="Мой опыт 1", region="kz-atlantis", year=2031, technologies=["debates", "telepathy"])
    del bad["title"]
    response = client.post("/api/v1/experiences", json=bad, headers={**KEY, "Accept-Language": "kk"})
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"error", "detail", "field", "problems"}  # the old fields stay, the list is added
    problems = {p["field"]: p for p in body["problems"]}
    assert set(problems) == {"id", "title", "year", "region", "technologies[1]"}
    assert body["field"] in problems
    assert problems["id"]["error"] == "invalid_id" and "жарамсыз id" in problems["id"]["detail"]
    assert "pattern" not in problems["id"]["detail"] and "^[a-z" not in problems["id"]["detail"]
    assert problems["title"]["error"] == "missing_field" and "міндетті" in problems["title"]["detail"]
    assert problems["region"] == {"field": "region", "error": "unknown_value",
                                  "detail": "region: белгісіз мән «kz-atlantis»"}
    assert problems["year"]["error"] == "too_large"
    assert client.get("/api/v1/stats").json() == before
    only_vocabulary = client.post("/api/v1/experiences", json=new_experience(region="x", stage="y"), headers=KEY)
    assert only_vocabulary.status_code == 422
    assert {p["field"] for p in only_vocabulary.json()["problems"]} == {"region", "stage"}


def test_update_with_another_id_is_refused(client: TestClient) -> None:
    response = client.put("/api/v1/experiences/exp-ru-001", json=new_experience(id="exp-ru-002"), headers=KEY)
    assert response.status_code == 409 and response.json()["error"] == "id_mismatch"
    assert client.get("/api/v1/experiences/exp-ru-002").json()["id"] == "exp-ru-002"


# --- concurrency -------------------------------------------------------------------------------------------------
def test_searches_answer_while_an_upload_is_ingesting(seeded_data: Path, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(seeded_data, tmp_path / "data")
    settings = api_settings(tmp_path / "data")
    kb = KnowledgeBase(settings, embedder=HashingEmbedder(256))
    started, release = threading.Event(), threading.Event()
    ingest_file = kb.ingest_file

    def slow_ingest(path: Path, **kwargs: Any) -> Any:
        started.set()
        assert release.wait(20), "the test never released the upload"
        return ingest_file(path, **kwargs)

    kb.ingest_file = slow_ingest  # type: ignore[method-assign]

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=create_app(settings, kb=kb))
        async with httpx.AsyncClient(transport=transport, base_url="http://pedkb") as http:
            pending = asyncio.create_task(http.post("/api/v1/documents", headers=KEY,
                                                    files=[("files", ("slow.txt", TEXT_RU.encode()))]))
            assert await asyncio.to_thread(started.wait, 10)
            for _ in range(3):
                health = await asyncio.wait_for(http.get("/api/v1/health"), 5)
                found = await asyncio.wait_for(http.get("/api/v1/search", params={"q": "дебаты"}), 5)
                assert health.status_code == found.status_code == 200
            assert not pending.done()
            release.set()
            response = await asyncio.wait_for(pending, 20)
            assert response.status_code == 200 and response.json()["added"] == 1

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        kb.close()
