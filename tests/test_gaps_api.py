"""The search log and the gap report over HTTP, on both backends: every search answer has a `search_id`, the open
beacon marks it, /gaps sits behind the key (JSON and CSV), and the raw log holds neither the address nor the key."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_api import KEYS, api_settings

from index.embedding.hashing import HashingEmbedder
from index.knowledge_base import KnowledgeBase
from index.searchlog import LOG_FILE
from search_api.app import create_app

KEY = {"X-API-Key": KEYS[0]}
UNMET = ["робототехника в детском саду", "робототехника в детском саду программа", "программа робототехника саду"]
COLUMNS = {"search_id", "at", "query", "lang", "mode", "filters", "n_items", "top_score", "no_close_match",
           "opened", "opened_at"}


@pytest.fixture
def app_settings(tmp_path: Path, backend_url: str) -> Any:
    return api_settings(tmp_path / "data", backend=backend_url, model="hashing:1024",
                        gap_distance=0.6)  # bag-of-words vectors: see test_gaps.py


@pytest.fixture
def client(app_settings: Any) -> Iterator[TestClient]:
    """A client on a bank holding the shipped technologies and sample experiences (hashing model)."""
    with KnowledgeBase(app_settings, embedder=HashingEmbedder(1024)) as kb:
        kb.bank.load_corpus(kb.settings.corpus)
        with TestClient(create_app(app_settings, kb=kb), raise_server_exceptions=False,
                        client=("203.0.113.77", 51000)) as test_client:
            yield test_client


def raw_rows(settings: Any) -> list[dict[str, Any]]:
    """Every row of the log table exactly as stored."""
    if settings.backend == "faiss":
        conn = sqlite3.connect(settings.data / LOG_FILE)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute("SELECT * FROM search_log")]
        finally:
            conn.close()
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(settings.backend, row_factory=dict_row) as conn:
        return list(conn.execute("SELECT * FROM search_log"))


def flush(client: TestClient) -> None:
    client.app.state.search_log.flush()  # type: ignore[attr-defined]


def test_searches_are_logged_with_an_id_and_the_open_beacon(client: TestClient, app_settings: Any) -> None:
    first = client.get("/api/v1/search", params={"q": "проектное обучение", "k": 3, "region": "kz-almaty-city"},
                       headers=KEY).json()
    sid = first["search_id"]
    assert sid and len(sid) == 32 and first["results"]
    second = client.get("/api/v1/search", params={"q": "проектное обучение", "k": 3, "offset": 3}).json()
    assert second["search_id"] is None  # a further page is not a new search
    posted = client.post("/api/v1/search", json={"q": "сындарлы оқыту", "k": 2}).json()
    assert posted["search_id"] and posted["search_id"] != sid
    opened = first["results"][0]["doc_id"]
    assert client.post(f"/api/v1/search-log/{sid}/open", json={"item_id": opened}).status_code == 204
    assert client.post("/api/v1/search-log/not-an-id/open", json={"item_id": opened}).status_code == 422
    bad_item = client.post(f"/api/v1/search-log/{sid}/open", json={"item_id": "<script>"})
    assert bad_item.status_code == 422 and bad_item.json()["field"]
    flush(client)
    rows = {r["search_id"]: r for r in raw_rows(app_settings)}
    assert set(rows) == {sid, posted["search_id"]}
    row = rows[sid]
    assert row["query"] == "проектное обучение" and row["lang"] == "ru" and row["opened"] == opened
    assert '"region": ["kz-almaty-city"]' in row["filters"] and row["n_items"] == first["total"]
    assert row["top_score"] == pytest.approx(first["results"][0]["score"])
    assert bool(row["no_close_match"]) is first["no_close_match"]


def test_the_raw_log_holds_no_address_and_no_key(client: TestClient, app_settings: Any) -> None:
    for headers in (KEY, {"Authorization": f"Bearer {KEYS[1]}"}, {"X-Forwarded-For": "198.51.100.9"}, {}):
        client.get("/api/v1/search", params={"q": "дебаты на уроке истории"}, headers=headers)
    flush(client)
    rows = raw_rows(app_settings)
    assert len(rows) == 4
    assert set(rows[0]) == COLUMNS  # no column for an address, a key, a user agent or a session
    dumped = repr(rows)
    for secret in (*KEYS, "203.0.113.77", "198.51.100.9", "testclient"):
        assert secret not in dumped


def test_gaps_report_behind_the_key_as_json_and_csv(client: TestClient) -> None:
    for text in UNMET * 2 + ["проектное обучение"]:
        client.get("/api/v1/search", params={"q": text})
    assert client.get("/api/v1/gaps").status_code == 401
    assert client.get("/api/v1/gaps", headers={"X-API-Key": "wrong"}).status_code == 403
    wrong_date = client.get("/api/v1/gaps", params={"since": "yesterday"}, headers=KEY)
    assert wrong_date.status_code == 422 and wrong_date.json()["field"] == "since"
    report = client.get("/api/v1/gaps", headers=KEY).json()
    assert report["searches"] == 7 and report["unmet"] == 7  # nothing was opened
    assert report["days"] and report["days"][-1]["searches"] == 7
    top = report["groups"][0]
    assert {text for text, _ in top["examples"]} == set(UNMET) and top["searches"] == 6
    assert top["languages"] == {"ru": 6} and top["technologies"]
    assert all(t["id"] in client.app.state.kb.vocabulary.technologies for t in top["technologies"])  # type: ignore[attr-defined]
    kk_only = client.get("/api/v1/gaps", params={"lang": "kk"}, headers=KEY).json()
    assert kk_only["searches"] == 0 and kk_only["groups"] == []
    answer = client.get("/api/v1/gaps", params={"format": "csv"}, headers=KEY)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == len(report["groups"]) and rows[0]["searches"] == "6"


def test_logging_off_gives_no_search_id(tmp_path: Path) -> None:
    settings = api_settings(tmp_path / "data", search_log_days=0)
    with KnowledgeBase(settings, embedder=HashingEmbedder(256)) as kb:
        kb.bank.load_corpus(kb.settings.corpus)
        with TestClient(create_app(settings, kb=kb)) as client:
            assert client.get("/api/v1/search", params={"q": "дебаты"}).json()["search_id"] is None
    assert [r for r in raw_rows(settings)] == []


def test_logging_needs_no_writer_lock(tmp_path: Path) -> None:
    """While another process holds the embedded store's writer lock (an ingest), searches are answered and
    logged: the log is its own SQLite file, written by its own thread."""
    import subprocess
    import sys
    import time

    settings = api_settings(tmp_path / "data", model="hashing:1024")
    with KnowledgeBase(settings, embedder=HashingEmbedder(1024)) as kb:
        kb.bank.load_corpus(kb.settings.corpus)
        holder = subprocess.Popen(
            [sys.executable, "-c", "import fcntl, sys, time\n"
             f"h = open({str(settings.data / 'write.lock')!r}, 'a')\n"
             "fcntl.flock(h, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(120)"],
            stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            with TestClient(create_app(settings, kb=kb)) as client:
                start = time.monotonic()
                for text in UNMET:
                    assert client.get("/api/v1/search", params={"q": text}).json()["search_id"]
                client.app.state.search_log.flush()  # type: ignore[attr-defined]
                assert {r["query"] for r in raw_rows(settings)} == set(UNMET)  # written under the held lock
                assert time.monotonic() - start < 20
            assert holder.poll() is None  # the lock was held all along
        finally:
            holder.kill()
            holder.wait()
