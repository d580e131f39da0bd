"""Killing an ingest midway leaves a searchable, consistent store; searching works while another process ingests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from index.embedding.hashing import HashingEmbedder
from index.knowledge_base import KnowledgeBase
from index.store.embedded.backend import FaissBackend
from pedkb.settings import Settings

REPO = Path(__file__).resolve().parents[1]
N_FILES = 40

SLOW_INGEST = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from index.embedding.hashing import HashingEmbedder
    from index.knowledge_base import KnowledgeBase
    from pedkb.settings import Settings

    class Slow(HashingEmbedder):
        def embed_passages(self, texts):
            time.sleep(0.08)
            return super().embed_passages(texts)

    settings = Settings(data=Path(sys.argv[1]), model="hashing:256", chunk_tokens=64, chunk_overlap=8)
    with KnowledgeBase(settings, embedder=Slow(256)) as kb:
        kb.ingest([Path(sys.argv[2])])
""")


def _make_files(root: Path) -> Path:
    root.mkdir()
    for i in range(N_FILES):
        body = " ".join(f"Тақырып{i} сабақ жоспары оқушылар жұмысы нөмір{i}." for _ in range(12))
        (root / f"doc{i:02d}.txt").write_text(body, encoding="utf-8")
    return root


def _start_ingest(data: Path, docs: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", SLOW_INGEST, str(data), str(docs)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _documents(data: Path) -> int:
    if not (data / "pedkb.sqlite3").exists():
        return 0
    reader = FaissBackend(data)
    try:
        return len(reader.list_documents())
    finally:
        reader.close()


def _assert_consistent(data: Path) -> int:
    backend = FaissBackend(data)
    try:
        docs = backend.list_documents()
        for doc in docs:
            assert len(backend.document_chunks(doc.doc_id)) == doc.n_chunks > 0
        stats = backend.stats()
        assert stats["vectors"] == stats["chunks"] == sum(d.n_chunks for d in docs)
        return len(docs)
    finally:
        backend.close()


def test_kill_mid_ingest_keeps_previous_state_and_rerun_completes(tmp_path: Path) -> None:
    data, docs = tmp_path / "data", _make_files(tmp_path / "docs")
    proc = _start_ingest(data, docs)
    deadline = time.time() + 60
    while _documents(data) < 8 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    survived = _assert_consistent(data)
    assert 8 <= survived < N_FILES
    settings = Settings(data=data, model="hashing:256", chunk_tokens=64, chunk_overlap=8)
    with KnowledgeBase(settings, embedder=HashingEmbedder(256)) as kb:
        assert kb.search("Тақырып3 сабақ жоспары нөмір3", k=1)[0].document.source.endswith("doc03.txt")
        report = kb.ingest([docs])
        assert report.count("unchanged") == survived
        assert report.count("added") == N_FILES - survived
    assert _assert_consistent(data) == N_FILES


def test_search_while_another_process_ingests(tmp_path: Path) -> None:
    data, docs = tmp_path / "data", _make_files(tmp_path / "docs")
    proc = _start_ingest(data, docs)
    settings = Settings(data=data, model="hashing:256", chunk_tokens=64, chunk_overlap=8)
    seen: list[int] = []
    try:
        while _documents(data) == 0:
            time.sleep(0.05)
        with KnowledgeBase(settings, embedder=HashingEmbedder(256)) as kb:
            while proc.poll() is None:
                hits = kb.search("сабақ жоспары оқушылар жұмысы", k=200)
                seen.append(len({h.document.doc_id for h in hits}))
                time.sleep(0.02)
            assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
            final = kb.search("сабақ жоспары оқушылар жұмысы", k=200)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(seen) > 10
    assert seen == sorted(seen), "a reader never loses documents another process already committed"
    assert len({h.document.doc_id for h in final}) == N_FILES


@pytest.mark.parametrize("junk", [b"", b"\x00" * 100])
def test_corrupt_store_file_gives_clear_error(tmp_path: Path, junk: bytes) -> None:
    from pedkb.errors import StoreError

    data = tmp_path / "data"
    data.mkdir()
    (data / "pedkb.sqlite3").write_bytes(junk + b"not a database" * 100)
    with pytest.raises(StoreError, match="pedkb.sqlite3"):
        FaissBackend(data)
