"""Nothing lost under concurrent writes, on both backends: 8 writers and 8 readers against one real server, a CLI
ingest beside it, and a kill -9 in the middle; afterwards every acknowledged write is there exactly once, every
refused one absent, and `pedkb check` is clean, also after a restart (issue 15)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.conftest import fresh_database
from tests.support.load import CONTESTED, HEADERS, REPO, Ledger, Load, compare, run_check, server_env
from tests.support.pgserver import free_port
from tests.support.server import start_pedkb, stop_pedkb

pytestmark = pytest.mark.slow
SECONDS = 4.0


@pytest.fixture(params=["faiss", "postgres"])
def env(request: pytest.FixtureRequest) -> dict[str, str]:
    """A server environment on each backend (PostgreSQL: a fresh database on the session's real server)."""
    if request.param == "faiss":
        return server_env("faiss")
    return server_env(fresh_database(request.getfixturevalue("pg_server")))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """The data folder (uploads, and the embedded store)."""
    return tmp_path / "data"


def _report(name: str, env: dict[str, str], ledger: Ledger, found: dict[str, int], check: dict[str, object]) -> None:
    backend = "postgresql" if env["PEDKB_BACKEND"].startswith("postgres") else "faiss"
    problems = {p["name"]: p["count"] for p in check["problems"]}  # type: ignore[attr-defined,index]
    print(f"\n[{name} {backend}] ledger {ledger.counts()} | found {found} | check counts {check['counts']} "
          f"problems {problems}")


def _assert_clean(found: dict[str, int], check: tuple[int, dict[str, object]]) -> None:
    code, report = check
    assert found.get("missing", 0) == 0 and found.get("wrong", 0) == 0, found
    assert found.get("duplicates", 0) == 0, found
    assert code == 0 and report["ok"], report


def test_concurrent_writers_and_readers_lose_nothing(env: dict[str, str], data: Path) -> None:
    process, url = start_pedkb(data, env, timeout=120)
    ledger = Ledger()
    try:
        Load(url, ledger).run(SECONDS)
        counts = ledger.counts()
        assert counts["uncertain"] == 0 and counts["read_errors"] == 0, (counts, ledger.reads)
        assert counts["acknowledged"] >= 40 and counts["rejected"] >= 10, counts
        found = compare(url, ledger)
        assert found["contested_winners"] == len(CONTESTED) == found["contested_present"], found
        check = run_check(data, env)
        _report("8 writers + 8 readers", env, ledger, found, check[1])
        _assert_clean(found, check)
    finally:
        stop_pedkb(process)
    process, url = start_pedkb(data, env, timeout=120)  # the same after a restart
    try:
        again = compare(url, ledger)
        assert again == found
    finally:
        stop_pedkb(process)
    _assert_clean(again, run_check(data, env))


def _make_files(root: Path, count: int) -> Path:
    root.mkdir()
    for i in range(count):
        (root / f"cli{i:02d}.txt").write_text(f"Файл cli{i} нұсқаулық{i} оқушылар жұмысы мұғалім. " * 20,
                                             encoding="utf-8")
    return root


def test_cli_ingest_beside_the_server(env: dict[str, str], data: Path, tmp_path: Path) -> None:
    docs = _make_files(tmp_path / "docs", 30)
    process, url = start_pedkb(data, env, timeout=120)
    ledger = Ledger()
    try:
        ingest = subprocess.Popen([sys.executable, "-m", "cli", "--data", str(data), "-q", "ingest", "--json",
                                   str(docs)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        started = time.monotonic()
        load = Load(url, ledger, writers=4, readers=2, tag="c")
        threading.Thread(target=lambda: (ingest.wait(120), load.stop.set()), daemon=True).start()
        load.run(120)  # until the ingest ends
        out, err = ingest.communicate(timeout=120)
        finished = time.monotonic()
        assert ingest.returncode == 0, err
        assert json.loads(out)["summary"]["added"] == 30
        during = [w for w in ledger.writes if w.acknowledged and started < w.at < finished]
        print(f"\nAPI writes acknowledged while the CLI ingest ran: {len(during)} in {finished - started:.1f} s")
        assert len(during) >= 5, "API writes waited for the whole CLI batch"
        found = compare(url, ledger)
        check = run_check(data, env)
        _report("CLI ingest beside the server", env, ledger, found, check[1])
        _assert_clean(found, check)
        assert ledger.counts()["uncertain"] == 0
        sources = [s for s in _documents(url) if "cli" in s]
        assert len(sources) == len(set(sources)) == 30
    finally:
        stop_pedkb(process)


def _documents(url: str) -> list[str]:
    items = httpx.get(f"{url}/api/v1/documents", params={"limit": 500}, timeout=60).json()["items"]
    return [item["source"] for item in items]


def test_kill_9_in_the_middle_of_writes(env: dict[str, str], data: Path) -> None:
    process, url = start_pedkb(data, env, timeout=120)
    ledger = Ledger()
    load = Load(url, ledger, tag="k")

    def kill_mid_load() -> None:  # once writes flow, kill the server and end the load
        while ledger.counts()["acknowledged"] < 30 and not load.stop.is_set():
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        load.stop.set()

    killer = threading.Thread(target=kill_mid_load, daemon=True)
    try:
        killer.start()
        load.run(60.0)
        killer.join(30)
        process.wait(30)
        assert process.returncode == -signal.SIGKILL
    finally:
        if process.poll() is None:
            stop_pedkb(process)
    counts = ledger.counts()
    assert counts["acknowledged"] >= 10 and counts["uncertain"] >= 1, counts  # the kill cut writes off
    process, url = start_pedkb(data, env, timeout=120)  # refuses to start on a store it finds inconsistent
    try:
        found = compare(url, ledger)
    finally:
        stop_pedkb(process)
    check = run_check(data, env)
    _report("kill -9 mid-writes", env, ledger, found, check[1])
    _assert_clean(found, check)


def test_serve_workers_see_each_others_writes(env: dict[str, str], data: Path) -> None:
    """`pedkb serve --workers 2`: a write through one worker is in the next answer of the other, whose recent
    rankings of the same query are stale from then on (the ranking cache is per process)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(data.parent / "workers.log", "a") as log:
        process = subprocess.Popen([sys.executable, "-m", "cli", "--data", str(data), "serve", "--workers", "2",
                                    "--host", "127.0.0.1", "--port", str(port)], cwd=REPO, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    query = {"q": "полевая практика юных географов", "mode": "lexical"}

    def answers() -> list[tuple[str, list[str]]]:
        """Searches on fresh connections until both workers answered 10 (200 at most): (worker, sources found)."""
        found: list[tuple[str, list[str]]] = []
        while len(found) < 200:
            per_worker = Counter(worker for worker, _ in found)
            if len(per_worker) == 2 and min(per_worker.values()) >= 10:
                break
            response = httpx.get(f"{url}/api/v1/search", params=query, timeout=30)
            assert response.status_code == 200, response.text
            found.append((response.headers["x-pedkb-worker"], [r["source"] for r in response.json()["results"]]))
        return found

    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (data.parent / "workers.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/api/v1/health/ready", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.3)
        before = answers()  # both workers rank the query (and keep the ranking)
        assert len({worker for worker, _ in before}) == 2, "one worker answered every connection"
        assert all(sources == [] for _, sources in before)
        upload = httpx.post(f"{url}/api/v1/documents", headers=HEADERS, timeout=60, files=[("files", (
            "geo.txt", "Полевая практика юных географов: ученики измеряют реку и составляют карту.".encode()))])
        assert upload.status_code == 200 and upload.json()["added"] == 1, upload.text
        after = answers()
        assert len({worker for worker, _ in after}) == 2
        assert all(sources == ["upload/geo.txt"] for _, sources in after), after
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
