"""A batch is not held up by its scans: OCR runs in the batch's background lane while born-digital files are read and
stored; an ingest killed in the middle of a scan leaves a consistent store and resumes from the OCR cache.

Both tests hold the scan's Tesseract runs with a wrapper around the real `tesseract` (PEDKB_OCR_TESSERACT) that waits
while a file exists, so the order of events is decided by the test, not by how fast the machine is.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index.knowledge_base import KnowledgeBase
from index.records import SearchFilters
from ingest.files import FileResult, document_id
from ingest.ocr import OcrProgress
from pedkb.settings import Settings
from tests.support.scans import render_page, sample_text, scanned_pdf

ROOT = Path(__file__).resolve().parents[1]
SHORT_PAGE = (8.27, 3.0)
TEXTS = {
    "a.txt": "Мұғалім сабақта топтық жұмысты қолданады, оқушылар бір-біріне сұрақ қояды.",
    "b.txt": "Учитель использует формативное оценивание на каждом уроке и обсуждает критерии с классом.",
    "c.txt": "Мугалим сабакта долбоорлоо ыкмасын колдонот жана окуучулардын ишин баалайт.",
}


def gated_tesseract(folder: Path, gate: Path) -> Path:
    """A `tesseract` that runs the real one once `gate` says so: `hold` mode waits while `gate` exists, `open`
    mode waits until it exists (at most 30 s, then runs anyway) and marks that a run waits with `gate`.waiting;
    --version and --list-langs answer at once."""
    script = folder / "tesseract-gated"
    script.write_text(f"""#!/bin/sh
case "$1" in --version|--list-langs) exec tesseract "$@";; esac
if [ -e {gate}.open-mode ]; then
    touch {gate}.waiting
    i=0; while [ ! -e {gate} ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
else
    while [ -e {gate} ]; do sleep 0.05; done
fi
exec tesseract "$@"
""")
    script.chmod(0o755)
    return script


def short_scan(path: Path, pages: int) -> None:
    """An image-only PDF of `pages` short pages of kk, ky and ru text."""
    langs = ("kk", "ky", "ru")
    path.write_bytes(scanned_pdf([render_page(sample_text(langs[i % 3]), inches=SHORT_PAGE, margin=0.4)[0]
                                  for i in range(pages)]))


def test_born_digital_files_are_stored_while_a_scan_before_them_is_read(tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    short_scan(files / "0-scan.pdf", 2)  # first in the batch's order
    for name, text in TEXTS.items():
        (files / name).write_text(text, encoding="utf-8")
    gate = tmp_path / "gate"
    (tmp_path / "gate.open-mode").touch()  # the scan's Tesseract runs wait until the gate opens
    settings = Settings(data=tmp_path / "data", model="hashing:256", chunk_tokens=64, chunk_overlap=8,
                        ocr_tesseract=str(gated_tesseract(tmp_path, gate)))
    order: list[str] = []
    pages: list[OcrProgress] = []
    stored_before_ocr: dict[str, bool] = {}
    opened = threading.Event()

    with KnowledgeBase(settings) as kb:
        def on_file(result: FileResult) -> None:
            order.append(Path(result.path).name)
            if set(TEXTS) <= set(order) and not opened.is_set():
                # every born-digital file is committed and readable while the scan has not finished a page
                for name in TEXTS:
                    doc_id = document_id(str((files / name).resolve()))
                    stored_before_ocr[name] = kb.backend.get_document(doc_id) is not None
                stored_before_ocr["no scan page finished yet"] = not [p for p in pages if p.page is not None]
                gate.touch()
                opened.set()

        report = kb.ingest([files], on_file=on_file, on_page=pages.append)
        assert report.count("added") == 4, report.failed
        assert order == ["a.txt", "b.txt", "c.txt", "0-scan.pdf"]  # the order of commits
        assert stored_before_ocr == {**dict.fromkeys(TEXTS, True), "no scan page finished yet": True}
        assert [p.done for p in pages] == [0, 1, 2] and pages[-1].total == 2
        scan = next(f for f in report.files if f.path.endswith("0-scan.pdf"))
        assert scan.ocr_pages == 2 and scan.ocr_cached_pages == 0
        assert "2 page(s) read by OCR (0 from the resume cache)" in report.summary()
        scanned = kb.search("мұғалім", k=10, filters=SearchFilters(ocr=True))
        assert scanned and {Path(hit.document.source).name for hit in scanned} == {"0-scan.pdf"}


def test_a_failing_scan_in_the_lane_is_reported_and_the_batch_is_stored(tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    short_scan(files / "0-scan.pdf", 1)
    (files / "a.txt").write_text(TEXTS["a.txt"], encoding="utf-8")
    settings = Settings(data=tmp_path / "data", model="hashing:256", chunk_tokens=64, chunk_overlap=8,
                        ocr_tesseract=str(tmp_path / "no-tesseract"))
    with KnowledgeBase(settings) as kb:
        report = kb.ingest([files])
    result = {Path(f.path).name: f for f in report.files}
    assert result["a.txt"].status == "added"
    assert result["0-scan.pdf"].status == "failed" and "apt-get install tesseract-ocr" in (result["0-scan.pdf"].reason
                                                                                           or "")


def _descendants(pid: int) -> set[int]:
    """Every process below `pid` (Linux /proc)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*/children"):
            for child in map(int, task.read_text().split()):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for(condition, what: str, timeout: float = 300) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_an_ingest_stopped_during_a_scan_keeps_its_store_and_resumes_the_finished_pages(
    tmp_path: Path, stop: signal.Signals
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    short_scan(files / "0-scan.pdf", 6)
    for name in ("a.txt", "b.txt"):
        (files / name).write_text(TEXTS[name], encoding="utf-8")
    data, gate = tmp_path / "data", tmp_path / "gate"
    env = {**os.environ, "PEDKB_MODEL": "hashing:256", "PEDKB_CHUNK_TOKENS": "64", "PEDKB_CHUNK_OVERLAP": "8",
           "PEDKB_OCR_WORKERS": "1", "PEDKB_OCR_TESSERACT": str(gated_tesseract(tmp_path, gate))}

    def pedkb(*args: str, **options: object) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "cli", "--data", str(data), *args], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **options)  # type: ignore[call-overload]

    def cached_pages() -> int:
        return len(list((data / "ocr-cache").glob("*/*.json")))

    def stored() -> set[str]:
        try:
            with sqlite3.connect(f"file:{data / 'pedkb.sqlite3'}?mode=ro", uri=True) as db:
                return {Path(source).name for (source,) in db.execute("SELECT source FROM documents")}
        except sqlite3.Error:
            return set()

    ingest = pedkb("ingest", str(files))
    try:
        _wait_for(lambda: cached_pages() >= 2, "two OCR pages in the cache")
        gate.touch()  # the scan's next Tesseract run waits: the ingest is killed in the middle of the scan
        _wait_for(lambda: {"a.txt", "b.txt"} <= stored(), "the text files to be committed")
        assert "0-scan.pdf" not in stored()
        below = _descendants(ingest.pid)
        assert below, "the ingest has parser processes"
        ingest.send_signal(stop)
        _, err = ingest.communicate(timeout=30)
        if stop == signal.SIGINT:  # Ctrl-C: the CLI says what is kept and how to resume
            assert ingest.returncode == 130, err
            assert "2 file(s) stored" in err and "run the same command again to resume" in err, err
        _wait_for(lambda: not any(map(_alive, below)), "the parser processes and Tesseract runs to die", timeout=15)
    finally:
        if ingest.poll() is None:
            ingest.kill()
            ingest.communicate()
    finished = cached_pages()
    assert 2 <= finished < 6

    gate.unlink()
    check = pedkb("check")
    out, err = check.communicate(timeout=300)
    assert check.returncode == 0, out + err
    again = pedkb("ingest", "--json", str(files))
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    report = {Path(f["path"]).name: f for f in json.loads(out)["files"]}
    assert report["a.txt"]["status"] == report["b.txt"]["status"] == "unchanged"
    assert report["0-scan.pdf"]["status"] == "added"
    assert report["0-scan.pdf"]["ocr_pages"] == 6 and report["0-scan.pdf"]["ocr_cached_pages"] == finished
    assert cached_pages() == 6


@contextlib.contextmanager
def gated_upload_server(tmp_path: Path) -> Iterator[tuple[TestClient, Path, bytes]]:
    """An API client with a key over a store whose Tesseract waits at `gate`, and a one-page scan to upload."""
    from search_api.app import create_app

    scan = tmp_path / "scan.pdf"
    short_scan(scan, 1)
    gate = tmp_path / "gate"
    (tmp_path / "gate.open-mode").touch()  # the scan's Tesseract runs wait until the gate opens
    settings = Settings(data=tmp_path / "data", model="hashing:256", chunk_tokens=64, chunk_overlap=8,
                        ocr_tesseract=str(gated_tesseract(tmp_path, gate)), api_keys=["key"])
    with KnowledgeBase(settings) as kb, TestClient(create_app(settings, kb=kb), headers={"X-API-Key": "key"}) as client:
        yield client, gate, scan.read_bytes()


def test_an_uploaded_scan_does_not_hold_up_other_uploads_or_searches(tmp_path: Path) -> None:
    with gated_upload_server(tmp_path) as (client, gate, scan):
        answers: dict[str, object] = {}

        def upload_scan() -> None:
            response = client.post("/api/v1/documents", files=[("files", ("scan.pdf", scan))])
            answers["scan"] = (response.status_code, response.json())

        scanning = threading.Thread(target=upload_scan)
        scanning.start()
        _wait_for(lambda: "scan" in answers or (tmp_path / "gate.waiting").exists(), "the scan's OCR to start", 120)
        assert "scan" not in answers, answers
        text = client.post("/api/v1/documents", files=[("files", ("a.txt", TEXTS["a.txt"].encode()))])
        found = client.get("/api/v1/search", params={"q": "топтық жұмыс"})
        assert "scan" not in answers  # still held at the gate while the other upload and the search were answered
        assert text.status_code == 200 and text.json()["added"] == 1, text.text
        assert found.status_code == 200 and found.json()["results"]
        gate.touch()
        scanning.join(timeout=300)
        status, body = answers["scan"]  # type: ignore[misc]
        assert status == 200 and body["added"] == 1, body  # type: ignore[index]


def test_text_files_uploaded_beside_a_scan_in_one_request_are_stored_before_the_scan_is_read(tmp_path: Path) -> None:
    with gated_upload_server(tmp_path) as (client, gate, scan):
        answers: dict[str, object] = {}

        def upload_all() -> None:
            files = [("files", ("scan.pdf", scan)), ("files", ("a.txt", TEXTS["a.txt"].encode()))]
            response = client.post("/api/v1/documents", files=files)
            answers["all"] = (response.status_code, response.json())

        uploading = threading.Thread(target=upload_all)
        uploading.start()
        _wait_for(lambda: "all" in answers or (tmp_path / "gate.waiting").exists(), "the scan's OCR to start", 120)
        _wait_for(lambda: any(d["source"] == "upload/a.txt" for d in
                              client.get("/api/v1/documents", params={"limit": 50}).json()["items"]),
                  "the text file of the same request to be stored", 120)
        assert "all" not in answers, answers  # the scan is still held at the gate
        gate.touch()
        uploading.join(timeout=300)
        status, body = answers["all"]  # type: ignore[misc]
        assert status == 200 and body["added"] == 2, body  # type: ignore[index]
        assert [f["filename"] for f in body["files"]] == ["scan.pdf", "a.txt"]  # type: ignore[index]
