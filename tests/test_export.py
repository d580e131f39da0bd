"""A page of search results exported as CSV and RIS, read back with real parsers (csv, rispy), on both backends."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
import rispy
from fastapi.testclient import TestClient

from index.knowledge_base import KnowledgeBase
from search_api.app import create_app
from tests.conftest import REPO

QUERY = "дебаты в парах"


@pytest.fixture
def client(kb: KnowledgeBase) -> Iterator[TestClient]:
    kb.bank.load_corpus(REPO / "corpus")
    with TestClient(create_app(kb.settings, kb=kb), raise_server_exceptions=False) as test_client:
        yield test_client


def _page(client: TestClient, **params: object) -> dict:  # type: ignore[type-arg]
    response = client.get("/api/v1/search", params={"q": QUERY, **params})  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_csv_is_the_same_page_as_json_and_opens_in_excel(client: TestClient) -> None:
    params = {"k": 4, "offset": 2, "type": "experience"}
    page = _page(client, **params)
    response = client.get("/api/v1/search", params={"q": QUERY, **params, "format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.content.startswith("\ufeff".encode())  # the BOM Excel needs to read UTF-8
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r["id"] for r in rows] == [r["doc_id"] for r in page["results"]] and len(rows) == 4
    assert [int(r["rank"]) for r in rows] == [3, 4, 5, 6]
    by_id = {r["doc_id"]: r for r in page["results"]}
    for row in rows:
        exp = client.get(f"/api/v1/experiences/{row['id']}").json()
        assert row["title"] == by_id[row["id"]]["title"] == exp["title"]
        assert (row["authors"], row["year"], row["language"]) == (exp["author"], str(exp["year"]), exp["language"])
        assert row["url"] == f"http://testserver/#/experience/{row['id']}"
        assert row["type"] == "experience" and row["technologies"]


def test_ris_has_one_complete_record_per_result(client: TestClient) -> None:
    page = _page(client, k=6)
    response = client.get("/api/v1/search", params={"q": QUERY, "k": 6, "format": "ris"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-research-info-systems")
    text = response.text
    records = rispy.loads(text)
    assert [r["id"] for r in records] == [r["doc_id"] for r in page["results"]]
    for raw in text.strip().split("ER  -")[:-1]:  # every record carries the tags a reference manager needs
        tags = {line[:2] for line in raw.strip().splitlines() if line[2:6] == "  - "}
        assert tags >= {"TY", "TI", "AU", "PY", "LA", "UR"}, raw
    assert text.count("ER  -") == len(page["results"])
    for record, result in zip(records, page["results"], strict=True):
        assert record["title"] == result["title"] and record["language"] == result["lang"]
        assert record["urls"][0].startswith("http://testserver/#/")
        if result["type"] == "experience":
            exp = client.get(f"/api/v1/experiences/{result['doc_id']}").json()
            assert record["authors"] == [exp["author"]] and record["year"] == str(exp["year"])


def test_filters_apply_and_bad_format_is_refused(client: TestClient) -> None:
    response = client.get("/api/v1/search", params={"q": QUERY, "lang": "kk", "k": 5, "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows and {r["language"] for r in rows} == {"kk"}
    bad = client.get("/api/v1/search", params={"q": QUERY, "format": "xlsx"})
    assert bad.status_code == 422 and bad.json()["field"] == "format"
