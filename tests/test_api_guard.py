"""Abuse limits of the API: rate limits per address and per key, wrong keys refused before any reading, 415 for
bodies that are not JSON, storage errors without server paths."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_api import KEYS, api_settings, build_seeded_data, make_client

from index.embedding.hashing import HashingEmbedder
from index.knowledge_base import KnowledgeBase
from pedkb.errors import StoreError
from pedkb.settings import Settings
from search_api import ratelimit
from search_api.app import create_app
from search_api.errors import ApiError

KEY = {"X-API-Key": KEYS[0]}
WRONG = {"X-API-Key": "not-a-key"}
SEARCH = {"q": "наставничество учителей"}
TEXT = {"text": "Наставничество: опытный учитель посещает уроки молодого коллеги и обсуждает их."}
OTHER = ("10.1.2.3", 40000)  # a second client address


@pytest.fixture(scope="session")
def seeded_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded data folder shared with test_api (never written: clients work on copies)."""
    return build_seeded_data(tmp_path_factory)


@pytest.fixture
def limited(seeded_data: Path, tmp_path: Path) -> Iterator[TestClient]:
    """A client of an app with small limits: 3 searches, 2 analyses, 2 wrong keys per minute and address."""
    yield from make_client(seeded_data, tmp_path / "data", rate_limit_search="3/minute",
                           rate_limit_search_key="5/minute", rate_limit_analysis="2/minute",
                           rate_limit_analysis_key="4/minute", rate_limit_key_failures="2/minute")


def other_client(client: TestClient, address: tuple[str, int] = OTHER) -> TestClient:
    """A second client of the same app, from another address."""
    return TestClient(client.app, client=address, raise_server_exceptions=False)


def assert_limited(response: Any, window: int = 60) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["error"] == "rate_limited" and body["detail"]
    assert 1 <= int(response.headers["retry-after"]) <= window


# --- rate limits -----------------------------------------------------------------------------------------------
def test_searches_past_the_address_limit_get_429_with_retry_after(limited: TestClient) -> None:
    for _ in range(2):
        assert limited.get("/api/v1/search", params=SEARCH).status_code == 200
    assert limited.post("/api/v1/search", json=SEARCH).status_code == 200  # GET and POST count together
    refused = limited.get("/api/v1/search", params=SEARCH, headers={"Accept-Language": "ru"})
    assert_limited(refused)
    assert refused.json()["detail"].startswith("слишком много запросов")
    assert_limited(limited.post("/api/v1/search", json=SEARCH))
    assert_limited(limited.get("/api/v1/search", params=SEARCH, headers=WRONG))  # a wrong key is no key
    assert limited.get("/api/v1/technologies").status_code == 200  # other reads are not limited
    assert limited.post("/api/v1/classify", json=TEXT).status_code == 200  # nor counted with analyses
    assert other_client(limited).get("/api/v1/search", params=SEARCH).status_code == 200


def test_a_valid_key_has_its_own_higher_limit(limited: TestClient) -> None:
    for _ in range(3):
        assert limited.get("/api/v1/search", params=SEARCH).status_code == 200
    assert_limited(limited.get("/api/v1/search", params=SEARCH))
    for _ in range(5):  # the same address with a key: the key's limit, counted per key
        assert limited.get("/api/v1/search", params=SEARCH, headers=KEY).status_code == 200
    assert_limited(other_client(limited).get("/api/v1/search", params=SEARCH, headers=KEY))
    bearer = {"Authorization": f"Bearer {KEYS[1]}"}  # another key is counted apart
    assert limited.post("/api/v1/search", json=SEARCH, headers=bearer).status_code == 200


def test_classify_and_similar_share_the_analysis_limit(limited: TestClient) -> None:
    assert limited.post("/api/v1/classify", json=TEXT).status_code == 200
    assert limited.post("/api/v1/similar", json=TEXT).status_code == 200
    assert_limited(limited.get("/api/v1/experiences/exp-ru-001/similar"))
    assert_limited(limited.post("/api/v1/classify", json=TEXT))
    assert limited.get("/api/v1/search", params=SEARCH).status_code == 200
    assert limited.get("/api/v1/experiences/exp-ru-001").status_code == 200
    assert other_client(limited).post("/api/v1/similar", json=TEXT).status_code == 200
    for _ in range(4):
        assert limited.post("/api/v1/classify", json=TEXT, headers=KEY).status_code == 200
    assert_limited(limited.post("/api/v1/classify", json=TEXT, headers=KEY))


def test_the_limit_frees_up_after_retry_after(seeded_data: Path, tmp_path: Path) -> None:
    for client in make_client(seeded_data, tmp_path / "data", rate_limit_search="2/second"):
        answers = [client.get("/api/v1/search", params=SEARCH) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        wait = int(answers[2].headers["retry-after"])
        assert wait == 1
        time.sleep(wait + 0.05)
        assert client.get("/api/v1/search", params=SEARCH).status_code == 200


class Clock:
    """time.time and time.monotonic of the rate limit module, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


def test_the_moving_window_counts_in_memory_without_a_thread_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule of limits' moving window (refused while `limit` requests fall within the window, free again as the
    oldest leaves it, Retry-After from the oldest one), kept without starting a thread for a request (limits' own
    MemoryStorage started one 10 ms after its last had ended: nearly once per search of a busy server)."""
    clock = Clock()
    monkeypatch.setattr(ratelimit, "time", clock)
    limits = ratelimit.RateLimits(Settings(rate_limit_search="3/minute"))
    started = threading.Thread.start
    starts: list[threading.Thread] = []
    monkeypatch.setattr(threading.Thread, "start", lambda thread: (starts.append(thread), started(thread))[1])
    for second in (0, 10, 20):
        clock.now = 1_000_000.0 + second
        limits.check("search", "10.0.0.1")
    clock.now = 1_000_000.0 + 59
    with pytest.raises(ApiError) as refused:
        limits.check("search", "10.0.0.1")
    assert refused.value.status == 429 and refused.value.headers == {"Retry-After": "1"}  # the first leaves at 60
    limits.check("search", "10.0.0.2")  # another address has its own window
    clock.now = 1_000_000.0 + 60.5
    limits.check("search", "10.0.0.1")  # the request of second 0 has left the window
    with pytest.raises(ApiError) as refused:
        limits.check("search", "10.0.0.1")
    assert refused.value.headers == {"Retry-After": "10"}  # the oldest in the window now is second 10's
    assert starts == []
    storage = limits.limiter.storage
    assert isinstance(storage, ratelimit.WindowStorage) and len(storage._windows) == 2
    clock.now += ratelimit.SWEEP_SECONDS + 61  # both windows empty: swept by the next request
    limits.check("search", "10.0.0.3")
    assert len(storage._windows) == 1


def test_limits_are_settings_with_generous_defaults_and_validated() -> None:
    defaults = Settings()
    assert defaults.rate_limit_search == "300/minute" and defaults.rate_limit_search_key == "3000/minute"
    assert defaults.rate_limit_analysis == "60/minute" and defaults.rate_limit_analysis_key == "600/minute"
    with pytest.raises(ValueError, match="rate limit"):
        Settings(rate_limit_search="lots")


def test_an_empty_limit_turns_it_off(seeded_data: Path, tmp_path: Path) -> None:
    for client in make_client(seeded_data, tmp_path / "data", rate_limit_analysis=""):
        assert all(client.post("/api/v1/classify", json=TEXT).status_code == 200 for _ in range(70))


def test_openapi_documents_the_429(limited: TestClient) -> None:
    paths = limited.get("/openapi.json").json()["paths"]
    for path, method in [("/api/v1/search", "get"), ("/api/v1/search", "post"), ("/api/v1/classify", "post"),
                         ("/api/v1/similar", "post"), ("/api/v1/experiences/{exp_id}/similar", "get")]:
        assert "429" in paths[path][method]["responses"], (path, method)
    assert "429" not in paths["/api/v1/technologies"]["get"]["responses"]


# --- keys ------------------------------------------------------------------------------------------------------
def test_access_says_whether_a_key_may_write(limited: TestClient) -> None:
    assert limited.get("/api/v1/access", headers=KEY).json() == {"status": "ok"}
    assert limited.get("/api/v1/access", headers={"Authorization": f"Bearer {KEYS[1]}"}).status_code == 200
    none = limited.get("/api/v1/access")
    assert none.status_code == 401 and none.json()["error"] == "api_key_required"
    wrong = limited.get("/api/v1/access", headers={**WRONG, "Accept-Language": "kk"})
    assert wrong.status_code == 403 and wrong.json() == {"error": "api_key_invalid", "detail": "API кілті жарамсыз"}


def test_access_on_a_read_only_server(seeded_data: Path, tmp_path: Path) -> None:
    for client in make_client(seeded_data, tmp_path / "data", api_keys=[]):
        response = client.get("/api/v1/access", headers=KEY)
        assert response.status_code == 403 and response.json()["error"] == "writes_disabled"


def test_guessing_keys_is_rate_limited_per_address(limited: TestClient) -> None:
    for _ in range(2):
        assert limited.get("/api/v1/access", headers=WRONG).status_code == 403
    assert_limited(limited.get("/api/v1/access", headers=WRONG))
    assert_limited(limited.delete("/api/v1/experiences/exp-ru-001", headers=WRONG))
    assert limited.get("/api/v1/experiences/exp-ru-001").status_code == 200
    assert limited.get("/api/v1/access", headers=KEY).status_code == 200  # the right key still works
    assert other_client(limited).get("/api/v1/access", headers=WRONG).status_code == 403


def asgi_call(app: Any, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes, int]:
    """Call the app directly; the status, the body and how many times the app asked for the request body."""
    reads = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
             "raw_path": path.encode(), "query_string": b"", "root_path": "", "scheme": "http",
             "server": ("testserver", 80), "client": ("127.0.0.1", 1234),
             "headers": [(k.lower().encode(), v.encode()) for k, v in
                         {**headers, "content-length": str(len(body))}.items()]}
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"), reads


@pytest.mark.parametrize(("method", "path", "content_type"), [
    ("POST", "/api/v1/documents", "multipart/form-data; boundary=x"),
    ("POST", "/api/v1/experiences", "application/json"),
    ("PUT", "/api/v1/experiences/exp-ru-001", "application/json"),
    ("DELETE", "/api/v1/documents/d0", "application/json"),
])  # fmt: skip
def test_a_wrong_key_is_refused_before_the_body_is_read(limited: TestClient, method: str, path: str,
                                                        content_type: str) -> None:
    body = b"x" * 200_000  # under the JSON body limit (a larger one is 413, also unread)
    status, answer, reads = asgi_call(limited.app, method, path, {**WRONG, "content-type": content_type}, body)
    assert (status, reads) == (403, 0), answer
    status, _, reads = asgi_call(limited.app, method, path, {"content-type": content_type}, body)
    assert (status, reads) == (401, 0)


# --- content type --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "headers"), [
    ("/api/v1/search", {}),
    ("/api/v1/classify", {}),
    ("/api/v1/similar", {}),
    ("/api/v1/experiences", KEY),
])  # fmt: skip
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_body_that_is_not_json_is_415_without_echo(limited: TestClient, path: str, headers: dict[str, str],
                                                     content_type: str) -> None:
    secret = b'{"q": "SECRET-BODY-7731", "text": "SECRET-BODY-7731"}'
    status, answer, reads = asgi_call(limited.app, "POST", path, {**headers, "content-type": content_type}, secret)
    assert (status, reads) == (415, 0)
    assert b"SECRET-BODY" not in answer
    assert b'"error":"unsupported_media_type"' in answer and content_type.encode() in answer


def test_json_content_types_are_accepted(limited: TestClient) -> None:
    for content_type in ("application/json", "application/json; charset=utf-8", "application/problem+json"):
        response = limited.post("/api/v1/classify", content=b'{"text": "\xd1\x83\xd1\x80\xd0\xbe\xd0\xba"}',
                                headers={**KEY, "Content-Type": content_type})
        assert response.status_code == 200, (content_type, response.text)
    status, answer, _ = asgi_call(limited.app, "POST", "/api/v1/search", {}, b'{"q": "SECRET-BODY-7731"}')
    assert status == 415 and b"SECRET" not in answer and b"'none'" in answer  # a body without a type
    empty = limited.post("/api/v1/search")
    assert empty.status_code == 422 and empty.json()["error"] == "missing_field"  # no body, no type: as before
    upload = limited.post("/api/v1/documents", content=b"{}", headers={**KEY, "Content-Type": "application/json"})
    assert upload.status_code == 415 and "multipart/form-data" in upload.json()["detail"]


# --- storage errors ------------------------------------------------------------------------------------------
def test_a_storage_error_does_not_show_the_data_path(seeded_data: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    settings = api_settings(tmp_path / "srv" / "pedkb-data")
    with KnowledgeBase(settings, embedder=HashingEmbedder(256)) as kb:
        data = str(Path(settings.data).resolve())
        cache = str(Path(settings.model_cache).absolute())

        def broken(*_: object, **__: object) -> object:
            raise StoreError(f"{data}/pedkb.sqlite3: not a usable pedkb store (disk I/O error; see {cache}/x and "
                             f"/var/lib/other/file.db)")

        monkeypatch.setattr(kb, "stats", broken)
        monkeypatch.setattr(kb, "ingest_file", broken)
        with TestClient(create_app(settings, kb=kb), raise_server_exceptions=False) as client:
            for lang in ("en", "ru", "kk", "ky"):
                response = client.get("/api/v1/stats", headers={"Accept-Language": lang})
                assert response.status_code == 503 and response.json()["error"] == "store_unavailable"
                assert data not in response.text and str(tmp_path) not in response.text
                assert "/var/lib" not in response.text and cache not in response.text
                assert "DATA/pedkb.sqlite3: not a usable pedkb store" in response.text
            upload = client.post("/api/v1/documents", files=[("files", ("a.txt", b"text"))], headers=KEY)
            assert upload.status_code == 422
            assert str(tmp_path) not in upload.text and "DATA/pedkb.sqlite3" in upload.text
