"""The REST API's reading side: search, pagination, filters, limits, errors and their languages, OpenAPI."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from index.embedding.hashing import HashingEmbedder
from index.knowledge_base import KnowledgeBase
from pedkb.limits import DEFAULT_SEARCH_MODE, SEARCH_MODES
from pedkb.settings import Settings
from search_api.app import create_app

REPO = Path(__file__).resolve().parents[1]
KEYS = ["key-one", "key-two"]


_SEEDED: list[Path] = []


def build_seeded_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with the corpus (technologies, experiences, documents), built once with the hashing model."""
    if not _SEEDED:
        data = tmp_path_factory.mktemp("api-seed") / "data"
        with KnowledgeBase(api_settings(data), embedder=HashingEmbedder(256)) as kb:
            kb.bank.load_corpus(kb.settings.corpus)
            report = kb.ingest([REPO / "corpus" / "documents"])
            assert report.count("failed") == 0, report.failed
        _SEEDED.append(data)
    return _SEEDED[0]


@pytest.fixture(scope="session")
def seeded_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded data folder (never written: clients work on copies)."""
    return build_seeded_data(tmp_path_factory)


def api_settings(data: Path, **overrides: object) -> Settings:
    """Test settings: hashing model, small chunks, two API keys."""
    values: dict[str, object] = dict(data=data, model="hashing:256", chunk_tokens=64, chunk_overlap=8,
                                     api_keys=KEYS, cors_origins=["https://school.example"])
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def make_client(seeded: Path, target: Path, **overrides: object) -> Iterator[TestClient]:
    """A client on a private copy of the seeded data folder."""
    shutil.copytree(seeded, target)
    settings = api_settings(target, **overrides)
    with KnowledgeBase(settings, embedder=HashingEmbedder(256)) as kb:
        with TestClient(create_app(settings, kb=kb), raise_server_exceptions=False) as client:
            yield client


@pytest.fixture(scope="module")
def client(seeded_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A read-only client shared by this module."""
    yield from make_client(seeded_data, tmp_path_factory.mktemp("api-read") / "data")


def search(client: TestClient, **params: object) -> dict:  # type: ignore[type-arg]
    response = client.get("/api/v1/search", params=params)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


# --- search ----------------------------------------------------------------------------------------------------
def test_search_result_shape_and_marked_snippet(client: TestClient) -> None:
    body = search(client, q="дебаты в парах по истории", k=5)
    assert body["query"] == "дебаты в парах по истории" and body["mode"] == DEFAULT_SEARCH_MODE
    assert len(body["results"]) == 5
    top = body["results"][0]
    assert set(top) >= {"type", "doc_id", "chunk_id", "title", "lang", "page", "score", "technologies", "source",
                        "snippet", "highlights", "snippet_html", "text"}
    marked = [top["snippet"][a:b].lower() for a, b in top["highlights"]]
    assert marked and all(word[:4] in ("деба", "пара", "исто") for word in marked), marked
    assert "<mark>" in top["snippet_html"]
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)


def test_a_search_takes_one_thread_hop(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The search itself runs on a worker thread; its dependencies (knowledge base, settings, search log,
    readiness, rate limit) answer on the event loop and its answer is sent as built: one hop per search, where
    sync dependencies and FastAPI's check of the returned model took eight."""
    assert client.app.state.warmup.wait()  # type: ignore[attr-defined]  # a worker still warming up waits on a thread
    hops: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(func, "__name__", repr(func)))
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    search(client, q="дебаты в парах", k=3)
    assert len(hops) == 1, hops
    assert client.post("/api/v1/search", json={"q": "дебаты в парах", "k": 3}).status_code == 200
    assert len(hops) == 2, hops


def test_pages_have_no_duplicates_and_no_gaps(client: TestClient) -> None:
    whole = [r["chunk_id"] for r in search(client, q="оқушылар жұпта жұмыс", k=40)["results"]]
    paged: list[int] = []
    offset: int | None = 0
    while offset is not None and len(paged) < 40:
        page = search(client, q="оқушылар жұпта жұмыс", k=7, offset=offset)
        paged += [r["chunk_id"] for r in page["results"]]
        offset = page["next_offset"]
    assert len(set(paged)) == len(paged)
    assert paged[:40] == whole


def test_post_search_equals_get(client: TestClient) -> None:
    params = {"q": "наставничество молодых учителей", "k": 6, "offset": 2, "lang": ["ru", "kk"]}
    by_get = search(client, **params)
    by_post = client.post("/api/v1/search", json=params)
    assert by_post.status_code == 200
    assert [r["chunk_id"] for r in by_post.json()["results"]] == [r["chunk_id"] for r in by_get["results"]]


def test_filters_restrict_results(client: TestClient) -> None:
    only_kk = search(client, q="мұғалім", k=20, lang="kk")["results"]
    assert only_kk and {r["lang"] for r in only_kk} == {"kk"}
    docs = search(client, q="мұғалім", k=20, type="document")["results"]
    assert docs and {r["type"] for r in docs} == {"document"}
    debates = search(client, q="дебаты", k=20, type="experience", technology="debates")["results"]
    assert debates and all("debates" in r["technologies"] for r in debates)
    recent = search(client, q="дебаты", k=20, year_min=2024, grade=[9, 10])["results"]
    for hit in recent:
        exp = client.get(f"/api/v1/experiences/{hit['doc_id']}").json()
        assert exp["year"] >= 2024 and {9, 10} & set(exp["grades"])


@pytest.mark.parametrize(("params", "status", "error", "field"), [
    ({"q": "x", "region": "atlantis"}, 422, "unknown_value", "region"),
    ({"q": "x", "technology": ["debates", "no-such-tech"]}, 422, "unknown_value", "technology[1]"),
    ({"q": "x", "mode": "telepathic"}, 422, "invalid_value", "mode"),
    ({"q": "x", "langs": "kk"}, 422, "unknown_field", "langs"),
    ({"q": "x", "k": 0}, 422, "too_small", "k"),
    ({"q": "x", "k": 101}, 422, "too_large", "k"),
    ({"q": "x", "offset": 1001}, 422, "too_large", "offset"),
    ({"q": "x", "offset": -1}, 422, "too_small", "offset"),
    ({"q": "x", "k": "ten"}, 422, "invalid_value", "k"),
    ({"q": "x" * 1001}, 422, "query_too_long", "q"),
    ({"q": "   "}, 422, "empty_value", "q"),
    ({}, 422, "missing_field", "q"),
    ({"q": "x", "grade": 12}, 422, "too_large", "grade[0]"),
    ({"q": "x", "k": "true"}, 422, "invalid_value", "k"),
])  # fmt: skip
def test_bad_search_parameters_say_what_is_wrong(client: TestClient, params: dict, status: int, error: str,  # type: ignore[type-arg]
                                                 field: str) -> None:
    response = client.get("/api/v1/search", params=params)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error and body["field"] == field, body
    assert set(body) == {"error", "detail", "field", "problems"} and body["detail"]
    assert body["problems"][0] == {k: body[k] for k in ("error", "detail", "field")}  # the first, listed again


def test_queries_that_can_match_nothing_answer_empty(client: TestClient) -> None:
    for params in ({"q": "дебаты", "year_min": 2024, "year_max": 2020}, {"q": "?!"}, {"q": "\x1f"}):
        body = search(client, **params)
        assert body["results"] == [] and body["next_offset"] is None
    assert client.get("/api/v1/experiences", params={"year_min": 2025, "year_max": 2016}).json()["total"] == 0
    assert client.post("/api/v1/classify", json={"text": "…"}).json() == []


def test_limits_name_the_configured_bound(client: TestClient) -> None:
    body = client.get("/api/v1/search", params={"q": "x", "k": 150}).json()
    assert body["detail"] == "k must be at most 100 (got 150)"
    body = client.get("/api/v1/search", params={"q": "ы" * 1200}).json()
    assert body["detail"] == "the query is too long: 1200 characters, the limit is 1000"


def test_long_query_by_post_and_unpaired_surrogate(client: TestClient) -> None:
    long_query = "как организовать работу учеников в парах " * 20
    assert client.post("/api/v1/search", json={"q": long_query[:1000]}).status_code == 200
    raw = b'{"q": "\\ud800 \\u0434\\u0435\\u0431\\u0430\\u0442\\u044b", "k": 3}'
    response = client.post("/api/v1/search", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["field"] == "q"


# --- errors: shape and language --------------------------------------------------------------------------------
@pytest.mark.parametrize(("header", "lang", "detail"), [
    (None, "en", "experience 'nope' not found"),
    ("ru-RU,ru;q=0.9,en;q=0.5", "ru", "опыт «nope» не найден"),
    ("kk", "kk", "«nope» тәжірибесі табылмады"),
    ("ky", "ky", "«nope» тажрыйбасы табылган жок"),
    ("ky-KG,ru;q=0.8", "ky", "«nope» тажрыйбасы табылган жок"),
    ("de, en;q=0.1", "en", "experience 'nope' not found"),
    ("en;q=0.2, kk;q=0.8", "kk", "«nope» тәжірибесі табылмады"),
])  # fmt: skip
def test_error_detail_follows_accept_language(client: TestClient, header: str | None, lang: str,
                                              detail: str) -> None:
    headers = {"Accept-Language": header} if header else {}
    response = client.get("/api/v1/experiences/nope", headers=headers)
    assert response.status_code == 404
    assert response.json() == {"error": "experience_not_found", "detail": detail}
    assert response.headers["content-language"] == lang


def test_validation_errors_are_translated_keeping_values(client: TestClient) -> None:
    body = client.get("/api/v1/search", params={"q": "x", "k": 500}, headers={"Accept-Language": "ru"}).json()
    problem = {"error": "too_large", "detail": "k должно быть не больше 100 (получено 500)", "field": "k"}
    assert body == {**problem, "problems": [problem]}
    body = client.get("/api/v1/search", params={"q": "ә" * 2000}, headers={"Accept-Language": "kk"}).json()
    assert body["detail"] == "сұрау тым ұзын: 2000 таңба, шегі — 1000"


def test_kyrgyz_reader_gets_kyrgyz_messages(client: TestClient) -> None:
    response = client.get("/api/v1/documents/no-such-doc", headers={"Accept-Language": "ky-KG"})
    assert response.status_code == 404 and response.headers["content-language"] == "ky"
    assert response.json() == {"error": "document_not_found", "detail": "«no-such-doc» документи табылган жок"}
    body = client.get("/api/v1/search", params={"q": "x", "k": 500}, headers={"Accept-Language": "ky"}).json()
    problem = {"error": "too_large", "detail": "k эң көбү 100 болушу керек (берилгени: 500)", "field": "k"}
    assert body == {**problem, "problems": [problem]}


def test_unknown_route_method_and_malformed_json(client: TestClient) -> None:
    assert client.get("/api/v1/nowhere").json() == {"error": "route_not_found",
                                                    "detail": "no such address in the API: /api/v1/nowhere"}
    response = client.patch("/api/v1/search")
    assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"
    response = client.post("/api/v1/search", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["error"] == "invalid_json"
    response = client.post("/api/v1/search", json=["q"])
    assert response.status_code == 422 and response.json()["field"] == "body"


def test_json_body_over_the_limit_is_413(client: TestClient) -> None:
    response = client.post("/api/v1/search", json={"q": "x", "pad": "y" * 300_000})
    assert response.status_code == 413
    assert response.json() == {"error": "body_too_large",
                               "detail": "the request body is too large: the limit is 256 KB"}


# --- health, stats, OpenAPI, CORS ------------------------------------------------------------------------------
def test_health_and_stats(client: TestClient) -> None:
    health = client.get("/api/v1/health").json()
    assert health["status"] == "ok" and health["model"] == "hashing:256" and health["documents"] == 6 + 72 + 58
    stats = client.get("/api/v1/stats").json()
    assert stats["documents"] == {"document": 6, "experience": 72, "technology": 58}
    assert stats["experiences"] == 72 and stats["dim"] == 256 and stats["vectors"] == stats["chunks"]
    assert set(stats["chunk_languages"]) >= {"kk", "ru", "ky"}
    assert sum(stats["chunk_languages"].values()) == stats["chunks"]
    assert stats["index_bytes"] > 0


def test_openapi_has_examples_in_three_languages_and_configured_limits(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    post = schema["paths"]["/api/v1/search"]["post"]["requestBody"]["content"]["application/json"]
    assert set(post["examples"]) == {"kk", "ru", "ky"}
    for path in ("/api/v1/similar", "/api/v1/classify", "/api/v1/experiences"):
        content = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert set(content["examples"]) == {"kk", "ru", "ky"}, path
    params = {p["name"]: p for p in schema["paths"]["/api/v1/search"]["get"]["parameters"]}
    assert params["k"]["schema"]["maximum"] == 100 and params["q"]["schema"]["maxLength"] == 1000
    mode = params["mode"]["schema"]
    assert mode.get("enum", [mode.get("const")]) == list(SEARCH_MODES)
    assert set(schema["components"]["securitySchemes"]) == {"APIKeyHeader", "HTTPBearer"}
    assert client.get("/docs").status_code == 200


def test_cors_allows_only_configured_origins(client: TestClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "X-API-Key"}
    allowed = client.options("/api/v1/search", headers={"Origin": "https://school.example", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://school.example"
    refused = client.options("/api/v1/search", headers={"Origin": "https://evil.example", **preflight})
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    simple = client.get("/api/v1/health", headers={"Origin": "https://school.example"})
    assert simple.headers["access-control-allow-origin"] == "https://school.example"


# --- technologies, experiences, similar, classify ---------------------------------------------------------------
def test_technology_tree_and_one_technology(client: TestClient) -> None:
    tree = client.get("/api/v1/technologies").json()
    assert [g["order"] for g in tree["groups"]] == list(range(1, 8))
    assert sum(len(g["technologies"]) for g in tree["groups"]) == 58
    for group in tree["groups"]:
        assert set(group["labels"]) == {"kk", "ru", "ky", "en"}
        assert all(t["group"] == group["id"] for t in group["technologies"])
    detail = client.get("/api/v1/technologies/debates").json()
    assert detail["technology"]["id"] == "debates" and detail["group"]["id"] == "interactive"
    assert detail["experiences"] and all("debates" in e["technologies"] for e in detail["experiences"])
    missing = client.get("/api/v1/technologies/no-such", headers={"Accept-Language": "ru"})
    assert missing.status_code == 404
    assert missing.json() == {"error": "technology_not_found", "detail": "технология «no-such» не найдена"}


def test_experience_list_filters_and_pages(client: TestClient) -> None:
    everything = client.get("/api/v1/experiences", params={"limit": 500}).json()
    assert everything["total"] == 72 and len(everything["items"]) == 72
    ids = [e["id"] for e in everything["items"]]
    paged = []
    for offset in range(0, 72, 10):
        paged += [e["id"] for e in client.get("/api/v1/experiences", params={"offset": offset, "limit": 10})
                  .json()["items"]]
    assert paged == ids
    kk_debates = client.get("/api/v1/experiences", params={"lang": "kk", "group": "interactive"}).json()
    assert kk_debates["total"] == len(kk_debates["items"]) > 0
    assert all(e["language"] == "kk" for e in kk_debates["items"])
    assert client.get("/api/v1/experiences", params={"limit": 501}).status_code == 422


def test_similar_and_classify(client: TestClient) -> None:
    similar = client.get("/api/v1/experiences/exp-ru-001/similar", params={"k": 5}).json()
    assert 0 < len(similar) <= 5 and "exp-ru-001" not in {s["doc_id"] for s in similar}
    assert client.get("/api/v1/experiences/nope/similar").status_code == 404
    by_text = client.post("/api/v1/similar", json={"text": "дебаты в парах на уроке истории", "k": 3,
                                                   "kinds": ["experience"]}).json()
    assert len(by_text) == 3 and {s["type"] for s in by_text} == {"experience"}
    suggestions = client.post("/api/v1/classify", json={"text": "ученики спорят в парах: дебаты", "k": 4}).json()
    assert len(suggestions) == 4 and set(suggestions[0]["labels"]) == {"kk", "ru", "ky", "en"}
    blank = client.post("/api/v1/classify", json={"text": "  "})
    assert blank.status_code == 422 and blank.json()["field"] == "text"
    assert client.post("/api/v1/classify", json={"text": "x", "k": 51}).status_code == 422


def test_server_paths_are_not_shown(client: TestClient) -> None:
    docs = client.get("/api/v1/documents").json()["items"]
    assert docs and all(d["source"].startswith("corpus/documents/") for d in docs), [d["source"] for d in docs]
    detail = client.get(f"/api/v1/documents/{docs[0]['doc_id']}").json()
    assert detail["source"] == docs[0]["source"]
    results = search(client, q="дебаты в парах", k=5, type="document")["results"]
    assert results and all(r["source"].startswith("corpus/documents/") for r in results)
    assert str(REPO) not in client.get("/api/v1/search", params={"q": "дебаты", "k": 20}).text


def test_shown_source_keeps_only_the_file_name_outside_the_corpus() -> None:
    from search_api.query import shown_source

    corpus = Path("/srv/pedkb/corpus")
    assert shown_source("/home/methodist/Загрузки/опыт.pdf", corpus) == "опыт.pdf"
    assert shown_source("/srv/pedkb/corpus/documents/a.txt", corpus) == "corpus/documents/a.txt"
    assert shown_source("upload/a.txt", corpus) == "upload/a.txt"
    assert shown_source("experience:exp-ru-001", corpus) == "experience:exp-ru-001"
