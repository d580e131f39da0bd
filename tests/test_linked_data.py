"""GET /api/v1/experiences/{id} as schema.org LearningResource JSON-LD on request, on every backend."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient

from index.knowledge_base import KnowledgeBase, TransitionRequest
from search_api.app import create_app
from tests.conftest import REPO

EXP = "exp-ru-001"


@pytest.fixture
def client(kb: KnowledgeBase) -> TestClient:
    kb.bank.load_corpus(REPO / "corpus")
    return TestClient(create_app(kb.settings, kb=kb), raise_server_exceptions=False)


def test_json_ld_on_request(client: TestClient, kb: KnowledgeBase) -> None:
    exp = kb.bank.get(EXP)
    response = client.get(f"/api/v1/experiences/{EXP}", headers={"Accept": "application/ld+json"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/ld+json")
    assert "Accept" in response.headers["vary"]
    data = json.loads(response.text)
    assert data["@context"] == "https://schema.org" and data["@type"] == "LearningResource"
    assert data["name"] == exp.title and data["inLanguage"] == "ru" and data["teaches"] == exp.goal
    assert [t["termCode"] for t in data["about"]] == list(exp.technologies)
    assert all(t["@type"] == "DefinedTerm" and t["name"] and t["@id"].endswith(f"#/technology/{t['termCode']}")
               for t in data["about"])
    assert [level["termCode"] for level in data["educationalLevel"]] == [str(g) for g in exp.grades]
    assert data["url"] == f"http://testserver/#/experience/{EXP}"
    modified = dt.datetime.fromisoformat(data["dateModified"])
    assert abs(modified.timestamp() - kb.backend.get_document(EXP).updated) < 1  # type: ignore[union-attr]
    stage_label = {"disseminated": "Disseminated", "generalised": "Generalised", "studied": "Studied",
                   "identified": "Identified", "implemented": "Implemented"}[exp.stage]
    assert data["creativeWorkStatus"] == stage_label


def test_the_stage_and_date_follow_a_transition(client: TestClient, kb: KnowledgeBase) -> None:
    before = client.get("/api/v1/experiences/exp-kk-017", headers={"Accept": "application/ld+json"}).json()
    assert before["creativeWorkStatus"] == "Identified"
    kb.record_transition("exp-kk-017", TransitionRequest(stage="studied", by="M", evidence_kind="report",
                                                         evidence="r"))
    after = client.get("/api/v1/experiences/exp-kk-017", headers={"Accept": "application/ld+json"}).json()
    assert after["creativeWorkStatus"] == "Studied" and after["dateModified"] >= before["dateModified"]


@pytest.mark.parametrize("backend_url", ["faiss"], indirect=True)
@pytest.mark.parametrize(
    ("accept", "linked"),
    [("application/json", False), ("*/*", False), ("", False), ("application/ld+json;q=0.5, application/json", False),
     ("application/json;q=0.5, application/ld+json", True), ("application/ld+json;q=0", False)],
)
def test_plain_json_stays_the_default(client: TestClient, accept: str, linked: bool) -> None:
    response = client.get(f"/api/v1/experiences/{EXP}", headers={"Accept": accept} if accept else {})
    assert response.status_code == 200
    body = response.json()
    assert ("@context" in body) is linked and ("id" in body) is not linked


@pytest.mark.parametrize("backend_url", ["faiss"], indirect=True)
def test_a_missing_experience_is_404_either_way(client: TestClient) -> None:
    for accept in ("application/ld+json", "application/json"):
        response = client.get("/api/v1/experiences/exp-none", headers={"Accept": accept})
        assert response.status_code == 404 and response.json()["error"] == "experience_not_found"
