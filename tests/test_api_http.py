"""The HTTP layer of a real server (uvicorn with pedkb's protocol, the hashing model): requests uvicorn cannot
parse get the API's JSON errors, not plain text."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest

from tests.support.server import serve_pedkb


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn over an empty data folder with the hashing embedder."""
    data = tmp_path_factory.mktemp("http") / "data"
    env = {**os.environ, "PEDKB_MODEL": "hashing:256", "PEDKB_API_KEYS": "http-key"}
    with serve_pedkb(data, env, timeout=120) as url:
        yield url


def raw_request(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are and read the whole answer (the server closes the connection after a refusal)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before it was all sent: the answer is still there to read
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def test_a_300_kb_query_string_gets_a_json_414(server: str) -> None:
    query = quote("ы" * 50_000)  # 300 kB encoded (httpx refuses to send it)
    assert len(query) == 300_000
    status, headers, body = raw_request(server, f"GET /api/v1/search?q={query} HTTP/1.1\r\nHost: x\r\n"
                                                "Accept: application/json\r\n\r\n".encode())
    assert status == 414 and headers["content-type"] == "application/json"
    error = json.loads(body)
    assert error["error"] == "uri_too_long" and "POST /api/v1/search" in error["detail"]
    assert httpx.get(f"{server}/api/v1/search", params={"q": "ы" * 50}, timeout=30).status_code == 200


def test_huge_headers_get_a_json_431(server: str) -> None:
    response = httpx.get(f"{server}/api/v1/health", headers={"X-Padding": "a" * 1_000_000}, timeout=30)
    assert response.status_code == 431
    assert response.json()["error"] == "headers_too_large"


def test_a_header_sent_in_pieces_is_refused_once_the_head_passes_the_limit(server: str) -> None:
    """The parser hands a header over only when its value is whole: the reads of an unfinished head count too."""
    from search_api.server import HEAD_LIMIT_BYTES

    parts = urlsplit(server)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(b"GET /api/v1/health/live HTTP/1.1\r\nHost: x\r\nX-Padding: ")
        sent = 0
        try:
            while sent < 4 * HEAD_LIMIT_BYTES:
                time.sleep(0.005)  # separate reads on the server
                sock.sendall(b"a" * 1024)
                sent += 1024
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431") and json.loads(body)["error"] == "headers_too_large"


def test_a_head_just_under_the_limit_arriving_in_pieces_is_served(server: str) -> None:
    from search_api.server import HEAD_LIMIT_BYTES

    parts = urlsplit(server)
    request = (b"GET /api/v1/health/live HTTP/1.1\r\nHost: x\r\nX-Padding: "
               + b"a" * (HEAD_LIMIT_BYTES - 200) + b"\r\nConnection: close\r\n\r\n")
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        for start in range(0, len(request), 1000):
            sock.sendall(request[start:start + 1000])
            time.sleep(0.002)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")


def test_a_malformed_request_gets_a_json_400(server: str) -> None:
    status, headers, body = raw_request(server, b"GET /api/v1/health HTTP/1.1\r\nHost x\r\n\r\n")
    assert status == 400 and headers["content-type"] == "application/json"
    error = json.loads(body)
    assert error["error"] == "bad_request" and "invalid header token" in error["detail"]
    status, _, body = raw_request(server, b"GET /" + b"a" * 300_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 414 and b'"uri_too_long"' in body
    assert httpx.get(f"{server}/api/v1/health/live", timeout=30).status_code == 200


def test_the_served_app_has_the_guards(server: str) -> None:
    refused = httpx.post(f"{server}/api/v1/search", content=b"q=SECRET-7731", timeout=30,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert refused.status_code == 415 and "SECRET" not in refused.text
    assert httpx.get(f"{server}/api/v1/access", headers={"X-API-Key": "http-key"}, timeout=30).status_code == 200
    assert httpx.get(f"{server}/api/v1/access", headers={"X-API-Key": "nope"}, timeout=30).status_code == 403


def test_pedkb_serve_uses_the_json_error_protocol(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import uvicorn

    from cli.main import main
    from search_api.server import JsonErrorProtocol

    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))
    monkeypatch.setenv("PEDKB_MODEL", "hashing:256")
    assert main(["--data", str(tmp_path / "data"), "serve", "--port", "8123"]) == 0
    assert seen["http"] is JsonErrorProtocol and seen["port"] == 8123
